/**
 * The largest value Ignis accepts for each size in a config.json. A hostile or corrupt config
 * fails at parse time, with the key named, before a graph is built or a byte allocated; without
 * these bounds `num_hidden_layers: 1e9` ran the process out of heap and `head_dim: 1e9` died
 * in an allocation.
 *
 * The bounds sit far above every real model up to ~1T parameters. The largest values in use
 * (2026): 126 layers, hidden size 16,384, 128 heads, intermediate size 53,248
 * (Llama-3.1-405B); head_dim 256 (Gemma); vocabulary 262,144 (Gemma 3); 10,485,760 positions
 * (Llama 4 Scout); DeepSeek-V3 (61 layers, hidden 7,168, 128 heads, vocabulary 129,280) and
 * Kimi K2 are smaller on every one. Each bound is 4x or more the largest real value, except
 * positions: 2^24 is the last position whose rotary angle (position x frequency, computed in
 * f32 as transformers does) is exact, 1.6x Llama 4 Scout's context.
 */
export const MODEL_CONFIG_LIMITS = {
  num_hidden_layers: 1024,
  hidden_size: 65_536,
  num_attention_heads: 1024,
  num_key_value_heads: 1024,
  head_dim: 1024,
  intermediate_size: 262_144,
  vocab_size: 4_194_304,
  /** Also bounds `sliding_window` and rope's `original_max_position_embeddings`. */
  max_position_embeddings: 16_777_216,
} as const;
