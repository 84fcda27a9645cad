#!/usr/bin/env bash
# The stall watchdog through the real binary at np=2: rank 1 SIGSTOPs itself at global step 6
# (OFA_TRAIN_FAULT=stop:1@6, before the step's gradient all-reduce); with dist.timeout_s=3 rank 0
# must end the job within 60 s with exit 4 and a message naming the collective, the step and rank 1,
# leave no process behind, and a rerun must resume from the last checkpoint and finish.
set -euo pipefail
ofa=$1
src=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
work=$(mktemp -d)
trap 'pkill -KILL -f "run-dir $work/run" 2>/dev/null || true; rm -rf "$work"' EXIT
run=(mpiexec -np 2 "$ofa" train "$src/tests/train/tiny.yaml" --run-dir "$work/run" --set dist.timeout_s=3
     --set energy.enabled=false)
start=$(date +%s)
set +e
OFA_TRAIN_FAULT=stop:1@6 timeout 120 "${run[@]}" > "$work/stall.log" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
grep "stall" "$work/stall.log" || true
[[ $rc -eq 4 ]] || { cat "$work/stall.log"; echo "expected exit 4 (stall), got $rc after $took s"; exit 1; }
(( took <= 60 )) || { echo "the job took $took s to end (limit 60)"; exit 1; }
grep -Eq "stall: rank 0 waited [0-9]+ s in all_reduce \(collective #[0-9]+, phase [0-9]+ \([a-z0-9]+\) step [0-9]+, global step 6\)" \
  "$work/stall.log" || { echo "the message does not name the collective and the step"; exit 1; }
grep -Eq "did not arrive: 1 \(at collective #[0-9]+" "$work/stall.log" || { echo "the message does not name rank 1"; exit 1; }
sleep 1
if pgrep -f "run-dir $work/run" > /dev/null; then pgrep -af "run-dir $work/run"; echo "processes left behind"; exit 1; fi
echo "stalled job ended in $took s with exit 4, no process left"
timeout 300 "${run[@]}" > "$work/rerun.log" 2>&1 || { cat "$work/rerun.log"; echo "the rerun failed"; exit 1; }
grep -q "resuming from .*step_000000004" "$work/rerun.log" || { cat "$work/rerun.log"; echo "the rerun did not resume from step 4"; exit 1; }
echo "rerun resumed from step 4 and finished"
