// The NCCL backend: GPU collectives for CUDA tensors. The unique id travels over the bootstrap
// communicator (MPI), each rank binds the GPU of its local rank. The only file with <nccl.h>.
// Collectives run on the communicator's own non-blocking stream, after the work already queued on
// the device's legacy default stream (where LibTorch's kernels, the backward's included, go in
// this program: an event recorded there, waited on by our stream), and synchronise that stream
// before return, so callers see finished results like with MPI, while compute kernels queued
// meanwhile keep running (the reducer's comm thread overlaps them). Every call sets the device
// first: the comm thread, like every new thread, starts on device 0.
#include <cuda_runtime_api.h>
#include <nccl.h>

#include "core/error.h"
#include "core/log.h"
#include "dist/comm_impl.h"

#define OFA_CUDA_CHECK(call)                                                                 \
  do {                                                                                       \
    cudaError_t e_ = (call);                                                                 \
    if (e_ != cudaSuccess)                                                                   \
      ::ofa::fail(::ofa::ErrorKind::kInternal, #call, " failed at ", __FILE__, ":", __LINE__, \
                  " on rank ", rank_, ": ", cudaGetErrorString(e_));                         \
  } while (0)
#define OFA_NCCL_CHECK(call)                                                                 \
  do {                                                                                       \
    ncclResult_t r_ = (call);                                                                \
    if (r_ != ncclSuccess)                                                                   \
      ::ofa::fail(::ofa::ErrorKind::kInternal, #call, " failed at ", __FILE__, ":", __LINE__, \
                  " on rank ", rank_, ": ", ncclGetErrorString(r_));                         \
  } while (0)

namespace ofa::dist {
namespace {

ncclDataType_t nccl_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat: return ncclFloat32;
    case torch::kDouble: return ncclFloat64;
    case torch::kHalf: return ncclFloat16;
    case torch::kInt: return ncclInt32;
    case torch::kLong: return ncclInt64;
    case torch::kByte: return ncclUint8;
    case torch::kChar: return ncclInt8;
    default: fail(ErrorKind::kUsage, "NCCL communicator: unsupported dtype ", t.scalar_type());
  }
}

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum: return ncclSum;
    case ReduceOp::kMax: return ncclMax;
    case ReduceOp::kMin: return ncclMin;
  }
  return ncclSum;
}

class NcclImpl final : public CommImpl {
 public:
  explicit NcclImpl(Communicator& bootstrap)
      : bootstrap_(&bootstrap), rank_(bootstrap.rank()), size_(bootstrap.size()) {
    int devices = 0;
    OFA_CUDA_CHECK(cudaGetDeviceCount(&devices));
    OFA_CHECK(devices > 0, "NCCL communicator: no CUDA device visible on rank ", rank_);
    device_ = bootstrap.local_rank() % devices;
    OFA_CUDA_CHECK(cudaSetDevice(device_));
    ncclUniqueId id;
    if (rank_ == 0) OFA_NCCL_CHECK(ncclGetUniqueId(&id));
    auto bytes = torch::empty({static_cast<int64_t>(sizeof id)}, torch::kUInt8);
    if (rank_ == 0) std::memcpy(bytes.data_ptr(), &id, sizeof id);
    bootstrap.broadcast(bytes, 0);
    std::memcpy(&id, bytes.data_ptr(), sizeof id);
    OFA_NCCL_CHECK(ncclCommInitRank(&comm_, size_, id, rank_));
    OFA_CUDA_CHECK(cudaMalloc(&scratch_, sizeof(float)));
    OFA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    OFA_CUDA_CHECK(cudaEventCreateWithFlags(&queued_, cudaEventDisableTiming));
    log::debug("NCCL rank ", rank_, " bound to GPU ", device_);
  }
  ~NcclImpl() override {
    if (queued_) cudaEventDestroy(queued_);
    if (stream_) cudaStreamDestroy(stream_);
    if (scratch_) cudaFree(scratch_);
    if (comm_) ncclCommDestroy(comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return bootstrap_->local_rank(); }
  int local_size() const override { return bootstrap_->local_size(); }
  std::string name() const override { return "nccl"; }

  void barrier() override {
    enter();
    OFA_NCCL_CHECK(ncclAllReduce(scratch_, scratch_, 1, ncclFloat32, ncclSum, comm_, stream_));
    sync();
  }
  void broadcast(torch::Tensor& t, int root) override {
    check_cuda(t);
    enter();
    OFA_NCCL_CHECK(ncclBroadcast(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), root, comm_, stream_));
    sync();
  }
  void all_reduce(torch::Tensor& t, ReduceOp op) override {
    check_cuda(t);
    enter();
    OFA_NCCL_CHECK(ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), nccl_op(op), comm_, stream_));
    sync();
  }
  void all_gather(const torch::Tensor& in, torch::Tensor& out) override {
    check_cuda(in);
    enter();
    OFA_NCCL_CHECK(ncclAllGather(in.data_ptr(), out.data_ptr(), in.numel(), nccl_type(in), comm_, stream_));
    sync();
  }
  [[noreturn]] void abort(int code) override {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
    bootstrap_->abort(code);
  }

 private:
  void check_cuda(const torch::Tensor& t) const {
    OFA_CHECK(t.is_cuda(), "NCCL communicator needs CUDA tensors (got ", t.device(), ")");
  }
  // Before a collective: this thread on our device, our stream behind what is queued so far.
  void enter() {
    OFA_CUDA_CHECK(cudaSetDevice(device_));
    OFA_CUDA_CHECK(cudaEventRecord(queued_, nullptr));
    OFA_CUDA_CHECK(cudaStreamWaitEvent(stream_, queued_, 0));
  }
  void sync() { OFA_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  Communicator* bootstrap_;
  int rank_, size_, device_ = 0;
  ncclComm_t comm_ = nullptr;
  void* scratch_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t queued_ = nullptr;
};

}  // namespace

std::unique_ptr<CommImpl> make_nccl_impl(Communicator& bootstrap) { return std::make_unique<NcclImpl>(bootstrap); }

}  // namespace ofa::dist
