/** A `quantization_config` we cannot run: names the field and its value, and says what is supported. */
export class UnsupportedQuantizationError extends Error {
  override name = 'UnsupportedQuantizationError';
}

/** A quantized checkpoint whose tensors do not match its `quantization_config` (missing or misshapen scales). */
export class QuantizedCheckpointError extends Error {
  override name = 'QuantizedCheckpointError';
}
