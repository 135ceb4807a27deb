import { libraryConfig } from '../../tooling/tsup.base.js';

export default libraryConfig({ index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' });
