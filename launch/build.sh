#!/usr/bin/env bash
# Configures and builds ofa into build/ (Release, Ninja, lld, ccache, shared torch PCH).
# NCCL is compiled in when CUDA/NCCL is present (/usr/local/cuda or NCCL_HOME) so that the GPU
# path is always compiled and linked, even on machines without a GPU. Override with
# OFA_WITH_NCCL=ON|OFF. Extra CMake arguments pass through: launch/build.sh -DOFA_WITH_MPI=OFF.
# OFA_BUILD_TARGET=ofa builds only the binary (the quickstart); default: everything, tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${OFA_BUILD_DIR:-build}
nccl=${OFA_WITH_NCCL:-}
if [[ -z "$nccl" ]]; then
  nccl=OFF
  for d in "${NCCL_HOME:-}" /usr/local/cuda; do
    [[ -n "$d" && -f "$d/include/nccl.h" ]] && nccl=ON && break
  done
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DOFA_WITH_NCCL="$nccl" "$@"
elif [[ $# -gt 0 ]]; then
  cmake -S . -B "$build_dir" -DOFA_WITH_NCCL="$nccl" "$@"
fi
targets=()
[[ -n "${OFA_BUILD_TARGET:-}" ]] && targets=(--target "$OFA_BUILD_TARGET")
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
