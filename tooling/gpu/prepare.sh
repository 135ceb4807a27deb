#!/usr/bin/env bash
# Builds everything here and fills .gpu/ (ignored by git) for tooling/gpu/run-checks.sh on the GPU
# machine, which has no Node.js, pnpm or network: a Node runtime (../shared/tools/gpu-prep), the
# bench app with its production dependencies, the native addon, and the standalone kernel tests.
# All but the runtime travel as one .gpu/bundle.tar.xz (the travelling tree is capped at 64 MiB,
# and the committed demo models take 24 MB of it); .gpu/env.sh unpacks it on the GPU machine.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
pnpm() { npx -y pnpm@10.34.8 "$@"; }
../shared/tools/gpu-prep
pnpm build --output-logs=errors-only
rm -rf .gpu/app .gpu/cli .gpu/bin && mkdir -p .gpu/bin
pnpm --filter ignis-bench deploy --legacy --prod .gpu/app > /dev/null
pnpm --filter ignis deploy --legacy --prod .gpu/cli > /dev/null
# tokenizers ships a binary for every platform (64 MB): the GPU machine needs linux-x64-gnu only.
find .gpu/app .gpu/cli -name 'tokenizers.*.node' ! -name 'tokenizers.linux-x64-gnu.node' -delete
cp packages/cuda-kernels/build/ignis_cuda.node .gpu/
K=packages/cuda-kernels/kernels
NVCC="/usr/local/cuda/bin/nvcc -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a -lineinfo -I$K"
$NVCC -o .gpu/bin/attention_test $K/attention/attention_test.cu $K/attention/attention.cu $K/attention/paged_attention.cu $K/attention/paged_decode_mma.cu $K/attention/flash_prefill.cu &
$NVCC -o .gpu/bin/sampling_test $K/sampling/sampling_test.cu $K/sampling/sampling.cu &
wait
tar -C .gpu -cf - app cli bin ignis_cuda.node | xz -T0 -6 > .gpu/bundle.tar.xz
rm -rf .gpu/app .gpu/cli .gpu/bin .gpu/ignis_cuda.node
cat >> .gpu/env.sh <<'UNPACK'
if [ ! -d .gpu/app ]; then xz -dc .gpu/bundle.tar.xz | tar -C .gpu -xf - && echo "unpacked .gpu/bundle.tar.xz"; fi
UNPACK
du -sh .gpu .gpu/* | sed 's/^/  /'
