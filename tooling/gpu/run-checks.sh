#!/usr/bin/env bash
# Everything issue 3 measures on the GPU machine, in one call. Prepared by tooling/gpu/prepare.sh
# (which builds here and fills .gpu/); run there from the repository root:
#   bash tooling/gpu/run-checks.sh [quick]
# Logs go to $OUT (kernels.txt, sanitizer.txt, engine.txt, bench.txt, summary.txt).
set -uo pipefail
source .gpu/env.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
APP=.gpu/app/node_modules/@ignis
export IGNIS_CUDA_ADDON=$PWD/.gpu/ignis_cuda.node
export IGNIS_FIXTURES_DIR=$PWD/fixtures/models
export NCCL_NVLS_ENABLE=0
source tooling/gpu/steps.sh
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/summary.txt"

step "cuBLASLt declarations vs cublasLt.h" 60 kernels.txt bash -c 'g++ -std=c++17 -I/usr/local/cuda/include -Ipackages/cuda-kernels/kernels -o /tmp/lt-check packages/cuda-kernels/kernels/gemm/cublaslt_api_check.cc -L/usr/local/cuda/lib64 -lcublasLt && /tmp/lt-check'
step "attention_test" 120 kernels.txt .gpu/bin/attention_test
step "sampling_test" 120 kernels.txt .gpu/bin/sampling_test
step "kernel cases vs reference" 300 kernels.txt node $APP/cuda-kernels/dist/gpu-check.js --report "$OUT/kernels.md"
step "engine on CUDA vs transformers" 240 engine.txt node $APP/engine/dist/gpu-check.js
step "demo models on CUDA vs transformers" 120 engine.txt node $APP/engine/dist/gpu-check.js --no-fixtures --model models/ignis-demo-10m --model models/ignis-demo-draft
FIX=fixtures/models/qwen2-bias-tied
IDS=$(python3 -c "import json; print(','.join(map(str, json.load(open('$FIX/reference.json'))['prompts'][0]['ids'])))")
WANT=$(python3 -c "import json; print(json.load(open('$FIX/reference.json'))['prompts'][0]['greedy'])")
step "ignis generate: --device cuda --dtype float32, --device cpu, and the default (expected: $WANT)" 120 engine.txt bash -c "
  for args in '--device cuda --dtype float32' '--device cpu' ''; do
    echo \"\$ ignis generate \$args\"; node .gpu/cli/dist/cli.js generate --model $FIX --prompt-ids $IDS --max-tokens 24 --temperature 0 --ignore-eos --json \$args | tail -1
  done
  node .gpu/cli/dist/cli.js generate --model $FIX --prompt 'Hello world' --max-tokens 8 --device cuda"
step "racecheck: kernel cases (small)" 300 sanitizer.txt compute-sanitizer --tool racecheck --error-exitcode 9 node $APP/cuda-kernels/dist/gpu-check.js --small
if [ "${1:-}" != quick ]; then
  step "memcheck: kernel cases (small)" 300 sanitizer.txt compute-sanitizer --tool memcheck --error-exitcode 9 node $APP/cuda-kernels/dist/gpu-check.js --small
  step "memcheck: engine decode with split-K attention (1B, 200-token prompt)" 300 sanitizer.txt compute-sanitizer --tool memcheck --error-exitcode 9 node .gpu/app/dist/cli.js latency --model synthetic:llama-3.2-1b --device cuda --input-len 200 --output-len 3 --iterations 1 --warmup 0
  step "memcheck: attention_test --small" 120 sanitizer.txt compute-sanitizer --tool memcheck --error-exitcode 9 .gpu/bin/attention_test --small
  step "racecheck: attention_test --small" 180 sanitizer.txt compute-sanitizer --tool racecheck --error-exitcode 9 .gpu/bin/attention_test --small
  step "memcheck: sampling_test --small" 120 sanitizer.txt compute-sanitizer --tool memcheck --error-exitcode 9 .gpu/bin/sampling_test --small
  step "racecheck: sampling_test --small" 180 sanitizer.txt compute-sanitizer --tool racecheck --error-exitcode 9 .gpu/bin/sampling_test --small
  step "2-layer Llama-3.1-8B widths: transformers reference" 300 engine.txt python3 tooling/gpu/llama8b_2layer_reference.py /tmp/l8b2
  step "2-layer Llama-3.1-8B widths: ours vs transformers" 240 engine.txt node $APP/engine/dist/gpu-check.js --no-fixtures --checkpoint /tmp/l8b2 --reference /tmp/l8b2/reference-logits.safetensors
  step "kernel benchmarks" 300 bench.txt node $APP/cuda-kernels/dist/gpu-check.js --bench --no-check --report "$OUT/bench-kernels.md"
  step "attention benchmarks" 120 bench.txt .gpu/bin/attention_test --bench --ceiling-gbs "$(nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H200 && echo 4200 || echo 3000)"
  step "sampling benchmarks" 60 bench.txt .gpu/bin/sampling_test --bench
  step "decode latency synthetic:llama-3.1-8b" 300 bench.txt node .gpu/app/dist/cli.js latency --model synthetic:llama-3.1-8b --device cuda --input-len 128 --output-len 256 --iterations 3 --json
  step "decode profile (eager, per op)" 120 bench.txt env IGNIS_CUDA_GRAPHS=0 IGNIS_CUDA_PROFILE=1 node .gpu/app/dist/cli.js latency --model synthetic:llama-3.1-8b --device cuda --input-len 128 --output-len 64 --iterations 1 --warmup 0
fi
cat "$OUT/summary.txt"
