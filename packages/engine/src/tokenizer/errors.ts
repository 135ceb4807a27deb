/** A tokenizer or chat template that cannot be loaded or used; the message names the file or template and the cause. */
export class TokenizerError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TokenizerError';
  }
}

/** The message of any thrown value, for wrapping a library's error into a {@link TokenizerError}. */
export function causeMessage(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
