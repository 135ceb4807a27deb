#!/usr/bin/env bash
# Extracts the King James Version text from Debian's bible-kjv-text package (public domain text;
# the package's data file is compressed in its own format, so its reader, bible-kjv, decodes it)
# into data/kjv.tsv.gz: one verse per line, "book<TAB>chapter<TAB>verse<TAB>text", in canonical
# order. Needs apt-get (Debian or Ubuntu) and gzip; installs nothing.
#   bash tooling/train-demo/prepare_data.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download bible-kjv bible-kjv-text >/dev/null)
for deb in "$tmp"/*.deb; do
  echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
  dpkg -x "$deb" "$tmp/root"
done
# `bible` prints "Book N" headings, then "  V text" per verse (one line each with a wide -l).
"$tmp/root/usr/bin/bible" -p "$tmp/root/usr/lib" -l 100000 Gen1:1-Rev22:21 \
  | awk '
      /^[^ ].* [0-9]+$/ { chapter = $NF; book = $0; sub(/ [0-9]+$/, "", book); next }
      /^  *[0-9]+ / { verse = $1; sub(/^ *[0-9]+ /, ""); print book "\t" chapter "\t" verse "\t" $0 }
    ' \
  | gzip -9n > "$here/data/kjv.tsv.gz"
echo "verses: $(zcat "$here/data/kjv.tsv.gz" | wc -l), bytes: $(stat -c %s "$here/data/kjv.tsv.gz") compressed"
