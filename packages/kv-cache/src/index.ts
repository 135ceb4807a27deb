export { type BlockHashFn, hashBlockTokens } from './block-hash.js';
export { type CacheRequest, type KvCacheConfig, KvCacheManager, type KvCacheStats } from './kv-cache-manager.js';
