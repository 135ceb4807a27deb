/**
 * The committed fixture checkpoints (made by tooling/fixtures/make_fixtures.py with transformers),
 * the trained demo models (made by tooling/train-demo) and their reference outputs, for tests of
 * any package. Shipped as `@ignis/models/testing`.
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

/**
 * FP8 checkpoints of three of them in the formats people download (compressed-tensors channel and
 * per-tensor static with KV scales, DeepSeek-style block `fp8`), with the logits of an independent
 * PyTorch emulation of each format (tooling/fixtures/make_fp8_fixtures.py).
 */
export const FP8_FIXTURE_MODELS = ['llama32-fp8-dynamic', 'qwen2-fp8-static', 'llama3-fp8-block'] as const;

export type FixtureModel = (typeof FIXTURE_MODELS)[number] | (typeof FP8_FIXTURE_MODELS)[number];

/** One prompt and what transformers made of it. */
export interface ReferencePrompt {
  readonly text: string | null;
  readonly ids: number[];
  /** Greedy continuation, end-of-sequence ignored (24 tokens for fixtures, 32 for demo models). */
  readonly greedy: number[];
  readonly greedy_text: string;
  readonly min_top2_margin: number;
}

/** The reference.json beside each fixture and demo model. */
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
  return readReferenceIn(fixturePath(name));
}

/** The reference.json in a model directory. */
export function readReferenceIn(dir: string): Reference {
  return JSON.parse(readFileSync(`${dir}/reference.json`, 'utf8')) as Reference;
}

/** The trained demo models under the repository's models/ directory: the main model and its draft. */
export const DEMO_MODELS = ['ignis-demo-10m', 'ignis-demo-draft'] as const;

export type DemoModel = (typeof DEMO_MODELS)[number];

/** Absolute path of one demo model (IGNIS_MODELS_DIR overrides the repository's models/). */
export function demoModelPath(name: DemoModel): string {
  const dir = process.env.IGNIS_MODELS_DIR?.replace(/\/$/, '') ?? fileURLToPath(new URL('../../../../models', import.meta.url));
  return `${dir}/${name}`;
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
export { type FixtureEdits, editedFixture } from './edited-fixture.js';
