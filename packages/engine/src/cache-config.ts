import type { ModelSpec } from '@ignis/models';
import { type DType, dtypeBytes } from '@ignis/tensor';
import { InvalidParameterError } from './errors.js';

/** How the KV cache is laid out for a loaded model. */
export interface CacheConfig {
  /** What the cache stores: the activation dtype, or fp8e4m3. */
  readonly dtype: DType;
  readonly blockSize: number;
  /** Blocks in the pool, including the null block 0. */
  readonly numBlocks: number;
  /** Longest sequence (prompt + output) the engine accepts. */
  readonly maxModelLen: number;
  readonly maxBlocksPerSeq: number;
  /** Bytes of the whole pool (K and V of every block, over all layers). */
  readonly bytes: number;
}

/** What the caller asked for. */
export interface CacheRequest {
  readonly blockSize: number;
  readonly maxNumSeqs: number;
  /** Bytes the KV cache may take. */
  readonly kvCacheBytes: number;
  /** Longest sequence wanted; defaults to the model's max_position_embeddings, shrunk to fit the budget. */
  readonly maxModelLen?: number;
  /** The cached elements' dtype (its size sets how many tokens fit). */
  readonly dtype: DType;
}

/**
 * Sizes the shared KV block pool: as many blocks as the byte budget holds, but no more than
 * `maxNumSeqs` sequences of `maxModelLen` tokens could use; at least one sequence of
 * `maxModelLen` tokens must fit. An explicit maxModelLen that does not fit is an error; the
 * default shrinks to fit.
 */
export function planCache(spec: ModelSpec, request: CacheRequest): CacheConfig {
  const { blockSize, maxNumSeqs, kvCacheBytes, dtype } = request;
  const elementBytes = dtypeBytes(dtype);
  if (!Number.isSafeInteger(blockSize) || blockSize < 1) throw new InvalidParameterError('blockSize', `blockSize must be a positive integer, got ${blockSize}`);
  if (request.maxModelLen !== undefined) {
    const len = request.maxModelLen;
    if (!Number.isSafeInteger(len) || len < 2 || len > spec.maxPositionEmbeddings) {
      throw new InvalidParameterError(
        'maxModelLen',
        `maxModelLen must be an integer in [2, ${spec.maxPositionEmbeddings}] (the model's max_position_embeddings), got ${len}`,
      );
    }
  }
  const bytesPerBlock = spec.numLayers * 2 * blockSize * spec.numKvHeads * spec.headDim * elementBytes;
  const budgetBlocks = Math.floor(kvCacheBytes / bytesPerBlock);
  const wanted = request.maxModelLen ?? spec.maxPositionEmbeddings;
  const fitting = (budgetBlocks - 1) * blockSize; // one sequence alone, block 0 reserved
  if (fitting < 2 || (request.maxModelLen !== undefined && fitting < wanted)) {
    throw new InvalidParameterError(
      'kvCacheBytes',
      `a KV cache of ${kvCacheBytes} bytes holds ${Math.max(0, fitting)} tokens; one sequence of ${wanted} tokens must fit`,
    );
  }
  const maxModelLen = Math.min(wanted, fitting);
  const maxBlocksPerSeq = Math.ceil(maxModelLen / blockSize);
  const numBlocks = Math.min(budgetBlocks, maxBlocksPerSeq * maxNumSeqs + 1);
  return { dtype, blockSize, numBlocks, maxModelLen, maxBlocksPerSeq, bytes: numBlocks * bytesPerBlock };
}
