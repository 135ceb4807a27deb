import { InvalidParameterError, type SamplingParams, resolveSamplingParams } from '@ignis/engine';
import { type Body, describe, optionalBoolean, optionalInteger, optionalNumber } from './fields.js';
import type { RequestLimits } from './limits.js';
import { invalidParam } from './openai-errors.js';

/** Sampling parameters of an OpenAI request, validated, with vLLM's defaults. */
export interface RequestedSampling {
  readonly params: SamplingParams;
  /** False when the request named no token limit (`params.maxTokens` is then the engine's default). */
  readonly maxTokensGiven: boolean;
  /** The field the token limit came from, for errors. */
  readonly maxTokensField: string;
}

/** OpenAI (and vLLM) numeric fields and the engine parameter each one is. */
const NUMBER_FIELDS = [
  ['temperature', 'temperature'],
  ['top_p', 'topP'],
  ['min_p', 'minP'],
  ['presence_penalty', 'presencePenalty'],
  ['frequency_penalty', 'frequencyPenalty'],
  ['repetition_penalty', 'repetitionPenalty'],
] as const;
const INTEGER_FIELDS = [
  ['top_k', 'topK'],
  ['seed', 'seed'],
  ['n', 'n'],
] as const;

/** Where an endpoint keeps its token limit (fields in precedence order: chat has two) and its count of top log-probabilities. */
export interface SamplingFields {
  readonly maxTokens: readonly string[];
  readonly topLogprobs: string;
}

/**
 * Reads the sampling fields of `body` into the engine's SamplingParams. Types and the server's
 * limits on stop strings are checked here; ranges by the engine's own `resolveSamplingParams`,
 * whose errors are renamed to the request's field names.
 */
export function samplingParams(body: Body, where: SamplingFields, limits: RequestLimits): RequestedSampling {
  const fields = new Map<string, string>(); // engine parameter -> request field, for renaming errors
  const given: Record<string, unknown> = {};
  const take = (field: string, param: string, value: unknown): void => {
    if (value === undefined) return;
    given[param] = value;
    fields.set(param, field);
  };
  const maxTokensField = where.maxTokens.find((f) => body[f] !== undefined && body[f] !== null) ?? where.maxTokens[0]!;
  take(maxTokensField, 'maxTokens', optionalInteger(body, maxTokensField));
  for (const [field, param] of NUMBER_FIELDS) take(field, param, optionalNumber(body, field));
  for (const [field, param] of INTEGER_FIELDS) take(field, param, optionalInteger(body, field));
  if (given['topK'] === -1) given['topK'] = 0; // vLLM's spelling of "no top-k"
  take(where.topLogprobs, 'topLogprobs', optionalInteger(body, where.topLogprobs));
  take('stop', 'stop', stopStrings(body, limits));
  take('ignore_eos', 'ignoreEos', optionalBoolean(body, 'ignore_eos'));
  try {
    const params = resolveSamplingParams(given as Partial<SamplingParams>);
    return { params, maxTokensGiven: given['maxTokens'] !== undefined, maxTokensField };
  } catch (error) {
    if (!(error instanceof InvalidParameterError)) throw error;
    const field = fields.get(error.param) ?? error.param;
    // The engine's messages start with its parameter's name: say the field's name instead.
    throw invalidParam(field, error.message.startsWith(error.param) ? field + error.message.slice(error.param.length) : error.message);
  }
}

/**
 * `stop`: a string or a list of strings, within the server's limits: each one is scanned for at
 * every generated token, so their count and length bound that work.
 */
function stopStrings(body: Body, limits: RequestLimits): string[] | undefined {
  const value = body['stop'];
  if (value === undefined || value === null) return undefined;
  const stops = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((s) => typeof s === 'string') ? (value as string[]) : undefined;
  if (!stops) throw invalidParam('stop', `stop must be a string or a list of strings, got ${describe(value)}`);
  if (stops.length > limits.maxStopStrings) throw invalidParam('stop', `stop has ${stops.length} strings, more than this server's limit of ${limits.maxStopStrings}`);
  const long = stops.findIndex((s) => s.length > limits.maxStopStringChars);
  if (long >= 0) {
    const where = typeof value === 'string' ? 'stop' : `stop[${long}]`;
    throw invalidParam('stop', `${where} has ${stops[long]!.length} characters, more than this server's limit of ${limits.maxStopStringChars}`);
  }
  return stops;
}

/** `stream` and `stream_options.include_usage`. */
export function streamOptions(body: Body): { stream: boolean; includeUsage: boolean } {
  const stream = optionalBoolean(body, 'stream') ?? false;
  const options = body['stream_options'];
  if (options === undefined || options === null) return { stream, includeUsage: false };
  if (!stream) throw invalidParam('stream_options', 'stream_options is only allowed when stream is true');
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalidParam('stream_options', `stream_options must be an object, got ${describe(options)}`);
  }
  const includeUsage = (options as Body)['include_usage'] ?? false;
  if (typeof includeUsage !== 'boolean') {
    throw invalidParam('stream_options.include_usage', `stream_options.include_usage must be true or false, got ${describe(includeUsage)}`);
  }
  return { stream, includeUsage };
}

/** Completions' `logprobs: N` asks for the sampled tokens' log-probabilities and the N most likely tokens' at each position. */
export const COMPLETION_FIELDS: SamplingFields = { maxTokens: ['max_tokens'], topLogprobs: 'logprobs' };

/** Chat's `logprobs: true` asks for log-probabilities, `top_logprobs: N` for the N most likely tokens' too. */
export const CHAT_FIELDS: SamplingFields = { maxTokens: ['max_completion_tokens', 'max_tokens'], topLogprobs: 'top_logprobs' };

/** Whether a completions request asks for log-probabilities (its `logprobs: N` is checked with the sampling fields). */
export function completionWantsLogprobs(body: Body): boolean {
  return body['logprobs'] !== undefined && body['logprobs'] !== null;
}

/** Whether a chat request asks for log-probabilities. */
export function chatWantsLogprobs(body: Body): boolean {
  const wanted = optionalBoolean(body, 'logprobs') ?? false;
  if (!wanted && body['top_logprobs'] !== undefined && body['top_logprobs'] !== null) throw invalidParam('top_logprobs', 'top_logprobs needs logprobs: true');
  return wanted;
}
