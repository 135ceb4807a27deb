import { InvalidParameterError } from '../errors.js';

/** How one request samples and when it stops. Validated by {@link resolveSamplingParams}. */
export interface SamplingParams {
  /** Most tokens to generate. */
  readonly maxTokens: number;
  /**
   * 0 is greedy; larger flattens the distribution. At most {@link MAX_FLOAT32} (larger is an
   * error); a temperature in (0, {@link MIN_TEMPERATURE}) is raised to it, where sampling keeps
   * only the most likely token and draws among its exact ties (vLLM raises temperatures below
   * 1e-2 to 1e-2 instead; our kernels are exact down to the smallest normal float32).
   */
  readonly temperature: number;
  /** Keep only the k most likely tokens; 0 keeps all. */
  readonly topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all. */
  readonly topP: number;
  /** Keep tokens at least this fraction as likely as the most likely one; 0 keeps all. */
  readonly minP: number;
  /** Seed of this request's random generator; undefined draws one. */
  readonly seed: number | undefined;
  /** Strings that end generation when they appear in the text (not included in the output). */
  readonly stop: readonly string[];
  /** Keep generating past end-of-sequence tokens. */
  readonly ignoreEos: boolean;
  /**
   * > 1 discourages tokens already in the prompt or output (divides positive logits, multiplies
   * negative ones). Within [{@link MIN_REPETITION_PENALTY}, {@link MAX_FLOAT32}], the positive
   * normal float32 values (others would be 0, subnormal or infinite on the device); a penalized
   * logit that overflows saturates at the largest float32.
   */
  readonly repetitionPenalty: number;
  /** Subtracted once from the logit of every token already generated. */
  readonly presencePenalty: number;
  /** Subtracted from the logit of a generated token once per time it was generated. */
  readonly frequencyPenalty: number;
  /** Completions to generate for the prompt (they share its cached blocks). */
  readonly n: number;
  /**
   * How many of the most likely tokens to report, with their log-probabilities, beside each
   * generated token (0 to {@link MAX_TOP_LOGPROBS}; 0 reports none). Log-probabilities are of the
   * logits after penalties and before temperature, top-k, top-p and min-p, like the sampled token's.
   */
  readonly topLogprobs: number;
}

/** The largest float32 (3.4028234663852886e38): sampling parameters travel to the kernels as float32. */
export const MAX_FLOAT32 = 3.4028234663852886e38;

/** The smallest normal float32 (2^-126): smaller positive temperatures are raised to it. */
export const MIN_TEMPERATURE = 2 ** -126;

/** The smallest repetition penalty (2^-126, the smallest normal float32). */
export const MIN_REPETITION_PENALTY = 2 ** -126;

/** Most top logprobs a request may ask for per token (OpenAI's limit). */
export const MAX_TOP_LOGPROBS = 20;

/** Defaults match vLLM's SamplingParams. */
export const DEFAULT_SAMPLING_PARAMS: SamplingParams = {
  maxTokens: 16,
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  seed: undefined,
  stop: [],
  ignoreEos: false,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  n: 1,
  topLogprobs: 0,
};

function check(condition: boolean, param: string, message: string): void {
  if (!condition) throw new InvalidParameterError(param, `${param} ${message}`);
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Fills defaults and checks every field, naming the field in any error ({@link InvalidParameterError}).
 * A temperature in (0, {@link MIN_TEMPERATURE}) is raised to it.
 */
export function resolveSamplingParams(given: Partial<SamplingParams> = {}): SamplingParams {
  const p = { ...DEFAULT_SAMPLING_PARAMS, ...Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) };
  check(Number.isSafeInteger(p.maxTokens) && p.maxTokens >= 1, 'maxTokens', `must be an integer >= 1, got ${p.maxTokens}`);
  check(isNumber(p.temperature) && p.temperature >= 0 && p.temperature <= MAX_FLOAT32, 'temperature', `must be in [0, ${MAX_FLOAT32}], got ${p.temperature}`);
  check(Number.isSafeInteger(p.topK) && p.topK >= 0, 'topK', `must be an integer >= 0 (0 keeps all), got ${p.topK}`);
  check(isNumber(p.topP) && p.topP > 0 && p.topP <= 1, 'topP', `must be in (0, 1], got ${p.topP}`);
  check(isNumber(p.minP) && p.minP >= 0 && p.minP <= 1, 'minP', `must be in [0, 1], got ${p.minP}`);
  check(p.seed === undefined || (Number.isSafeInteger(p.seed) && p.seed >= 0), 'seed', `must be a non-negative integer, got ${p.seed}`);
  check(Array.isArray(p.stop) && p.stop.every((s) => typeof s === 'string' && s.length > 0), 'stop', 'must be a list of non-empty strings');
  check(typeof p.ignoreEos === 'boolean', 'ignoreEos', `must be true or false, got ${String(p.ignoreEos)}`);
  check(
    isNumber(p.repetitionPenalty) && p.repetitionPenalty >= MIN_REPETITION_PENALTY && p.repetitionPenalty <= MAX_FLOAT32,
    'repetitionPenalty',
    `must be in [${MIN_REPETITION_PENALTY}, ${MAX_FLOAT32}] (the positive normal float32 values), got ${p.repetitionPenalty}`,
  );
  check(isNumber(p.presencePenalty) && Math.abs(p.presencePenalty) <= 2, 'presencePenalty', `must be in [-2, 2], got ${p.presencePenalty}`);
  check(isNumber(p.frequencyPenalty) && Math.abs(p.frequencyPenalty) <= 2, 'frequencyPenalty', `must be in [-2, 2], got ${p.frequencyPenalty}`);
  check(Number.isSafeInteger(p.n) && p.n >= 1 && p.n <= 128, 'n', `must be an integer in [1, 128], got ${p.n}`);
  check(Number.isSafeInteger(p.topLogprobs) && p.topLogprobs >= 0 && p.topLogprobs <= MAX_TOP_LOGPROBS, 'topLogprobs', `must be an integer in [0, ${MAX_TOP_LOGPROBS}], got ${p.topLogprobs}`);
  if (p.temperature > 0 && p.temperature < MIN_TEMPERATURE) return { ...p, temperature: MIN_TEMPERATURE };
  return p;
}

/** True when the request's penalties would change the logits. */
export function hasPenalties(p: SamplingParams): boolean {
  return p.repetitionPenalty !== 1 || p.presencePenalty !== 0 || p.frequencyPenalty !== 0;
}
