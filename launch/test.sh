#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, builds, runs every ctest
# (including the np=2 tests under mpiexec). Extra arguments go to ctest (e.g. -L dist).
#   launch/test.sh --sanitize address,undefined | thread [ctest args]
# builds into build-sanitize-<list>/ with -fsanitize=<list> (no jemalloc) and runs the GoogleTest
# suites (np=1 and np=2; the shell tests that drive the binary end to end are left out), with
# every sanitizer report fatal.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=
if [[ "${1:-}" == --sanitize ]]; then sanitize=$2; shift 2; fi
if [[ "${1:-}" == --sanitize=* ]]; then sanitize=${1#*=}; shift; fi
./launch/setup.sh --with-python --with-slurm
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Shell tests fail, instead of skipping a section, when something they need is missing (CI installs it).
export OFA_TEST_STRICT=${OFA_TEST_STRICT:-1}
if [[ -z "$sanitize" ]]; then
  ./launch/build.sh
  exec ctest --test-dir "${OFA_BUILD_DIR:-build}" --output-on-failure -j 1 "$@"
fi
case "$sanitize" in
  address|undefined|address,undefined|undefined,address|thread) ;;
  *) echo "test.sh: --sanitize takes address,undefined or thread, not '$sanitize'" >&2; exit 2 ;;
esac
dir=build-sanitize-${sanitize//,/-}
OFA_BUILD_DIR=$dir ./launch/build.sh -DOFA_SANITIZE="$sanitize" -DCMAKE_BUILD_TYPE=RelWithDebInfo
supp=$PWD/tests/sanitize
# Leak checking is off: Open MPI and hwloc keep their allocations to exit by design.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$supp/ubsan.supp
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp
exec ctest --test-dir "$dir" --output-on-failure -j 1 -E '_cli|roundtrip|interop|odd_paths|world_matrix|slurm' "$@"
