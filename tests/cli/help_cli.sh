#!/usr/bin/env bash
# The `ofa` command line through the real binary: every command and subcommand answers --help with
# its usage and options (exit 0, before MPI is touched); `ofa help CMD [SUB]` prints the same;
# unknown options and commands exit 2 naming the nearest known one; `ofa` alone exits 2;
# `--opt=value` and repeated `--set` still parse. Usage: help_cli.sh OFA SRC_DIR
set -uo pipefail
ofa=$1
src=$2
source "$(dirname "$0")/../support/cli_expect.sh"

# Each command or subcommand, then options its help must mention.
checks=(
  "version|--help"
  "config|check"
  "config check|FILE --set"
  "data|info pack"
  "data info|SOURCE --fashion-mnist-dir"
  "data pack|--from --out --chunk-rows --gzip --fashion-mnist-dir --val-from --max-side --quality --shard-size --on-bad"
  "train|CONFIG --set --run-dir --resume --no-resume"
  "eval|RUN_DIR --subnet"
  "report|RUN_DIR --set"
  "ckpt|list verify"
  "ckpt list|RUN_DIR --quick"
  "ckpt verify|PATH --quick"
  "describe|--space --subnet --resolution --supernet --set"
  "export|--space --checkpoint --init-seed --subnet --out --supernet --format"
  "infer|DIR --input --output"
  "import|--reference --space --out --phase --set"
  "bench|supernet reducer ckpt search"
  "bench supernet|--space --subnet --random --batch --steps --resolution --profile"
  "bench reducer|--space --reps --batch --bucket-mb --first-bucket-mb"
  "bench ckpt|--space --dir --reps --no-recycle"
  "bench search|--predictor --constraint --latency-table --generations"
  "search|sample fit predict run profile"
  "search sample|RUN_DIR --n --out --seed"
  "search fit|DIR --out --epochs --holdout --seed"
  "search predict|PREDICTOR --subnet"
  "search run|--predictor --constraint --latency-table --pareto --out --run --population --generations --seed --verify --export"
  "search profile|--space --out --resolutions --batch --threads --warmup --repeats --check --seed --energy-source"
)
for c in "${checks[@]}"; do
  read -ra words <<<"${c%%|*}"
  for form in flag help; do
    if [[ $form == flag ]]; then run 0 "${words[@]}" --help; else run 0 help "${words[@]}"; fi
    grep -q "Usage: ofa ${words[*]}" <<<"$out" || fail "ofa ${words[*]} ($form): no usage line: $out"
    for opt in ${c#*|}; do
      grep -q -- "$opt" <<<"$out" || fail "ofa ${words[*]} ($form): help does not mention $opt"
    done
  done
done
echo "help of ${#checks[@]} commands and subcommands: checked"

run 0 --help
grep -q "train" <<<"$out" && grep -q "exit codes" <<<"$out" || fail "ofa --help lists no commands: $out"
run 0 help
run 2
grep -q "Usage: ofa" <<<"$out" || fail "ofa alone prints no usage: $out"
run 0 data help  # the old `ofa data help`

# Unknown options and commands: exit 2, a clear message, the nearest known name when there is one.
run 2 eval --bogus
grep -q "unknown option '--bogus'" <<<"$out" || fail "ofa eval --bogus: $out"
run 2 eval run_dir --subnett max
grep -q "did you mean --subnet?" <<<"$out" || fail "ofa eval --subnett: no suggestion: $out"
run 2 train configs/fmnist.yaml --rundir x
grep -q "did you mean --run-dir?" <<<"$out" || fail "ofa train --rundir: no suggestion: $out"
run 2 bench ckpt --no-recyle
grep -q "did you mean --no-recycle?" <<<"$out" || fail "ofa bench ckpt --no-recyle: no suggestion: $out"
run 2 evl
grep -q "did you mean eval?" <<<"$out" || fail "ofa evl: no suggestion: $out"
run 2 bench superne
grep -q "did you mean supernet?" <<<"$out" || fail "ofa bench superne: no suggestion: $out"
run 2 help trian
run 2 bench
run 2 train
run 2 train a.yaml --resume auto --no-resume
run 2 bench supernet --space x.yaml --batch many

# --opt=value, repeated --set (both forms) and the positional after a --set.
run 0 config check --set=data.holdout=1234 --set data.calib_images=321 "$src/configs/fmnist.yaml"
grep -q "holdout: 1234" <<<"$out" && grep -q "calib_images: 321" <<<"$out" || fail "--set forms: $out"
# The default space lists resolution 20, which no phase trains: a warning, exit 0.
grep -q "lists 20 but no phase" <<<"$out" || fail "config check does not warn about resolution 20: $out"

# Under mpirun, --help is answered on rank 0 only and never waits for the other ranks.
if command -v mpiexec >/dev/null; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  out=$(timeout 60 mpiexec -np 2 --oversubscribe --bind-to none "$ofa" eval --help 2>&1)
  rc=$?
  [[ $rc -eq 0 && $(grep -c "Usage: ofa eval" <<<"$out") -eq 1 ]] ||
    fail "mpiexec -np 2 ofa eval --help: exit $rc, expected 0 and one usage: $out"
fi

finish
echo "ofa command line ok"
