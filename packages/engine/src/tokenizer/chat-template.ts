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

/** A Jinja chat template, parsed on first use so that a broken template only fails chat rendering, not loading. */
export class ChatTemplate {
  private parsed: Template | undefined;

  /** `origin` names where the source came from, for error messages. */
  constructor(
    readonly source: string,
    readonly origin: string,
  ) {}

  render(messages: readonly unknown[], context: ChatTemplateContext): string {
    const template = this.parse();
    const variables: Record<string, unknown> = { ...context.extra };
    // Absent special tokens stay undefined so that `bos_token is defined` tests behave as in transformers.
    if (context.bosToken !== undefined) variables['bos_token'] = context.bosToken;
    if (context.eosToken !== undefined) variables['eos_token'] = context.eosToken;
    variables['messages'] = messages;
    variables['add_generation_prompt'] = context.addGenerationPrompt;
    try {
      return template.render(variables);
    } catch (error) {
      throw new TokenizerError(`chat template from ${this.origin} failed to render: ${causeMessage(error)}`, {
        cause: error,
      });
    }
  }

  private parse(): Template {
    if (this.parsed === undefined) {
      try {
        this.parsed = new Template(this.source);
      } catch (error) {
        throw new TokenizerError(`chat template from ${this.origin} failed to parse: ${causeMessage(error)}`, {
          cause: error,
        });
      }
    }
    return this.parsed;
  }
}

/**
 * The model's chat template: `chat_template.jinja` when present (newer transformers save it there),
 * else tokenizer_config.json `chat_template`, a string or a list of named templates of which the one
 * named "default" is the chat template. Undefined when the model has none.
 */
export async function loadChatTemplate(
  dir: string,
  tokenizerConfig: JsonObject | undefined,
): Promise<ChatTemplate | undefined> {
  const jinjaPath = join(dir, 'chat_template.jinja');
  const fileSource = await readOptionalText(dir, 'chat_template.jinja');
  if (fileSource !== undefined) return new ChatTemplate(fileSource, jinjaPath);

  const configPath = join(dir, 'tokenizer_config.json');
  const value = tokenizerConfig?.['chat_template'];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return new ChatTemplate(value, configPath);
  if (Array.isArray(value)) {
    const named = (value as unknown[]).find(isNamedTemplate('default'));
    return named === undefined ? undefined : new ChatTemplate(named.template, `${configPath} (template "default")`);
  }
  throw new TokenizerError(`malformed ${configPath}: chat_template must be a string or a list of {name, template}`);
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
