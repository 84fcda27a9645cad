// Reducer implementation (see reducer.h): bucket layout, autograd hooks, the comm thread.
#include "dist/reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/variable.h>
#include <c10/util/strides.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "core/error.h"

namespace ofa::dist {

using Clock = std::chrono::steady_clock;

struct Bucket {
  std::vector<int> params;  // indices into State::params
  torch::Tensor flat;       // the gradients of `params` live here, back to back
  int pending = 0;          // params not yet fired in this backward
  bool ready = false;
};

struct Reducer::State {
  Communicator* comm = nullptr;
  ReducerOptions opts;
  std::vector<torch::Tensor> params;
  std::vector<int> bucket_of;  // param index -> bucket
  std::vector<torch::Tensor> alias;  // param index -> its gradient: a tensor on its bucket's storage
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
  /// Makes params[i].grad() the bucket-backed alias again: an undefined gradient becomes zeros,
  /// one that autograd or a caller put elsewhere is copied in. Returns false if nothing changed.
  bool bind(int i);
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

bool Reducer::State::bind(int i) {
  torch::Tensor& g = params[i].mutable_grad();
  // The common case, checked first by one pointer compare: the gradient still is our alias.
  if (g.unsafeGetTensorImpl() == alias[i].unsafeGetTensorImpl()) return false;
  if (g.defined() && g.data_ptr() == alias[i].data_ptr() && g.sizes() == alias[i].sizes()) return false;
  torch::NoGradGuard no_grad;
  if (g.defined())
    alias[i].copy_(g);
  else
    alias[i].zero_();
  g = alias[i];
  return true;
}

// The gradients already are the bucket: reduce it in place, nothing to pack or unpack.
void Reducer::State::reduce_bucket(Bucket& b) {
  torch::NoGradGuard no_grad;
  comm->all_reduce(b.flat, ReduceOp::kSum);
  if (!opts.prescaled) b.flat.div_(static_cast<double>(comm->size()));
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
  // Gradient-as-bucket-view (DDP's gradient_as_bucket_view): each parameter's .grad is a plain
  // tensor on its bucket's storage, so autograd accumulates straight into the bucket and the
  // all-reduce runs on it in place. Not an autograd view, so optimizers may detach_() it.
  s_->alias.resize(n);
  for (auto& b : s_->buckets) {
    int64_t numel = 0;
    for (int i : b.params) numel += s_->params[i].numel();
    const auto& first = s_->params[b.params[0]];
    b.flat = torch::zeros({numel}, first.options().requires_grad(false));
    int64_t off = 0;
    for (int i : b.params) {
      const auto& p = s_->params[i];
      s_->alias[i] = torch::empty({0}, b.flat.options()).set_(b.flat.storage(), off, p.sizes(),
                                                               c10::contiguous_strides(p.sizes()));
      off += p.numel();
      s_->bind(i);  // keeps a gradient the parameter already has
    }
    b.pending = static_cast<int>(b.params.size());
  }
  if (comm.size() == 1) return;  // nothing to average
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
  // Before the last backward: every gradient on its bucket (autograd adds in place from now on).
  for (size_t i = 0; i < s_->params.size(); ++i) s_->bind(static_cast<int>(i));
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
    Bucket& b = s_->buckets[s_->bucket_of[i]];
    if (--b.pending == 0) b.ready = true;
  }
  // No wake-up here: the comm thread starts at the first hook of the backward that follows, which
  // it then overlaps. Without a backward (all buckets ready now), finish() reduces them inline and
  // no thread hand-off is paid.
}

void Reducer::finish() {
  const auto t0 = Clock::now();
  if (s_->comm->size() == 1) {
    for (size_t i = 0; i < s_->params.size(); ++i) s_->bind(static_cast<int>(i));  // zeros for unused ones
    return;
  }
  std::unique_lock<std::mutex> lock(s_->mu);
  // Backward is over: whatever the comm thread has not started, this thread reduces itself, in the
  // same bucket order (a hand-off to a thread sharing the core would only add latency now).
  s_->draining = true;
  s_->cv.wait(lock, [&] { return !s_->busy; });
  // Gradients are on their buckets since arm(), unless arm() was skipped (a caller's own
  // backward): bind now, which only works for buckets not reduced yet.
  // (A late one is reported after the remaining buckets, so every rank still makes every call.)
  int late = -1;
  for (size_t i = 0; i < s_->params.size(); ++i)
    if (s_->bind(static_cast<int>(i)) && s_->bucket_of[i] < s_->next) late = static_cast<int>(i);
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
  OFA_ASSERT(late < 0, "Reducer: the gradient of parameter ", late,
            " was replaced after its bucket was reduced (arm() must come before the last backward)");
}

void Reducer::zero_grad() {
  torch::NoGradGuard no_grad;
  for (auto& b : s_->buckets) b.flat.zero_();
  for (size_t i = 0; i < s_->params.size(); ++i) s_->bind(static_cast<int>(i));
}

torch::Tensor Reducer::bucket(int b) const { return s_->buckets.at(b).flat; }

double Reducer::loss_scale() const { return s_->opts.prescaled ? 1.0 / s_->comm->size() : 1.0; }

int Reducer::num_buckets() const { return static_cast<int>(s_->buckets.size()); }
std::vector<int> Reducer::bucket_params(int b) const { return s_->buckets.at(b).params; }
const ReducerStats& Reducer::last_stats() const { return s_->last; }

}  // namespace ofa::dist
