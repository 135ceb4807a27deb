import { InvalidParameterError, PromptTooLongError } from '@ignis/engine';

/** The body of every error response, as OpenAI's API sends it. */
export interface OpenAIErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    /** The request field at fault, when one is. */
    readonly param: string | null;
    readonly code: string | null;
  };
}

/** An error the server answers with an HTTP status and {@link OpenAIErrorBody}. */
export class OpenAIError extends Error {
  override name = 'OpenAIError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Extra response headers (Retry-After on 429). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  get body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400 for a bad field of the request. */
export function invalidParam(param: string | null, message: string, code: string | null = null): OpenAIError {
  return new OpenAIError(400, message, 'invalid_request_error', param, code);
}

/** 400 when the prompt, or the prompt and the tokens asked for, do not fit the model's context. */
export function contextTooLong(param: string, message: string): OpenAIError {
  return invalidParam(param, message, 'context_length_exceeded');
}

/** Fastify's errors about the request body, in our words (`limit`: the body limit in bytes). */
const BODY_ERRORS: Readonly<Record<string, { message: (limit: number | undefined) => string; code: string }>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { message: () => 'the request body is not valid JSON', code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { message: () => 'the request body is empty; send a JSON object', code: 'empty_body' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { message: () => 'unsupported Content-Type; send application/json', code: 'unsupported_media_type' },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    message: (limit) => (limit === undefined ? 'the request body is too large' : `the request body is larger than this server's limit of ${limit} bytes`),
    code: 'body_too_large',
  },
};

/** What a client is told of a failure of the server's own: no message, path or stack of it (the log has those). */
const INTERNAL_ERROR = 'internal server error; the server log has the details';

/**
 * Any error thrown while serving a request, as the OpenAI error it is answered with: the engine's
 * parameter and prompt errors are the client's (400), so are Fastify's body errors (malformed
 * JSON, larger than `bodyLimit` bytes, wrong content type); anything else is the server's (500),
 * whose message is not passed on: it may hold file paths or other details of the server.
 */
export function toOpenAIError(error: unknown, bodyLimit?: number): OpenAIError {
  if (error instanceof OpenAIError) return error;
  if (error instanceof InvalidParameterError) return invalidParam(error.param, error.message);
  if (error instanceof PromptTooLongError) return contextTooLong('prompt', error.message);
  const fastify = error as { statusCode?: unknown; code?: unknown; message?: unknown };
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
    const known = BODY_ERRORS[String(fastify.code)];
    return new OpenAIError(fastify.statusCode, known?.message(bodyLimit) ?? String(fastify.message), 'invalid_request_error', null, known?.code ?? null);
  }
  return new OpenAIError(500, INTERNAL_ERROR, 'server_error');
}

/** Whether an error is the server's own failure, worth an error-level log: not a client's mistake, nor shutdown's expected 503. */
export function isServerFault(error: OpenAIError): boolean {
  return error.status >= 500 && error.code !== 'shutdown';
}
