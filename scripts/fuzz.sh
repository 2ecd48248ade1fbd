#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ (clang, ASan + UBSan) and runs each for SECONDS
# (default 20) from the seed corpus in fuzz/corpus/<name>. New inputs go to a temporary corpus,
# never into the repository. Exits non-zero on any crash, leak or sanitizer report; the
# reproducer is kept in $FUZZ_ARTIFACTS (default build-fuzz/artifacts).
#   scripts/fuzz.sh [SECONDS] [harness ...]      e.g. scripts/fuzz.sh 60 safetensors config
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
shift || true
case "$SECONDS_EACH" in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a positive integer" >&2; exit 2;; esac
[ "$SECONDS_EACH" -ge 1 ] || { echo "fuzz.sh: SECONDS must be >= 1" >&2; exit 2; }
HARNESSES=("$@")
[ ${#HARNESSES[@]} -gt 0 ] || HARNESSES=(safetensors config tokenizer_json ablation_toml classifications text)
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ not found (scripts/setup.sh installs clang and libfuzzer-14-dev)" >&2; exit 2; }

FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/headscope-ccache}
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
cmake -S fuzz -B "$FUZZ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$FUZZ_BUILD" -j "$(nproc)" >/dev/null

ART=${FUZZ_ARTIFACTS:-$FUZZ_BUILD/artifacts}
mkdir -p "$ART"
work=$(mktemp -d "${TMPDIR:-/tmp}/headscope-fuzz-XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for h in "${HARNESSES[@]}"; do
  exe="$FUZZ_BUILD/fuzz_$h"
  [ -x "$exe" ] || { echo "fuzz.sh: no harness '$h'" >&2; exit 2; }
  mkdir -p "$work/$h"
  log="$work/$h.log"
  if TMPDIR="$work" "$exe" -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout=20 -rss_limit_mb=2048 \
       -artifact_prefix="$ART/$h-" -print_final_stats=1 "$work/$h" "fuzz/corpus/$h" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $h: ok, $runs inputs in ${SECONDS_EACH}s"
  else
    echo "fuzz $h: FAILED (reproducer in $ART/$h-*)"
    grep -E 'ERROR|SUMMARY|runtime error|==[0-9]+==|exiting' "$log" | head -20 || true
    failed=1
  fi
done
exit $failed
