#!/usr/bin/env bash
# One script for the GPU machine (issue 7): builds headscope against PyTorch's CUDA libtorch,
# checks it against the fixtures on CUDA, times the benchmarks on a Pythia-2.8b-shaped random
# model, and compares 14m ablation PPLs on GPU with the committed CPU fp32 run.
# Usage (device run, carry .gpudeps and .gpushared): bash bench/gpu/run_all.sh
# Steps already done on this (warm) machine are skipped, so a second call continues.
# Logs go to $OUT (or ./gpu-out).
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}; mkdir -p "$OUT"
STATE=/tmp/hs_state; mkdir -p "$STATE"
DEADLINE=$(( $(date +%s) + ${BUDGET_S:-560} ))
export HEADSCOPE_SHARED=$PWD/.gpushared
mkdir -p .gpushared/models && ln -sfn "$PWD/models/neox-gutenberg-14m" .gpushared/models/neox-gutenberg-14m
export LD_LIBRARY_PATH=$PWD/.gpudeps/root/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
P28=/tmp/p28

step() {  # step NAME SECONDS_NEEDED COMMAND...
  local name=$1 need=$2; shift 2
  if [ -f "$STATE/$name.done" ]; then { echo "===== $name (earlier call)"; cat "$STATE/$name.log"; } >> "$OUT/gpu_run.log"; echo "[skip] $name (done before)"; return; fi
  if [ $(( DEADLINE - $(date +%s) )) -lt "$need" ]; then echo "[skip] $name (not enough time left)"; return; fi
  echo "[run ] $name"; local t0=$(date +%s)
  if timeout $(( DEADLINE - $(date +%s) )) bash -c "$*" > "$STATE/$name.log" 2>&1; then
    touch "$STATE/$name.done"; echo "[ ok ] $name ($(( $(date +%s) - t0 )) s)"
  else echo "[FAIL] $name ($(( $(date +%s) - t0 )) s)"; tail -25 "$STATE/$name.log"; fi
  { echo "===== $name"; cat "$STATE/$name.log"; } >> "$OUT/gpu_run.log"
}

step env 10 "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; python3 -c 'import torch,transformers;print(\"torch\",torch.__version__,\"cuda\",torch.version.cuda,\"transformers\",transformers.__version__)'; g++ --version | head -1; cmake --version | head -1"
rm -f "$STATE/build.done"  # always rebuild (incremental)
step build 120 "bash scripts/gpu_build.sh"
rm -f "$STATE/tests_cuda.done" "$STATE/ctest_cpu_suites.done"
step tests_cuda 60 "build-cuda/headscope_tests --test-suite=fixture_cuda"
step floors 60 "python3 bench/gpu/floors.py"
step model28 90 "python3 bench/gpu/make_random_model.py pythia-2.8b $P28 bf16"
step forward28 60 "build-cuda/bench_forward --model $P28 --tokens 1024 --device cuda --dtype bf16 --reps 10"
step analyze28 90 "build-cuda/bench_analyze --model $P28 --tokens 1024 --device cuda --dtype bf16 --reps 3"
step ablate28 150 "build-cuda/bench_ablate --model $P28 --tokens 1024 --device cuda --dtype bf16 --repeat 3"
step decode28 150 "cp models/neox-gutenberg-14m/tokenizer.json $P28/ && build-cuda/bench_decode --model $P28 --device cuda --dtype bf16 --tokens 512 --part tpot"
step hf28 120 "python3 bench/gpu/hf_reference.py $P28 1024"
step quality14 120 "for dt in f32 bf16; do build-cuda/headscope ablate --model models/neox-gutenberg-14m --text data/pg19-10146.txt --classifications results/main-job/head_classifications.json --max-tokens 1000 --device cuda --dtype \$dt --no-progress --out $OUT/ablation_cuda_\$dt.json > /dev/null && python3 bench/gpu/compare_ablation.py results/main-job/ablation.json $OUT/ablation_cuda_\$dt.json; done"
step analyze14 60 "build-cuda/headscope analyze --model models/neox-gutenberg-14m --text data/pg19-10146.txt --device cuda --out /tmp/an14 && python3 bench/gpu/compare_stats.py .gpushared/fixtures/neox-gutenberg-14m/seed_analysis/head_statistics.json /tmp/an14/head_statistics.json"
step ctest_cpu_suites 150 "cd build-cuda && ctest -j8 --output-on-failure -E 'fixture_(decode|eval|mask|forward|cuda|tokenizer)' | tail -30"
echo "remaining: $(( DEADLINE - $(date +%s) )) s"
