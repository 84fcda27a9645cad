#!/usr/bin/env bash
# Paths nobody planned for: a directory whose name holds a space, $(...), double and single quotes,
# '#', ': ' and a newline. `ofa train` with its config and run dir there runs, writes where it was
# told and executes nothing; `launch/submit.sh --dry-run` from a checkout reached through such a
# path prints an sbatch command that reads back as the same words, and its --set values (YAML)
# name the real files.
set -euo pipefail
ofa=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
odd="$work/a b \$(touch $work/PWNED) \"q\" 's #c: d"$'\n'"nl"
mkdir -p "$odd"
cp "$src/tests/train/tiny.yaml" "$odd/cfg.yaml"
cd "$work"
"$ofa" train "$odd/cfg.yaml" --run-dir "$odd/run" --set train.max_steps=2 --set energy.enabled=false \
  --set train.save_final=true > "$work/train.log" 2>&1 || { cat "$work/train.log"; fail "ofa train in an odd directory"; }
[[ -f "$odd/run/config.yaml" && -f "$odd/run/supernet.pt" ]] || fail "the run's files are not in the run dir"
ls "$odd/run/checkpoints" | grep -q step_ || fail "no checkpoint in the odd run dir"
[[ ! -e "$work/PWNED" ]] || fail "a \$(...) in a path was executed"
echo "ofa train: config and run dir under an odd path, nothing executed"

ln -s "$src" "$odd/repo"
printed=$("$odd/repo/launch/submit.sh" --dry-run --run-dir "$odd/run2" generic "$odd/cfg.yaml" --set train.max_steps=1)
[[ ! -e "$work/PWNED" ]] || fail "submit.sh executed a \$(...) of a path"
eval "words=($printed)"  # printf %q output reads back as the same words
[[ "${words[0]}" == sbatch ]] || fail "not an sbatch command: $printed"
found_cfg=0 regions=
for ((i = 0; i < ${#words[@]}; ++i)); do
  [[ "${words[i]}" == "$odd/cfg.yaml" ]] && found_cfg=1
  [[ "${words[i]}" == energy.regions_file=* ]] && regions=${words[i]}
done
(( found_cfg )) || fail "the config path did not survive: $printed"
[[ " ${words[*]} " == *"--output=$odd/run2/slurm-%j.out"* ]] || fail "the output path did not survive"
[[ -n "$regions" ]] || fail "no energy.regions_file in $printed"
# The YAML value must name the file itself: ofa reads it and resolves the carbon factors from it.
"$ofa" config check "$odd/cfg.yaml" --set "$regions" --set energy.region=FRA > "$work/check.txt" ||
  fail "the --set value from submit.sh does not name the regions file: $regions"
[[ ! -e "$work/PWNED" ]] || fail "something executed a \$(...) of a path"
echo "submit.sh: the command and its YAML --set values survive an odd checkout path"
