#!/usr/bin/env bash
# FP8 on the GPU machine, in one call (issue 11): cuBLASLt declarations, every kernel case (the
# FP8 W8A8 ones among them), the FP8 checkpoints against their formats' emulation, FP8 GEMMs
# against bf16 at Llama-3.1-8B shapes, and the engine bf16 vs FP8 (weights, KV cache, both) on the
# synthetic Llama-3.1-8B shape. Prepared by tooling/gpu/prepare.sh; run from the repository root:
#   bash tooling/gpu/run-fp8.sh [quick]
# Logs go to $OUT (summary.txt, checks.txt, bench.txt, report.tar.gz).
set -uo pipefail
source .gpu/env.sh
OUT=${OUT:-/tmp/out}; REPORT=$OUT/report; mkdir -p "$REPORT"
APP=.gpu/app/node_modules/@ignis
export IGNIS_CUDA_ADDON=$PWD/.gpu/ignis_cuda.node IGNIS_FIXTURES_DIR=$PWD/fixtures/models NCCL_NVLS_ENABLE=0
BUDGET=${BUDGET:-560}; START=$(date +%s)
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
step() { # step NAME LIMIT LOG COMMAND...: runs for at most LIMIT s (or what is left of the budget)
  local name=$1 limit=$2 log=$3; shift 3
  local rest=$(( BUDGET - ($(date +%s) - START) ))
  if [ "$rest" -lt 20 ]; then summary "$name: SKIPPED ($rest s left)"; return; fi
  [ "$rest" -lt "$limit" ] && limit=$rest
  local t=$(date +%s)
  echo "=== $name" >> "$OUT/$log"
  timeout "$limit" "$@" >> "$OUT/$log" 2>&1
  local rc=$?
  summary "$name: $([ $rc -eq 124 ] && echo "TIMED OUT after $limit s" || echo "exit $rc") in $(( $(date +%s) - t )) s"
}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
BENCH="node .gpu/app/dist/cli.js"
M="--model synthetic:llama-3.1-8b --device cuda --output $REPORT"

step "cuBLASLt declarations vs cublasLt.h" 60 checks.txt bash -c 'g++ -std=c++17 -I/usr/local/cuda/include -Ipackages/cuda-kernels/kernels -o /tmp/lt-check packages/cuda-kernels/kernels/gemm/cublaslt_api_check.cc -L/usr/local/cuda/lib64 -lcublasLt && /tmp/lt-check'
step "kernel cases vs reference (all)" 240 checks.txt node $APP/cuda-kernels/dist/gpu-check.js --report "$OUT/kernels.md"
step "FP8 checkpoints on CUDA vs their formats' emulation" 120 checks.txt node $APP/engine/dist/gpu-check.js --no-fixtures --fp8
[ "${1:-}" = quick ] && { cat "$OUT/summary.txt"; exit 0; }
step "FP8 and bf16 GEMM benchmarks (8B shapes)" 120 bench.txt bash -c "node $APP/cuda-kernels/dist/gpu-check.js --bench --no-check --only quantize && node $APP/cuda-kernels/dist/gpu-check.js --bench --no-check --only gemm"
for q in none fp8; do
  step "latency 128/128 batch 1, quantization $q" 90 bench.txt $BENCH latency $M --input-len 128 --output-len 128 --concurrency 1 --iterations 3 --quantization $q --name latency-$q
done
for q in none fp8; do
  step "throughput 128/128 x 1000, quantization $q" 90 bench.txt $BENCH throughput $M --input-len 128 --output-len 128 --num-requests 1000 --quantization $q --name throughput-128-$q
done
tar -czf "$OUT/report.tar.gz" -C "$OUT" report
cat "$OUT/summary.txt"
