// The MPI backend (Open MPI over MPI_COMM_WORLD). The only file that includes <mpi.h>.
// Every MPI return code goes through OFA_MPI_CHECK, which throws with the call, rank and host.
#include <mpi.h>

#include <cstdlib>

#include "core/error.h"
#include "dist/comm_impl.h"
#include "dist/launch_env.h"

#define OFA_MPI_CHECK(call)                                                                        \
  do {                                                                                             \
    int rc_ = (call);                                                                              \
    if (rc_ != MPI_SUCCESS) {                                                                      \
      char msg_[MPI_MAX_ERROR_STRING];                                                             \
      int len_ = 0;                                                                                \
      MPI_Error_string(rc_, msg_, &len_);                                                          \
      ::ofa::fail(::ofa::ErrorKind::kInternal, #call, " failed at ", __FILE__, ":", __LINE__,     \
                  " on rank ", rank_, " (", host_, "): ", std::string(msg_, len_));                \
    }                                                                                              \
  } while (0)

namespace ofa::dist {
namespace {

MPI_Datatype mpi_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat: return MPI_FLOAT;
    case torch::kDouble: return MPI_DOUBLE;
    case torch::kInt: return MPI_INT;
    case torch::kLong: return MPI_INT64_T;
    case torch::kByte: return MPI_UINT8_T;
    case torch::kChar: return MPI_INT8_T;
    default: fail(ErrorKind::kUsage, "MPI communicator: unsupported dtype ", t.scalar_type());
  }
}

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return MPI_SUM;
    case ReduceOp::kMax: return MPI_MAX;
    case ReduceOp::kMin: return MPI_MIN;
  }
  return MPI_SUM;
}

void check_cpu(const torch::Tensor& t) {
  OFA_CHECK(t.device().is_cpu(), "MPI communicator needs CPU tensors (got ", t.device(), "); use NCCL for CUDA");
}

class MpiImpl final : public CommImpl {
 public:
  MpiImpl() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      // THREAD_MULTIPLE: the gradient reducer runs collectives from its own thread.
      if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        fail(ErrorKind::kInternal, "MPI_Init_thread failed");
      owns_mpi_ = true;
      thread_level_ = provided;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    host_ = read_launch_env().node;
    OFA_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &rank_));
    OFA_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &size_));
    OFA_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_comm_));
    OFA_MPI_CHECK(MPI_Comm_rank(node_comm_, &local_rank_));
    OFA_MPI_CHECK(MPI_Comm_size(node_comm_, &local_size_));
  }
  ~MpiImpl() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (finalized) return;
    MPI_Comm_free(&node_comm_);
    if (owns_mpi_) MPI_Finalize();
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string name() const override { return "mpi"; }
  void barrier() override { OFA_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD)); }

  void broadcast(torch::Tensor& t, int root) override {
    check_cpu(t);
    for_chunks(t, [&](void* p, int n) { OFA_MPI_CHECK(MPI_Bcast(p, n, mpi_type(t), root, MPI_COMM_WORLD)); });
  }
  void all_reduce(torch::Tensor& t, ReduceOp op) override {
    check_cpu(t);
    for_chunks(t, [&](void* p, int n) {
      OFA_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, p, n, mpi_type(t), mpi_op(op), MPI_COMM_WORLD));
    });
  }
  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    check_cpu(in);
    OFA_CHECK(in.numel() <= INT32_MAX, "all_gather: tensor too large");
    OFA_MPI_CHECK(MPI_Allgather(in.data_ptr(), static_cast<int>(in.numel()), mpi_type(in), out.data_ptr(),
                                static_cast<int>(in.numel()), mpi_type(in), MPI_COMM_WORLD));
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  // MPI counts are int: split very large tensors into chunks of at most 2^30 elements.
  template <class F>
  void for_chunks(torch::Tensor& t, F&& f) {
    const int64_t kChunk = int64_t{1} << 30;
    auto* base = static_cast<char*>(t.data_ptr());
    const int64_t elem = t.element_size();
    for (int64_t off = 0; off < t.numel(); off += kChunk) {
      const int64_t n = std::min(kChunk, t.numel() - off);
      f(base + off * elem, static_cast<int>(n));
    }
  }

  bool owns_mpi_ = false;
  int thread_level_ = 0;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  MPI_Comm node_comm_ = MPI_COMM_NULL;
  std::string host_;
};

}  // namespace

std::unique_ptr<CommImpl> make_mpi_impl() { return std::make_unique<MpiImpl>(); }

}  // namespace ofa::dist
