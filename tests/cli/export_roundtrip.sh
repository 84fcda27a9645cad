#!/usr/bin/env bash
# ofa export -> PyTorch -> ofa infer: the exported weights.pt loads with torch.load(weights_only=True)
# in Python, its keys/shapes agree with net.config, and `ofa infer` on a tensor saved by Python's
# torch.save gives logits that Python reads back. Skips (exit 77) without Python's torch, fails
# instead under OFA_TEST_STRICT=1 (launch/test.sh: CI).
set -euo pipefail
ofa=$1
src=$2
py=/usr/bin/python3
if ! "$py" -c "import torch" 2>/dev/null; then
  echo "python3-torch not installed: skipped"
  [[ "${OFA_TEST_STRICT:-0}" == 1 ]] && { echo "FAIL: OFA_TEST_STRICT=1 (CI) needs python3-torch"; exit 1; }
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$ofa" export --space "$src/configs/space/fmnist_small.yaml" --init-seed 1 --subnet max --out "$work/max"
"$ofa" export --space "$src/configs/space/fmnist_small.yaml" --init-seed 1 --subnet min --out "$work/min"
for d in max min; do
  for f in net.config weights.pt subnet.json info.json space.yaml; do
    [[ -s "$work/$d/$f" ]] || { echo "missing $d/$f"; exit 1; }
  done
done
"$py" - "$work" <<'PY'
import json, sys, torch
work = sys.argv[1]
for d in ("max", "min"):
    # The restricted unpickler: no code runs, only tensors and plain containers are built.
    sd = torch.load(f"{work}/{d}/weights.pt", weights_only=True)
    assert isinstance(sd, dict) and all(torch.is_tensor(v) for v in sd.values()), "a dict of tensors"
    # weights.safetensors holds the same tensors (read by the format's spec: header length, JSON
    # header, raw little-endian data at the given offsets).
    raw = open(f"{work}/{d}/weights.safetensors", "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    assert n % 8 == 0, "data not 8-byte aligned"
    names = {"F32": torch.float32, "I64": torch.int64}
    assert set(header) - {"__metadata__"} == set(sd), "safetensors keys"
    for k, v in sd.items():
        e = header[k]
        b, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(raw[8 + n + b:8 + n + end]), dtype=names[e["dtype"]]).reshape(e["shape"])
        assert torch.equal(t, v), k
    cfg = json.load(open(f"{work}/{d}/net.config"))
    assert cfg["name"] == "MobileNetV3", cfg["name"]
    assert len(cfg["blocks"]) == sum(1 for k in sd if k.endswith("depth_conv.conv.weight")), "block count"
    for i, b in enumerate(cfg["blocks"]):
        conv = b["conv"]
        w = sd[f"blocks.{i}.conv.depth_conv.conv.weight"]
        assert w.shape[-1] == conv["kernel_size"], (i, w.shape, conv["kernel_size"])
        assert w.shape[0] == b["conv"]["mid_channels"] or conv.get("mid_channels") is None or i == 0, (i, w.shape)
    assert sd["classifier.linear.weight"].shape == (10, cfg["classifier"]["in_features"])
    info = json.load(open(f"{work}/{d}/info.json"))
    assert info["params"] == sum(v.numel() for k, v in sd.items() if "running" not in k and "num_batches" not in k), "params"
torch.manual_seed(0)
torch.save(torch.randn(4, 1, 28, 28), f"{work}/x.pt")
PY
"$ofa" infer "$work/max" --input "$work/x.pt" --output "$work/y.pt"
"$py" -c "
import torch, sys
y = torch.load('$work/y.pt')
assert y.shape == (4, 10), y.shape
assert torch.isfinite(y).all()
print('logits from ofa infer read in python:', tuple(y.shape))
"
# Bad tensor files are bad data (exit 3) naming the file, never an internal error: random bytes as
# the input, a dict where a tensor belongs, a truncated weights.pt.
expect_data_error() {
  local what=$1; shift
  set +e; "$@" > "$work/err.txt" 2>&1; local rc=$?; set -e
  [[ $rc -eq 3 ]] || { echo "$what: expected exit 3, got $rc"; cat "$work/err.txt"; exit 1; }
  grep -q "$what" "$work/err.txt" || { echo "message does not name $what"; cat "$work/err.txt"; exit 1; }
}
head -c 1000 /dev/urandom > "$work/noise.pt"
expect_data_error "$work/noise.pt" "$ofa" infer "$work/max" --input "$work/noise.pt"
"$py" -c "import torch; torch.save({'a': torch.ones(1)}, '$work/dict.pt')"
expect_data_error "$work/dict.pt" "$ofa" infer "$work/max" --input "$work/dict.pt"
head -c 5000 "$work/min/weights.pt" > "$work/w.pt" && mv "$work/w.pt" "$work/min/weights.pt"
expect_data_error "$work/min/weights.pt" "$ofa" infer "$work/min" --input "$work/x.pt"
echo "export round trip ok"
