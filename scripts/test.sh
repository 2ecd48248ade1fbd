#!/usr/bin/env bash
# Installs dependencies, builds everything (library, CLI, tests, benchmarks) and runs the whole
# test suite with ctest. Suites that need ../shared are reported as skipped when it is absent.
# Then a bounded fuzzing run: each libFuzzer harness of fuzz/ for HEADSCOPE_FUZZ_SECONDS (default
# 15; 6 harnesses, 90 s in all; 0 skips it); any crash, leak or sanitizer report fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900
FUZZ_SECONDS=${HEADSCOPE_FUZZ_SECONDS:-15}
if [ "$FUZZ_SECONDS" != "0" ]; then
  bash scripts/fuzz.sh "$FUZZ_SECONDS"
fi
