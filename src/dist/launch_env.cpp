// Reads the launcher's environment (see launch_env.h). Open MPI's mpirun sets OMPI_COMM_WORLD_*;
// srun sets SLURM_* and, with --mpi=pmix, PMIX_RANK; a bare sbatch batch step sets SLURM_JOB_ID only.
#include "dist/launch_env.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace ofa::dist {
namespace {
const char* env(const char* name) { return std::getenv(name); }
int env_int(const char* name, int fallback) {
  const char* v = env(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  return (end && *end == '\0') ? static_cast<int>(x) : fallback;
}
// Tasks on this node from SLURM_STEP_TASKS_PER_NODE ("4(x2),3": per node in node order, with
// repeat counts), which srun always sets; SLURM_NTASKS_PER_NODE only exists when it was asked for.
int slurm_tasks_on_node(int node_id) {
  const char* v = env("SLURM_STEP_TASKS_PER_NODE");
  if (!v) v = env("SLURM_TASKS_PER_NODE");
  if (!v) return env_int("SLURM_NTASKS_PER_NODE", 1);
  std::istringstream in(v);
  int node = 0;
  for (std::string item; std::getline(in, item, ',');) {
    int count = 0, repeat = 1;
    if (std::sscanf(item.c_str(), "%d(x%d)", &count, &repeat) < 1) break;
    if (node_id < node + repeat) return count;
    node += repeat;
  }
  return env_int("SLURM_NTASKS_PER_NODE", 1);
}
}  // namespace

LaunchEnv read_launch_env() {
  LaunchEnv e;
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) == 0) e.node = host;
  if (const char* job = env("SLURM_JOB_ID")) {
    e.under_slurm = true;
    e.job_id = job;
    e.restart_count = env_int("SLURM_RESTART_COUNT", 0);
  }
  if (env("OMPI_COMM_WORLD_SIZE")) {
    e.launcher = "mpirun";
    e.under_mpi_launcher = true;
    e.rank = env_int("OMPI_COMM_WORLD_RANK", 0);
    e.size = env_int("OMPI_COMM_WORLD_SIZE", 1);
    e.local_rank = env_int("OMPI_COMM_WORLD_LOCAL_RANK", 0);
    e.local_size = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
    e.node_id = env_int("OMPI_COMM_WORLD_NODE_RANK", 0);
  } else if (env("SLURM_STEP_ID") && env("SLURM_PROCID")) {
    e.launcher = "srun";
    e.under_mpi_launcher = env("PMIX_RANK") != nullptr || env("PMI_RANK") != nullptr;
    e.rank = env_int("SLURM_PROCID", 0);
    e.size = env_int("SLURM_NTASKS", 1);
    e.local_rank = env_int("SLURM_LOCALID", 0);
    e.node_id = env_int("SLURM_NODEID", 0);
    e.local_size = slurm_tasks_on_node(e.node_id);
  } else if (env("PMIX_RANK")) {
    e.launcher = "pmix";
    e.under_mpi_launcher = true;
    e.rank = env_int("PMIX_RANK", 0);
  }
  return e;
}

std::string describe(const LaunchEnv& e) {
  std::ostringstream os;
  os << e.launcher;
  if (e.under_slurm) os << " job " << e.job_id << (e.restart_count ? " restart " + std::to_string(e.restart_count) : "");
  os << " node " << e.node << " rank " << e.rank << "/" << e.size << " local " << e.local_rank << "/"
     << e.local_size;
  return os.str();
}

}  // namespace ofa::dist
