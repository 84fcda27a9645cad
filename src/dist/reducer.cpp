// Reducer implementation (see reducer.h): bucket layout, autograd hooks, the comm thread.
#include "dist/reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace ofa::dist {

using Clock = std::chrono::steady_clock;

struct Bucket {
  std::vector<int> params;  // indices into State::params
  torch::Tensor flat;       // reusable staging buffer
  int pending = 0;          // params not yet fired in this backward
  bool ready = false;
};

struct Reducer::State {
  Communicator* comm = nullptr;
  ReducerOptions opts;
  std::vector<torch::Tensor> params;
  std::vector<int> bucket_of;  // param index -> bucket
  std::vector<Bucket> buckets;
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators;  // keep hooks alive
  std::vector<uintptr_t> hook_keys;  // removed in ~Reducer: parameters may outlive us

  std::mutex mu;
  std::condition_variable cv;
  bool armed = false;
  bool stop = false;
  int next = 0;  // next bucket the comm thread reduces
  int done = 0;  // buckets finished this step
  std::thread worker;
  ReducerStats stats;  // being accumulated this step
  ReducerStats last;   // the previous finished step
  std::exception_ptr error;

  void mark_ready(int param) {
    std::lock_guard<std::mutex> lock(mu);
    if (!armed) return;
    Bucket& b = buckets[bucket_of[param]];
    if (--b.pending == 0) {
      b.ready = true;
      cv.notify_all();
    }
  }
  void reduce_bucket(Bucket& b);
  void run();
};

namespace {
// Fires after AccumulateGrad wrote the parameter's .grad for this backward.
struct ReadyHook final : torch::autograd::FunctionPostHook {
  ReadyHook(Reducer::State* s, int i) : state(s), index(i) {}
  torch::autograd::variable_list operator()(const torch::autograd::variable_list& outputs,
                                            const torch::autograd::variable_list&) override {
    state->mark_ready(index);
    return outputs;
  }
  Reducer::State* state;
  int index;
};
}  // namespace

void Reducer::State::reduce_bucket(Bucket& b) {
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (int i : b.params) {
    auto g = params[i].mutable_grad();
    const int64_t n = g.numel();
    b.flat.narrow(0, off, n).copy_(g.reshape({-1}));
    off += n;
  }
  comm->all_reduce(b.flat, ReduceOp::kSum);
  b.flat.div_(static_cast<double>(comm->size()));
  off = 0;
  for (int i : b.params) {
    auto g = params[i].mutable_grad();
    g.copy_(b.flat.narrow(0, off, g.numel()).view_as(g));
    off += g.numel();
  }
}

void Reducer::State::run() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return stop || (next < static_cast<int>(buckets.size()) && buckets[next].ready); });
    if (stop) return;
    Bucket& b = buckets[next];
    lock.unlock();
    const auto t0 = Clock::now();
    try {
      reduce_bucket(b);
    } catch (...) {
      std::lock_guard<std::mutex> relock(mu);
      error = std::current_exception();
    }
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    lock.lock();
    stats.comm_seconds += dt;
    ++next;
    ++done;
    cv.notify_all();
  }
}

Reducer::Reducer(Communicator& comm, std::vector<torch::Tensor> params, ReducerOptions opts)
    : s_(std::make_unique<State>()) {
  s_->comm = &comm;
  s_->opts = opts;
  s_->params = std::move(params);
  const int n = static_cast<int>(s_->params.size());
  s_->bucket_of.assign(n, -1);
  // Reverse registration order: the last layers' gradients are computed first in backward.
  int64_t bytes = 0, limit = opts.first_bucket_bytes;
  for (int i = n - 1; i >= 0; --i) {
    const auto& p = s_->params[i];
    OFA_CHECK(p.requires_grad() && p.is_leaf(), "Reducer: parameter ", i, " is not a trainable leaf");
    OFA_CHECK(p.scalar_type() == s_->params[n - 1].scalar_type(), "Reducer: parameters must share one dtype");
    const int64_t pb = p.numel() * p.element_size();
    if (s_->buckets.empty() || (bytes > 0 && bytes + pb > limit)) {
      if (!s_->buckets.empty()) limit = opts.bucket_bytes;
      s_->buckets.emplace_back();
      bytes = 0;
    }
    s_->buckets.back().params.push_back(i);
    s_->bucket_of[i] = static_cast<int>(s_->buckets.size()) - 1;
    bytes += pb;
    s_->stats.bytes += pb;
  }
  s_->stats.buckets = static_cast<int>(s_->buckets.size());
  s_->last = s_->stats;
  for (auto& b : s_->buckets) {
    int64_t numel = 0;
    for (int i : b.params) numel += s_->params[i].numel();
    b.flat = torch::empty({numel}, s_->params[b.params[0]].options().requires_grad(false));
    b.pending = static_cast<int>(b.params.size());
  }
  if (comm.size() == 1) return;  // nothing to average: finish() only fills missing grads
  if (opts.overlap) {
    for (int i = 0; i < n; ++i) {
      auto acc = torch::autograd::impl::grad_accumulator(s_->params[i]);
      s_->hook_keys.push_back(acc->add_post_hook(std::make_unique<ReadyHook>(s_.get(), i)));
      s_->accumulators.push_back(std::move(acc));
    }
  }
  s_->worker = std::thread([state = s_.get()] { state->run(); });
}

Reducer::~Reducer() {
  for (size_t i = 0; i < s_->accumulators.size(); ++i) s_->accumulators[i]->del_post_hook(s_->hook_keys[i]);
  if (s_->worker.joinable()) {
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      s_->stop = true;
    }
    s_->cv.notify_all();
    s_->worker.join();
  }
}

void Reducer::arm() {
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->armed = true;
}

void Reducer::finish() {
  const auto t0 = Clock::now();
  // Undefined gradients (parameter used by no subnet this step) become zeros. The comm thread
  // only touches buckets marked ready, and a bucket with an unfired parameter is not ready yet.
  for (auto& p : s_->params)
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  if (s_->comm->size() == 1) return;
  std::unique_lock<std::mutex> lock(s_->mu);
  for (auto& b : s_->buckets) b.ready = true;
  s_->cv.notify_all();
  s_->cv.wait(lock, [&] { return s_->done == static_cast<int>(s_->buckets.size()); });
  // Reset for the next step.
  for (auto& b : s_->buckets) {
    b.ready = false;
    b.pending = static_cast<int>(b.params.size());
  }
  s_->armed = false;
  s_->next = 0;
  s_->done = 0;
  s_->stats.wait_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  s_->last = s_->stats;
  s_->stats.comm_seconds = 0;
  if (s_->error) {
    auto e = s_->error;
    s_->error = nullptr;
    std::rethrow_exception(e);
  }
}

int Reducer::num_buckets() const { return static_cast<int>(s_->buckets.size()); }
std::vector<int> Reducer::bucket_params(int b) const { return s_->buckets.at(b).params; }
const ReducerStats& Reducer::last_stats() const { return s_->last; }

}  // namespace ofa::dist
