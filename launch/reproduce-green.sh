#!/usr/bin/env bash
# Measures the two energy claims on our own runs and writes docs/results.md (with its SVG charts):
#   (a) the default progressive-shrinking run (configs/fmnist.yaml);
#   (b) four subnets of its final grid trained from scratch with the phase-0 schedule;
#   (c) the same four fine-tuned from (a) for a short schedule, distilled from (a)'s full network;
#   (d) phase 0 with Early-Bird at prune ratios 0.3, 0.5, 0.7, each followed by the rest of (a)'s schedule;
#   (e) (a)'s carbon report again, its amortization measured against the runs of (b).
# Resumable: a finished run (supernet.pt present) is skipped, an interrupted one resumes from its
# checkpoints; every command is printed before it runs. About 20 minutes on an idle 2-core node (np=2).
# Usage: launch/reproduce-green.sh [OUT_DIR]   (default: results/green; OFA_NP=2 ranks; OFA=build/bin/ofa)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
out=$(realpath -m "${1:-results/green}")
np=${OFA_NP:-2}
ofa=$(realpath "${OFA:-build/bin/ofa}")
[[ -x "$ofa" ]] || { echo "reproduce-green: $ofa not built (run launch/build.sh)" >&2; exit 2; }
mkdir -p "$out/configs"
# Where no power counter exists the energy is an estimate from the node's CPU busy fraction, so
# other work on the node inflates it: run this on an otherwise idle node.
echo "reproduce-green: $out, $np rank(s), $(nproc) CPUs, load now: $(cut -d' ' -f1-3 /proc/loadavg)"
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}

say() { printf '+ %q' "$1"; shift; for a in "$@"; do printf ' %q' "$a"; done; printf '\n'; }
launch() {
  local cmd=("$@")
  (( np > 1 )) && cmd=(mpirun -np "$np" "$@")
  say "${cmd[@]}"
  "${cmd[@]}" > "$log" 2>&1
}
# train NAME CONFIG [ofa train args]: one run in $out/NAME, skipped when it finished.
train() {
  local name=$1 config=$2; shift 2
  if [[ -f "$out/$name/supernet.pt" && -f "$out/$name/report/carbon.json" ]]; then echo "= $name: done"; return; fi
  log=$out/$name.log
  launch "$ofa" train "$config" --run-dir "$out/$name" "$@" ||
    { echo "reproduce-green: $name failed, see $log" >&2; tail -5 "$log" >&2; exit 1; }
  grep -E "steps in|not spent|Early-Bird ticket" "$log" | tail -3
}
# A uniform subnet of the fmnist space (16 blocks, 4 stages) at 28 px as subnet JSON.
subnet() {
  local k=$1 e=$2 d=$3 ks es ds
  ks=$(printf "$k,%.0s" {1..16}); es=$(printf "$e,%.0s" {1..16}); ds=$(printf "$d,%.0s" {1..4})
  printf '{"ks": [%s], "e": [%s], "d": [%s], "r": 28}' "${ks%,}" "${es%,}" "${ds%,}"
}
# A config: the default one with other phases (and other keys) given as YAML text.
overlay() {
  local file=$out/configs/$1.yaml; shift
  { echo "# written by launch/reproduce-green.sh"; echo "include: $repo/configs/fmnist.yaml"; printf '%s\n' "$@"; } > "$file"
  echo "$file"
}

# The four subnets of the final grid: smallest, largest and two between (name k e d).
subnets=("k3e3d2 3 3 2" "k3e6d2 3 6 2" "k7e3d4 7 3 4" "k7e6d4 7 6 4")
phase0="epochs: 4.0, warmup_epochs: 0.1, base_lr: 0.05"   # configs/fmnist.yaml's phase 0

echo "== (a) progressive shrinking, the default schedule"
train ps "$repo/configs/fmnist.yaml"

scratch_dirs=()
for s in "${subnets[@]}"; do
  read -r name k e d <<< "$s"
  echo "== (b) $name from scratch, the phase-0 schedule"
  cfg=$(overlay "scratch-$name" "train:" "  phases:" \
    "    - {name: scratch, kind: scratch, subnet: '$(subnet "$k" "$e" "$d")', $phase0}")
  train "scratch-$name" "$cfg"
  scratch_dirs+=("$out/scratch-$name")
  echo "== (c) $name fine-tuned from (a) for 0.5 epoch, distilled from its full network"
  cfg=$(overlay "finetune-$name" "train:" "  phases:" \
    "    - {name: finetune, kind: finetune, subnet: '$(subnet "$k" "$e" "$d")', epochs: 0.5, warmup_epochs: 0.05, base_lr: 0.005, distill: true}")
  train "finetune-$name" "$cfg" --init "$out/ps"
done

for p in 0.3 0.5 0.7; do
  echo "== (d) Early-Bird at prune ratio $p (a mask every 50 steps, FIFO 5, epsilon 0.1), then the rest"
  train "eb-$p" "$repo/configs/fmnist.yaml" \
    --set "train.phases[0].early_bird={enabled: true, prune_ratio: $p, every_steps: 50, fifo: 5, epsilon: 0.1}"
done

echo "== (e) the carbon report of (a), amortized against the measured from-scratch runs of (b)"
list=$(printf '"%s",' "${scratch_dirs[@]}")
say "$ofa" report "$out/ps" --set "energy.scratch_runs=[${list%,}]"
"$ofa" report "$out/ps" --set "energy.scratch_runs=[${list%,}]"

echo "== (f) docs/results.md from the runs (the four subnets are in (a)'s final test grid)"
say /usr/bin/python3 launch/green_results.py "$out" docs
/usr/bin/python3 launch/green_results.py "$out" docs
