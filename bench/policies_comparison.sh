#!/bin/bash
# The honest comparison of allocated per-head windows with StreamingLLM (issue 15), 70m model:
#  1. headscope analyze on the calibration text (head types for the heatmap);
#  2. bench_policies: profile + allocation on PG-19 10146, evaluation on three held-out
#     Gutenberg books, budgets 32/64/128/256, StreamingLLM / recent-only matched to the measured
#     context, fix_size_l2 keep_low at the same cache size, paired bootstrap, figures;
#  3. real memory: a FastGen-allocated policy without full heads and StreamingLLM holding the
#     same mean entries per head, on the real cache over 8192 tokens, shifted positions (TPOT,
#     cache bytes). (The budget-128 Lagrangian policy without full heads, policy_allocated_nofull_128.json,
#     runs the same way; there was no time to run it on the shared machine.)
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
# Real memory: a FastGen-allocated policy without full heads (one observer forward, so it can
# run beside the comparison) vs StreamingLLM holding the same mean entries per head, side by side.
mkdir -p "$OUT/memory"
"$B/headscope" allocate --model "$M" --text "$CAL" --max-tokens 512 --method fastgen --recover 0.9 \
  --sinks 4 --windows 0,8,16,32,64,128,256,512 --threads 1 \
  --out "$OUT/memory/policy_fastgen_0.9_nofull.json" > "$OUT/memory/allocate_fastgen.log"
E=$(python3 -c "
import json;p=json.load(open('$OUT/memory/policy_fastgen_0.9_nofull.json'))
e=[(s+w-1 if w>0 else 0) for S,W in zip(p['sinks'],p['windows']) for s,w in zip(S,W)]
print(round(sum(e)/len(e)))")
"$B/headscope" eval --model "$M" --text "$BOOK" --max-tokens "$MEM_TOKENS" --threads 1 --positions shifted \
  --policy "$OUT/memory/policy_fastgen_0.9_nofull.json" --json "$OUT/memory/eval_fastgen_0.9_nofull.json" \
  > "$OUT/memory/eval_fastgen_0.9_nofull.log" 2>&1 &
"$B/headscope" eval --model "$M" --text "$BOOK" --max-tokens "$MEM_TOKENS" --threads 1 --positions shifted \
  --method streaming_llm --start-size 4 --recent-size $((E - 4)) --json "$OUT/memory/eval_streaming_4_$((E - 4)).json" \
  > "$OUT/memory/eval_streaming_4_$((E - 4)).log" 2>&1 &
wait
