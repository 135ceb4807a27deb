import { join } from 'node:path';
import { Tokenizer as NativeTokenizer } from 'tokenizers';
import { loadChatTemplate, type ChatTemplate } from './chat-template.js';
import { TokenizerError, causeMessage } from './errors.js';
import {
  fileExists,
  parseJsonObject,
  readOptionalJsonObject,
  readOptionalText,
  specialAddedTokenIds,
  specialTokenContent,
  tokenIdList,
  type JsonObject,
} from './tokenizer-files.js';

export { TokenizerError } from './errors.js';

/** One chat turn as chat templates expect it; templates may read further keys (tool_calls, name, ...). */
export interface ChatMessage {
  role: string;
  content: string | null;
  [key: string]: unknown;
}

/** Text to token ids and back, plus the model's special tokens and chat template. */
export interface Tokenizer {
  /** Number of token ids, added tokens included. */
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  /**
   * Characters in the longest vocabulary entry, added tokens included, as the vocabulary spells it.
   * Each spelled character stands for at least one UTF-16 unit of the input (a byte in byte-level
   * vocabularies, a character in SentencePiece ones), so a text of C units encodes to at least
   * C / longestTokenChars tokens: a server can refuse a text too long for its context without
   * tokenizing it. (A normalizer that deletes or composes characters, as BERT's clean-up or NFC
   * does, can make a text encode to fewer.)
   */
  readonly longestTokenChars: number;
  /** Every id that ends generation: tokenizer_config.json `eos_token` and generation_config.json `eos_token_id`. */
  readonly eosTokenIds: readonly number[];
  /** `addSpecialTokens` (default true) lets the post-processor add BOS and the like. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]>;
  /** `skipSpecialTokens` defaults to true. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): Promise<string>;
  isSpecial(id: number): boolean;
  readonly hasChatTemplate: boolean;
  /**
   * Renders `messages` with the model's chat template. `addGenerationPrompt` defaults to false, as in
   * transformers. The result usually holds the BOS text already: encode it with `addSpecialTokens: false`.
   */
  applyChatTemplate(
    messages: readonly ChatMessage[],
    options?: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> },
  ): string;
}

/** What {@link HfTokenizer} learns from the config files next to tokenizer.json. */
interface TokenizerFacts {
  dir: string;
  bosTokenId: number | undefined;
  bosToken: string | undefined;
  eosTokenIds: number[];
  eosToken: string | undefined;
  specialIds: Set<number>;
  chatTemplate: ChatTemplate | undefined;
}

/** A Hugging Face tokenizer directory (tokenizer.json and its companion configs) run by the `tokenizers` binding. */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly hasChatTemplate: boolean;
  readonly longestTokenChars: number;

  private constructor(
    private readonly native: NativeTokenizer,
    private readonly facts: TokenizerFacts,
  ) {
    this.vocabSize = native.getVocabSize(true);
    this.bosTokenId = facts.bosTokenId;
    this.eosTokenIds = facts.eosTokenIds;
    this.hasChatTemplate = facts.chatTemplate !== undefined;
    this.longestTokenChars = Object.keys(native.getVocab(true)).reduce((longest, entry) => Math.max(longest, entry.length), 1);
  }

  /** Loads `dir/tokenizer.json` (required) and, when present, tokenizer_config.json, generation_config.json and chat_template.jinja. */
  static async load(dir: string): Promise<HfTokenizer> {
    const tokenizerPath = join(dir, 'tokenizer.json');
    const tokenizerText = await readOptionalText(dir, 'tokenizer.json');
    if (tokenizerText === undefined) throw new TokenizerError(`no tokenizer.json in ${dir}`);
    // Parsed here as well because the binding does not expose which added tokens are special.
    const tokenizerJson = parseJsonObject(tokenizerText, tokenizerPath);
    const native = openNative(tokenizerPath);
    const config = await readOptionalJsonObject(dir, 'tokenizer_config.json');
    const generationConfig = await readOptionalJsonObject(dir, 'generation_config.json');
    const chatTemplate = await loadChatTemplate(dir, config);
    const facts = collectFacts(dir, native, tokenizerJson, config, generationConfig, chatTemplate);
    return new HfTokenizer(native, facts);
  }

  async encode(text: string, options?: { addSpecialTokens?: boolean }): Promise<number[]> {
    const encoding = await this.native.encode(text, null, { addSpecialTokens: options?.addSpecialTokens ?? true });
    return encoding.getIds();
  }

  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): Promise<string> {
    return this.native.decode([...ids], options?.skipSpecialTokens ?? true);
  }

  isSpecial(id: number): boolean {
    return this.facts.specialIds.has(id);
  }

  applyChatTemplate(
    messages: readonly ChatMessage[],
    options?: { addGenerationPrompt?: boolean; extra?: Record<string, unknown> },
  ): string {
    const template = this.facts.chatTemplate;
    if (template === undefined) {
      throw new TokenizerError(
        `the tokenizer in ${this.facts.dir} has no chat template (no chat_template.jinja, and no usable chat_template in tokenizer_config.json)`,
      );
    }
    return template.render(messages, {
      addGenerationPrompt: options?.addGenerationPrompt ?? false,
      bosToken: this.facts.bosToken,
      eosToken: this.facts.eosToken,
      extra: options?.extra ?? {},
    });
  }
}

/** The tokenizer in `dir`, or undefined when `dir` has no tokenizer.json (a model may ship none). */
export async function loadTokenizer(dir: string): Promise<HfTokenizer | undefined> {
  if (!(await fileExists(join(dir, 'tokenizer.json')))) return undefined;
  return HfTokenizer.load(dir);
}

function openNative(path: string): NativeTokenizer {
  try {
    return NativeTokenizer.fromFile(path);
  } catch (error) {
    throw new TokenizerError(`tokenizers rejected ${path}: ${causeMessage(error)}`, { cause: error });
  }
}

function collectFacts(
  dir: string,
  native: NativeTokenizer,
  tokenizerJson: JsonObject,
  config: JsonObject | undefined,
  generationConfig: JsonObject | undefined,
  chatTemplate: ChatTemplate | undefined,
): TokenizerFacts {
  const generationPath = join(dir, 'generation_config.json');
  const idOf = (token: string | undefined): number | undefined =>
    token === undefined ? undefined : (native.tokenToId(token) ?? undefined);
  const tokenOf = (id: number | undefined): string | undefined =>
    id === undefined ? undefined : (native.idToToken(id) ?? undefined);

  const configBos = specialTokenContent(config?.['bos_token']);
  const generationBos = tokenIdList(generationConfig?.['bos_token_id'], generationPath, 'bos_token_id')[0];
  const bosTokenId = idOf(configBos) ?? generationBos;

  const configEos = specialTokenContent(config?.['eos_token']);
  const configEosId = idOf(configEos);
  const generationEos = tokenIdList(generationConfig?.['eos_token_id'], generationPath, 'eos_token_id');
  const eosTokenIds = [...new Set([...(configEosId === undefined ? [] : [configEosId]), ...generationEos])];

  const specialIds = new Set(specialAddedTokenIds(tokenizerJson, config));
  for (const id of [bosTokenId, ...eosTokenIds]) if (id !== undefined) specialIds.add(id);

  return {
    dir,
    bosTokenId,
    bosToken: configBos ?? tokenOf(bosTokenId),
    eosTokenIds,
    eosToken: configEos ?? tokenOf(eosTokenIds[0]),
    specialIds,
    chatTemplate,
  };
}
