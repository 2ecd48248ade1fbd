#!/bin/bash
# The honest comparison (issue 15) on the bundled TinyStories Llama (GQA 8:4, BOS sink):
# calibrate on the first half of data/tinystories-sample.txt, evaluate on the second half
# (split at the story boundary nearest the middle), budgets 32/64/128/256 keys per query,
# documents of 512 tokens (the model's trained context), each starting with BOS.
# Policies are per (layer, KV head): what the model's real cache can evict.
# Usage: bash bench/policies_comparison_tinystories.sh [extra bench_policies options]
# Env: BUILD_DIR (default build), OUT (default results/policies/llama-tinystories-656k), THREADS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${BUILD_DIR:-build}
OUT=${OUT:-results/policies/llama-tinystories-656k}
M=models/llama-tinystories-656k
THREADS=${THREADS:-2}
mkdir -p "$OUT"
python3 - "$OUT" <<'PY'
import sys
text = open("data/tinystories-sample.txt", encoding="utf-8").read()
mid = len(text) // 2
cuts = [i for i in range(len(text)) if text.startswith("\n", i) and i > 0 and text[i - 1] in ".!?\"'"]
cut = min(cuts, key=lambda i: abs(i - mid)) + 1
open(sys.argv[1] + "/calib.txt", "w", encoding="utf-8").write(text[:cut])
open(sys.argv[1] + "/eval.txt", "w", encoding="utf-8").write(text[cut:])
PY
{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "commit:  $(git rev-parse HEAD)$(git diff --quiet || echo ' (+ uncommitted changes)')"
  echo "date:    $(date -u +%FT%TZ)"
  echo "command: bash bench/policies_comparison_tinystories.sh $*"
} > "$OUT/machine.txt"
"$B/headscope" analyze --model "$M" --text "$OUT/calib.txt" --max-tokens 512 --threads "$THREADS" \
  --out "$OUT/analysis" > "$OUT/analyze.log"
"$B/bench_policies" --model "$M" --calib "$OUT/calib.txt" --eval "$OUT/eval.txt" --calib-tokens 512 \
  --doc-tokens 512 --docs-per-book 8 --consecutive --threads "$THREADS" \
  --classifications "$OUT/analysis/head_classifications.json" --out "$OUT" "$@" | tee "$OUT/bench_policies.log"
