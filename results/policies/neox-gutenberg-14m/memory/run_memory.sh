#!/bin/bash
# Real memory (issue 15 item 4), 14m model: the FastGen-allocated policy without full heads vs
# StreamingLLM holding the same mean number of entries per head (152 = 4 + 148), on the real
# KV cache over 8192 tokens of a held-out book, shifted positions, 1 thread each, run side by
# side (TPOT measured under the same contention for both).
set -e
cd "$(dirname "$0")/../../../.."
D=results/policies/neox-gutenberg-14m/memory
M=models/neox-gutenberg-14m
BOOK=../shared/data/gutenberg/10064.txt
build/headscope eval --model $M --text $BOOK --max-tokens 8192 --threads 1 --positions shifted \
  --policy $D/policy_fastgen_0.9_nofull.json --json $D/eval_fastgen_0.9_nofull.json > $D/eval_fastgen_0.9_nofull.log 2>&1 &
build/headscope eval --model $M --text $BOOK --max-tokens 8192 --threads 1 --positions shifted \
  --method streaming_llm --start-size 4 --recent-size 148 --json $D/eval_streaming_4_148.json > $D/eval_streaming_4_148.log 2>&1 &
wait
