/**
 * What a full block's KV depends on: its tokens, and everything before it. A cached block keeps
 * its key so that a hit is confirmed, not trusted: the tokens are compared, and the prefix is
 * compared by identity (`parent`, the serial of the previous block's key). Comparing tokens alone
 * would not do: if two different prefixes ever hashed alike, the next block's tokens could match
 * while its KV was computed after the other prefix.
 */
export interface BlockKey {
  /** The chain hash, `H(parent's hash, tokens, extra keys)`: where the prefix cache files the block. */
  readonly hash: number;
  /** The block's tokens (a copy). */
  readonly tokens: readonly number[];
  /** The previous block's `serial`; absent for a first block. */
  readonly parent: number | undefined;
  /** The request's cache salt and adapter, encoded; compared on first blocks, inherited by the rest through `parent`. */
  readonly extraKey: string;
  /** Unique over the cache's life and never reused, unlike block ids and hashes. */
  readonly serial: number;
}

/** Whether `key` holds `tokens[start..start + key.tokens.length)` right after the prefix `parent`. */
export function keyMatches(key: BlockKey, parent: BlockKey | undefined, tokens: readonly number[], start: number, extraKey: string): boolean {
  if (key.parent !== parent?.serial) return false;
  if (parent === undefined && key.extraKey !== extraKey) return false;
  for (let i = 0; i < key.tokens.length; i++) if (key.tokens[i] !== tokens[start + i]) return false;
  return true;
}
