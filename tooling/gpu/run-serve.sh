#!/usr/bin/env bash
# Issue 5 on the GPU machine: `ignis serve` on CUDA under streaming load. Prepared by
# tooling/gpu/prepare.sh; run from the repository root:
#   bash tooling/gpu/run-serve.sh
# Starts the server (the deployed CLI, .gpu/cli) on MODEL (default synthetic:llama-3.1-8b: random
# weights, no tokenizer, so prompts are token ids), streams requests at 1, 8 and 64 concurrent
# streams with `ignis-bench serve` (.gpu/app) when that command exists, else with the CLI's own
# load client (.gpu/cli/dist/stream-load.js), scrapes /metrics, then stops the server with
# SIGTERM (it must drain and exit 0). Logs go to $OUT: serve.txt (banner), serve-log.jsonl (one
# line per request), load.txt, load.jsonl, metrics.txt, summary.txt (and report/ from ignis-bench).
# MODEL, DEVICE, PORT, INPUT_LEN, OUTPUT_LEN and VOCAB (the model's vocabulary size, for
# ignis-bench's random prompts; read from config.json, or known for synthetic:llama-3.1-8b) override.
set -uo pipefail
source .gpu/env.sh
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export IGNIS_CUDA_ADDON=$PWD/.gpu/ignis_cuda.node
MODEL=${MODEL:-synthetic:llama-3.1-8b}
DEVICE=${DEVICE:-cuda} # cpu: try this script anywhere, e.g. DEVICE=cpu MODEL=fixtures/models/llama3-gqa-sharded
PORT=${PORT:-8000}
INPUT_LEN=${INPUT_LEN:-128}
OUTPUT_LEN=${OUTPUT_LEN:-128}
BASE=http://127.0.0.1:$PORT/v1
if [ -z "${VOCAB:-}" ]; then # ignis-bench serve draws random prompt ids from the model's vocabulary
  case "$MODEL" in
    synthetic:llama-3.1-8b) VOCAB=128256 ;;
    synthetic:*) echo "set VOCAB to the vocabulary size of $MODEL" >&2; exit 2 ;;
    *) VOCAB=$(node -e "console.log(JSON.parse(require('fs').readFileSync(process.argv[1] + '/config.json', 'utf8')).vocab_size)" "$MODEL") ;;
  esac
fi
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/summary.txt"

node .gpu/cli/dist/cli.js serve --device "$DEVICE" --model "$MODEL" --port "$PORT" --max-model-len 4096 --max-num-seqs 256 \
  > "$OUT/serve-log.jsonl" 2> "$OUT/serve.txt" &
SERVER=$!
start=$(date +%s)
until grep -q "OpenAI API at" "$OUT/serve.txt"; do
  if ! kill -0 "$SERVER" 2>/dev/null || [ $(( $(date +%s) - start )) -gt 600 ]; then
    summary "ignis serve did not start:"; cat "$OUT/serve.txt"; kill -9 "$SERVER" 2>/dev/null; exit 1
  fi
  sleep 1
done
summary "$(grep "OpenAI API at" "$OUT/serve.txt") (up in $(( $(date +%s) - start )) s)"

if node .gpu/app/dist/cli.js serve --help > /dev/null 2>&1; then
  summary "load client: ignis-bench serve"
  timeout 900 node .gpu/app/dist/cli.js serve --base-url "$BASE" --model "$MODEL" --vocab-size "$VOCAB" \
    --input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN" --concurrency 1,8,64 --prompts-per-concurrency 4 \
    --json --output "$OUT/report" >> "$OUT/load.jsonl" 2>> "$OUT/load.txt"
  summary "ignis-bench serve: exit $?"
else
  summary "load client: .gpu/cli/dist/stream-load.js (ignis-bench serve is not in .gpu/app)"
  timeout 900 node .gpu/cli/dist/stream-load.js --base-url "$BASE" --concurrency 1,8,64 \
    --input-len "$INPUT_LEN" --output-len "$OUTPUT_LEN" --json >> "$OUT/load.jsonl" 2>> "$OUT/load.txt"
  summary "stream-load: exit $?"
fi
node -e "fetch('http://127.0.0.1:$PORT/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))" > "$OUT/metrics.txt"

kill -TERM "$SERVER"
wait "$SERVER"
summary "ignis serve after SIGTERM: exit $? ($(grep -c '"msg":"request"' "$OUT/serve-log.jsonl") requests logged, $(grep -c '"level":[56]0' "$OUT/serve-log.jsonl") errors)"
cat "$OUT/load.txt"
# The device tool returns a few files: ignis-bench's report travels as one archive.
[ -d "$OUT/report" ] && tar -czf "$OUT/report.tar.gz" -C "$OUT" report && rm -rf "$OUT/report"
grep -E "^ignis:(num_preemptions_total|prefix_cache_hit_rate|generation_tokens_total|time_to_first_token_seconds_(sum|count))" "$OUT/metrics.txt"
cat "$OUT/summary.txt"
