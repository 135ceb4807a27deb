/**
 * The committed fixture checkpoints (made by tooling/fixtures/make_fixtures.py with transformers)
 * and their reference outputs, for tests of any package. Shipped as `@ignis/models/testing`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '@ignis/tensor';

/** Every fixture model directory name under fixtures/models. */
export const FIXTURE_MODELS = [
  'llama3-gqa-sharded',
  'llama2-mha-linear-legacy',
  'llama32-tied-legacy',
  'mistral-headdim-window',
  'qwen2-bias-tied',
] as const;

export type FixtureModel = (typeof FIXTURE_MODELS)[number];

/** One prompt and what transformers made of it. */
export interface ReferencePrompt {
  readonly text: string | null;
  readonly ids: number[];
  /** Greedy continuation, 24 tokens, end-of-sequence ignored. */
  readonly greedy: number[];
  readonly greedy_text: string;
  readonly min_top2_margin: number;
}

/** The reference.json beside each fixture. */
export interface Reference {
  readonly transformers: string;
  readonly prompts: ReferencePrompt[];
  readonly chat: { messages: { role: string; content: string }[]; rendered: string };
  readonly encode: Record<string, number[]>;
}

/**
 * Absolute path of the repository's fixtures/models directory (IGNIS_FIXTURES_DIR overrides it,
 * e.g. on a GPU machine where the package was deployed outside the repository).
 */
export const FIXTURES_DIR = process.env.IGNIS_FIXTURES_DIR
  ? `${process.env.IGNIS_FIXTURES_DIR.replace(/\/$/, '')}/`
  : fileURLToPath(new URL('../../../../fixtures/models/', import.meta.url));

/** Absolute path of one fixture model. */
export function fixturePath(name: FixtureModel): string {
  return `${FIXTURES_DIR}${name}`;
}

/** The fixture's reference.json. */
export function readReference(name: FixtureModel): Reference {
  return JSON.parse(readFileSync(`${fixturePath(name)}/reference.json`, 'utf8')) as Reference;
}

/** transformers' float32 logits for prompt `index`: [prompt length, vocab], row-major. */
export async function readReferenceLogits(name: FixtureModel, index: number): Promise<Float32Array> {
  const file = await SafetensorsFile.open(`${fixturePath(name)}/reference-logits.safetensors`);
  try {
    return (await file.read(`prompt${index}`)).toF32();
  } finally {
    await file.close();
  }
}

export { type LogitsModel, loadLogitsModel, promptLogits } from './prompt-logits.js';
