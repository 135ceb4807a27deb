import { libraryConfig } from '../../tooling/tsup.base.js';

export default libraryConfig();
