#!/usr/bin/env bash
# `ofa search` through the real binary: a tiny six-phase run (tests/train/tiny.yaml), then
#  1. `search sample` at np=2, the whole job SIGKILLed once records exist, and the rerun: every
#     subnet number 0..N-1 recorded exactly once, no torn line, both ranks took part, and the
#     energy ledger (the killed job's recovered, the rerun's) and carbon report in the samples dir;
#  2. `search fit` (RMSE and tau printed), `search predict` for max and min;
#  3. `search run` under a MACs budget with --verify and --export (the winner within it, recounted
#     by `ofa describe`, its test accuracy, its export), a
#     --pareto range (its search.html), a peak-activation-memory budget, `bench search`, and an infeasible budget that fails at once
#     (exit 2) naming the range;
#  4. `search profile` of the tiny space with --check 3 (the table's keys, the check's file),
#     latency and energy budgets inside the ranges unmeetable ones name (the winners within them),
#     an energy budget refused for a table without power (exit 2), and a malformed table refused
#     with exit 3 naming the file and the key.
# Usage: search_cli.sh OFA_BINARY SOURCE_DIR
set -euo pipefail
ofa=$1
src=$2
py=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mpi=(mpiexec -np 2 --oversubscribe --bind-to none)
work=$(mktemp -d)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
lines() { cat "$1"/samples.rank*.jsonl 2>/dev/null | wc -l; }

"$ofa" train "$src/tests/train/tiny.yaml" --run-dir "$work/run" > "$work/train.log" 2>&1 ||
  { cat "$work/train.log"; fail "the tiny run did not train"; }
[[ -f "$work/run/supernet.pt" ]] || fail "no supernet.pt"

echo "== 1. sample at np=2, killed, rerun"
n=40
setsid "${mpi[@]}" "$ofa" search sample "$work/run" --n $n --out "$work/s" > "$work/sample1.log" 2>&1 &
job=$!
for _ in $(seq 600); do
  [[ $(lines "$work/s") -ge 6 ]] && break
  kill -0 $job 2>/dev/null || break
  sleep 0.1
done
# The whole job: mpiexec's process group and the ranks (orted may put them in groups of their own).
kill -9 -- -$job 2>/dev/null || true
pkill -9 -f -- "--out $work/s" 2>/dev/null || true
wait $job 2>/dev/null || true
sleep 0.5
pgrep -f -- "--out $work/s" >/dev/null && fail "a rank survived the kill"
first=$(lines "$work/s")
echo "killed with $first records"
[[ $first -ge 1 && $first -lt $n ]] || fail "expected a partial sample at the kill, got $first of $n"
"${mpi[@]}" "$ofa" search sample "$work/run" --n $n --out "$work/s" > "$work/sample2.log" 2>&1 ||
  { cat "$work/sample2.log"; fail "the rerun failed"; }
grep -q "were already there" "$work/sample2.log" || fail "no summary line"
done_before=$(sed -n 's/.*(\([0-9]*\) were already there).*/\1/p' "$work/sample2.log")
[[ "$done_before" == "$first" ]] || fail "the rerun found $done_before records, $first were there at the kill"
# The energy of both jobs: a ledger segment "search sample" with one sample per subnet the rerun
# measured, plus those the killed job recorded in its per-rank parts (each rank may have been
# killed between a record and its part: up to one subnet per rank uncounted), the recovery named
# in the warnings, and no part file left.
"$py" - "$work/s/report/ledger.json" $((n - first)) $first <<'PY' || fail "the sampling jobs' energy ledger"
import json, sys
ledger, rerun, killed = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
got = sum(r["segments"]["search sample"]["samples"] for r in ledger["ranks"] if "search sample" in r["segments"])
assert rerun + killed - 2 <= got <= rerun + killed, (got, rerun, killed)
assert any("interrupted" in w for w in ledger["warnings"]), ledger["warnings"]
PY
ls "$work"/s/energy.rank*.part.json >/dev/null 2>&1 && fail "part files left after the rerun"
[[ -s "$work/s/report/carbon.html" && -s "$work/s/energy.csv" ]] || fail "no carbon report or energy.csv in the samples dir"
"$py" - "$work/s" $n <<'PY' || fail "records are not each number exactly once"
import glob, json, sys
d, n = sys.argv[1], int(sys.argv[2])
seen, ranks = [], set()
for f in glob.glob(d + "/samples.rank*.jsonl"):
    text = open(f).read()
    assert text.endswith("\n"), f + ": torn last line"
    for line in text.splitlines():
        r = json.loads(line)
        seen.append(r["index"]); ranks.add(r["rank"])
        assert 0 <= r["accuracy"] <= 1 and r["macs"] > 0
assert sorted(seen) == list(range(n)), ("duplicates or gaps", sorted(seen))
assert ranks == {0, 1}, ranks
PY

echo "== 2. fit and predict"
"$ofa" search fit "$work/s" --out "$work/p.pred" --epochs 50 > "$work/fit.log" 2>&1 || { cat "$work/fit.log"; fail "fit"; }
grep -q "Kendall tau" "$work/fit.log" || fail "fit printed no tau"
for s in max min; do
  "$ofa" search predict "$work/p.pred" --subnet $s | grep -q "predicted holdout accuracy" || fail "predict $s"
done

echo "== 3. search run"
"$ofa" search run --predictor "$work/p.pred" --constraint 'macs<=400K' --out "$work/r" --generations 20 --verify --export \
  > "$work/run.log" 2>&1 || { cat "$work/run.log"; fail "search run"; }
result=$(ls "$work"/r/*/result.json | head -1)
"$py" - "$result" "$work/subnet.json" <<'PY' || fail "the winner breaks its budget"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["macs"] <= 4e5, r["macs"]
assert 0 < r["test_accuracy"] <= 1, r
json.dump(r["subnet"], open(sys.argv[2], "w"))
PY
exported=$(dirname "$result")/export
for f in weights.pt net.config subnet.json info.json space.yaml; do [[ -s "$exported/$f" ]] || fail "--export wrote no $f"; done
cmp <("$py" -c "import json,sys; print(json.load(open(sys.argv[1])))" "$exported/subnet.json") \
    <("$py" -c "import json,sys; print(json.load(open(sys.argv[1])))" "$work/subnet.json") || fail "--export wrote another subnet"
"$ofa" describe --space "$work/run/config.yaml" --subnet "$work/subnet.json" > "$work/describe.json"
"$py" - "$work/describe.json" <<'PY' || fail "ofa describe recounts the winner over its budget"
import json, sys
assert json.load(open(sys.argv[1]))["macs"] <= 4e5
PY
"$ofa" search run --predictor "$work/p.pred" --pareto 'macs=200K..800K:3' --out "$work/pareto" --generations 10 \
  > "$work/pareto.log" 2>&1 || { cat "$work/pareto.log"; fail "pareto"; }
[[ $("$py" -c "import json,sys; print(len(json.load(open(sys.argv[1]))))" "$work/pareto/results.json") == 3 ]] ||
  fail "pareto: not 3 winners"
"$py" - "$work/pareto/search.html" <<'PY' || fail "search.html"
import sys, xml.dom.minidom
t = open(sys.argv[1]).read()
svg = t[t.index("<svg"):t.index("</svg>") + 6]
xml.dom.minidom.parseString(svg)  # well-formed
assert svg.count("fill='#d62728'") == 3, "one red dot per winner"
assert t.count("<tr>") == 4, "a header and three winners in the table"
PY
"$ofa" search run --predictor "$work/p.pred" --constraint 'memory<=20K' --out "$work/mem" --generations 10 \
  > "$work/mem.log" 2>&1 || { cat "$work/mem.log"; fail "a memory budget"; }
"$py" - "$work"/mem/*/result.json <<'PY' || fail "the winner breaks its memory budget"
import json, sys
r = json.load(open(sys.argv[1]))
assert 0 < r["peak_activation_bytes"] <= 20000, r["peak_activation_bytes"]
PY
"$ofa" bench search --predictor "$work/p.pred" --constraint 'macs<=400K' --generations 5 > "$work/bench.log" 2>&1 ||
  { cat "$work/bench.log"; fail "bench search"; }
grep -q "queries/s" "$work/bench.log" && grep -q "without the predictor" "$work/bench.log" || fail "bench search output"
set +e
timeout 20 "$ofa" search run --predictor "$work/p.pred" --constraint 'macs<=50K' --out "$work/no" > "$work/no.log" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || { cat "$work/no.log"; fail "an infeasible budget: exit $rc, expected 2"; }
grep -q "cannot be met" "$work/no.log" || { cat "$work/no.log"; fail "the infeasible budget's message"; }

echo "== 4. latency: profile with a check, a latency budget, a malformed table"
"$ofa" search profile --space "$work/run/config.yaml" --out "$work/lat/lut.yaml" --check 3 --warmup 2 --repeats 5 \
  --energy-seconds 0.05 > "$work/profile.log" 2>&1 || { cat "$work/profile.log"; fail "search profile"; }
grep -q "^ofa_profile:" "$work/lat/lut.yaml" || fail "the table has no ofa_profile"
grep -q "^Conv-input:28x28x1-output:14x14x8:" "$work/lat/lut.yaml" || fail "no first-conv key at 28"
grep -q "^expanded_conv-input:14x14x8-output:7x7x8-expand:24-kernel:3-stride:2-idskip:0-se:1-hs:0:" "$work/lat/lut.yaml" ||
  fail "no key of the first stage's first block (k3, e3) at 28"
grep -q "Kendall tau" "$work/profile.log" || fail "the check printed no summary"
"$py" - "$work/lat/lut.check.json" <<'PY' || fail "the check's file"
import json, sys
c = json.load(open(sys.argv[1]))
assert len(c["subnets"]) == 3, c
for r in c["subnets"]:
    assert r["predicted_ms"] > 0 and r["measured_ms"] > 0 and r["measured_mj"] >= 0, r
assert c["mean_abs_pct_error"] >= 0 and -1 <= c["kendall_tau"] <= 1 and c["threads"] == 1, c
PY
# An unmeetable budget names the range the space reaches; a budget in its middle is met.
set +e
"$ofa" search run --predictor "$work/p.pred" --constraint 'latency<=1us' --latency-table "$work/lat/lut.yaml" \
  --out "$work/lat/no" > "$work/lat_no.log" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || { cat "$work/lat_no.log"; fail "an unmeetable latency budget: exit $rc, expected 2"; }
limit=$("$py" - "$work/lat_no.log" <<'PY'
import re, sys
lo, hi = map(float, re.search(r"reaches ([0-9.e+-]+)ms\.\.([0-9.e+-]+)ms latency", open(sys.argv[1]).read()).groups())
assert lo < hi, (lo, hi)
print((lo + hi) / 2)
PY
) || { cat "$work/lat_no.log"; fail "no reachable latency range"; }
"$ofa" search run --predictor "$work/p.pred" --constraint "latency<=${limit}ms" --latency-table "$work/lat/lut.yaml" \
  --out "$work/lat/r" --generations 10 > "$work/lat_run.log" 2>&1 || { cat "$work/lat_run.log"; fail "a latency budget"; }
"$py" - "$work/lat/r/search.html" <<'PY' || fail "search.html with a latency table"
import sys, xml.dom.minidom
t = open(sys.argv[1]).read()
assert "id='search_latency'" in t and "<th>latency (ms)</th>" in t, "no latency chart or column"
for start in ("<svg id='search'", "<svg id='search_latency'"):
    i = t.index(start)
    xml.dom.minidom.parseString(t[i:t.index("</svg>", i) + 6])  # well-formed
PY
"$py" - "$work"/lat/r/*/result.json "$limit" <<'PY' || fail "the winner breaks its latency budget"
import json, sys
r, limit = json.load(open(sys.argv[1])), float(sys.argv[2])
assert 0 < r["latency_ms"] <= limit, (r["latency_ms"], limit)
assert "energy_mj" in r or "power_watts: 0" in open(sys.argv[1].rsplit("/", 3)[0] + "/lut.yaml").read(), r
PY
# An energy budget in the middle of the range the space reaches (latency x the profile's power).
set +e
"$ofa" search run --predictor "$work/p.pred" --constraint 'energy<=1uJ' --latency-table "$work/lat/lut.yaml" \
  --out "$work/lat/no_e" > "$work/lat_no_e.log" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] || { cat "$work/lat_no_e.log"; fail "an unmeetable energy budget: exit $rc, expected 2"; }
elimit=$("$py" - "$work/lat_no_e.log" <<'PY'
import re, sys
lo, hi = map(float, re.search(r"reaches ([0-9.e+-]+)mJ\.\.([0-9.e+-]+)mJ energy", open(sys.argv[1]).read()).groups())
print((lo + hi) / 2)
PY
) || { cat "$work/lat_no_e.log"; fail "no reachable energy range"; }
"$ofa" search run --predictor "$work/p.pred" --constraint "energy<=${elimit}mJ" --latency-table "$work/lat/lut.yaml" \
  --out "$work/lat/e" --generations 10 > "$work/lat_e.log" 2>&1 || { cat "$work/lat_e.log"; fail "an energy budget"; }
"$py" - "$work"/lat/e/*/result.json "$elimit" <<'PY' || fail "the winner breaks its energy budget"
import json, sys
r, limit = json.load(open(sys.argv[1])), float(sys.argv[2])
assert 0 < r["energy_mj"] <= limit, (r["energy_mj"], limit)
PY
# A table without a power figure (the reference's format) cannot serve an energy budget: exit 2.
awk '/^ofa_profile:/ {skip = 1; next} /^[^ ]/ {skip = 0} !skip' "$work/lat/lut.yaml" > "$work/lat/reference.yaml"
grep -q ofa_profile "$work/lat/reference.yaml" && fail "could not strip ofa_profile"
set +e
"$ofa" search run --predictor "$work/p.pred" --constraint 'energy<=1J' --latency-table "$work/lat/reference.yaml" \
  --out "$work/lat/ref" > "$work/lat_ref.log" 2>&1
rc=$?
set -e
[[ $rc == 2 ]] && grep -q "records no power" "$work/lat_ref.log" || { cat "$work/lat_ref.log"; fail "energy budget without power: exit $rc"; }
printf 'Conv-input:28x28x1-output:14x14x8:\n  count: 5\n  mean: slow\n' > "$work/lat/bad.yaml"
set +e
"$ofa" search run --predictor "$work/p.pred" --constraint 'latency<=1ms' --latency-table "$work/lat/bad.yaml" \
  --out "$work/lat/bad" > "$work/lat_bad.log" 2>&1
rc=$?
set -e
[[ $rc == 3 ]] || { cat "$work/lat_bad.log"; fail "a malformed table: exit $rc, expected 3"; }
grep -q "bad.yaml: key 'Conv-input:28x28x1-output:14x14x8': mean is not a number" "$work/lat_bad.log" ||
  { cat "$work/lat_bad.log"; fail "the malformed table's message"; }
echo "search_cli: all passed"
