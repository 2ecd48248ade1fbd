#!/usr/bin/env bash
# Run ON THE GPU MACHINE (Ubuntu 24.04, g++ 13, CMake 4, PyTorch 2.11 + CUDA in python3):
# configures and builds headscope against PyTorch's libtorch (CUDA), using the carried
# .gpudeps/root for toml++, utf8proc and PCRE2 headers. Output: build-cuda/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD/.gpudeps/root
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
export PKG_CONFIG_PATH=$ROOT/usr/lib/x86_64-linux-gnu/pkgconfig:$ROOT/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$ROOT
export LD_LIBRARY_PATH=$ROOT/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
cmake -S . -B build-cuda -G Ninja -DCMAKE_BUILD_TYPE=Release -DHEADSCOPE_CUDA=ON \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build build-cuda -j "$(nproc)"
