import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { optionalBoolean, optionalString, rejectUnsupported, requireObject } from '../fields.js';
import { choiceIndex, finish, mergeDeltas, nowSeconds, startRequests, usageOf } from '../generation.js';
import { checkSequences } from '../limits.js';
import { CompletionLogprobsWriter } from '../logprobs.js';
import { invalidParam } from '../openai-errors.js';
import { COMPLETION_FIELDS, completionWantsLogprobs, samplingParams, streamOptions } from '../params.js';
import { checkContext, completionPromptInputs, tokenizePrompts } from '../prompts.js';
import { SSE_DONE, sendEvents, sseEvent } from '../sse.js';
import { requireServedModel } from './models.js';

/**
 * `POST /v1/completions`: one or more prompts (text or token ids), n completions each, whole or
 * streamed. The request's size (sequences, prompt lengths) is checked before anything is tokenized.
 */
export function completionsRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/completions', async (request, reply) => {
    const body = requireObject(request.body);
    const exchange = ctx.exchange(request);
    requireServedModel(body, ctx);
    rejectUnsupported(body, ['suffix', 'logit_bias', 'best_of']);
    const { params, maxTokensField } = samplingParams(body, COMPLETION_FIELDS, ctx.limits);
    const { stream, includeUsage } = streamOptions(body);
    const logprobs = completionWantsLogprobs(body);
    const echo = optionalBoolean(body, 'echo') ?? false;
    if (echo && logprobs) throw invalidParam('echo', 'echo with logprobs is not supported: the log-probabilities of prompt tokens are not computed');
    exchange.user = optionalString(body, 'user');
    const inputs = completionPromptInputs(body);
    checkSequences(inputs.length, params.n, ctx.limits, ctx.admission.maxWaiting);
    const prompts = await tokenizePrompts(inputs, ctx.engine, ctx.limits);
    for (const prompt of prompts) checkContext(prompt.ids.length, params.maxTokens, ctx.engine.maxModelLen, 'prompt', maxTokensField);

    const id = (exchange.responseId = `cmpl-${randomUUID()}`);
    const created = nowSeconds();
    const handles = await startRequests(ctx, exchange, prompts, params);
    // echo: each choice's text begins with its prompt's (token ids are shown as the tokenizer reads them).
    const echoes = await Promise.all(
      prompts.map(async (p) => (!echo ? '' : (p.text ?? (await ctx.engine.tokenizer?.decode(p.ids, { skipSpecialTokens: false })) ?? ''))),
    );
    const writer = (prompt: number) => new CompletionLogprobsWriter(ctx.tokenTexts, echoes[prompt]!.length);

    if (!stream) {
      const results = await finish(exchange, handles);
      const choices = await Promise.all(
        results.flatMap((result, p) =>
          result.outputs.map(async (output) => ({
            index: choiceIndex(p, output.index, params.n),
            text: echoes[p] + output.text,
            logprobs: logprobs ? await writer(p).next(output.tokenIds, output.logprobs, output.topLogprobs) : null,
            finish_reason: output.finishReason,
          })),
        ),
      );
      return { id, object: 'text_completion', created, model: ctx.modelName, choices, usage: usageOf(results) };
    }

    const chunk = (choices: unknown[], usage?: unknown): string =>
      sseEvent({ id, object: 'text_completion', created, model: ctx.modelName, choices, ...(includeUsage ? { usage: usage ?? null } : {}) });
    async function* events(): AsyncGenerator<string> {
      const writers = new Map<number, CompletionLogprobsWriter>();
      if (echo) {
        for (const [p, text] of echoes.entries()) {
          for (let i = 0; i < params.n; i++) yield chunk([{ index: choiceIndex(p, i, params.n), text, logprobs: null, finish_reason: null }]);
        }
      }
      for await (const { prompt, delta } of mergeDeltas(handles)) {
        if (delta.finishReason === 'abort') continue; // the client left, or shutdown: finish() says which
        const index = choiceIndex(prompt, delta.index, params.n);
        if (logprobs && !writers.has(index)) writers.set(index, writer(prompt));
        const lp = logprobs ? await writers.get(index)!.next(delta.tokenIds, delta.logprobs, delta.topLogprobs) : null;
        yield chunk([{ index, text: delta.text, logprobs: lp, finish_reason: delta.finishReason ?? null }]);
      }
      const results = await finish(exchange, handles);
      if (includeUsage) yield chunk([], usageOf(results));
      yield SSE_DONE;
    }
    return sendEvents(reply, events());
  });
}
