import { type ChatMessage, type Tokenizer, TokenizerError } from '@ignis/engine';
import { type Body, describe } from './fields.js';
import { contextTooLong, invalidParam } from './openai-errors.js';

/** One prompt of a request: its token ids, and its text when it was given as text. */
export interface Prompt {
  readonly ids: readonly number[];
  readonly text: string | undefined;
}

const isTokenIds = (value: unknown): value is number[] =>
  Array.isArray(value) && value.length > 0 && value.every((id) => typeof id === 'number' && Number.isSafeInteger(id));

/**
 * `/v1/completions`' prompt in any of its four forms: a string, a list of strings, a list of token
 * ids, or a list of such lists. Text is tokenized with the special tokens added (BOS), as the
 * engine does for text. Ids are checked against the vocabulary by the engine.
 */
export async function completionPrompts(body: Body, tokenizer: Tokenizer | undefined): Promise<Prompt[]> {
  const value = body['prompt'];
  const texts = typeof value === 'string' ? [value] : Array.isArray(value) && value.length > 0 && value.every((p) => typeof p === 'string') ? (value as string[]) : undefined;
  if (texts) {
    if (!tokenizer) throw invalidParam('prompt', 'this model has no tokenizer (no tokenizer.json): send the prompt as token ids');
    return Promise.all(texts.map(async (text) => ({ ids: await tokenizer.encode(text), text })));
  }
  if (isTokenIds(value)) return [{ ids: value, text: undefined }];
  if (Array.isArray(value) && value.length > 0 && value.every(isTokenIds)) return value.map((ids) => ({ ids, text: undefined }));
  throw invalidParam(
    'prompt',
    `prompt must be a string, a list of strings, a list of token ids or a list of lists of token ids (none empty), got ${describe(value)}`,
  );
}

/** `/v1/chat/completions`' messages: each has a role and text content (a string, or a list of text parts). */
export function chatMessages(body: Body): ChatMessage[] {
  const value = body['messages'];
  if (!Array.isArray(value) || value.length === 0) throw invalidParam('messages', `messages must be a non-empty list, got ${describe(value)}`);
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
 * Renders the messages with the model's chat template (ending in the assistant's turn) and
 * tokenizes the result as is: the template writes BOS itself.
 */
export async function chatPrompt(messages: readonly ChatMessage[], tokenizer: Tokenizer | undefined): Promise<Prompt> {
  if (!tokenizer?.hasChatTemplate) {
    throw invalidParam('messages', tokenizer ? 'this model has no chat template: use /v1/completions' : 'this model has no tokenizer: use /v1/completions with token ids');
  }
  let text: string;
  try {
    text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  } catch (error) {
    if (error instanceof TokenizerError) throw invalidParam('messages', error.message);
    throw error;
  }
  return { ids: await tokenizer.encode(text, { addSpecialTokens: false }), text };
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
