import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageDir } from '../paths.js';

const FILES = ['DejaVuSans.ttf', 'DejaVuSans-Bold.ttf'];

/**
 * The font files charts are drawn with (DejaVu Sans): from dist/fonts once built, or from the
 * dejavu-fonts-ttf package in a checkout; none (system fonts only) if neither is there.
 */
export function chartFonts(): string[] {
  const built = join(packageDir(), 'dist', 'fonts');
  if (existsSync(join(built, FILES[0]!))) return FILES.map((f) => join(built, f));
  try {
    const dir = join(dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    return FILES.map((f) => join(dir, f));
  } catch {
    return [];
  }
}
