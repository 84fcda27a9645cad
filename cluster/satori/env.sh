# Environment of an ofa-hpc job on MIT Satori (IBM POWER9 / ppc64le, 2x20 cores, 4x V100-SXM2-32GB
# per node over NVLink2, EDR InfiniBand). Sourced by cluster/satori/train.sbatch inside the job
# (launch/submit.sh passes it as OFA_ENV). The module names are the site's documented ones for an
# MPI + CUDA build; check `module avail` after a site upgrade and keep these in step with the
# modules ofa was built with (docs/install-cluster.md).
# shellcheck shell=bash
module add spack
module add cuda/10.1
module load openmpi/3.1.4-pmi-cuda-ucx

# LibTorch on ppc64le comes from the site's PyTorch build (there is no upstream binary): point
# the loader at its lib/ when ofa was linked against it (OFA_TORCH_LIB set by the user's build).
if [[ -n "${OFA_TORCH_LIB:-}" ]]; then export LD_LIBRARY_PATH="$OFA_TORCH_LIB:${LD_LIBRARY_PATH:-}"; fi

# NCCL over InfiniBand between nodes, NVLink within a node. WARN keeps errors visible without
# flooding the log; set NCCL_DEBUG=INFO to see the chosen transports when diagnosing.
export NCCL_DEBUG=${NCCL_DEBUG:-WARN}
export NCCL_IB_DISABLE=${NCCL_IB_DISABLE:-0}
export NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-ib0}
# CUDA numbers GPUs fastest-first by default, NVML by PCI bus: make them agree, so the energy
# monitor reads the GPU this rank trains on.
export CUDA_DEVICE_ORDER=PCI_BUS_ID
# USR1 can be claimed by NCCL 2.12+; the job uses USR2 for preemption (train.sbatch).

# Checkpoints and run dirs on the scratch file system, never in $HOME.
export OFA_SCRATCH=${OFA_SCRATCH:-/nobackup/users/$USER/ofa}
