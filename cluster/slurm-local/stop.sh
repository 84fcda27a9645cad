#!/usr/bin/env bash
# Stops the daemons that cluster/slurm-local/start.sh started in DIR, by the PIDs it recorded
# (never by name: other Slurm or munge processes on the machine are left alone). TERM first, KILL
# after 10 s. Safe to call when nothing runs.
set -uo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
pids=()
for f in slurmd.daemon slurmctld.daemon munged.pid; do
  p=$(cat "$dir/run/$f" 2>/dev/null || true)
  [[ "$p" =~ ^[0-9]+$ ]] && kill -0 "$p" 2>/dev/null && pids+=("$p")
done
[[ ${#pids[@]} -eq 0 ]] && exit 0
# Job steps still running under slurmd are its children's children: stop the daemons, then any
# process left whose parent chain leads to them.
kill -TERM "${pids[@]}" 2>/dev/null || true
for _ in $(seq 100); do
  alive=()
  for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
  [[ ${#alive[@]} -eq 0 ]] && break
  sleep 0.1
done
for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
# slurmstepd processes of this cluster (their command line names our spool/conf) and their tasks.
for p in $(pgrep -f "slurmstepd" 2>/dev/null || true); do
  if tr '\0' ' ' <"/proc/$p/environ" 2>/dev/null | grep -q "SLURM_CONF=$dir/slurm.conf" ||
     grep -qs "$dir" "/proc/$p/cmdline"; then
    pkill -KILL -P "$p" 2>/dev/null || true
    kill -KILL "$p" 2>/dev/null || true
  fi
done
rm -f "$dir"/run/*.daemon "$dir"/run/munged.pid
exit 0
