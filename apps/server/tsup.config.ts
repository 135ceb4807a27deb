import { libraryConfig } from '../../tooling/tsup.base.js';

// An executable, not a library: no declarations; keep the shebang from src/cli.ts.
export default libraryConfig(['src/cli.ts'], { dts: false });
