// The narrow collective interface every module talks to: rank/size, barrier, broadcast,
// all_reduce (in place), all_gather, abort. Move-only with a hidden backend (serial, MPI, NCCL);
// only comm_mpi.cpp includes <mpi.h> and only comm_nccl.cpp includes <nccl.h>.
#pragma once
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

#include "dist/watchdog.h"

namespace ofa::dist {

enum class ReduceOp { kSum, kMax, kMin };

class CommImpl;  // backend interface, see comm_impl.h

class Communicator {
 public:
  explicit Communicator(std::unique_ptr<CommImpl> impl);
  Communicator(Communicator&&) noexcept;
  Communicator& operator=(Communicator&&) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator();

  int rank() const;
  int size() const;
  int local_rank() const;   // rank among the processes on this node
  int local_size() const;
  std::string backend() const;  // "serial", "mpi", "nccl"

  void barrier();
  /// Broadcast a contiguous tensor in place from root.
  void broadcast(torch::Tensor& t, int root = 0);
  /// Broadcast a byte string (e.g. JSON) from root; every rank ends with root's string.
  void broadcast_string(std::string& s, int root = 0);
  /// In-place reduction of a contiguous tensor across all ranks.
  void all_reduce(torch::Tensor& t, ReduceOp op = ReduceOp::kSum);
  /// Gathers every rank's tensor (same shape everywhere) into [size, ...t.shape].
  torch::Tensor all_gather(const torch::Tensor& t);
  /// Every rank's byte string, by rank, on every rank (strings of any lengths: two all_gathers,
  /// the lengths then the bytes padded to the longest).
  std::vector<std::string> all_gather_strings(const std::string& mine);
  /// Tears down every rank of the job (MPI_Abort); for errors on one rank.
  [[noreturn]] void abort(int code);

  CommImpl& impl() { return *impl_; }

  /// Puts every later collective of this communicator under a deadline (dist.timeout_s; see
  /// watchdog.h). No-op on one rank or with timeout_s = 0.
  void start_watchdog(const WatchdogOptions& options);
  /// What this rank is doing, for a stall message ("phase 0 step 12").
  void set_watch_context(const std::string& what);
  /// A longer deadline for the collectives of a slow section (checkpoint I/O); 0 restores it.
  void set_deadline_override(double seconds);

 private:
  struct Watch;
  std::unique_ptr<CommImpl> impl_;
  std::unique_ptr<Watchdog> watchdog_;
};

/// One process, no MPI: every collective is the identity.
Communicator make_serial();
/// Open MPI over MPI_COMM_WORLD (initialises MPI with thread support if nobody did).
/// Throws if this build has no MPI.
Communicator make_mpi();
/// NCCL on the GPU given by the bootstrap communicator's local rank; the unique id is
/// broadcast over `bootstrap` (MPI). Throws if this build has no NCCL.
Communicator make_nccl(Communicator& bootstrap);
/// "auto": MPI when the process was started by mpirun/mpiexec/srun with PMIx (see launch_env),
/// else serial. "serial" and "mpi" force a backend.
Communicator make_communicator(const std::string& kind = "auto");
/// Whether this build contains each backend.
bool has_mpi();
bool has_nccl();

}  // namespace ofa::dist
