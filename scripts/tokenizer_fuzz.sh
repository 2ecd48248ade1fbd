#!/usr/bin/env bash
# Differential fuzzing of headscope's tokenizer against Hugging Face `tokenizers` (from PyPI, in
# its own virtual environment; not part of the default test command, which must not need PyPI).
# Usage: scripts/tokenizer_fuzz.sh [--venv DIR] [--count N] [--seed S] [--out FILE] [TOKENIZER_DIR...]
# Defaults: venv build/fuzz-venv, 1000 strings, every tokenizer under ../shared/tokenizers plus
# the TinyStories model's and the bundled GPT-NeoX one.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/build/fuzz-venv"
args=()
dirs=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --venv) venv="$2"; shift 2 ;;
    --count|--seed|--out|--show) args+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    -*) echo "tokenizer_fuzz.sh: error: unknown option $1" >&2; exit 2 ;;
    *) dirs+=("$1"); shift ;;
  esac
done
if [[ ${#dirs[@]} -eq 0 ]]; then
  shared="$root/../shared"
  [[ -d "$shared/tokenizers" ]] || { echo "tokenizer_fuzz.sh: error: $shared/tokenizers not found" >&2; exit 2; }
  for d in "$shared"/tokenizers/*/; do dirs+=("${d%/}"); done
  dirs+=("$shared/models/llama-tinystories-656k" "$root/models/neox-gutenberg-14m")
fi
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "tokenizers==0.23.3"
fi
exec "$venv/bin/python" "$root/scripts/tokenizer_fuzz.py" --headscope "$root/build/headscope" "${args[@]}" "${dirs[@]}"
