/** A request parameter that is out of range or of the wrong type; `param` names the field. */
export class InvalidParameterError extends Error {
  override name = 'InvalidParameterError';
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** A prompt that does not fit the model's context (or leaves no room to generate). */
export class PromptTooLongError extends Error {
  override name = 'PromptTooLongError';
  constructor(
    readonly promptTokens: number,
    readonly maxModelLen: number,
  ) {
    super(`the prompt has ${promptTokens} tokens; the model's context holds ${maxModelLen}, and at least one must be left to generate`);
  }
}

/** The model does not fit in the GPU's free memory; the message gives the sizes. */
export class OutOfGpuMemoryError extends Error {
  override name = 'OutOfGpuMemoryError';
}

/** The model does not fit in the memory this machine has available (CPU backend); the message gives the sizes. */
export class OutOfHostMemoryError extends Error {
  override name = 'OutOfHostMemoryError';
}
