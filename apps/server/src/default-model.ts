import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The model `ignis` uses when no --model is given: the demo model bundled in this repository
 * (models/ignis-demo-10m, a 10M-parameter Llama trained on the King James Bible by
 * tooling/train-demo). Resolved from this file, so it works from `src` (tests) and `dist` (the
 * built CLI) alike.
 */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../../../models/ignis-demo-10m', import.meta.url));

/** The default model directory, or an error saying where it was looked for. */
export function defaultModelDir(): string {
  if (!existsSync(DEFAULT_MODEL_DIR)) {
    throw new Error(`no --model given, and the bundled default model is not at ${DEFAULT_MODEL_DIR}; pass --model DIR`);
  }
  return DEFAULT_MODEL_DIR;
}
