#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, builds, runs every ctest
# (including the np=2 tests under mpiexec). Extra arguments go to ctest (e.g. -L dist).
set -euo pipefail
cd "$(dirname "$0")/.."
./launch/setup.sh --with-python --with-slurm
./launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Shell tests fail, instead of skipping a section, when something they need is missing (CI installs it).
export OFA_TEST_STRICT=${OFA_TEST_STRICT:-1}
ctest --test-dir "${OFA_BUILD_DIR:-build}" --output-on-failure -j 1 "$@"
