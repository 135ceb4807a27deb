import { type RequestSample, sample } from '../samples.js';
import { SseParser } from './sse.js';

/** Where and how requests go: an OpenAI-compatible server's `/v1/completions`. */
export interface Endpoint {
  /** e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted). */
  readonly baseUrl: string;
  readonly model: string;
  readonly apiKey?: string;
  /** Sent as `ignore_eos` (vLLM's and TensorRT-LLM's extension) so that each request generates its full length. */
  readonly ignoreEos: boolean;
  readonly timeoutMs: number;
}

/** One request's outcome: its timings, or why it failed (with the time spent). */
export type Outcome =
  | { readonly ok: true; readonly sample: RequestSample; readonly interTokenMs: readonly number[]; readonly startMs: number; readonly countedFrom: 'usage' | 'chunks' }
  | { readonly ok: false; readonly error: string; readonly startMs: number; readonly e2eMs: number };

interface CompletionChunk {
  choices?: { text?: string }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

export function completionsUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '').replace(/\/v1$/, '')}/v1/completions`;
}

/**
 * Streams one completion and times it as vLLM's benchmark client does: TTFT at the first chunk
 * with choices, inter-token gaps between later chunks, end to end at the last chunk with
 * choices, output tokens from the final usage chunk
 * (stream_options.include_usage) or, when the server sends none, one per chunk. Any HTTP error,
 * error event, or stream that ends without `[DONE]` is a failure. `clock` gives milliseconds
 * (read once at the start and once per event; tests pass a fake one).
 */
export async function sendCompletion(
  endpoint: Endpoint,
  prompt: string | readonly number[],
  inputLen: number,
  maxTokens: number,
  t0: number,
  clock: () => number = () => performance.now(),
): Promise<Outcome> {
  const start = clock();
  const fail = (error: string): Outcome => ({ ok: false, error, startMs: start - t0, e2eMs: clock() - start });
  const body = {
    model: endpoint.model,
    prompt: typeof prompt === 'string' ? prompt : [...prompt],
    max_tokens: maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    ...(endpoint.ignoreEos ? { ignore_eos: true } : {}),
  };
  let response: Response;
  try {
    response = await fetch(completionsUrl(endpoint.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(endpoint.apiKey ? { authorization: `Bearer ${endpoint.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(endpoint.timeoutMs),
    });
  } catch (error) {
    return fail(describe(error));
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => '');
    return fail(`HTTP ${response.status}${errorMessage(text) ? `: ${errorMessage(text)}` : ''}`);
  }
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const gaps: number[] = [];
  let first: number | undefined;
  let previous = 0;
  let chunks = 0;
  let usage: { prompt_tokens?: number; completion_tokens?: number } | undefined;
  let done = false;
  try {
    for await (const bytes of response.body) {
      for (const data of parser.push(decoder.decode(bytes as Uint8Array, { stream: true }))) {
        if (data.trim() === '[DONE]') {
          done = true;
          continue;
        }
        const now = clock();
        const chunk = JSON.parse(data) as CompletionChunk;
        if (chunk.error) return fail(`error event: ${typeof chunk.error === 'string' ? chunk.error : chunk.error.message}`);
        if (chunk.usage) usage = chunk.usage;
        if (!chunk.choices || chunk.choices.length === 0) continue;
        chunks++;
        if (first === undefined) first = now;
        else gaps.push(now - previous);
        previous = now;
      }
    }
  } catch (error) {
    return fail(describe(error));
  }
  if (!done) return fail('the stream ended without [DONE]');
  if (first === undefined) return fail('no tokens streamed');
  const outputTokens = usage?.completion_tokens ?? chunks;
  return {
    ok: true,
    sample: sample(usage?.prompt_tokens ?? inputLen, outputTokens, first - start, previous - start),
    interTokenMs: gaps,
    startMs: start - t0,
    countedFrom: usage?.completion_tokens !== undefined ? 'usage' : 'chunks',
  };
}

function errorMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as CompletionChunk;
    const error = parsed.error;
    return (typeof error === 'string' ? error : error?.message) ?? body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}

/** fetch's errors hide the cause (`fetch failed`): name it (ECONNREFUSED, a timeout). */
function describe(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'timed out';
  if (!e.cause) return e.message;
  return `${e.message}: ${[e.cause.message, e.cause.code && `(${e.cause.code})`].filter(Boolean).join(' ')}`;
}
