#!/usr/bin/env bash
# From a fresh clone to a trained supernet: installs what is missing, builds, and trains the
# embedded default (the small OFA space on Fashion-MNIST from Debian's dataset-fashion-mnist, all
# six progressive-shrinking phases) with 2 ranks under mpirun, then prints where the results are.
# OFA_NP=N changes the rank count; extra arguments go to `ofa train` (e.g. --set train.max_steps=50).
set -euo pipefail
cd "$(dirname "$0")/.."
./launch/setup.sh
OFA_BUILD_TARGET=ofa ./launch/build.sh   # the binary only; launch/test.sh builds the tests
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
np=${OFA_NP:-2}
run_dir=${OFA_RUN_DIR:-checkpoints/fmnist}
build/bin/ofa version
mpirun -np "$np" --oversubscribe build/bin/ofa data info fashion-mnist | head -2
start=$(date +%s)
mpirun -np "$np" --oversubscribe build/bin/ofa train configs/fmnist.yaml --run-dir "$run_dir" "$@"
echo "quickstart: trained in $(( $(date +%s) - start )) s with $np ranks; results in $run_dir:"
echo "  $run_dir/config.yaml    the resolved configuration"
echo "  $run_dir/metrics.jsonl  training and validation records"
echo "  $run_dir/train.log      the log and the progress lines, time-stamped"
echo "  $run_dir/supernet.pt    the trained supernet"
echo "  $run_dir/checkpoints/   sharded HDF5 checkpoints (build/bin/ofa ckpt list $run_dir); rerunning resumes"
echo "  $run_dir/energy.csv     power samples; report/carbon.html and report/carbon.json: energy and CO2e"
echo "next: build/bin/ofa eval $run_dir --subnet max"
echo "      build/bin/ofa export --space configs/space/fmnist_small.yaml --checkpoint $run_dir --subnet min --out /tmp/ofa-min"
