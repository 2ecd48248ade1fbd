#!/bin/bash
# Real memory (issue 15 item 4): the FastGen-allocated 70m policy without full heads vs
# StreamingLLM holding the same mean number of entries per head (189 = 4 + 185), on the real
# KV cache over 8192 tokens of a held-out book with shifted positions, 1 thread each, run
# side by side (TPOT is therefore measured under the same contention for both).
set -e
cd "$(dirname "$0")/../../../.."
D=results/policies/neox-gutenberg-70m/memory
M=../shared/models/neox-gutenberg-70m
BOOK=../shared/data/gutenberg/10064.txt
build/headscope eval --model $M --text $BOOK --max-tokens 8192 --threads 1 --positions shifted \
  --policy $D/policy_fastgen_0.9_nofull.json --json $D/eval_fastgen_0.9_nofull.json > $D/eval_fastgen_0.9_nofull.log 2>&1 &
build/headscope eval --model $M --text $BOOK --max-tokens 8192 --threads 1 --positions shifted \
  --method streaming_llm --start-size 4 --recent-size 185 --json $D/eval_streaming_4_185.json > $D/eval_streaming_4_185.log 2>&1 &
wait
