#!/bin/bash
# Issue 16, item 5: the 29 ablation configurations (+ dense) x the three Gutenberg books on the
# 70m model, as one process (one thread) and as two shards (two processes, one thread each, run
# at the same time); wall times; the union of the shards must equal the single run
# (results_sha256 of `sweep merge`). Writes results/sweep-gutenberg/.
# Usage: bench/sweep_gutenberg.sh [MAX_TOKENS]   (from the repository root, after the build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/headscope}
SHARED=${SHARED:-$(cd .. && pwd)/shared}
OUT=${OUT:-results/sweep-gutenberg}
MAXTOK=${1:-1000}
MODEL=$SHARED/models/neox-gutenberg-70m
W=$(mktemp -d /tmp/headscope_sweep_bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$OUT"
# head types of the 70m model (needed by the head-aware configurations), from 2048 tokens of
# the bundled PG-19 text (not one of the evaluated books)
# (CLS=DIR reuses such a directory from an earlier run)
if [ -n "${CLS:-}" ]; then mkdir -p "$W/cls"; cp "$CLS/head_classifications.json" "$W/cls/"; else
  "$BIN" analyze --model "$MODEL" --text data/pg19-10146.txt --out "$W/cls" >/dev/null
fi
cat > "$W/spec.toml" <<TOML
[[model]]
path = "$MODEL"
classifications = "$W/cls/head_classifications.json"
[[dataset]]
path = "$SHARED/data/gutenberg"
[evaluation]
max_tokens = $MAXTOK
threads = 1
[ablation]
config = "configs/ablation.toml"
[statistics]
bootstrap = 1000
seed = 0
TOML
"$BIN" sweep plan "$W/spec.toml" --out "$W/one" | tee "$W/plan.txt"
"$BIN" sweep plan "$W/spec.toml" --out "$W/two" >/dev/null
LOAD0=$(cut -d" " -f1-3 /proc/loadavg)
t0=$(date +%s.%N)
"$BIN" sweep run "$W/one" > "$W/one.log"
t1=$(date +%s.%N)
"$BIN" sweep run "$W/two" --shard 0/2 --threads 1 > "$W/two0.log" &
p0=$!
"$BIN" sweep run "$W/two" --shard 1/2 --threads 1 > "$W/two1.log" &
p1=$!
wait $p0; wait $p1
t2=$(date +%s.%N)
"$BIN" sweep merge "$W/one" > "$W/merge-one.txt"
"$BIN" sweep merge "$W/two" > "$W/merge-two.txt"
a=$(grep -o '"results_sha256": "[0-9a-f]*"' "$W/one/merged.json")
b=$(grep -o '"results_sha256": "[0-9a-f]*"' "$W/two/merged.json")
same=no; [ "$a" = "$b" ] && same=yes
one_s=$(echo "$t1 - $t0" | bc); two_s=$(echo "$t2 - $t1" | bc)
cp "$W/one/merged.json" "$OUT/merged.json"
cp "$W/merge-one.txt" "$OUT/merge-table.txt"
{
  echo "# 29 configurations + dense x 3 Gutenberg books, 70m model: one process vs two shards"
  echo
  echo "- date: $(date -u +%FT%TZ); commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (+ uncommitted changes)')"
  echo "- machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), shared with other jobs (noisy; one run)"
  echo "- command: bench/sweep_gutenberg.sh $MAXTOK; load average at the start: $LOAD0"
  echo "- grid: $(grep units "$W/plan.txt" | sed 's/^units *//'), $MAXTOK tokens per book"
  echo
  echo "| run | wall s |"
  echo "|---|---|"
  echo "| one process (\`sweep run DIR\`, 1 thread) | $one_s |"
  echo "| two shards at once (\`--shard 0/2\` + \`--shard 1/2\`, 1 thread each) | $two_s |"
  echo
  echo "union of the two shards equals the single run: **$same** ($a vs $b)"
  echo
  echo "merged table (\`sweep merge\` of the single run):"
  echo
  echo '```'
  cat "$W/merge-one.txt"
  echo '```'
} > "$OUT/README.md"
cat "$OUT/README.md" | head -20
[ "$same" = yes ]
