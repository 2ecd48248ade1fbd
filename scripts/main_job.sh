#!/usr/bin/env bash
# The main job on the bundled default model and text: installs + builds (scripts/setup.sh), then
#   dense eval -> analyze (head statistics + classification) -> ablate (the seeds' full
#   experiment set, mask engine) -> plot (every figure), all under results/default/.
# Then the same pipeline on the bundled Llama model (TinyStories-656K, GQA 8:4, attention sink on
# BOS) and TinyStories text, under $OUT/tinystories/ (512 tokens: the model's context).
# Environment overrides: MODEL, TEXT, OUT, ANALYZE_TOKENS (2048), ABLATE_TOKENS (1000),
# LLAMA_MODEL, LLAMA_TEXT, LLAMA_TOKENS (512), LLAMA=0 to skip the Llama run. With LLAMA unset the
# Llama run is skipped, with a note, when this build cannot tokenize its text (the Llama
# tokenizers are a separate issue); LLAMA=1 makes that an error.
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
LMODEL=${LLAMA_MODEL:-models/llama-tinystories-656k}
LTEXT=${LLAMA_TEXT:-data/tinystories-sample.txt}
if [ -z "${LLAMA:-}" ] && ! $BIN tokenize --model "$LMODEL" --text "$LTEXT" >/dev/null 2>&1; then
  echo "== llama: skipped (this build cannot tokenize $LTEXT with $LMODEL's tokenizer)"
  LLAMA=0
fi
if [ "${LLAMA:-1}" != 0 ]; then
  LOUT="$OUT/tinystories"
  LTOK=${LLAMA_TOKENS:-512}
  mkdir -p "$LOUT"
  echo "== llama: eval (dense)"
  $BIN eval --model "$LMODEL" --text "$LTEXT" --max-tokens "$LTOK" --json "$LOUT/eval_dense.json"
  echo "== llama: analyze"
  $BIN analyze --model "$LMODEL" --text "$LTEXT" --max-tokens "${ANALYZE_TOKENS:-2048}" --out "$LOUT"
  echo "== llama: ablate (one policy per KV head, the most demanding query head decides)"
  $BIN ablate --model "$LMODEL" --text "$LTEXT" --classifications "$LOUT/head_classifications.json" \
    --config configs/ablation.toml --max-tokens "$LTOK" --out "$LOUT/ablation.json"
  echo "== llama: plot"
  $BIN plot all --ablation "$LOUT/ablation.json" --classifications "$LOUT/head_classifications.json" \
    --stats "$LOUT/head_statistics.json" --out-dir "$LOUT/figures"
fi
echo "== main job done in $(( $(date +%s) - start )) s (after the build); results in $OUT/"
