#!/usr/bin/env bash
# Corrupt training data under the prefetching loader, through the real binary at np=2: Fashion-MNIST
# packed into HDF5 with a damaged stretch of the train images (a chunk that fails to inflate). The
# batch that touches it is read while an earlier step still trains (data.prefetch), and its error
# must still end the job: exit 3 (corrupt data), every rank ended by MPI_Abort, within 60 s, the
# message naming the file and the rows. Also: data.stage_dir copies the packed file once and the
# run reads the copy (the error names the staged path), and a second job copies nothing.
set -euo pipefail
ofa=$1
src=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
"$ofa" data pack --from fashion-mnist --out "$work/fm.h5" >/dev/null
# Flip a bit every 64 bytes over 4 KiB in the middle of the file (the train images' chunks).
/usr/bin/python3 - "$work/fm.h5" <<'PY'
import os, sys
p = sys.argv[1]
mid = os.path.getsize(p) // 2
with open(p, "r+b") as f:
    for off in range(mid, mid + 4096, 64):
        f.seek(off); b = f.read(1); f.seek(off); f.write(bytes([b[0] ^ 0x40]))
PY
run() {
  timeout 60 mpiexec -np 2 --oversubscribe "$ofa" train "$src/tests/train/tiny.yaml" --run-dir "$work/run" \
    --set data.source="$work/fm.h5" --set data.stage_dir="$work/stage" --set data.threads=2 \
    --set 'train.phases[0].epochs=0.2' --set energy.enabled=false >"$work/out.txt" 2>&1
}
set +e
run
rc=$?
set -e
grep -E "error|staged" "$work/out.txt" || true
[[ $rc -eq 3 ]] || { tail -20 "$work/out.txt"; fail "expected exit 3, got $rc"; }
grep -q "error: $work/stage/fm.h5: reading rows .* of '/train/images'" "$work/out.txt" ||
  fail "the error does not name the staged file and the rows"
grep -q "data staged to $work/stage: 1 file(s) copied" "$work/out.txt" || fail "no staging line"
cmp -s "$work/fm.h5" "$work/stage/fm.h5" || fail "the staged copy differs"
# A second job finds the staged copy (same size and mtime) and copies nothing.
set +e
run
rc=$?
set -e
[[ $rc -eq 3 ]] || fail "second run: expected exit 3, got $rc"
grep -q "data staged to $work/stage: 0 file(s) copied (0 GB), 1 already there" "$work/out.txt" ||
  fail "the second run copied again"
echo "ok: the job exits 3 (MPI_Abort), naming the file and the rows; staging copies once"
