export { SafetensorsError, type SafetensorsErrorDetails } from './errors.js';
export { MAX_HEADER_BYTES, SafetensorsFile, type TensorInfo } from './reader.js';
export { SafetensorsCheckpoint } from './checkpoint.js';
export {
  SHARD_INDEX_FILE,
  type ShardOptions,
  serializeSafetensors,
  writeSafetensors,
  writeShardedSafetensors,
} from './writer.js';
export { SAFETENSORS_DTYPE, dtypeFromSafetensors } from './dtypes.js';
