#!/usr/bin/env bash
# The main job on the bundled default model and text: installs + builds (scripts/setup.sh), then
#   dense eval -> analyze (head statistics + classification) -> ablate (the seeds' full
#   experiment set, mask engine) -> plot (every figure), all under results/default/.
# Environment overrides: MODEL, TEXT, OUT, ANALYZE_TOKENS (2048), ABLATE_TOKENS (1000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
MODEL=${MODEL:-models/neox-gutenberg-14m}
TEXT=${TEXT:-data/pg19-10146.txt}
OUT=${OUT:-results/default}
BIN=${BIN:-build/headscope}
mkdir -p "$OUT"
start=$(date +%s)
echo "== eval (dense)"
$BIN eval --model "$MODEL" --text "$TEXT" --max-tokens "${ABLATE_TOKENS:-1000}" --json "$OUT/eval_dense.json"
echo "== analyze"
$BIN analyze --model "$MODEL" --text "$TEXT" --max-tokens "${ANALYZE_TOKENS:-2048}" --out "$OUT"
echo "== ablate"
$BIN ablate --model "$MODEL" --text "$TEXT" --classifications "$OUT/head_classifications.json" \
  --config configs/ablation.toml --max-tokens "${ABLATE_TOKENS:-1000}" --out "$OUT/ablation.json"
echo "== plot"
$BIN plot all --ablation "$OUT/ablation.json" --classifications "$OUT/head_classifications.json" \
  --stats "$OUT/head_statistics.json" --out-dir "$OUT/figures"
echo "== main job done in $(( $(date +%s) - start )) s (after the build); results in $OUT/"
