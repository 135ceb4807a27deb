import { libraryConfig } from '../../tooling/tsup.base.js';

// An executable, not a library: no declarations.
export default libraryConfig(['src/cli.ts'], { dts: false });
