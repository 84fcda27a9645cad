// `ofa version`: the version and what this build contains (MPI, parallel HDF5, NCCL, CUDA),
// plus how this process was tuned. Cluster users check a new build with it.
#include <CLI/CLI.hpp>
#include <torch/version.h>

#include <iostream>

#include "cli/commands.h"
#include "ofa/build_config.h"
#include <torch/cuda.h>

namespace ofa::cli {
namespace {

int run_version(Context& ctx) {
  if (ctx.comm.rank() != 0) return 0;
  auto yn = [](bool b) { return b ? "yes" : "no"; };
  std::cout << "ofa " << OFA_VERSION << " (" << OFA_BUILD_TYPE << ", linker " << OFA_LINKER << ")\n"
            << "  libtorch        " << TORCH_VERSION << "\n"
            << "  MPI             " << yn(OFA_HAVE_MPI) << "\n"
            << "  parallel HDF5   " << yn(OFA_HDF5_PARALLEL) << "\n"
            << "  NCCL            " << (OFA_HAVE_NCCL ? "compiled" : "not compiled") << "\n"
            << "  CUDA            " << (torch::cuda::is_available() ? "available" : "not available")
            << " (libtorch built " << (OFA_HAVE_CUDA_TORCH ? "with" : "without") << " CUDA)\n"
            << "  allocator       " << ctx.tuning.allocator << "\n"
            << "  threads/rank    " << ctx.tuning.threads << " (" << ctx.tuning.threads_source << ")\n"
            << "  ranks           " << ctx.comm.size() << " (" << ctx.comm.backend() << ", "
            << dist::describe(ctx.env) << ")\n";
  return 0;
}

}  // namespace

void add_version_command(CLI::App& root, Registry& reg) {
  auto* app =
      root.add_subcommand("version", "print the version and the build's features (MPI, parallel HDF5, NCCL, CUDA)");
  reg.add(app, run_version);
}

}  // namespace ofa::cli
