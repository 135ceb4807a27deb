import { basename } from 'node:path';
import { CudaBackend } from '@ignis/cuda-kernels';
import { openCheckpoint } from '@ignis/models';
import { FIXTURE_MODELS, FP8_FIXTURE_MODELS, fixturePath, loadLogitsModel, promptLogits, readReference, readReferenceIn, readReferenceLogits } from '@ignis/models/testing';
import { describeWeights, planQuantization } from '@ignis/quantization';
import { SafetensorsFile, relativeError, seededRandom } from '@ignis/tensor';
import type { Precision } from './device.js';
import { LLM } from './llm.js';
import { type Job, mixedJobs, randomTokens } from './mixed-jobs.js';

/** Greedy tokens of one fixture prompt on the GPU against transformers'. */
export interface GreedyCheck {
  readonly fixture: string;
  readonly prompt: number;
  /** Leading tokens equal to transformers' greedy continuation, of `total`. */
  readonly matched: number;
  readonly total: number;
}

/** Logits of one prompt on the GPU against transformers' (relative L2 error). */
export interface LogitsCheck {
  readonly fixture: string;
  readonly prompt: number;
  readonly error: number;
}

/** Every fixture's greedy continuations through the whole engine on the GPU. */
export async function fixtureGreedyOnCuda(dtype: Precision, maxNumBatchedTokens?: number): Promise<GreedyCheck[]> {
  const checks: GreedyCheck[] = [];
  for (const fixture of FIXTURE_MODELS) checks.push(...(await greedyOnCuda(fixturePath(fixture), dtype, maxNumBatchedTokens)));
  return checks;
}

/** The greedy continuations in `dir`'s reference.json (a fixture or a demo model) through the whole engine on the GPU. */
export async function greedyOnCuda(dir: string, dtype: Precision, maxNumBatchedTokens?: number): Promise<GreedyCheck[]> {
  const checks: GreedyCheck[] = [];
  const fixture = basename(dir);
  const llm = await LLM.load(dir, { device: 'cuda', dtype, maxNumBatchedTokens, maxModelLen: 256 });
  try {
    for (const [prompt, ref] of readReferenceIn(dir).prompts.entries()) {
      const result = await llm.generate(ref.ids, { temperature: 0, maxTokens: ref.greedy.length, ignoreEos: true });
      let matched = 0;
      while (matched < ref.greedy.length && result.tokenIds[matched] === ref.greedy[matched]) matched++;
      checks.push({ fixture, prompt, matched, total: ref.greedy.length });
    }
  } finally {
    llm.dispose();
  }
  return checks;
}

/** Every fixture prompt's logits (all positions) on the GPU against transformers' float32 logits. */
export async function fixtureLogitsOnCuda(dtype: 'f32' | 'bf16'): Promise<LogitsCheck[]> {
  const checks: LogitsCheck[] = [];
  for (const fixture of FIXTURE_MODELS) {
    const checkpoint = await openCheckpoint(fixturePath(fixture));
    const model = await loadLogitsModel(checkpoint.spec, new CudaBackend(), checkpoint.weights, { dtype, maxTokens: 64 });
    try {
      for (const [prompt, ref] of readReference(fixture).prompts.entries()) {
        const actual = await promptLogits(model, ref.ids, 16);
        checks.push({ fixture, prompt, error: relativeError(actual, await readReferenceLogits(fixture, prompt)) });
      }
    } finally {
      model.executable.dispose();
      await checkpoint.close();
    }
  }
  return checks;
}

/** One FP8 checkpoint on the GPU against its format's emulation: the formats that ran, per-prompt logits errors and greedy agreement. */
export interface Fp8FixtureCheck {
  readonly fixture: string;
  readonly formats: string;
  readonly errors: readonly number[];
  readonly greedy: readonly GreedyCheck[];
}

/** Every FP8 fixture's logits (all positions) and greedy continuations on the GPU against the PyTorch emulation of its format. */
export async function fp8FixturesOnCuda(dtype: 'f32' | 'bf16'): Promise<Fp8FixtureCheck[]> {
  const checks: Fp8FixtureCheck[] = [];
  for (const fixture of FP8_FIXTURE_MODELS) {
    const checkpoint = await openCheckpoint(fixturePath(fixture));
    const backend = new CudaBackend();
    const quant = planQuantization({ checkpointConfig: checkpoint.spec.quantizationConfig, where: fixture, method: 'auto', source: checkpoint.weights, backend });
    let formats = '';
    const model = await loadLogitsModel(checkpoint.spec, backend, (plan) => ((formats = describeWeights(plan)), quant.weightsFor(plan)), { dtype, maxTokens: 64, passes: [quant.pass] });
    const errors: number[] = [];
    try {
      for (const [prompt, ref] of readReference(fixture).prompts.entries()) {
        errors.push(relativeError(await promptLogits(model, ref.ids, 16), await readReferenceLogits(fixture, prompt)));
      }
    } finally {
      model.executable.dispose();
      await checkpoint.close();
    }
    checks.push({ fixture, formats, errors, greedy: await greedyOnCuda(fixturePath(fixture), dtype === 'f32' ? 'float32' : 'bfloat16') });
  }
  return checks;
}

/**
 * The greedy continuations of `dir`'s reference.json prompts with FP8 weights and an FP8 KV cache,
 * on the GPU (float32 activations) and on the reference backend: how many tokens agree before
 * the first difference. Both quantize identically; the GPU's FP8 tensor cores accumulate with about
 * 14 bits, so near-ties may go the other way.
 */
export async function fp8GreedyAgreementOnCuda(dir: string): Promise<GreedyCheck[]> {
  const options = { quantization: 'fp8', kvCacheDtype: 'fp8', maxModelLen: 256 } as const;
  const gpu = await LLM.load(dir, { ...options, device: 'cuda', dtype: 'float32' });
  const cpu = await LLM.load(dir, { ...options, device: 'cpu' });
  const checks: GreedyCheck[] = [];
  try {
    for (const [prompt, ref] of readReferenceIn(dir).prompts.entries()) {
      const params = { temperature: 0, maxTokens: ref.greedy.length, ignoreEos: true };
      const [a, b] = await Promise.all([gpu.generate(ref.ids, params), cpu.generate(ref.ids, params)]);
      let matched = 0;
      while (matched < ref.greedy.length && a.tokenIds[matched] === b.tokenIds[matched]) matched++;
      checks.push({ fixture: basename(dir), prompt, matched, total: ref.greedy.length });
    }
  } finally {
    gpu.dispose();
    cpu.dispose();
  }
  return checks;
}

/**
 * A checkpoint and transformers' logits on it (a safetensors file with `ids` as f32, `logits_f32`
 * computed in float32 and, optionally, `logits_bf16` from transformers' own bf16 run): our bf16
 * logits' error against the float32 logits, beside transformers' bf16 error against the same.
 */
export async function checkpointLogitsOnCuda(dir: string, referenceFile: string): Promise<{ error: number; transformersBf16Error?: number }> {
  const reference = await SafetensorsFile.open(referenceFile);
  try {
    const ids = Array.from((await reference.read('ids')).toF32(), Math.round);
    const expected = (await reference.read('logits_f32')).toF32();
    const checkpoint = await openCheckpoint(dir);
    const model = await loadLogitsModel(checkpoint.spec, new CudaBackend(), checkpoint.weights, { dtype: 'bf16', maxTokens: ids.length });
    try {
      const actual = await promptLogits(model, ids);
      const theirs = reference.names().includes('logits_bf16') ? relativeError((await reference.read('logits_bf16')).toF32(), expected) : undefined;
      return theirs === undefined ? { error: relativeError(actual, expected) } : { error: relativeError(actual, expected), transformersBf16Error: theirs };
    } finally {
      model.executable.dispose();
      await checkpoint.close();
    }
  } finally {
    await reference.close();
  }
}

/**
 * Out of GPU memory, both ways it shows: (1) a load whose weights cannot fit in the free memory is
 * refused before allocating, saying so; (2) with the KV budget forced (no free-memory check),
 * loading 8B models until the device is full fails in the native allocation, saying so, and frees
 * what it took. Then every model is disposed, and a new load generates.
 */
export async function outOfMemoryOnCuda(): Promise<{ refused: string; allocation: string; loaded: number; recovered: boolean }> {
  const held: LLM[] = [];
  let refused = 'no error';
  let allocation = 'no error';
  try {
    for (let i = 0; i < 16 && refused === 'no error'; i++) {
      try {
        held.push(await LLM.load('synthetic:llama-3.1-8b', { device: 'cuda', maxModelLen: 1024 }));
      } catch (error) {
        refused = (error as Error).message;
      }
    }
    // What the check refused may still fit (it keeps 10% and 1 GiB back): force loads until one fails.
    for (let i = 0; i < 4 && allocation === 'no error'; i++) {
      try {
        held.push(await LLM.load('synthetic:llama-3.1-8b', { device: 'cuda', maxModelLen: 1024, kvCacheBytes: 2 ** 30 }));
      } catch (error) {
        allocation = (error as Error).message;
      }
    }
  } finally {
    held.forEach((llm) => llm.dispose());
  }
  const llm = await LLM.load(fixturePath('llama3-gqa-sharded'), { device: 'cuda', maxModelLen: 256 });
  try {
    const reference = readReference('llama3-gqa-sharded').prompts[0]!;
    const result = await llm.generate(reference.ids, { temperature: 0, maxTokens: 4, ignoreEos: true });
    return { refused, allocation, loaded: held.length, recovered: result.tokenIds.length === 4 };
  } finally {
    llm.dispose();
  }
}

/** How far two runs of the same jobs agree. */
export interface Agreement {
  readonly label: string;
  readonly identical: number;
  readonly total: number;
  /** Mean share of each completion's tokens before the first difference. */
  readonly meanMatchedFraction: number;
}

/** Each job's tokens: one after another (`alone`), or all submitted at once. */
async function runJobs(llm: LLM, jobs: readonly Job[], mode: 'alone' | 'together'): Promise<number[][]> {
  if (mode === 'together') return (await Promise.all(jobs.map((j) => llm.generate(j.prompt, j.params)))).map((r) => [...r.tokenIds]);
  const outputs: number[][] = [];
  for (const job of jobs) outputs.push([...(await llm.generate(job.prompt, job.params)).tokenIds]);
  return outputs;
}

function agreement(label: string, a: readonly number[][], b: readonly number[][]): Agreement {
  let identical = 0;
  let matched = 0;
  a.forEach((x, i) => {
    const y = b[i]!;
    let n = 0;
    while (n < x.length && x[n] === y[n]) n++;
    if (n === x.length && x.length === y.length) identical++;
    matched += n / Math.max(x.length, 1);
  });
  return { label, identical, total: a.length, meanMatchedFraction: matched / a.length };
}

/**
 * Batching on the GPU. (1) A fixture with 200 mixed jobs (greedy, seeded sampling, penalties):
 * the CUDA backend batched against the reference backend, and against itself one at a time, in
 * float32 and bfloat16. (2) The Llama-3.1-8B shape in bf16 (random weights): greedy requests of
 * 128-token prompts alone against all at once.
 */
export async function batchingOnCuda(options: { requests8b?: number } = {}): Promise<Agreement[]> {
  const fixture = fixturePath('llama3-gqa-sharded');
  const jobs = mixedJobs(200, 11, 320);
  const results: Agreement[] = [];
  const cpu = await LLM.load(fixture, { device: 'cpu' });
  const reference = await runJobs(cpu, jobs, 'together');
  cpu.dispose();
  for (const dtype of ['float32', 'bfloat16'] as const) {
    const llm = await LLM.load(fixture, { device: 'cuda', dtype, maxModelLen: 256 });
    try {
      const together = await runJobs(llm, jobs, 'together');
      const alone = await runJobs(llm, jobs, 'alone');
      results.push(agreement(`fixture, ${dtype}: CUDA batched vs reference backend`, together, reference));
      results.push(agreement(`fixture, ${dtype}: CUDA batched vs CUDA alone`, together, alone));
    } finally {
      llm.dispose();
    }
  }
  const count = options.requests8b ?? 64;
  const llm = await LLM.load('synthetic:llama-3.1-8b', { device: 'cuda', maxModelLen: 256 });
  try {
    const random = seededRandom(7);
    const big = Array.from({ length: count }, () => ({ prompt: randomTokens(random, 128256, 128), params: { temperature: 0, maxTokens: 32, ignoreEos: true } }));
    const together = await runJobs(llm, big, 'together');
    const alone = await runJobs(llm, big, 'alone');
    results.push(agreement(`Llama-3.1-8B shape, bf16, ${count} greedy requests: batched vs alone`, together, alone));
  } finally {
    llm.dispose();
  }
  return results;
}

/** Top logprobs on CUDA (float32) against the reference backend, on a fixture's prompts. */
export async function topLogprobsOnCuda(): Promise<{ lists: number; identical: number; maxError: number }> {
  const fixture = fixturePath('llama3-gqa-sharded');
  const prompts = readReference('llama3-gqa-sharded').prompts.map((p) => p.ids);
  // Every other request asks for none, so that rows with and without alternatives share steps.
  const params = (i: number) => ({ temperature: 0, maxTokens: 8, ignoreEos: true, topLogprobs: i % 2 === 0 ? 5 : 0, repetitionPenalty: 1.2 });
  const run = async (device: 'cpu' | 'cuda') => {
    const llm = await LLM.load(fixture, { device, dtype: 'float32' });
    try {
      return await Promise.all(prompts.map((p, i) => llm.generate(p, params(i))));
    } finally {
      llm.dispose();
    }
  };
  const [ours, reference] = [await run('cuda'), await run('cpu')];
  let lists = 0;
  let identical = 0;
  let maxError = 0;
  ours.forEach((result, i) => {
    (result.topLogprobs ?? []).forEach((top, k) => {
      const expected = reference[i]!.topLogprobs![k]!;
      lists++;
      if (top.map((t) => t.tokenId).join() === expected.map((t) => t.tokenId).join()) identical++;
      top.forEach((t, j) => (maxError = Math.max(maxError, Math.abs(t.logprob - expected[j]!.logprob))));
    });
  });
  return { lists, identical, maxError };
}
