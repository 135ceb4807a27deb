#!/usr/bin/env bash
# FP8 on the GPU machine (issue 11), in two calls of under ten minutes each. Prepared by
# tooling/gpu/prepare.sh; run from the repository root:
#   bash tooling/gpu/run-fp8.sh checks   # declarations, standalone kernel tests, every kernel case,
#                                        # fixtures (float and FP8) and demo models vs references,
#                                        # GEMM and attention benchmarks, held-out perplexity
#   bash tooling/gpu/run-fp8.sh bench    # the engine bf16 vs FP8 weights vs FP8 KV vs both on the
#                                        # synthetic Llama-3.1-8B shape; sanitizers on the new kernels
#   bash tooling/gpu/run-fp8.sh profile  # FP8 against the reference backend on the demo model, batch-1
#                                        # latency, GPU time per op kind at batch 256, sanitizers
#   bash tooling/gpu/run-fp8.sh final    # the FP8 linears, batch-1 latency and 128/128 throughput,
#                                        # bf16 and FP8 weights + KV in one call
# Logs go to $OUT (summary.txt, checks.txt, bench.txt, report.tar.gz).
set -uo pipefail
source .gpu/env.sh
OUT=${OUT:-/tmp/out}; REPORT=$OUT/report; mkdir -p "$REPORT"
APP=.gpu/app/node_modules/@ignis
export IGNIS_CUDA_ADDON=$PWD/.gpu/ignis_cuda.node IGNIS_FIXTURES_DIR=$PWD/fixtures/models NCCL_NVLS_ENABLE=0
BUDGET=${BUDGET:-560}; START=$(date +%s)
source tooling/gpu/steps.sh
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
BENCH="node .gpu/app/dist/cli.js"
M="--model synthetic:llama-3.1-8b --device cuda --output $REPORT"
# The steps more than one mode runs; QUANT and KV are --quantization and --kv-cache-dtype values.
fp8_against_reference() { step "FP8 fixtures and demo model: GPU vs reference backend" 150 checks.txt node $APP/engine/dist/gpu-check.js --no-fixtures --fp8 --model models/ignis-demo-10m; }
fp8_linear_bench() { step "FP8 linear benchmarks" 60 bench.txt node $APP/cuda-kernels/dist/gpu-check.js --bench --no-check --only quantize; }
latency_of() { # latency_of QUANT KV
  step "latency 128/128 batch 1, quantization $1, KV $2" 60 bench.txt $BENCH latency $M --input-len 128 --output-len 128 --concurrency 1 --iterations 3 --quantization $1 --kv-cache-dtype $2 --name latency-w$1-kv$2
}
throughput_of() { # throughput_of QUANT KV
  step "throughput 128/128 x 1000, quantization $1, KV $2" 60 bench.txt $BENCH throughput $M --input-len 128 --output-len 128 --num-requests 1000 --quantization $1 --kv-cache-dtype $2 --name throughput-128-w$1-kv$2
}

if [ "${1:-checks}" = checks ]; then
  step "cuBLASLt declarations vs cublasLt.h" 60 checks.txt bash -c 'g++ -std=c++17 -I/usr/local/cuda/include -Ipackages/cuda-kernels/kernels -o /tmp/lt-check packages/cuda-kernels/kernels/gemm/cublaslt_api_check.cc -L/usr/local/cuda/lib64 -lcublasLt && /tmp/lt-check'
  step "attention_test (bf16 and fp8 caches)" 150 checks.txt .gpu/bin/attention_test
  step "sampling_test (Philox draws, extreme parameters)" 90 checks.txt .gpu/bin/sampling_test
  step "kernel cases vs reference (all)" 200 checks.txt node $APP/cuda-kernels/dist/gpu-check.js --report "$OUT/kernels.md"
  step "fixtures (float, FP8) and demo models on CUDA vs references" 200 checks.txt node $APP/engine/dist/gpu-check.js --fp8 --model models/ignis-demo-10m
  step "GEMM benchmarks: FP8 (GEMV + unit-scale cuBLASLt) and bf16" 90 bench.txt bash -c "node $APP/cuda-kernels/dist/gpu-check.js --bench --no-check --only quantize && node $APP/cuda-kernels/dist/gpu-check.js --bench --no-check --only gemm"
  step "GEMM benchmarks: FP8 with cuBLASLt outer-vector scaling" 60 bench.txt env IGNIS_FP8_OUTER_VEC=1 node $APP/cuda-kernels/dist/gpu-check.js --bench --no-check --only quantize
  step "attention benchmarks (bf16 and fp8 caches)" 90 bench.txt .gpu/bin/attention_test --bench --ceiling-gbs 4200
  python3 -c "
import json, sys; sys.path.insert(0, 'tooling/train-demo'); import corpus
train, val, test = corpus.split(corpus.read_chapters())
open('/tmp/heldout.jsonl', 'w').write(''.join(json.dumps({'text': c.text}) + '\n' for c in test))"
  for args in "--quantization none --kv-cache-dtype auto" "--quantization fp8 --kv-cache-dtype auto" "--quantization none --kv-cache-dtype fp8" "--quantization fp8 --kv-cache-dtype fp8"; do
    step "held-out perplexity, ignis-demo-10m, bf16, $args" 60 bench.txt $BENCH perplexity --model models/ignis-demo-10m --documents /tmp/heldout.jsonl --device cuda $args --json
  done
elif [ "$1" = final ]; then
  fp8_against_reference
  fp8_linear_bench
  for q in "none auto" "fp8 fp8"; do
    latency_of $q
    throughput_of $q
  done
elif [ "$1" = profile ]; then
  fp8_against_reference
  fp8_linear_bench
  for q in "none auto" "fp8 fp8"; do
    latency_of $q
    set -- $q
    step "GPU time per op kind, 256 x 128/32, eager, quantization $1, KV $2" 90 bench.txt env IGNIS_CUDA_GRAPHS=0 IGNIS_CUDA_PROFILE=1 $BENCH throughput $M --input-len 128 --output-len 32 --num-requests 256 --quantization $1 --kv-cache-dtype $2 --name profile-w$1-kv$2
  done
  step "memcheck: attention_test --small (fp8 caches)" 150 sanitizer.txt compute-sanitizer --tool memcheck --error-exitcode 9 .gpu/bin/attention_test --small
  step "racecheck: kernel cases (small)" 150 sanitizer.txt compute-sanitizer --tool racecheck --error-exitcode 9 node $APP/cuda-kernels/dist/gpu-check.js --small
else
  for q in "none auto" "fp8 auto" "none fp8" "fp8 fp8"; do
    latency_of $q
    throughput_of $q
  done
  step "throughput 1000/1000 x 256, bf16" 90 bench.txt $BENCH throughput $M --input-len 1000 --output-len 1000 --num-requests 256 --name throughput-1000-wnone-kvauto
  step "throughput 1000/1000 x 256, FP8 weights and KV" 90 bench.txt $BENCH throughput $M --input-len 1000 --output-len 1000 --num-requests 256 --quantization fp8 --kv-cache-dtype fp8 --name throughput-1000-wfp8-kvfp8
  step "throughput 2048/2048 x 128, FP8 weights and KV" 90 bench.txt $BENCH throughput $M --input-len 2048 --output-len 2048 --num-requests 128 --quantization fp8 --kv-cache-dtype fp8 --name throughput-2048-wfp8-kvfp8
  step "memcheck: kernel cases (small)" 120 sanitizer.txt compute-sanitizer --tool memcheck --error-exitcode 9 node $APP/cuda-kernels/dist/gpu-check.js --small
  step "racecheck: attention_test --small" 120 sanitizer.txt compute-sanitizer --tool racecheck --error-exitcode 9 .gpu/bin/attention_test --small
fi
tar -czf "$OUT/report.tar.gz" -C "$OUT" report
cat "$OUT/summary.txt"
