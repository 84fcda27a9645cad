#!/usr/bin/env bash
# Submits a training job: fills in cluster/SITE/train.sbatch and calls sbatch. Prints the job id.
#
#   launch/submit.sh [options] SITE CONFIG [--set KEY=VALUE ...]
#     SITE                  generic | satori | any cluster/<site>/ with a train.sbatch
#     --run-dir DIR         run directory (default: $OFA_SCRATCH or $SCRATCH, else checkpoints/,
#                           then <job name>-<job id>); a requeued job keeps it and resumes there
#     --nodes N, --ntasks-per-node N, --cpus-per-task N, --time T, --partition P, --job-name NAME
#     --sbatch ARG          any other sbatch argument (repeatable), e.g. --sbatch=--account=abc
#     --dry-run             print the sbatch command instead of running it
# The site's env.sh (module lines) is sourced inside the job and its carbon.yaml becomes
# energy.cluster_profile (a --set of yours comes later and wins). Every argument is passed as one
# word: paths with spaces or shell characters are safe.
set -euo pipefail
home=$(cd "$(dirname "$0")/.." && pwd)
sbatch_args=(--parsable)
dry=0
run_dir=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --run-dir) run_dir=$2; shift 2 ;;
    --run-dir=*) run_dir=${1#*=}; shift ;;
    --nodes|--ntasks-per-node|--cpus-per-task|--time|--partition|--job-name)
      sbatch_args+=("$1=$2"); shift 2 ;;
    --nodes=*|--ntasks-per-node=*|--cpus-per-task=*|--time=*|--partition=*|--job-name=*)
      sbatch_args+=("$1"); shift ;;
    --sbatch) sbatch_args+=("$2"); shift 2 ;;
    --sbatch=*) sbatch_args+=("${1#*=}"); shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "submit.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -ge 2 ]] || { echo "usage: launch/submit.sh [options] SITE CONFIG [--set K=V ...]" >&2; exit 2; }
site=$1
config=$2
shift 2
script="$home/cluster/$site/train.sbatch"
[[ -f "$script" ]] || { echo "submit.sh: no $script (sites: $(ls "$home/cluster" | tr '\n' ' '))" >&2; exit 2; }
[[ -f "$config" ]] || { echo "submit.sh: $config: no such config file" >&2; exit 2; }
config=$(cd "$(dirname "$config")" && pwd)/$(basename "$config")
command -v sbatch >/dev/null || [[ $dry -eq 1 ]] || { echo "submit.sh: sbatch not found (not on a Slurm login node?)" >&2; exit 1; }

export OFA_HOME=$home
[[ -f "$home/cluster/$site/env.sh" ]] && export OFA_ENV="$home/cluster/$site/env.sh"
# Slurm's output file goes beside the run, not into the submit directory. Slurm reads % in the
# name as a pattern (%j: job id), so a literal % of the path is written %%.
if [[ -n "$run_dir" ]]; then
  mkdir -p "$run_dir"
  export OFA_RUN_DIR
  OFA_RUN_DIR=$(cd "$run_dir" && pwd)
  sbatch_args+=("--output=${OFA_RUN_DIR//%/%%}/slurm-%j.out")
else
  scratch=${OFA_SCRATCH:-${SCRATCH:-$home/checkpoints}}
  mkdir -p "$scratch"
  scratch=$(cd "$scratch" && pwd)
  sbatch_args+=("--output=${scratch//%/%%}/%x-%j.out")
fi
# A --set value is YAML: a path goes in double quotes with \, " and control characters escaped, so
# '#', ': ', quotes or a newline in it cannot truncate or reshape it.
yaml_quoted() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  printf '"%s"' "$s"
}
sets=()
[[ -f "$home/cluster/$site/carbon.yaml" ]] &&
  sets+=(--set "energy.cluster_profile=$(yaml_quoted "$home/cluster/$site/carbon.yaml")")
sets+=(--set "energy.regions_file=$(yaml_quoted "$home/configs/carbon/regions.yaml")")

cmd=(sbatch "${sbatch_args[@]}" "$script" "$config" "${sets[@]}" "$@")
if [[ $dry -eq 1 ]]; then
  printf '%q ' "${cmd[@]}"
  echo
  exit 0
fi
job=$("${cmd[@]}")
echo "$job"
echo "submitted job $job ($site): squeue -j $job; run dir ${OFA_RUN_DIR:-$scratch/<job name>-$job}" >&2
