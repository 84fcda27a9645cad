// What launched this process: mpirun (OMPI_*), srun (SLURM_*, PMIX_*) or nothing. The one
// place that reads launcher environment variables; everything else asks this struct.
#pragma once
#include <string>

namespace ofa::dist {

struct LaunchEnv {
  std::string launcher = "none";  // "mpirun", "srun", "none"
  bool under_mpi_launcher = false;  // an MPI runtime can be initialised from the environment
  int rank = 0, size = 1, local_rank = 0, local_size = 1, node_id = 0;
  std::string job_id;          // SLURM_JOB_ID when under Slurm
  std::string node;            // host name
  int restart_count = 0;       // SLURM_RESTART_COUNT (requeues)
  bool under_slurm = false;
};

LaunchEnv read_launch_env();
/// One line for logs: "srun job 1234 node n01 rank 3/8 local 1/4".
std::string describe(const LaunchEnv& env);

}  // namespace ofa::dist
