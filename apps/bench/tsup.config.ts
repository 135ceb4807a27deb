import { copyFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { libraryConfig } from '../../tooling/tsup.base.js';

// An executable, not a library: no declarations. Vega and Vega-Lite (pure JavaScript, ~20 MB
// installed across their d3 packages) are bundled in (1.7 MB), so a deployed copy (`pnpm deploy
// --prod`, what the GPU machine gets) stays small; no source map for the same reason. The chart
// font travels in dist/fonts (with its license): GPU machines have no system fonts, and PNG text
// needs one.
const fonts = dirname(createRequire(import.meta.url).resolve('dejavu-fonts-ttf/package.json'));

export default libraryConfig(['src/cli.ts'], {
  dts: false,
  noExternal: ['vega', 'vega-lite'],
  sourcemap: false,
  onSuccess: async () => {
    await mkdir('dist/fonts', { recursive: true });
    for (const file of ['ttf/DejaVuSans.ttf', 'ttf/DejaVuSans-Bold.ttf', 'LICENSE']) await copyFile(join(fonts, file), join('dist/fonts', file.replace('ttf/', '')));
  },
});
