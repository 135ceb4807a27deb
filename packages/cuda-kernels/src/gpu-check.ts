#!/usr/bin/env node
/**
 * The kernel checks and microbenchmarks, for the GPU machine (no vitest needed there):
 *   node dist/gpu-check.js [--small] [--bench] [--no-check] [--only KERNEL] [--report FILE.md]
 * Correctness: every case, f32 and bf16, against the reference backend (outputs poisoned with NaN
 * first). --small: only the small cases (for compute-sanitizer). --bench: time the benchmark
 * cases and print achieved GB/s or TFLOP/s against the device's ceilings. Exit code 1 on a failure.
 */
import { writeFileSync } from 'node:fs';
import { CudaBackend, probeCuda } from './cuda-backend.js';
import { type BenchResult, benchCase, ceilingsFor } from './harness/bench.js';
import type { FloatDType } from './harness/case.js';
import { ALL_CASES } from './harness/cases.js';
import { type CaseResult, runCase } from './harness/run.js';

const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const fmt = (x: number, digits = 2): string => (Number.isFinite(x) ? x.toExponential(digits) : String(x));

async function main(): Promise<number> {
  process.env.IGNIS_CUDA_POISON = '1';
  const probe = probeCuda();
  console.log(`CUDA: ${probe.available ? 'available' : 'NOT available'}: ${probe.reason}`);
  if (!probe.available) return 1;
  const device = probe.device!;
  console.log(`device: ${device.name}, ${device.multiprocessors} SMs, ${((device.totalMemory ?? 0) / 2 ** 30).toFixed(1)} GiB; runtime ${device.runtimeVersion}, driver ${device.driverVersion}; cuBLASLt ${device.cublasLt?.version ?? device.cublasLt?.error}; NCCL ${device.nccl?.version ?? device.nccl?.error}`);
  const backend = new CudaBackend();
  const only = option('--only');
  const cases = ALL_CASES.filter((c) => !only || c.kernel === only);
  const lines: string[] = [];
  let failures = 0;

  const checked = flag('--no-check') ? [] : cases.filter((c) => !c.benchOnly && (!flag('--small') || !c.cost));
  for (const c of checked) {
    for (const dtype of c.dtypes ?? (['f32', 'bf16'] as FloatDType[])) {
      let result: CaseResult;
      try {
        result = await runCase(c, dtype, backend, 7);
      } catch (error) {
        failures++;
        console.log(`FAIL ${c.kernel} | ${c.name} | ${dtype} | ${(error as Error).message}`);
        continue;
      }
      if (!result.pass) failures++;
      const detail = result.checks.map((k) => `${k.output} ${k.metric} ${fmt(k.value)} (limit ${fmt(k.limit)})`).join('; ');
      const line = `${result.pass ? 'PASS' : 'FAIL'} ${c.kernel} | ${c.name} | ${dtype} | ${detail}`;
      console.log(line);
      lines.push(`| ${result.pass ? 'pass' : '**FAIL**'} | ${c.kernel} | ${c.name} | ${dtype} | ${detail} |`);
    }
  }
  console.log(`${checked.length} cases checked, ${failures} failures`);

  const benches: BenchResult[] = [];
  if (flag('--bench')) {
    const ceilings = ceilingsFor(device.name ?? '');
    console.log(`ceilings: ${ceilings.bandwidthGBs} GB/s, ${ceilings.bf16Tflops} bf16 TFLOP/s${ceilings.known ? '' : ' (unknown GPU: H100 figures)'}`);
    for (const c of cases.filter((k) => k.cost)) {
      for (const dtype of c.dtypes ?? (['bf16'] as FloatDType[])) {
        try {
          const r = await benchCase(c, dtype, backend, ceilings);
          benches.push(r);
          console.log(`BENCH ${r.kernel} | ${r.name} | ${dtype} | ${r.medianUs.toFixed(1)} us | ${r.gbs.toFixed(0)} GB/s | ${r.tflops.toFixed(1)} TFLOP/s | ${(100 * r.fractionOfCeiling).toFixed(0)}% of the ${r.bound} ceiling`);
        } catch (error) {
          failures++;
          console.log(`BENCH FAIL ${c.kernel} | ${c.name} | ${dtype} | ${(error as Error).message}`);
        }
      }
    }
  }

  const report = option('--report');
  if (report) {
    const bench = benches.map((r) => `| ${r.kernel} | ${r.name} | ${r.dtype} | ${r.medianUs.toFixed(1)} | ${r.gbs.toFixed(0)} | ${r.tflops.toFixed(1)} | ${(100 * r.fractionOfCeiling).toFixed(0)}% (${r.bound}) |`);
    writeFileSync(
      report,
      [
        `Device: ${device.name}; CUDA runtime ${device.runtimeVersion}, driver ${device.driverVersion}; cuBLASLt ${device.cublasLt?.version}.`,
        '',
        '| result | kernel | case | dtype | comparison with the reference backend |',
        '| --- | --- | --- | --- | --- |',
        ...lines,
        '',
        '| kernel | benchmark | dtype | median us | GB/s | TFLOP/s | of ceiling |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...bench,
        '',
      ].join('\n'),
    );
  }
  return failures > 0 ? 1 : 0;
}

process.exitCode = await main();
