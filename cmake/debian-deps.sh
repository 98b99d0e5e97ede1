#!/usr/bin/env bash
# Installs the Debian packages that libattention builds, tests and
# benchmarks with; does nothing when they are all present.
set -euo pipefail
packages=(build-essential cmake pkg-config libopenblas-dev libcmocka-dev libpng-dev
          libjansson-dev libopenblas0-openmp)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == *"install ok installed"* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
