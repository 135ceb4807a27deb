import { libraryConfig } from '../../tooling/tsup.base.js';

// An executable, not a library: no declarations. Vega and Vega-Lite (pure JavaScript, ~20 MB
// installed across their d3 packages) are bundled in (1.7 MB), so a deployed copy (`pnpm deploy
// --prod`, what the GPU machine gets) stays small; no source map for the same reason.
export default libraryConfig(['src/cli.ts'], { dts: false, noExternal: ['vega', 'vega-lite'], sourcemap: false });
