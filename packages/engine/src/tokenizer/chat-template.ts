import { Template } from '@huggingface/jinja';
import { join } from 'node:path';
import { TokenizerError, causeMessage } from './errors.js';
import { readOptionalText, type JsonObject } from './tokenizer-files.js';

/** What a chat template sees besides the messages. */
export interface ChatTemplateContext {
  addGenerationPrompt: boolean;
  bosToken: string | undefined;
  eosToken: string | undefined;
  /** Further template variables (tools, enable_thinking, ...), as transformers passes its extra kwargs. */
  extra: Record<string, unknown>;
}

/**
 * A Jinja chat template, parsed when made: a template that does not parse fails the model's load,
 * not its first chat request.
 */
export class ChatTemplate {
  private readonly parsed: Template;

  /** `origin` names where the source came from (a file's base name), for error messages. */
  constructor(
    readonly source: string,
    readonly origin: string,
  ) {
    try {
      this.parsed = new Template(source);
    } catch (error) {
      throw new TokenizerError(`chat template from ${origin} failed to parse: ${causeMessage(error)}`, { cause: error });
    }
  }

  render(messages: readonly unknown[], context: ChatTemplateContext): string {
    const variables: Record<string, unknown> = { ...context.extra };
    // Absent special tokens stay undefined so that `bos_token is defined` tests behave as in transformers.
    if (context.bosToken !== undefined) variables['bos_token'] = context.bosToken;
    if (context.eosToken !== undefined) variables['eos_token'] = context.eosToken;
    variables['messages'] = messages;
    variables['add_generation_prompt'] = context.addGenerationPrompt;
    try {
      return this.parsed.render(variables);
    } catch (error) {
      throw new TokenizerError(`chat template from ${this.origin} failed to render: ${causeMessage(error)}`, {
        cause: error,
      });
    }
  }
}

/**
 * The model's chat template: `chat_template.jinja` when present (newer transformers save it there),
 * else tokenizer_config.json `chat_template`, a string or a list of named templates of which the one
 * named "default" is the chat template. Undefined when the model has none; a {@link TokenizerError}
 * when it does not parse.
 */
export async function loadChatTemplate(
  dir: string,
  tokenizerConfig: JsonObject | undefined,
): Promise<ChatTemplate | undefined> {
  // Named by base name: a render error reaches HTTP clients, which have no business with the server's paths.
  const fileSource = await readOptionalText(dir, 'chat_template.jinja');
  if (fileSource !== undefined) return new ChatTemplate(fileSource, 'chat_template.jinja');

  const value = tokenizerConfig?.['chat_template'];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return new ChatTemplate(value, 'tokenizer_config.json');
  if (Array.isArray(value)) {
    const named = (value as unknown[]).find(isNamedTemplate('default'));
    return named === undefined ? undefined : new ChatTemplate(named.template, 'tokenizer_config.json (template "default")');
  }
  throw new TokenizerError(`malformed ${join(dir, 'tokenizer_config.json')}: chat_template must be a string or a list of {name, template}`);
}

function isNamedTemplate(name: string) {
  return (entry: unknown): entry is { name: string; template: string } =>
    typeof entry === 'object' &&
    entry !== null &&
    'name' in entry &&
    entry.name === name &&
    'template' in entry &&
    typeof entry.template === 'string';
}
