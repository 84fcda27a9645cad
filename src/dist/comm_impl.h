// Backend interface behind Communicator (private to src/dist). Tensors reaching a backend are
// already checked contiguous; the backend maps dtypes and runs the collective.
#pragma once
#include <torch/types.h>

#include <string>

#include "dist/communicator.h"

namespace ofa::dist {

class CommImpl {
 public:
  virtual ~CommImpl() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  virtual std::string name() const = 0;
  virtual void barrier() = 0;
  virtual void broadcast(torch::Tensor& t, int root) = 0;
  virtual void all_reduce(torch::Tensor& t, ReduceOp op) = 0;
  virtual void all_gather(const torch::Tensor& in, torch::Tensor& out) = 0;
  [[noreturn]] virtual void abort(int code) = 0;
};

std::unique_ptr<CommImpl> make_mpi_impl();
std::unique_ptr<CommImpl> make_nccl_impl(Communicator& bootstrap);

}  // namespace ofa::dist
