#!/bin/bash
# The honest comparison of allocated per-head windows with StreamingLLM (issue 15), 70m model:
#  1. headscope analyze on the calibration text (head types for the heatmap);
#  2. bench_policies: profile + allocation on PG-19 10146, evaluation on three held-out
#     Gutenberg books, budgets 32/64/128/256, StreamingLLM / recent-only matched to the measured
#     context, fix_size_l2 keep_low at the same cache size, paired bootstrap, figures;
#  3. real memory: the budget-128 allocation without full heads and StreamingLLM at the same
#     measured context on the real cache over 8192 tokens with shifted positions (TPOT, cache).
# Usage: bash bench/policies_comparison.sh [extra bench_policies options]
# Env: BUILD_DIR (default build), OUT (default results/policies/neox-gutenberg-70m),
#      MEM_TOKENS (default 8192), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
OUT=${OUT:-results/policies/neox-gutenberg-70m}
M=${MODEL:-../shared/models/neox-gutenberg-70m}
CAL=../shared/data/pg19/test/10146.txt
BOOK=../shared/data/gutenberg/10064.txt
MEM_TOKENS=${MEM_TOKENS:-8192}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit:  $(git rev-parse HEAD)$(git diff --quiet || echo ' (+ uncommitted changes)')"
  echo "date:    $(date -u +%FT%TZ)"
} > "$OUT/machine.txt"
"$B/headscope" analyze --model "$M" --text "$CAL" --threads "$THREADS" --out "$OUT/analysis" > "$OUT/analyze.log"
"$B/bench_policies" --model "$M" --calib "$CAL" --threads "$THREADS" \
  --classifications "$OUT/analysis/head_classifications.json" --out "$OUT" "$@" | tee "$OUT/bench_policies.log"
# StreamingLLM window matched to the budget-128 allocation (from the comparison)
W=$(python3 -c "import json;r=[x for x in json.load(open('$OUT/comparison.json'))['runs'] if x['method']=='streaming' and x['budget']==128];print(r[0]['params']['window'])")
"$B/headscope" eval --model "$M" --text "$BOOK" --max-tokens "$MEM_TOKENS" --threads "$THREADS" \
  --positions shifted --policy "$OUT/policy_allocated_nofull_128.json" --json "$OUT/memory_allocated_nofull_128.json" \
  | tee "$OUT/memory_allocated_nofull_128.log"
"$B/headscope" eval --model "$M" --text "$BOOK" --max-tokens "$MEM_TOKENS" --threads "$THREADS" \
  --positions shifted --method streaming_llm --start-size 4 --recent-size $((W - 1)) \
  --json "$OUT/memory_streaming_128.json" | tee "$OUT/memory_streaming_128.log"
