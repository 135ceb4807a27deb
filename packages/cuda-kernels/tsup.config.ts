import { libraryConfig } from '../../tooling/tsup.base.js';

export default libraryConfig({ index: 'src/index.ts', 'gpu-check': 'src/gpu-check.ts' });
