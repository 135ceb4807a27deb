/** Details every {@link SafetensorsError} carries besides its message. */
export interface SafetensorsErrorDetails {
  /** The file (or, for checkpoint-level problems, the directory or index file) at fault. */
  readonly file: string;
  /** The tensor at fault, when the problem is about one tensor. */
  readonly tensor?: string;
  /** The underlying error (e.g. from the file system or JSON.parse). */
  readonly cause?: unknown;
}

/**
 * A safetensors file or checkpoint that cannot be read as asked. The message always names the file
 * (and the tensor, when there is one) so that a failure deep inside a model load is actionable.
 */
export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
  readonly file: string;
  readonly tensor?: string;

  constructor(message: string, details: SafetensorsErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.file = details.file;
    if (details.tensor !== undefined) this.tensor = details.tensor;
  }
}

/** An error about `file` whose message is `problem (file <file>)`; `problem` names the tensor, if any. */
export function fileError(file: string, problem: string, tensor?: string, cause?: unknown): SafetensorsError {
  return new SafetensorsError(`${problem} (file ${file})`, { file, tensor, cause });
}
