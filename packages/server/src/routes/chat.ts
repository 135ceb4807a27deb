import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { optionalString, rejectUnsupported, requireObject } from '../fields.js';
import { finish, mergeDeltas, nowSeconds, startRequests, usageOf } from '../generation.js';
import { checkSequences } from '../limits.js';
import { type TopLogprobs, chatLogprobsContent } from '../logprobs.js';
import { CHAT_FIELDS, chatWantsLogprobs, samplingParams, streamOptions } from '../params.js';
import { chatMessages, chatPrompt, checkContext } from '../prompts.js';
import { SSE_DONE, sendEvents, sseEvent } from '../sse.js';
import { requireServedModel } from './models.js';

/**
 * `POST /v1/chat/completions`: the messages rendered with the model's chat template, n replies,
 * whole or streamed. Without a token limit, a reply may fill the rest of the context (as OpenAI's).
 */
export function chatRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.post('/v1/chat/completions', async (request, reply) => {
    const body = requireObject(request.body);
    const exchange = ctx.exchange(request);
    requireServedModel(body, ctx);
    rejectUnsupported(body, ['logit_bias', 'tools', 'functions', 'response_format']);
    const logprobs = chatWantsLogprobs(body);
    const sampling = samplingParams(body, CHAT_FIELDS, ctx.limits);
    const { stream, includeUsage } = streamOptions(body);
    exchange.user = optionalString(body, 'user');
    checkSequences(1, sampling.params.n, ctx.limits, ctx.admission.maxWaiting);
    const prompt = await chatPrompt(chatMessages(body, ctx.limits.maxChatMessages), ctx.engine, ctx.limits);
    const maxModelLen = ctx.engine.maxModelLen;
    const params = sampling.maxTokensGiven ? sampling.params : { ...sampling.params, maxTokens: Math.max(1, maxModelLen - prompt.ids.length) };
    checkContext(prompt.ids.length, params.maxTokens, maxModelLen, 'messages', sampling.maxTokensField);

    const id = (exchange.responseId = `chatcmpl-${randomUUID()}`);
    const created = nowSeconds();
    const handles = await startRequests(ctx, exchange, [prompt], params);
    const content = async (of: { tokenIds: readonly number[]; logprobs: readonly number[]; topLogprobs?: TopLogprobs }) =>
      logprobs ? { content: await chatLogprobsContent(ctx.tokenTexts, of.tokenIds, of.logprobs, of.topLogprobs) } : null;

    if (!stream) {
      const results = await finish(exchange, handles);
      const choices = await Promise.all(
        results[0]!.outputs.map(async (output) => ({
          index: output.index,
          message: { role: 'assistant', content: output.text },
          logprobs: await content(output),
          finish_reason: output.finishReason,
        })),
      );
      return { id, object: 'chat.completion', created, model: ctx.modelName, choices, usage: usageOf(results) };
    }

    const chunk = (choices: unknown[], usage?: unknown): string =>
      sseEvent({ id, object: 'chat.completion.chunk', created, model: ctx.modelName, choices, ...(includeUsage ? { usage: usage ?? null } : {}) });
    async function* events(): AsyncGenerator<string> {
      // Each choice opens with the assistant's role, as OpenAI's streams do.
      for (let i = 0; i < params.n; i++) yield chunk([{ index: i, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }]);
      for await (const { delta } of mergeDeltas(handles)) {
        if (delta.finishReason === 'abort') continue; // the client left, or shutdown: finish() says which
        const text = delta.finishReason && delta.text === '' ? {} : { content: delta.text };
        yield chunk([{ index: delta.index, delta: text, logprobs: await content(delta), finish_reason: delta.finishReason ?? null }]);
      }
      const results = await finish(exchange, handles);
      if (includeUsage) yield chunk([], usageOf(results));
      yield SSE_DONE;
    }
    return sendEvents(reply, events());
  });
}
