/**
 * What a quantized checkpoint holds, whatever format wrote it: FP8 (e4m3) weights, how their
 * scales are laid out and named, and how activations are to be quantized.
 */
export interface CheckpointScheme {
  /** The `quant_method` and format it came from, for reports (e.g. `compressed-tensors float-quantized`). */
  readonly source: string;
  /** One weight scale per tensor, per output row, or per `block` tile. */
  readonly weightScale: 'tensor' | 'channel' | 'block';
  /** The tile of block scales: [rows, columns]. */
  readonly block?: readonly [number, number];
  /** The checkpoint's name for a weight's scales: `<module>.<scaleName>` (`weight_scale`, or `weight_scale_inv` in DeepSeek's format). */
  readonly scaleName: string;
  /**
   * Activations: quantized per token (or per token and block column group for block scales) at
   * run time, with a static per-tensor `input_scale` from the checkpoint, or not at all (weight-only).
   */
  readonly activations: 'dynamic' | 'static' | 'none';
  /** True when the checkpoint carries per-layer KV-cache scales (`k_scale`, `v_scale`). */
  readonly kvCacheScales: boolean;
}
