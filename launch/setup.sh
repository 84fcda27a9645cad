#!/usr/bin/env bash
# Installs the Debian packages ofa-hpc builds and runs with, and only those that are missing.
# Idempotent: dpkg-query decides; a warm machine returns in a second. Works as root or via sudo.
# Usage: launch/setup.sh [--with-slurm] [--with-python] [--with-browser]
set -euo pipefail

pkgs=(
  build-essential cmake pkg-config ninja-build ccache lld procps
  libtorch-dev
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libyaml-cpp-dev nlohmann-json3-dev libsimdjson-dev zlib1g-dev libjemalloc-dev libisal-dev
  libgtest-dev libgmock-dev libxml2-dev libcli11-dev
  libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev
  dataset-fashion-mnist
)
for arg in "$@"; do
  case "$arg" in
    --with-slurm)   pkgs+=(slurm-wlm munge) ;;
    --with-python)  pkgs+=(python3-torch python3-h5py python3-pil python3-torchvision) ;;
    --with-browser) pkgs+=(chromium) ;;
    *) echo "setup.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all ${#pkgs[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup.sh: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
