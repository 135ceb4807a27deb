import type { FastifyInstance } from 'fastify';
import type { ServerContext } from '../context.js';
import { type Body, describe, optionalBoolean, requireObject } from '../fields.js';
import { invalidParam } from '../openai-errors.js';
import { checkPromptChars } from '../limits.js';
import { chatMessages, renderChat } from '../prompts.js';
import { requireServedModel } from './models.js';

/**
 * vLLM's `POST /tokenize` (`{model, prompt}` or `{model, messages}` to `{tokens, count,
 * max_model_len}`) and `POST /detokenize` (`{model, tokens}` to `{prompt}`). Texts are bounded as
 * prompts are (characters, messages) before they are tokenized.
 */
export function tokenizeRoutes(app: FastifyInstance, ctx: ServerContext): void {
  const tokenizer = () => {
    if (!ctx.engine.tokenizer) throw invalidParam(null, 'this model has no tokenizer (no tokenizer.json)');
    return ctx.engine.tokenizer;
  };

  app.post('/tokenize', async (request) => {
    const body = requireObject(request.body);
    requireServedModel(body, ctx);
    const t = tokenizer();
    let tokens: number[];
    if (body['messages'] !== undefined) {
      // As vLLM: the chat template writes the special tokens, so none are added by default.
      if (!t.hasChatTemplate) throw invalidParam('messages', 'this model has no chat template');
      const messages = chatMessages(body, ctx.limits.maxChatMessages);
      const text = renderChat(t, messages, optionalBoolean(body, 'add_generation_prompt') ?? true);
      checkPromptChars(text, 'messages', ctx.engine, ctx.limits);
      tokens = await t.encode(text, { addSpecialTokens: optionalBoolean(body, 'add_special_tokens') ?? false });
    } else {
      const prompt = body['prompt'];
      if (typeof prompt !== 'string') throw invalidParam('prompt', `prompt must be a string, got ${describe(prompt)}`);
      checkPromptChars(prompt, 'prompt', ctx.engine, ctx.limits);
      tokens = await t.encode(prompt, { addSpecialTokens: optionalBoolean(body, 'add_special_tokens') ?? true });
    }
    return { tokens, count: tokens.length, max_model_len: ctx.engine.maxModelLen };
  });

  app.post('/detokenize', async (request) => {
    const body = requireObject(request.body);
    requireServedModel(body, ctx);
    const t = tokenizer();
    return { prompt: await t.decode(tokenIds(body, t.vocabSize), { skipSpecialTokens: false }) };
  });
}

function tokenIds(body: Body, vocabSize: number): number[] {
  const value = body['tokens'];
  if (!Array.isArray(value) || !value.every((id) => Number.isSafeInteger(id) && id >= 0 && id < vocabSize)) {
    throw invalidParam('tokens', `tokens must be a list of token ids in [0, ${vocabSize}), got ${describe(value)}`);
  }
  return value as number[];
}
