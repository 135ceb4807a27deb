import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerError, causeMessage } from './errors.js';

/** A parsed JSON object: the shape every Hugging Face tokenizer config file has at its top level. */
export type JsonObject = Record<string, unknown>;

function isMissingFile(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}

/** True when `path` exists; other failures than a missing file are a {@link TokenizerError}. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch (error) {
    if (isMissingFile(error)) return false;
    throw new TokenizerError(`cannot access ${path}: ${causeMessage(error)}`, { cause: error });
  }
}

/** The text of `dir/name`, or undefined when the file does not exist. */
export async function readOptionalText(dir: string, name: string): Promise<string | undefined> {
  const path = join(dir, name);
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if (isMissingFile(error)) return undefined;
    throw new TokenizerError(`cannot read ${path}: ${causeMessage(error)}`, { cause: error });
  }
}

/** Parses `text` read from `path` as a JSON object; anything else is a {@link TokenizerError} naming the file. */
export function parseJsonObject(text: string, path: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(`malformed JSON in ${path}: ${causeMessage(error)}`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerError(`malformed ${path}: expected a JSON object at the top level`);
  }
  return value as JsonObject;
}

/** The JSON object in `dir/name`, or undefined when the file does not exist. */
export async function readOptionalJsonObject(dir: string, name: string): Promise<JsonObject | undefined> {
  const text = await readOptionalText(dir, name);
  return text === undefined ? undefined : parseJsonObject(text, join(dir, name));
}

/**
 * The text of a special-token entry in tokenizer_config.json. Transformers writes these either as
 * a plain string or as a serialized AddedToken object `{ content: ... }`.
 */
export function specialTokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && 'content' in value && typeof value.content === 'string') {
    return value.content;
  }
  return undefined;
}

/** Token ids from a generation_config.json entry such as `eos_token_id`: absent, null, one id or a list. */
export function tokenIdList(value: unknown, path: string, key: string): number[] {
  if (value === undefined || value === null) return [];
  const ids = Array.isArray(value) ? value : [value];
  for (const id of ids) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new TokenizerError(`malformed ${path}: ${key} must be a token id or a list of token ids`);
    }
  }
  return ids as number[];
}

/** Ids of the entries marked `special: true`, in tokenizer.json `added_tokens` or tokenizer_config.json `added_tokens_decoder`. */
export function specialAddedTokenIds(tokenizerJson: JsonObject, tokenizerConfig: JsonObject | undefined): number[] {
  const ids: number[] = [];
  const added = tokenizerJson['added_tokens'];
  if (Array.isArray(added)) {
    for (const token of added as unknown[]) {
      if (isSpecialEntry(token) && 'id' in token && Number.isInteger(token.id)) ids.push(token.id as number);
    }
  }
  const decoder = tokenizerConfig?.['added_tokens_decoder'];
  if (typeof decoder === 'object' && decoder !== null) {
    for (const [id, token] of Object.entries(decoder)) {
      if (isSpecialEntry(token) && /^\d+$/.test(id)) ids.push(Number(id));
    }
  }
  return ids;
}

function isSpecialEntry(token: unknown): token is { special: true } {
  return typeof token === 'object' && token !== null && 'special' in token && token.special === true;
}
