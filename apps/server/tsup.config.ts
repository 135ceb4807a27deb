import { libraryConfig } from '../../tooling/tsup.base.js';

// Executables, not a library: no declarations; keep the shebangs. The load client carries the
// openai client inside it (a devDependency), so that it runs from a production deploy too.
export default libraryConfig(['src/cli.ts', 'src/stream-load.ts', 'src/hostile-probe.ts'], { dts: false, noExternal: ['openai'] });
