// Communicator front end: argument checks shared by all backends, the serial backend, and the
// backend choice. Backends live in comm_mpi.cpp / comm_nccl.cpp.
#include "dist/communicator.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "dist/comm_impl.h"
#include "dist/launch_env.h"
#include "ofa/build_config.h"

namespace ofa::dist {
namespace {

class SerialImpl final : public CommImpl {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string name() const override { return "serial"; }
  void barrier() override {}
  void broadcast(torch::Tensor&, int) override {}
  void all_reduce(torch::Tensor&, ReduceOp) override {}
  void all_gather(const torch::Tensor& in, torch::Tensor& out) override { out[0].copy_(in); }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }
};

void check_tensor(const torch::Tensor& t, const char* what) {
  OFA_CHECK(t.defined(), what, ": undefined tensor");
  OFA_CHECK(t.is_contiguous(), what, ": tensor must be contiguous");
}

}  // namespace

// A collective's span for the watchdog (nothing without one).
struct Communicator::Watch {
  Watchdog* w;
  Watch(Watchdog* wd, const char* name) : w(wd) {
    if (w) w->enter(name);
  }
  ~Watch() {
    if (w) w->leave();
  }
};

void Communicator::start_watchdog(const WatchdogOptions& options) {
  if (size() == 1 || options.timeout_s <= 0) return;
  watchdog_.reset();  // a second call replaces the first
  CommImpl* impl = impl_.get();
  watchdog_ = std::make_unique<Watchdog>(rank(), size(), options, [impl](int code) { impl->abort(code); });
}

void Communicator::set_watch_context(const std::string& what) {
  if (watchdog_) watchdog_->set_context(what);
}

void Communicator::set_deadline_override(double seconds) {
  if (watchdog_) watchdog_->set_deadline_override(seconds);
}

Communicator::Communicator(std::unique_ptr<CommImpl> impl) : impl_(std::move(impl)) {
  OFA_ASSERT(impl_ != nullptr, "null communicator backend");
}
Communicator::Communicator(Communicator&&) noexcept = default;
Communicator& Communicator::operator=(Communicator&&) noexcept = default;
Communicator::~Communicator() = default;

int Communicator::rank() const { return impl_->rank(); }
int Communicator::size() const { return impl_->size(); }
int Communicator::local_rank() const { return impl_->local_rank(); }
int Communicator::local_size() const { return impl_->local_size(); }
std::string Communicator::backend() const { return impl_->name(); }
void Communicator::barrier() {
  Watch w(watchdog_.get(), "barrier");
  impl_->barrier();
}

void Communicator::broadcast(torch::Tensor& t, int root) {
  check_tensor(t, "broadcast");
  OFA_CHECK(root >= 0 && root < size(), "broadcast: root ", root, " out of range");
  Watch w(watchdog_.get(), "broadcast");
  impl_->broadcast(t, root);
}

void Communicator::broadcast_string(std::string& s, int root) {
  if (size() == 1) return;
  auto len = torch::tensor({static_cast<int64_t>(s.size())}, torch::kInt64);
  broadcast(len, root);
  auto bytes = torch::empty({len.item<int64_t>()}, torch::kUInt8);
  if (rank() == root && !s.empty()) std::memcpy(bytes.data_ptr(), s.data(), s.size());  // no memcpy to null
  broadcast(bytes, root);
  if (bytes.numel() == 0) s.clear();
  else s.assign(reinterpret_cast<const char*>(bytes.data_ptr()), static_cast<size_t>(bytes.numel()));
}

std::vector<std::string> Communicator::all_gather_strings(const std::string& mine) {
  auto len = torch::tensor({static_cast<int64_t>(mine.size())}, torch::kInt64);
  auto lens = all_gather(len);
  const int64_t longest = lens.max().item<int64_t>();
  auto bytes = torch::zeros({longest}, torch::kUInt8);
  if (!mine.empty()) std::memcpy(bytes.data_ptr<uint8_t>(), mine.data(), mine.size());  // no memcpy to null
  auto all = all_gather(bytes).contiguous();
  std::vector<std::string> out;
  for (int r = 0; r < size(); ++r) {
    const auto* p = reinterpret_cast<const char*>(all[r].data_ptr<uint8_t>());
    out.emplace_back(p, static_cast<size_t>(lens[r].item<int64_t>()));
  }
  return out;
}

void Communicator::all_reduce(torch::Tensor& t, ReduceOp op) {
  check_tensor(t, "all_reduce");
  Watch w(watchdog_.get(), "all_reduce");
  impl_->all_reduce(t, op);
}

torch::Tensor Communicator::all_gather(const torch::Tensor& t) {
  auto in = t.contiguous();
  std::vector<int64_t> shape{size()};
  for (auto s : in.sizes()) shape.push_back(s);
  auto out = torch::empty(shape, in.options());
  Watch w(watchdog_.get(), "all_gather");
  impl_->all_gather(in, out);
  return out;
}

void Communicator::abort(int code) {
  impl_->abort(code);
  std::abort();  // not reached: every backend's abort ends the process
}

Communicator make_serial() { return Communicator(std::make_unique<SerialImpl>()); }

bool has_mpi() { return OFA_HAVE_MPI != 0; }
bool has_nccl() { return OFA_HAVE_NCCL != 0; }

Communicator make_mpi() {
  OFA_CHECK(has_mpi(), "this build of ofa has no MPI (configure with -DOFA_WITH_MPI=ON)");
  return Communicator(make_mpi_impl());
}

Communicator make_nccl(Communicator& bootstrap) {
  OFA_CHECK(has_nccl(), "this build of ofa has no NCCL (configure with -DOFA_WITH_NCCL=ON)");
  return Communicator(make_nccl_impl(bootstrap));
}

Communicator make_communicator(const std::string& kind) {
  if (kind == "serial") return make_serial();
  if (kind == "mpi") return make_mpi();
  OFA_CHECK(kind == "auto", "unknown communicator '", kind, "' (auto, serial, mpi)");
  if (has_mpi() && read_launch_env().under_mpi_launcher) return make_mpi();
  return make_serial();
}

#if !OFA_HAVE_MPI
std::unique_ptr<CommImpl> make_mpi_impl() { fail(ErrorKind::kUsage, "no MPI in this build"); }
#endif
#if !OFA_HAVE_NCCL
std::unique_ptr<CommImpl> make_nccl_impl(Communicator&) { fail(ErrorKind::kUsage, "no NCCL in this build"); }
#endif

}  // namespace ofa::dist
