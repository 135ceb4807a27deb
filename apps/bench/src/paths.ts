import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The ignis-bench package folder, found from this module's location: src/ in tests, the bundled
 * dist/cli.js once built, or a deployed copy (`pnpm deploy`), so that `peers/` is found from all.
 */
export function packageDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'peers'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no peers/ folder above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}
