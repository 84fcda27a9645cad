// Reducer implementation (see reducer.h): bucket layout, autograd hooks, the comm thread.
#include "dist/reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <cstring>

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
  int next = 0;           // next bucket to reduce (by the comm thread, or by finish())
  bool busy = false;      // the comm thread is reducing bucket `next`
  bool draining = false;  // finish() reduces the remaining buckets itself: no thread hand-off
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

// Copies between a gradient and its slice of the bucket. Contiguous CPU gradients go through
// memcpy: a bucket holds hundreds of small tensors, and per-op dispatch would dominate.
void copy_slice(torch::Tensor& flat, int64_t off, torch::Tensor& g, bool into_flat) {
  if (flat.is_cpu() && g.is_cpu() && g.is_contiguous()) {
    auto* f = static_cast<char*>(flat.data_ptr()) + off * flat.element_size();
    const size_t n = static_cast<size_t>(g.numel() * g.element_size());
    if (into_flat)
      std::memcpy(f, g.data_ptr(), n);
    else
      std::memcpy(g.data_ptr(), f, n);
  } else if (into_flat) {
    flat.narrow(0, off, g.numel()).copy_(g.reshape({-1}));
  } else {
    g.copy_(flat.narrow(0, off, g.numel()).view_as(g));
  }
}

void Reducer::State::reduce_bucket(Bucket& b) {
  torch::NoGradGuard no_grad;
  int64_t off = 0;
  for (int i : b.params) {
    auto g = params[i].mutable_grad();
    copy_slice(b.flat, off, g, /*into_flat=*/true);
    off += g.numel();
  }
  comm->all_reduce(b.flat, ReduceOp::kSum);
  b.flat.div_(static_cast<double>(comm->size()));
  off = 0;
  for (int i : b.params) {
    auto g = params[i].mutable_grad();
    copy_slice(b.flat, off, g, /*into_flat=*/false);
    off += g.numel();
  }
}

void Reducer::State::run() {
  for (;;) {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] {
      return stop || (!draining && next < static_cast<int>(buckets.size()) && buckets[next].ready);
    });
    if (stop) return;
    Bucket& b = buckets[next];
    busy = true;
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
    busy = false;
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

void Reducer::arm(const torch::Tensor& loss) {
  if (s_->comm->size() == 1) return;
  // Every autograd node the loss reaches; a parameter whose accumulator is not among them gets
  // no gradient from this backward.
  std::unordered_set<const torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack;
  if (loss.defined() && loss.grad_fn()) stack.push_back(loss.grad_fn().get());
  while (!stack.empty()) {
    auto* node = stack.back();
    stack.pop_back();
    if (!seen.insert(node).second) continue;
    for (const auto& edge : node->next_edges())
      if (edge.function) stack.push_back(edge.function.get());
  }
  std::lock_guard<std::mutex> lock(s_->mu);
  s_->armed = true;
  for (size_t i = 0; i < s_->params.size(); ++i) {
    if (s_->accumulators.empty() || seen.count(s_->accumulators[i].get())) continue;
    auto& p = s_->params[i];
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);  // before its bucket can go
    Bucket& b = s_->buckets[s_->bucket_of[i]];
    if (--b.pending == 0) b.ready = true;
  }
  s_->cv.notify_all();
}

void Reducer::finish() {
  const auto t0 = Clock::now();
  // Undefined gradients (parameter used by no subnet this step) become zeros. The comm thread
  // only touches buckets marked ready, and a bucket with an unfired parameter is not ready yet.
  for (auto& p : s_->params)
    if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
  if (s_->comm->size() == 1) return;
  std::unique_lock<std::mutex> lock(s_->mu);
  // Backward is over: whatever the comm thread has not started, this thread reduces itself, in the
  // same bucket order (a hand-off to a thread sharing the core would only add latency now).
  s_->draining = true;
  s_->cv.wait(lock, [&] { return !s_->busy; });
  while (s_->next < static_cast<int>(s_->buckets.size()) && !s_->error) {
    Bucket& b = s_->buckets[s_->next];
    lock.unlock();
    const auto t1 = Clock::now();
    try {
      s_->reduce_bucket(b);
    } catch (...) {
      lock.lock();
      s_->error = std::current_exception();
      break;
    }
    lock.lock();
    s_->stats.comm_seconds += std::chrono::duration<double>(Clock::now() - t1).count();
    ++s_->next;
  }
  s_->draining = false;
  // Reset for the next step.
  for (auto& b : s_->buckets) {
    b.ready = false;
    b.pending = static_cast<int>(b.params.size());
  }
  s_->armed = false;
  s_->next = 0;
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
