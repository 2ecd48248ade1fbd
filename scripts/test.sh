#!/usr/bin/env bash
# Installs dependencies, builds everything (library, CLI, tests, benchmarks) and runs the whole
# test suite with ctest. Suites that need ../shared are reported as skipped when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 900
