#!/usr/bin/env bash
# Stops the one-node Slurm that cluster/slurm-local/start.sh started in DIR. First the clean way:
# the controller cancels every job and Slurm ends its steps. Then by PID, never by name (other
# Slurm or munge processes on the machine are left alone): the daemons from the PIDs start.sh
# recorded (TERM, KILL after 10 s), and any job step left over (a slurmstepd of this cluster: it
# holds DIR/log/slurmd.log open) together with everything below it (tasks, a batch script's srun).
# Safe to call twice or when nothing runs.
set -uo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
[[ -d "$dir" ]] || exit 0
dir=$(cd "$dir" && pwd)
alive() {  # a live process (a zombie, left when init does not reap, counts as gone)
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [[ "${stat##*) }" != Z* ]]
}
recorded() { local p; p=$(cat "$dir/run/$1" 2>/dev/null || true); [[ "$p" =~ ^[0-9]+$ ]] && alive "$p" && echo "$p"; }

# 1. Cancel the jobs while the controller still runs; give their steps up to 15 s (KillWait=10).
ctld=$(recorded slurmctld.daemon)
if [[ -n "$ctld" && -f "$dir/slurm.conf" ]]; then
  export SLURM_CONF="$dir/slurm.conf"
  jobs=$(timeout 10 squeue -h -o %i 2>/dev/null || true)
  if [[ -n "$jobs" ]]; then
    # shellcheck disable=SC2086  # job ids: one word each
    timeout 10 scancel $jobs 2>/dev/null || true
    for _ in $(seq 150); do
      [[ -z "$(timeout 5 squeue -h -o %i 2>/dev/null || true)" ]] && break
      sleep 0.1
    done
  fi
fi

# 2. Leftover job steps of this cluster and their whole process trees, collected before anything
# dies (an orphan is re-parented to init and drops out of the tree).
ours() {  # ours PID: a slurmstepd of this cluster
  local fd
  for fd in "/proc/$1/fd/"*; do
    [[ "$(readlink "$fd" 2>/dev/null)" == "$dir/log/slurmd.log" ]] && return 0
  done
  tr '\0' '\n' 2>/dev/null <"/proc/$1/environ" | grep -qxF "SLURM_CONF=$dir/slurm.conf"
}
declare -A children=()
for stat in /proc/[0-9]*/stat; do
  line=$(cat "$stat" 2>/dev/null) || continue
  pid=${line%% *}
  rest=${line##*) }  # fields after the command name, which may hold spaces
  read -r _ ppid _ <<<"$rest"
  children[$ppid]+=" $pid"
done
tree=()
add_tree() { local c; tree+=("$1"); for c in ${children[$1]:-}; do add_tree "$c"; done; }
for p in $(pgrep -x slurmstepd 2>/dev/null || true); do
  ours "$p" && add_tree "$p"
done

# 3. The daemons, then the trees.
pids=()
for f in slurmd.daemon slurmctld.daemon munged.pid; do
  p=$(recorded "$f") && pids+=("$p")
done
if [[ ${#pids[@]} -gt 0 ]]; then
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 100); do
    left=0
    for p in "${pids[@]}"; do alive "$p" && left=1; done
    [[ $left -eq 0 ]] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
fi
if [[ ${#tree[@]} -gt 0 ]]; then
  echo "stop.sh: ending leftover job processes ${tree[*]}" >&2
  kill -KILL "${tree[@]}" 2>/dev/null || true
fi
rm -f "$dir"/run/*.daemon "$dir"/run/munged.pid
exit 0
