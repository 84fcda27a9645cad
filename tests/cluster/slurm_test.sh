#!/usr/bin/env bash
# The cluster scripts on a real (one-node) Slurm: cluster/slurm-local starts munged, slurmctld and
# slurmd in a temporary directory; launch/submit.sh submits cluster/generic/train.sbatch with 2
# tasks (srun --mpi=pmix) on the tiny config, into run dirs whose paths hold a space.
#  1. A job runs to the end: COMPLETED, a valid committed checkpoint, metrics, the carbon report.
#  2. The same job again, sent `scancel --signal=USR2` while it trains phase 1: every rank
#     checkpoints at the same step (reason preempt), rank 0 requeues the job, the requeued job
#     (Restarts=1) resumes from that checkpoint and completes; its final checkpoint equals job 1's
#     bit for bit (h5diff), and its carbon report covers the phases run before the preemption.
# Before these, start.sh is run again over a crashed instance (daemons SIGKILLed with a job step
# running) and must come up as a fresh, idle cluster with the leftover step ended.
# The daemons are stopped by PID on every exit path. Usage: slurm_test.sh OFA_BINARY SOURCE_DIR
set -euo pipefail
ofa=$1
src=$2
py=/usr/bin/python3
for exe in slurmctld slurmd munged sbatch; do
  command -v "$exe" >/dev/null || { echo "FAIL: $exe missing: run launch/setup.sh --with-slurm" >&2; exit 1; }
done
work=$(mktemp -d /tmp/ofa-slurm.XXXXXX)
chmod 0755 "$work"  # munged runs as the munge user
cleanup() {
  "$src/cluster/slurm-local/stop.sh" "$work/slurm" || true
  [[ -n "${KEEP:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/run*/slurm-*.out; do [[ -f "$f" ]] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }; done
  tail -n 20 "$work/slurm/log/slurmctld.log" >&2 2>/dev/null || true
  exit 1
}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
"$src/cluster/slurm-local/start.sh" "$work/slurm" >/dev/null
export SLURM_CONF="$work/slurm/slurm.conf"
echo "== 0. start.sh again after a crash (daemons killed with a step running): a fresh idle cluster"
sbatch -Q -o "$work/crash.out" --wrap 'srun sleep 300'
for _ in $(seq 100); do [[ "$(squeue -h -s -o %i)" == *.0* ]] && break; sleep 0.1; done
[[ "$(squeue -h -s -o %i)" == *.0* ]] || fail "no job step running before the crash"
holding() {  # PIDs of live processes with $1 open (the batch step, its script and srun)
  local fd p
  for fd in /proc/[0-9]*/fd/*; do
    [[ "$(readlink "$fd" 2>/dev/null)" == "$1" ]] || continue
    p=${fd#/proc/}; p=${p%%/*}
    [[ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" == [RSD] ]] && echo "$p"
  done | sort -u
}
job_procs=$(holding "$work/crash.out")
[[ -n "$job_procs" ]] || fail "found no process of the running job"
kill -KILL "$(cat "$work/slurm/run/slurmctld.daemon")" "$(cat "$work/slurm/run/slurmd.daemon")"
"$src/cluster/slurm-local/start.sh" "$work/slurm" >/dev/null || fail "start.sh after a crash"
[[ -z "$(squeue -h -o %i)" ]] || fail "the restarted cluster recovered the crashed one's jobs"
left=$(holding "$work/crash.out")
[[ -z "$left" ]] || fail "processes of the crashed cluster's job still run: $left"
sinfo

long=(--set 'train.phases[1].epochs=0.03' --set checkpoint.keep_last=20)
submit() {  # submit RUN_DIR: prints the job id
  OFA_BIN="$ofa" "$src/launch/submit.sh" --run-dir "$1" --ntasks-per-node 2 --cpus-per-task 1 --time 00:10:00 \
    generic "$src/tests/train/tiny.yaml" "${long[@]}" 2>/dev/null
}
job_field() { scontrol show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
wait_done() {  # wait_done JOB SECONDS: until the job has left the queue in a final state
  local state=
  for _ in $(seq $(($2 * 5))); do
    state=$(job_field "$1" JobState)
    [[ "$state" == COMPLETED || "$state" == FAILED || "$state" == CANCELLED || "$state" == TIMEOUT ]] && break
    sleep 0.2
  done
  echo "$state"
}

echo "== 1. a whole job"
run1="$work/run one"
job1=$(submit "$run1") || fail "sbatch refused the job"
state=$(wait_done "$job1" 120)
[[ "$state" == COMPLETED ]] || fail "job $job1 ended $state"
"$ofa" ckpt list "$run1" | tee "$work/list1.txt"
grep -q 'valid$' "$work/list1.txt" || fail "no valid checkpoint in $run1"
for f in metrics.jsonl energy.csv report/carbon.json report/carbon.html; do
  [[ -s "$run1/$f" ]] || fail "job 1 left no $f"
done

echo "== 2. preempted with SIGUSR2, requeued, resumed"
run2="$work/run two"
job2=$(submit "$run2") || fail "sbatch refused the second job"
for _ in $(seq 600); do
  grep -qs '"phase":1,' "$run2/metrics.jsonl" && break
  sleep 0.1
done
grep -qs '"phase":1,' "$run2/metrics.jsonl" || fail "job $job2 never reached phase 1"
scancel --signal=USR2 "$job2"
# The job requeues itself; Slurm holds a requeued batch job back (BeginTime, ~2 min): release it.
for _ in $(seq 300); do
  [[ "$(job_field "$job2" Restarts)" == 1 && "$(job_field "$job2" JobState)" == PENDING ]] && break
  sleep 0.2
done
[[ "$(job_field "$job2" Restarts)" == 1 ]] || fail "job $job2 did not requeue itself (Restarts=$(job_field "$job2" Restarts))"
scontrol update JobId="$job2" StartTime=now
state=$(wait_done "$job2" 180)
[[ "$state" == COMPLETED ]] || fail "requeued job $job2 ended $state"
out="$run2/slurm-$job2.out"
grep -q "restart 1" "$out" || fail "no second run of the batch script in $out"
manifest=$(grep -l '"reason": *"preempt"' "$run2"/checkpoints/step_*/manifest.json | tail -1 || true)
[[ -n "$manifest" ]] || fail "no preemption checkpoint in $run2"
pstep=$("$py" -c "import json,sys; m=json.load(open(sys.argv[1])); assert m['world_size']==2; print(m['global_step'])" "$manifest")
grep -q "resuming from .*step_$(printf '%09d' "$pstep")" "$out" || fail "the requeued job did not resume from step $pstep"
last=$(basename "$(ls -d "$run1"/checkpoints/step_* | tail -1)")
for r in rank_00000.h5 rank_00001.h5; do
  h5diff "$run1/checkpoints/$last/$r" "$run2/checkpoints/$last/$r" /model /model ||
    fail "$last/$r after preemption differs from the uninterrupted job's"
done
"$py" - "$run2/report/carbon.json" <<'PY' || fail "carbon report of the requeued job"
import json, sys
c = json.load(open(sys.argv[1]))
segs = {s["segment"]: s["joules"] for s in c["segments"]}
assert segs.get("phase0:full", 0) > 0 and segs.get("phase5:expand2", 0) > 0, segs
PY
echo "preempted at step $pstep, requeued, resumed; final parameters equal the uninterrupted job's"
echo "OK"
