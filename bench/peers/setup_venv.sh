#!/usr/bin/env bash
# Recreates the peers' Python environment used by bench/peers/*.py (NOT part of the default test
# command): kvpress and TransformerLens on a CPU PyTorch, pinned to the versions the committed
# fixtures and results were produced with. Usage: bash bench/peers/setup_venv.sh [VENV_DIR]
# (default /work/venvs/peers). About 3 GB with PyPI's default (CUDA) torch wheel; pass
# TORCH_INDEX=https://download.pytorch.org/whl/cpu to get the CPU-only wheel instead.
set -euo pipefail
VENV="${1:-/work/venvs/peers}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
if [ -n "${TORCH_INDEX:-}" ]; then
  "$VENV/bin/pip" install -q --index-url "$TORCH_INDEX" torch==2.15.0
fi
"$VENV/bin/pip" install -q kvpress==0.5.5 transformer-lens==3.2.1 transformers==5.2.0 torch==2.15.0 \
  tokenizers==0.22.2 safetensors==0.8.0 numpy==2.4.6
"$VENV/bin/python" -c "import kvpress, transformer_lens, torch, transformers; print('ok', torch.__version__, transformers.__version__)"
