/** A config.json that is malformed or inconsistent. */
export class ModelConfigError extends Error {
  override name = 'ModelConfigError';
}

/** A model we do not support (architecture, activation, rope type); says what is supported. */
export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
}

/** A checkpoint whose tensors do not match the model (missing, wrong shape, wrong dtype). */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}
