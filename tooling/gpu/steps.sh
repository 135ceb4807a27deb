# Sourced by the tooling/gpu/run-*.sh scripts: one line per step in $OUT/summary.txt.
#   summary TEXT...                       prints and appends to $OUT/summary.txt
#   step NAME LIMIT LOG COMMAND...        runs COMMAND for at most LIMIT s (or what is left of
#                                         $BUDGET s since $START, when BUDGET is set), appending its
#                                         output to $OUT/LOG, and records its exit code and time
summary() { echo "$*" | tee -a "$OUT/summary.txt"; }
step() {
  local name=$1 limit=$2 log=$3; shift 3
  if [ -n "${BUDGET:-}" ]; then
    local rest=$(( BUDGET - ($(date +%s) - START) ))
    if [ "$rest" -lt 20 ]; then summary "$name: SKIPPED ($rest s left)"; return; fi
    [ "$rest" -lt "$limit" ] && limit=$rest
  fi
  local t=$(date +%s)
  echo "=== $name" >> "$OUT/$log"
  timeout "$limit" "$@" >> "$OUT/$log" 2>&1
  local rc=$?
  summary "$name: $([ $rc -eq 124 ] && echo "TIMED OUT after $limit s" || echo "exit $rc") in $(( $(date +%s) - t )) s"
}
