#!/usr/bin/env bash
# Fuzzes one parser of ours with libFuzzer (docs/reliability.md, tests/fuzz/):
#   launch/fuzz.sh TARGET [SECONDS]   fuzz TARGET for SECONDS (default 600)
#   launch/fuzz.sh --build            build every target (build-fuzz/: clang 14, ASan + UBSan)
#   launch/fuzz.sh --list             the targets
# The working corpus grows in build-fuzz/corpus/TARGET (seeded from tests/fuzz/corpus/TARGET);
# a crashing input lands in build-fuzz/findings/TARGET/ (copy it to tests/fuzz/crashes/TARGET/
# once fixed: the ctest fuzz.TARGET.np1 replays it). One summary line per run is appended to
# build-fuzz/summary.tsv: target, seconds, execs, coverage (edges), features, corpus, findings.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${OFA_FUZZ_BUILD_DIR:-build-fuzz}
mapfile -t targets < <(sed -n 's/^set(OFA_FUZZ_TARGETS \(.*\))$/\1/p' tests/fuzz/CMakeLists.txt | tr ' ' '\n')
usage() { echo "usage: launch/fuzz.sh TARGET [SECONDS] | --build | --list (targets: ${targets[*]})" >&2; exit 2; }
[[ $# -ge 1 ]] || usage
if [[ $1 == --list ]]; then printf '%s\n' "${targets[@]}"; exit 0; fi
target=$1
secs=${2:-600}
if [[ $target != --build ]]; then
  [[ " ${targets[*]} " == *" $target "* ]] || usage
  [[ $secs =~ ^[0-9]+$ ]] || usage
fi
command -v clang++-14 >/dev/null || { echo "launch/fuzz.sh: needs clang-14 and libclang-rt-14-dev (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
if [[ ! -f $dir/CMakeCache.txt ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOFA_FUZZ=ON -DOFA_SANITIZE=fuzzer-no-link,address,undefined -DOFA_WITH_NCCL=OFF
fi
# One build at a time in the build dir (two fuzzers started together would race on the libraries).
build() { flock "$dir/.build.lock" cmake --build "$dir" -j "$(nproc)" --target "$@"; }
if [[ $target == --build ]]; then
  build "${targets[@]/#/fuzz_}"
  exit 0
fi
build "fuzz_$target"

corpus=$dir/corpus/$target
findings=$dir/findings/$target
mkdir -p "$corpus" "$findings" "$dir/logs"
log=$dir/logs/$target.log
export OFA_SOURCE_DIR=$PWD OMP_NUM_THREADS=1
# Leaks are not findings here (LibTorch keeps allocations to exit); every other report aborts.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:detect_odr_violation=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/sanitize/ubsan.supp
set +e
"$dir/bin/fuzz_$target" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
  -close_fd_mask=1 -artifact_prefix="$findings/" "$corpus" "tests/fuzz/corpus/$target" >"$log" 2>&1
rc=$?
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
size=$(find "$corpus" -type f | wc -l)
found=$(find "$findings" -type f | wc -l)
[[ -f $dir/summary.tsv ]] || printf 'target\tseconds\texecs\tcov\tft\tcorpus\tfindings\texit\n' >"$dir/summary.tsv"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$secs" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$size" "$found" "$rc" | tee -a "$dir/summary.tsv"
if [[ $rc -ne 0 ]]; then
  echo "fuzz_$target stopped with exit $rc: see $log and $findings/" >&2
  grep -E 'FUZZ FINDING|ERROR: (Address|Undefined|libFuzzer)|runtime error|SUMMARY' "$log" | head -5 >&2
  exit 1
fi
