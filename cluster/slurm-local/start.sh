#!/usr/bin/env bash
# A single-node Slurm (munged, slurmctld, slurmd) living entirely in DIR: its own munge key and
# socket, private ports, state, spool, logs and PID files; no systemd, nothing in /etc touched.
# For tests and for trying the sbatch scripts on one machine. Needs root (slurmd runs jobs as the
# submitting user) and `launch/setup.sh --with-slurm`.
#
#   cluster/slurm-local/start.sh DIR      # prints the line to source: export SLURM_CONF=DIR/slurm.conf
#   SLURM_CONF=DIR/slurm.conf sbatch ...; sinfo; squeue
#   cluster/slurm-local/stop.sh DIR       # by PID, always safe to call
#
# Env: OFA_SLURM_PORT (slurmctld port, default: the first free pair from 16817; slurmd uses +1),
# OFA_SLURM_CPUS (default: nproc).
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$1"
dir=$(cd "$1" && pwd)
for exe in munged slurmctld slurmd sinfo; do
  command -v "$exe" >/dev/null || { echo "start.sh: $exe not found (launch/setup.sh --with-slurm)" >&2; exit 1; }
done
[[ $(id -u) -eq 0 ]] || { echo "start.sh: must run as root (slurmd)" >&2; exit 1; }

# A previous run that crashed may have left daemons and job steps behind: stop them first. Every
# start is a fresh cluster: the controller's saved state and slurmd's spool go too, or slurmctld
# would recover the dead run's jobs as still running and the node would never become idle.
"$here/stop.sh" "$dir" >/dev/null 2>&1 || true
rm -rf "$dir/state" "$dir/spool" "$dir/tmp"

chmod a+rx "$dir"
setpriv --reuid=munge --regid=munge --clear-groups test -x "$dir" ||
  { echo "start.sh: the munge user cannot reach $dir (a parent directory is not world-executable)" >&2; exit 1; }

# Two free TCP ports (slurmctld, slurmd): the first pair from 16817 up where nothing listens, so a
# second private cluster (or a site's Slurm on the same host) does not collide.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${OFA_SLURM_PORT:-}
if [[ -z "$port" ]]; then
  for p in $(seq 16817 2 16917); do
    if ! listening "$p" && ! listening $((p + 1)); then port=$p; break; fi
  done
  [[ -n "$port" ]] || { echo "start.sh: no free port pair in 16817-16918 (set OFA_SLURM_PORT)" >&2; exit 1; }
fi
cpus=${OFA_SLURM_CPUS:-$(nproc)}
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) * 8 / 10240 ))  # MiB, 80 % of the total
mkdir -p "$dir"/{munge,socket,state,spool,log,run,tmp}
chown munge:munge "$dir/munge" "$dir/socket"
chmod 0700 "$dir/munge"   # the key
chmod 0755 "$dir/socket"  # munged wants everyone able to reach its socket

# munge: a fresh key for this cluster only, readable by the munge user alone.
key="$dir/munge/munge.key"
if [[ ! -s "$key" ]]; then
  dd if=/dev/urandom of="$key" bs=1024 count=1 status=none
fi
chown munge:munge "$key"
chmod 0400 "$key"
socket="$dir/socket/munge.socket.2"
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged -F -S "$socket" --key-file="$key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed" \
  >"$dir/log/munged.out" 2>&1 &
echo $! >"$dir/run/munged.pid"

cat >"$dir/slurm.conf" <<EOF
# Written by cluster/slurm-local/start.sh: a one-node cluster in $dir
ClusterName=ofalocal
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
MailProg=/bin/true
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
# The job's temporary file system, where mpi/pmix makes spmix_appdir_<uid>_<job>.<step>: private,
# because every fresh cluster numbers jobs from 1 again and a shared /tmp would collide with the
# directories of another instance or of a killed one (step launch fails: "File exists").
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
ReturnToService=2
KillWait=10
MinJobAge=600
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF

# munged must answer before the Slurm daemons authenticate through it.
for _ in $(seq 50); do [[ -S "$socket" ]] && break; sleep 0.1; done
[[ -S "$socket" ]] || { echo "start.sh: munged did not start:" >&2; cat "$dir/log/munged.out" "$dir/munge/munged.log" >&2 2>/dev/null; exit 1; }

export SLURM_CONF="$dir/slurm.conf"
slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
echo $! >"$dir/run/slurmctld.daemon"
slurmd -D -f "$SLURM_CONF" -N localhost >"$dir/log/slurmd.out" 2>&1 &
echo $! >"$dir/run/slurmd.daemon"

for _ in $(seq 150); do
  state=$(sinfo -h -N -o '%t' 2>/dev/null | head -1 || true)
  [[ "$state" == idle* ]] && break
  sleep 0.2
done
if [[ "$state" != idle* ]]; then
  echo "start.sh: the node did not become idle within 30 s (state '${state:-none}'); logs:" >&2
  tail -n 20 "$dir"/log/*.log "$dir"/log/*.out >&2 2>/dev/null || true
  "$here/stop.sh" "$dir" || true
  exit 1
fi
echo "export SLURM_CONF=$dir/slurm.conf"
