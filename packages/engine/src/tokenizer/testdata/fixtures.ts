import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** GPT-2 / Llama 3 style byte-level BPE; written by make-fixtures.mjs. */
export const BYTE_LEVEL_DIR = fileURLToPath(new URL('./byte-level-bpe', import.meta.url));
/** Llama 2 / Mistral style SentencePiece BPE with byte fallback; written by make-fixtures.mjs. */
export const SENTENCEPIECE_DIR = fileURLToPath(new URL('./sentencepiece-bpe', import.meta.url));

const tempDirs: string[] = [];

/**
 * A temporary copy of fixture `dir` where each file named in `changes` is replaced by the given
 * text, or removed when given null. Remove the copies with {@link removeFixtureCopies}.
 */
export async function fixtureCopy(dir: string, changes: Record<string, string | null> = {}): Promise<string> {
  const copy = await mkdtemp(join(tmpdir(), 'ignis-tokenizer-'));
  tempDirs.push(copy);
  await cp(dir, copy, { recursive: true });
  for (const [name, content] of Object.entries(changes)) {
    const path = join(copy, name);
    if (content === null) await rm(path, { force: true });
    else await writeFile(path, content);
  }
  return copy;
}

export async function removeFixtureCopies(): Promise<void> {
  const dirs = tempDirs.splice(0);
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
