#!/usr/bin/env bash
# Issue 4 on the GPU machine, in one call: the penalties and top_logprobs kernels, batching on CUDA
# (fixtures and the Llama-3.1-8B shape), offline throughput of ours and of transformers on the same
# GPU, and where our decode step's time goes (per-op profile).
# Prepared by tooling/gpu/prepare.sh; run from the repository root:  bash tooling/gpu/run-batching.sh
# Logs go to $OUT (batching.txt, throughput.txt, summary.txt).
set -uo pipefail
source .gpu/env.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
APP=.gpu/app/node_modules/@ignis
export IGNIS_CUDA_ADDON=$PWD/.gpu/ignis_cuda.node
export IGNIS_FIXTURES_DIR=$PWD/fixtures/models
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
step() { # step NAME TIMEOUT LOG COMMAND...
  local name=$1 limit=$2 log=$3; shift 3
  local start=$(date +%s)
  echo "=== $name" >> "$OUT/$log"
  timeout "$limit" "$@" >> "$OUT/$log" 2>&1
  summary "$name: exit $? in $(( $(date +%s) - start )) s"
}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
BENCH="node .gpu/app/dist/cli.js throughput --model synthetic:llama-3.1-8b --device cuda --input-len 128 --output-len 128 --json"

for kernel in penalties top_logprobs; do
  step "$kernel kernel cases vs reference, and timed" 120 batching.txt node $APP/cuda-kernels/dist/gpu-check.js --only $kernel --bench
  step "memcheck: $kernel (small)" 120 batching.txt compute-sanitizer --tool memcheck --error-exitcode 9 node $APP/cuda-kernels/dist/gpu-check.js --only $kernel --small
  step "racecheck: $kernel (small)" 120 batching.txt compute-sanitizer --tool racecheck --error-exitcode 9 node $APP/cuda-kernels/dist/gpu-check.js --only $kernel --small
done
step "engine on CUDA: fixtures, out of memory, batching" 420 batching.txt node $APP/engine/dist/gpu-check.js --batching
step "ours: 1000 requests 128/128, 256 sequences" 300 throughput.txt $BENCH --num-requests 1000
step "ours: 1000 requests 128/128, 512 sequences" 300 throughput.txt $BENCH --num-requests 1000 --max-num-seqs 512
step "profile: 256 requests 128/64, eager, per-op GPU time" 180 profile.txt env IGNIS_CUDA_GRAPHS=0 IGNIS_CUDA_PROFILE=1 $BENCH --num-requests 256 --output-len 64
step "ours and transformers side by side: static batches of 256 (1000 requests), continuous batching (256 requests)" 480 throughput.txt node .gpu/app/dist/cli.js compare --model synthetic:llama-3.1-8b --device cuda --num-requests 1000 --peer-requests transformers-continuous=256
grep -h "greedy\|logits (\|batching:\|out of memory\|PASS\|FAIL\|fail" "$OUT/batching.txt" | head -60
grep -h "tokens/s" "$OUT/throughput.txt"
cat "$OUT/profile.txt"
cat "$OUT/summary.txt"
