#!/usr/bin/env bash
# Issue 7 on the GPU machine, in one device call (10 minutes): the ignis-bench report for the
# Llama-3.1-8B shape in bf16 (synthetic weights): kernels at its shapes, latency at batch 1 (and a
# few concurrencies), offline throughput at 128/128 and 1000/1000, serving load at concurrency 1 to
# 128 when `ignis serve` exists, and transformers side by side on the same GPU.
# Prepared by tooling/gpu/prepare.sh; run from the repository root:
#   bash tooling/gpu/run-bench-report.sh
# Every result goes to $OUT/report (JSON per result, report.md, charts as SVG and PNG); logs to
# $OUT/bench.txt, one line per step to $OUT/summary.txt.
#
# The time budget (BUDGET, default 560 s) is what one device call leaves after the start. Steps run
# in order of importance; a step that no longer fits is skipped and summary.txt says so. The counts
# are scaled to fit, and the report says so beside each result (its options), so read them there:
#   N1000: requests at 1000/1000 (default 1000);
#   PEER_STATIC / PEER_CONTINUOUS: requests transformers runs at 128/128 (default 1000 / 256: its
#   continuous batching is slower); PEER_LONG: requests transformers-static runs at 1000/1000 (64).
set -uo pipefail
source .gpu/env.sh
OUT=${OUT:-/tmp/out}; REPORT=$OUT/report; mkdir -p "$REPORT"
export IGNIS_CUDA_ADDON=$PWD/.gpu/ignis_cuda.node
BUDGET=${BUDGET:-560}; N1000=${N1000:-1000}
PEER_STATIC=${PEER_STATIC:-1000}; PEER_CONTINUOUS=${PEER_CONTINUOUS:-256}; PEER_LONG=${PEER_LONG:-64}
START=$(date +%s)
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
left() { echo $(( BUDGET - ($(date +%s) - START) )); }
step() { # step NAME NEED LIMIT COMMAND...: runs if NEED seconds are left, for at most LIMIT (or what is left)
  local name=$1 need=$2 limit=$3; shift 3
  local rest; rest=$(left)
  if [ "$rest" -lt "$need" ]; then summary "$name: SKIPPED: needs about $need s, $rest s left of the $BUDGET s budget"; return; fi
  [ "$rest" -lt "$limit" ] && limit=$rest
  local t; t=$(date +%s)
  echo "=== $name" >> "$OUT/bench.txt"
  timeout "$limit" "$@" >> "$OUT/bench.txt" 2>&1
  local rc=$?
  summary "$name: $([ $rc -eq 124 ] && echo "TIMED OUT after $limit s" || echo "exit $rc") in $(( $(date +%s) - t )) s"
}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,driver_version --format=csv,noheader | tee "$OUT/summary.txt"
BENCH="node .gpu/app/dist/cli.js"
M="--model synthetic:llama-3.1-8b --device cuda --output $REPORT"

step "kernels at Llama-3.1-8B shapes" 40 90 $BENCH kernels --model synthetic:llama-3.1-8b --output "$REPORT"
step "latency 128/256 at concurrency 1, 8, 64" 40 90 $BENCH latency $M --input-len 128 --output-len 256 --concurrency 1,8,64 --iterations 3
step "throughput 128/128, 1000 requests" 40 90 $BENCH throughput $M --input-len 128 --output-len 128 --num-requests 1000
step "ours and transformers (static $PEER_STATIC, continuous $PEER_CONTINUOUS requests) at 128/128" 90 180 \
  $BENCH compare $M --input-len 128 --output-len 128 --num-requests 1000 \
  --peer-requests "transformers-static=$PEER_STATIC,transformers-continuous=$PEER_CONTINUOUS"
step "throughput 1000/1000, $N1000 requests" 90 200 $BENCH throughput $M --input-len 1000 --output-len 1000 --num-requests "$N1000"

# Serving needs `ignis serve` (apps/server, deployed in .gpu/cli); its flags here are a guess until it lands.
if node .gpu/cli/dist/cli.js --help 2> /dev/null | grep -qE "^  serve( |$)"; then
  PORT=8011
  node .gpu/cli/dist/cli.js serve --model synthetic:llama-3.1-8b --device cuda --host 127.0.0.1 --port $PORT >> "$OUT/server.txt" 2>&1 &
  SERVER=$!
  ready=0
  for _ in $(seq 120); do
    node -e "fetch('http://127.0.0.1:$PORT/v1/models').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" && { ready=1; break; }
    sleep 1
  done
  if [ $ready = 1 ]; then
    step "serving 128/128 at concurrency 1 to 128 (4 x concurrency requests each)" 60 150 $BENCH serve --base-url http://127.0.0.1:$PORT \
      --model synthetic:llama-3.1-8b --vocab-size 128256 --input-len 128 --output-len 128 --concurrency 1,2,4,8,16,32,64,128 \
      --prompts-per-concurrency 4 --slo ttft=500ms,tpot=50ms --output "$REPORT"
  else
    summary "serving: SKIPPED: ignis serve did not answer /v1/models within 120 s (see server.txt)"
  fi
  kill "$SERVER" 2> /dev/null
else
  summary "serving: SKIPPED: .gpu/cli has no 'ignis serve' command yet"
fi

step "ours and transformers-static ($PEER_LONG requests) at 1000/1000" 150 200 \
  $BENCH compare $M --input-len 1000 --output-len 1000 --num-requests 256 --peers transformers-static \
  --peer-requests "transformers-static=$PEER_LONG"

# The device tool returns 8 files at most: the whole report travels as one archive, with its
# Markdown, the throughput chart and the logs beside it.
tar -czf "$OUT/report.tar.gz" -C "$OUT" report
cp "$REPORT/report.md" "$OUT/report.md" 2> /dev/null
cp "$REPORT/throughput-vs-concurrency.png" "$OUT/" 2> /dev/null
rm -rf "$REPORT"
summary "total $(( $(date +%s) - START )) s"
grep -h "tokens/s\|ours /\|skipped\|failed\|FAILED" "$OUT/bench.txt" | head -40
