#!/usr/bin/env bash
# The whole run on the GPU machine: trains, exports and measures both models.
#   bash tooling/train-demo/run.sh [OUT]
# Model directories go to /tmp/ignis-demo-models; OUT (default $OUT, else /tmp/out) receives
# train.log, metrics.json and the packed directories (NAME.tgz.N: cat NAME.tgz.* | tar xz).
set -euo pipefail
out=${1:-${OUT:-/tmp/out}}
mkdir -p "$out"
cd "$(dirname "$0")"
export PYTHONUNBUFFERED=1 CUBLAS_WORKSPACE_CONFIG=:4096:8
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; python3 --version; } 2>&1 | tee "$out/train.log"
python3 make_models.py --out /tmp/ignis-demo-models --pack "$out" 2>&1 | tee -a "$out/train.log"
