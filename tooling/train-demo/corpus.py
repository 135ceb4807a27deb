"""The training text: the King James Version, one document per chapter, split by whole books."""
import gzip
import os
from dataclasses import dataclass

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "kjv.tsv.gz")


@dataclass(frozen=True)
class Chapter:
    book: str
    number: int
    text: str  # the verses, one a line, without verse numbers


def read_chapters(path=DATA):
    """Chapters in canonical order from prepare_data.sh's book/chapter/verse/text lines."""
    chapters = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            book, chapter, _verse, text = line.rstrip("\n").split("\t")
            if not chapters or chapters[-1][:2] != [book, chapter]:
                chapters.append([book, chapter, []])
            chapters[-1][2].append(text)
    return [Chapter(book, int(number), "\n".join(verses)) for book, number, verses in chapters]


# Whole books, each unlike the others and with no parallel passage elsewhere (as Kings has in
# Chronicles, or Matthew in Mark), so that validation measures text the model has not seen.
VAL_BOOKS = ["Ruth", "Esther", "Ecclesiastes", "Song of Solomon", "Lamentations", "Jonah", "Habakkuk", "Philippians"]


def split(chapters, test_fraction=0.05):
    """(train, val, test), by whole books. test: books from the end (Titus to Revelation) until they
    hold at least `test_fraction` of the chapters; the held-out set every reported number uses.
    val: VAL_BOOKS (about 4%), for choosing the recipe and checkpoint, so that the choice never
    looks at test. train: the rest."""
    books = list(dict.fromkeys(c.book for c in chapters))
    test_books = set()
    while sum(c.book in test_books for c in chapters) < test_fraction * len(chapters):
        test_books.add(books[-1 - len(test_books)])
    assert not test_books & set(VAL_BOOKS) and set(VAL_BOOKS) <= set(books)
    test = [c for c in chapters if c.book in test_books]
    val = [c for c in chapters if c.book in VAL_BOOKS]
    train = [c for c in chapters if c.book not in test_books and c.book not in VAL_BOOKS]
    return train, val, test
