import { AsyncQueue, type CompletionDelta, type GenerateResult, type RequestHandle, type SamplingParams } from '@ignis/engine';
import type { ServerContext } from './context.js';
import type { Exchange } from './exchange.js';
import { OpenAIError } from './openai-errors.js';
import type { Prompt } from './prompts.js';

/** OpenAI's token counts of a response. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/**
 * Hands each prompt to the engine, once admission allows. The exchange holds the requests (a
 * client that leaves aborts them) and the metrics see each one end. If a later prompt is refused
 * (an id outside the vocabulary), the ones already started are aborted.
 */
export function startRequests(ctx: ServerContext, exchange: Exchange, prompts: readonly Prompt[], params: SamplingParams): Promise<RequestHandle[]> {
  return ctx.admission.admit(prompts.length * params.n, async () => {
    const handles: RequestHandle[] = [];
    try {
      for (const prompt of prompts) {
        const handle = await ctx.engine.stream(prompt.ids, params);
        handles.push(handle);
        exchange.track(handle);
        handle.result.then((result) => ctx.metrics.observe(result), () => undefined);
      }
    } catch (error) {
      for (const handle of handles) handle.abort();
      throw error;
    }
    return handles;
  });
}

/** Every request's results, or the reason the request cannot be answered. */
export async function finish(exchange: Exchange, handles: readonly RequestHandle[]): Promise<GenerateResult[]> {
  const results = await Promise.all(handles.map((h) => h.result));
  if (exchange.abortCause === 'shutdown') throw new OpenAIError(503, 'the server shut down before the request finished', 'server_error', null, 'shutdown');
  return results;
}

/** The deltas of several requests as they come, each with the index of its prompt. */
export function mergeDeltas(handles: readonly RequestHandle[]): AsyncIterable<{ prompt: number; delta: CompletionDelta }> {
  const queue = new AsyncQueue<{ prompt: number; delta: CompletionDelta }>();
  let open = handles.length;
  handles.forEach(async (handle, prompt) => {
    try {
      for await (const delta of handle) queue.push({ prompt, delta });
      if (--open === 0) queue.end();
    } catch (error) {
      queue.fail(error);
    }
  });
  return queue;
}

/** Usage: each prompt counted once (its n completions share it), every generated token. */
export function usageOf(results: readonly GenerateResult[]): Usage {
  let prompt = 0;
  let completion = 0;
  for (const result of results) {
    prompt += result.promptTokenIds.length;
    for (const output of result.outputs) completion += output.tokenIds.length;
  }
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** The index of a completion among a response's choices: prompts in order, each with its n completions. */
export function choiceIndex(prompt: number, completion: number, n: number): number {
  return prompt * n + completion;
}

/** Seconds since the epoch, for `created`. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
