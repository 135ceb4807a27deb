#!/usr/bin/env node
/**
 * Engine checks on the GPU machine (no vitest there):
 *   node dist/gpu-check.js [--no-fixtures] [--fp8] [--batching] [--checkpoint DIR --reference FILE] [--model DIR]...
 * 1. every fixture through the engine on CUDA in float32: transformers' greedy tokens, also with
 *    chunked prefill; in bfloat16: how many greedy tokens agree;
 * 2. every fixture's logits on CUDA (float32 and bfloat16) against transformers';
 * 3. out of GPU memory: reported as such, and the engine loads and generates afterwards;
 * 4. with --batching: batched results against the reference backend and against one request at a
 *    time (fraction identical), on a fixture and on the Llama-3.1-8B shape; top logprobs against
 *    the reference backend's;
 * 5. optionally a checkpoint (e.g. 2 layers of Llama-3.1-8B widths) against transformers' logits;
 * 6. for each --model DIR (e.g. models/ignis-demo-10m), the greedy continuations of its
 *    reference.json as check 1 does them;
 * 7. with --fp8: every FP8 fixture checkpoint's logits and greedy tokens against the PyTorch
 *    emulation of its format, in float32 and bfloat16 activations (formats the GPU has no kernel
 *    for run re-quantized per channel at load: reported, and held to the bf16 bound).
 * Exit code 1 if float32 greedy tokens differ or an error exceeds its bound.
 */
import {
  type GreedyCheck,
  batchingOnCuda,
  checkpointLogitsOnCuda,
  fixtureGreedyOnCuda,
  fixtureLogitsOnCuda,
  fp8FixturesOnCuda,
  fp8GreedyAgreementOnCuda,
  greedyOnCuda,
  outOfMemoryOnCuda,
  topLogprobsOnCuda,
} from './gpu-checks.js';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const options = (name: string): string[] => args.flatMap((a, i) => (a === name && i + 1 < args.length ? [args[i + 1]!] : []));

/** One line for a set of greedy checks against transformers, plus one per continuation that differs; true if all are identical. */
function reportGreedy(label: string, checks: readonly GreedyCheck[]): boolean {
  const exact = checks.filter((c) => c.matched === c.total).length;
  const matched = checks.reduce((a, c) => a + c.matched, 0);
  const total = checks.reduce((a, c) => a + c.total, 0);
  console.log(`greedy (${label}): ${exact}/${checks.length} continuations identical to transformers; tokens matched ${matched}/${total}`);
  for (const c of checks) if (c.matched < c.total) console.log(`  ${c.fixture} prompt ${c.prompt}: first ${c.matched} of ${c.total} match`);
  return exact === checks.length;
}

/** Checks 1 and 2; returns the number that failed. */
async function checkFixtures(): Promise<number> {
  let failures = 0;
  const modes = [
    ['float32', 'float32', undefined],
    ['float32, prefill chunks of 5', 'float32', 5],
    ['bfloat16', 'bfloat16', undefined],
  ] as const;
  for (const [label, dtype, chunk] of modes) {
    const identical = reportGreedy(label, await fixtureGreedyOnCuda(dtype, chunk));
    if (dtype === 'float32' && !identical) failures++;
  }
  for (const [dtype, bound] of [['f32', 1e-4], ['bf16', 3e-2]] as const) {
    const checks = await fixtureLogitsOnCuda(dtype);
    const worst = Math.max(...checks.map((c) => c.error));
    console.log(`logits (${dtype}): worst relative error ${worst.toExponential(2)} over ${checks.length} prompts (bound ${bound})`);
    for (const c of checks) console.log(`  ${c.fixture} prompt ${c.prompt}: ${c.error.toExponential(2)}`);
    if (!(worst <= bound)) failures++;
  }
  const oom = await outOfMemoryOnCuda();
  console.log(`out of memory after ${oom.loaded} 8B models: refused up front: "${oom.refused}"; forced past the check: "${oom.allocation}"; afterwards a new load generates: ${oom.recovered}`);
  if (!/not enough GPU memory/.test(oom.refused) || !/out of GPU memory/.test(oom.allocation) || !oom.recovered) failures++;
  return failures;
}

async function main(): Promise<number> {
  let failures = args.includes('--no-fixtures') ? 0 : await checkFixtures();
  if (args.includes('--batching')) {
    for (const a of await batchingOnCuda()) {
      console.log(`batching: ${a.label}: ${a.identical}/${a.total} identical; mean ${(100 * a.meanMatchedFraction).toFixed(1)}% of tokens before the first difference`);
      // float32 on the GPU must equal the reference backend except at rare near-ties.
      if (a.label.includes('float32') && a.identical < 0.95 * a.total) failures++;
    }
    const top = await topLogprobsOnCuda();
    console.log(`top logprobs (float32): ${top.identical}/${top.lists} lists identical to the reference backend's; largest logprob difference ${top.maxError.toExponential(2)}`);
    if (top.lists === 0 || top.identical < top.lists || !(top.maxError <= 1e-4)) failures++;
  }
  const dir = option('--checkpoint');
  const reference = option('--reference');
  if (dir && reference) {
    const result = await checkpointLogitsOnCuda(dir, reference);
    const theirs = result.transformersBf16Error?.toExponential(3) ?? 'n/a';
    console.log(`checkpoint ${dir} (bf16): logits relative error ${result.error.toExponential(3)} against transformers float32; transformers' own bf16 run: ${theirs}`);
    if (!(result.error <= 3e-2)) failures++;
  }
  if (args.includes('--fp8')) {
    for (const dtype of ['f32', 'bf16'] as const) {
      for (const c of await fp8FixturesOnCuda(dtype)) {
        const worst = Math.max(...c.errors);
        const exact = c.formats.includes('quantized at load') ? 'requantized' : 'as stored';
        // The device quantizes as the emulation does, but Hopper's FP8 tensor cores accumulate with
        // about 14 bits: a relative error of 1e-4 in each GEMM, which flips e4m3 codes downstream,
        // and these random fixtures (64 wide, near-tied logits) amplify flips. Injecting 1e-4 to
        // 3e-4 of noise into each FP8 GEMM of the reference backend gives 2.7e-2 to 5.8e-2
        // (2026-12-04): the bounds allow that, and a wrong scale or layout gives O(1).
        const bound = dtype === 'f32' && exact === 'as stored' ? 0.1 : 0.3;
        const greedy = c.greedy.filter((g) => g.matched === g.total).length;
        console.log(`fp8 ${c.fixture} (${dtype}, ${exact}: ${c.formats}): logits errors ${c.errors.map((e) => e.toExponential(2)).join(' ')} (bound ${bound}); greedy ${greedy}/${c.greedy.length} identical`);
        if (!(worst <= bound)) failures++;
      }
    }
  }
  for (const model of args.includes('--fp8') ? options('--model') : []) {
    const checks = await fp8GreedyAgreementOnCuda(model);
    const matched = checks.reduce((a, c) => a + c.matched, 0);
    const total = checks.reduce((a, c) => a + c.total, 0);
    console.log(`fp8 weights and KV, ${model}: GPU (float32) and reference backend greedy tokens agree on ${matched}/${total} before the first difference (${checks.filter((c) => c.matched === c.total).length}/${checks.length} continuations identical)`);
    // bf16 against transformers agrees on 139/160 here (2026-12-04); a wrong scale or layout on ~0.
    if (matched < 0.6 * total) failures++;
  }
  for (const model of options('--model')) {
    if (!reportGreedy(`${model}, float32`, await greedyOnCuda(model, 'float32'))) failures++;
    reportGreedy(`${model}, bfloat16`, await greedyOnCuda(model, 'bfloat16'));
  }
  return failures > 0 ? 1 : 0;
}

process.exitCode = await main();
