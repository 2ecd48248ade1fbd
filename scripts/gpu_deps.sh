#!/usr/bin/env bash
# Run HERE (Debian 12, with network to the Debian mirror): fetches the few -dev packages the GPU
# machine (Ubuntu 24.04 image with PyTorch 2.11 + CUDA) lacks and unpacks them into .gpudeps/root,
# which the device run carries (`carry: [".gpudeps"]`). Headers + libraries only; nothing installed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .gpudeps/debs .gpudeps/root
cd .gpudeps/debs
apt-get download libtomlplusplus-dev libtomlplusplus3 libutf8proc-dev libutf8proc2 libpcre2-dev libpcre2-8-0 \
  libpcre2-16-0 libpcre2-32-0 libpcre2-posix3 gnuplot-nox ccache >/dev/null
for f in *.deb; do dpkg -x "$f" ../root; done
echo "unpacked into .gpudeps/root: $(du -sh ../root | cut -f1)"
