#!/usr/bin/env bash
# From a fresh clone to a result: installs what is missing, builds, and runs the embedded
# default (Fashion-MNIST from Debian's dataset-fashion-mnist) with 2 ranks under mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."
./launch/setup.sh
./launch/build.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
np=${OFA_NP:-2}
echo "== ofa version"
build/bin/ofa version
echo "== ofa config check configs/fmnist.yaml"
build/bin/ofa config check configs/fmnist.yaml > /dev/null && echo "config ok"
echo "== mpirun -np $np ofa data info fashion-mnist"
mpirun -np "$np" --oversubscribe build/bin/ofa data info fashion-mnist
