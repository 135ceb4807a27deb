import type { ServedEngine } from './context.js';
import { contextTooLong, invalidParam } from './openai-errors.js';

/**
 * Bounds on the work one request may ask for. Each is checked before the work it bounds: the
 * body before it is parsed, the counts before anything is tokenized or rendered, a prompt's
 * length before it is tokenized. A request past one gets a 400 naming the field and the limit
 * (413 for the body).
 */
export interface RequestLimits {
  /** Largest request body in bytes (default 4 MiB). */
  readonly maxBodyBytes: number;
  /**
   * Most characters (UTF-16 units) in one text prompt, or in a chat rendered by its template
   * (default: what the context can hold, `maxModelLen` x the tokenizer's `longestTokenChars`;
   * a smaller value lowers it).
   */
  readonly maxPromptChars: number;
  /** Most messages in one chat (default 2048). */
  readonly maxChatMessages: number;
  /** Most sequences one request may start: prompts x n (default 1024). */
  readonly maxSequencesPerRequest: number;
  /** Most stop strings in one request (default 16), and characters in each (default 256). */
  readonly maxStopStrings: number;
  readonly maxStopStringChars: number;
}

/**
 * The defaults: generous for what clients of vLLM send, and cheap in the worst case (times on 2
 * busy CPU cores). 4 MiB holds a 128k-token prompt as ids (~0.9 MB) or as text (~0.5 MB) four
 * times over, and parses in 30-80 ms; a chat template renders 2048 messages in 40-110 ms (OpenAI
 * takes at most 2048 too); 1024 sequences is a large batch request (n is at most 128 per prompt);
 * 16 stop strings (OpenAI takes 4) of 256 characters cost at most ~40 us per generated token to scan.
 */
export const DEFAULT_REQUEST_LIMITS: Omit<RequestLimits, 'maxPromptChars'> = {
  maxBodyBytes: 4 * 2 ** 20,
  maxChatMessages: 2048,
  maxSequencesPerRequest: 1024,
  maxStopStrings: 16,
  maxStopStringChars: 256,
};

/**
 * The characters the engine's context can hold: no token is longer than the tokenizer's longest
 * vocabulary entry, so a longer text has more tokens than the context (Infinity without a
 * tokenizer, which takes no text at all).
 */
export function contextChars(engine: ServedEngine): number {
  return engine.tokenizer ? engine.maxModelLen * engine.tokenizer.longestTokenChars : Infinity;
}

/** The limits a server applies: those `given` (options that may hold more than limits), else the defaults; each a positive integer. */
export function resolveLimits(given: Partial<RequestLimits>, engine: ServedEngine): RequestLimits {
  const defaults: RequestLimits = { ...DEFAULT_REQUEST_LIMITS, maxPromptChars: contextChars(engine) };
  const limits = { ...defaults };
  for (const name of Object.keys(defaults) as (keyof RequestLimits)[]) {
    const value = given[name] ?? defaults[name];
    if (value !== Infinity && !(Number.isSafeInteger(value) && value >= 1)) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    limits[name] = value;
  }
  return limits;
}

/**
 * A text prompt (or rendered chat) the engine could take, by its length alone: longer than the
 * context can hold is `context_length_exceeded`; longer than the server's own limit, refused too.
 */
export function checkPromptChars(text: string, field: string, engine: ServedEngine, limits: RequestLimits): void {
  const fits = contextChars(engine);
  if (text.length > fits) {
    throw contextTooLong(
      field,
      `This model's maximum context length is ${engine.maxModelLen} tokens, and ${field} has ${text.length} characters: ` +
        `more than the context can hold (no token is longer than ${engine.tokenizer!.longestTokenChars} characters, so at most ${fits}). Shorten the prompt.`,
    );
  }
  if (text.length > limits.maxPromptChars) {
    throw invalidParam(field, `${field} has ${text.length} characters, more than this server's limit of ${limits.maxPromptChars} per prompt`);
  }
}

/**
 * The sequences a request would start (prompts x n) against the per-request limit and against
 * the waiting bound: a request with more sequences than may ever wait could never be admitted,
 * so it is a 400 rather than a 429 to retry for ever.
 */
export function checkSequences(prompts: number, n: number, limits: RequestLimits, maxWaiting: number): void {
  const sequences = prompts * n;
  const param = n > 1 ? 'n' : 'prompt';
  const asked = `this request asks for ${sequences} sequences (${prompts} prompt${prompts === 1 ? '' : 's'} x n=${n})`;
  if (sequences > limits.maxSequencesPerRequest) {
    throw invalidParam(param, `${asked}, more than this server's limit of ${limits.maxSequencesPerRequest} per request`);
  }
  if (sequences > maxWaiting) {
    throw invalidParam(param, `${asked}, more than the ${maxWaiting} this server lets wait at once, so it can never be admitted; lower n or send fewer prompts`);
  }
}
