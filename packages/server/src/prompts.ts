import { type ChatMessage, type Tokenizer, TokenizerError } from '@ignis/engine';
import type { ServedEngine } from './context.js';
import { type Body, describe } from './fields.js';
import { type RequestLimits, checkPromptChars } from './limits.js';
import { contextTooLong, invalidParam } from './openai-errors.js';

/** One prompt of a request: its token ids, and its text when it was given as text. */
export interface Prompt {
  readonly ids: readonly number[];
  readonly text: string | undefined;
}

/** A prompt as the request gave it, before tokenizing: its text, or its token ids (text undefined). */
export type PromptInput = { readonly text: string; readonly ids?: undefined } | Prompt;

const isTokenIds = (value: unknown): value is number[] =>
  Array.isArray(value) && value.length > 0 && value.every((id) => typeof id === 'number' && Number.isSafeInteger(id));

/**
 * `/v1/completions`' prompt in any of its four forms: a string, a list of strings, a list of token
 * ids, or a list of such lists. Its shape only: nothing is tokenized yet, so that the request's
 * size can be checked first.
 */
export function completionPromptInputs(body: Body): PromptInput[] {
  const value = body['prompt'];
  if (typeof value === 'string') return [{ text: value }];
  if (Array.isArray(value) && value.length > 0 && value.every((p) => typeof p === 'string')) return (value as string[]).map((text) => ({ text }));
  if (isTokenIds(value)) return [{ ids: value, text: undefined }];
  if (Array.isArray(value) && value.length > 0 && value.every(isTokenIds)) return value.map((ids) => ({ ids, text: undefined }));
  throw invalidParam(
    'prompt',
    `prompt must be a string, a list of strings, a list of token ids or a list of lists of token ids (none empty), got ${describe(value)}`,
  );
}

/**
 * The token ids of each prompt. Texts are checked against the prompt length bound first (every
 * one of them, before any is tokenized), then tokenized with the special tokens added (BOS), as
 * the engine does for text. Ids are checked against the vocabulary by the engine.
 */
export async function tokenizePrompts(inputs: readonly PromptInput[], engine: ServedEngine, limits: RequestLimits): Promise<Prompt[]> {
  const tokenizer = engine.tokenizer;
  const texts = inputs.filter((input) => input.ids === undefined);
  if (texts.length > 0 && !tokenizer) throw invalidParam('prompt', 'this model has no tokenizer (no tokenizer.json): send the prompt as token ids');
  for (const [i, input] of inputs.entries()) {
    if (input.ids === undefined) checkPromptChars(input.text, inputs.length === 1 ? 'prompt' : `prompt[${i}]`, engine, limits);
  }
  return Promise.all(inputs.map(async (input) => (input.ids === undefined ? { ids: await tokenizer!.encode(input.text), text: input.text } : input)));
}

/**
 * `/v1/chat/completions`' messages: each has a role and text content (a string, or a list of text
 * parts); at most `maxMessages` of them, counted before any is read.
 */
export function chatMessages(body: Body, maxMessages: number): ChatMessage[] {
  const value = body['messages'];
  if (!Array.isArray(value) || value.length === 0) throw invalidParam('messages', `messages must be a non-empty list, got ${describe(value)}`);
  if (value.length > maxMessages) throw invalidParam('messages', `messages has ${value.length} entries, more than this server's limit of ${maxMessages}`);
  return value.map((message: unknown, i): ChatMessage => {
    const where = `messages[${i}]`;
    if (typeof message !== 'object' || message === null || Array.isArray(message)) throw invalidParam(where, `${where} must be an object, got ${describe(message)}`);
    const { role, content } = message as Body;
    if (typeof role !== 'string') throw invalidParam(`${where}.role`, `${where}.role must be a string, got ${describe(role)}`);
    return { ...(message as Body), role, content: messageText(content, `${where}.content`) };
  });
}

/** A message's content as text; only text parts are understood. */
function messageText(content: unknown, where: string): string | null {
  if (content === null || content === undefined || typeof content === 'string') return content ?? null;
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, i) => {
        const p = part as Body | null;
        if (p?.['type'] === 'text' && typeof p['text'] === 'string') return p['text'];
        throw invalidParam(`${where}[${i}]`, `${where}[${i}] must be a text part ({"type": "text", "text": ...}); other kinds are not supported, got ${describe(part)}`);
      })
      .join('');
  }
  throw invalidParam(where, `${where} must be a string, null or a list of text parts, got ${describe(content)}`);
}

/**
 * Renders the messages with the model's chat template (ending in the assistant's turn), checks
 * the text against the prompt length bound, and tokenizes it as is: the template writes BOS itself.
 */
export async function chatPrompt(messages: readonly ChatMessage[], engine: ServedEngine, limits: RequestLimits): Promise<Prompt> {
  const tokenizer = engine.tokenizer;
  if (!tokenizer?.hasChatTemplate) {
    throw invalidParam('messages', tokenizer ? 'this model has no chat template: use /v1/completions' : 'this model has no tokenizer: use /v1/completions with token ids');
  }
  const text = renderChat(tokenizer, messages, true);
  checkPromptChars(text, 'messages', engine, limits);
  return { ids: await tokenizer.encode(text, { addSpecialTokens: false }), text };
}

/**
 * The messages rendered by the model's chat template. A template that fails on them (most often
 * by `raise_exception`, as templates refuse roles that do not alternate) is the request's fault:
 * a 400 that gives the template's reason but not the tokenizer's message, which names the
 * template's file on the server.
 */
export function renderChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], addGenerationPrompt: boolean): string {
  try {
    return tokenizer.applyChatTemplate(messages, { addGenerationPrompt });
  } catch (error) {
    if (!(error instanceof TokenizerError)) throw error;
    const reason = error.cause instanceof Error ? `: ${error.cause.message}` : '';
    throw invalidParam('messages', `the model's chat template cannot render these messages${reason}`);
  }
}

/**
 * The context-length rule (as vLLM's): the prompt must leave room for a token, and the prompt and
 * `max_tokens` together must fit. `promptField` and `maxTokensField` name the fields at fault.
 */
export function checkContext(promptTokens: number, maxTokens: number, maxModelLen: number, promptField: string, maxTokensField: string): void {
  if (promptTokens >= maxModelLen) {
    throw contextTooLong(
      promptField,
      `This model's maximum context length is ${maxModelLen} tokens, and the prompt has ${promptTokens} tokens, leaving none to generate. Shorten the prompt.`,
    );
  }
  if (promptTokens + maxTokens > maxModelLen) {
    throw contextTooLong(
      maxTokensField,
      `This model's maximum context length is ${maxModelLen} tokens, but ${promptTokens + maxTokens} were requested ` +
        `(${promptTokens} in the prompt, ${maxTokens} for the completion). Shorten the prompt or lower ${maxTokensField}.`,
    );
  }
}
