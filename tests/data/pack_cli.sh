#!/usr/bin/env bash
# `ofa data pack` and `ofa data info` on a class-folder tree through the real binary: a PNG tree
# written here (pure Python: struct + zlib), packed on one rank and on two (identical files), a
# rerun that skips finished shards, --on-bad error (exit 3 naming the file) and skip (listed), an
# empty class (exit 2), a bad --shard-size (exit 2) and a truncated index (exit 3).
# Usage: pack_cli.sh OFA SRC_DIR
set -uo pipefail
ofa=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run_timeout=120
source "$(dirname "$0")/../support/cli_expect.sh"

python3 - "$work/tree" <<'PY' || { echo "FAIL: cannot write the PNG tree"; exit 1; }
import os, struct, sys, zlib
def chunk(kind, data):
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
def png(path, w, h, seed):
    rows = b''.join(b'\x00' + bytes((x * 7 + y * 3 + seed * 11 + c * 50) % 256
                                    for x in range(w) for c in range(3)) for y in range(h))
    data = (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
            chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b''))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(data)
root = sys.argv[1]
for split, n in (('train', 6), ('val', 2)):
    for k, cls in enumerate(('ant', 'bee', 'cat')):
        for i in range(n):
            png(f'{root}/{split}/{cls}/{i}.png', 30 + i, 20 + k, i + 10 * k)
with open(f'{root}/train/ant/README.txt', 'w') as f:
    f.write('not an image: ignored, as ImageFolder ignores it')
PY
cd "$work"

run 0 data pack --from tree --out one/set --shard-size 1MiB
grep -q "train: 18 images" <<<"$out" && grep -q "val: 6 images" <<<"$out" || fail "pack summary: $out"
[[ -f one/set.h5 && -f one/set-train-00000.h5 && -f one/set-val-00000.h5 ]] || fail "pack files: $(ls one)"
run 0 data info one/set
grep -q "train: 18 images in 1 shard" <<<"$out" && grep -q "3 classes" <<<"$out" || fail "info: $out"
run 0 data info one/set.h5
run 0 data pack --from tree --out one/set --shard-size 1MiB
grep -q "wrote 0 shard(s).*skipped 2 already complete" <<<"$out" || fail "the rerun did not skip: $out"
echo "pack, info and rerun on one rank: checked"

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(timeout 120 mpiexec -np 2 --oversubscribe --bind-to none "$ofa" data pack --from tree --out two/set \
  --shard-size 1MiB 2>&1) || fail "pack on 2 ranks: $out"
for f in set.h5 set-train-00000.h5 set-val-00000.h5; do
  cmp -s "one/$f" "two/$f" || fail "$f differs between the 1-rank and the 2-rank pack"
done
echo "pack on 2 ranks: byte-identical files"

printf 'garbage' > tree/train/bee/bad.png
run 3 data pack --from tree --out bad/set
grep -q "tree/train/bee/bad.png" <<<"$out" || fail "--on-bad error does not name the file: $out"
run 0 data pack --from tree --out bad/set --on-bad skip
grep -q "skipped 1 bad input" <<<"$out" && grep -q "train/bee/bad.png" <<<"$out" || fail "--on-bad skip: $out"
run 0 data info bad/set
grep -q "1 bad input(s) skipped at pack time, first: train/bee/bad.png" <<<"$out" || fail "info of a pack with skipped files: $out"
run 2 data pack --from tree --out bad/set --on-bad ignore
rm tree/train/bee/bad.png

run 2 data pack --from tree --out x/set --shard-size 12XB
grep -q "unknown unit" <<<"$out" || fail "--shard-size 12XB: $out"
mkdir tree/train/dog
run 2 data pack --from tree --out x/set
grep -q "ImageFolder" <<<"$out" || fail "empty class: $out"
rmdir tree/train/dog

head -c 300 one/set.h5 > cut.h5
run 3 data info cut.h5
run 2 data pack --from tree --out one/set.h5 --quality 0
finish
echo "pack_cli: all checks passed"
