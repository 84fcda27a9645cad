// Loader (see loader.h): a fixed pool of workers over a FIFO of batch jobs, one mutex, two
// condition variables (work to do, a chunk finished). Each worker runs LibTorch ops with one
// intra-op thread: the parallelism is the pool's, and N workers x M OpenMP threads would
// oversubscribe the cores the training thread needs.
#include "data/loader.h"

#include <ATen/Parallel.h>
#include <omp.h>

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#include "core/error.h"

namespace ofa::data {

Batch run_job(BatchJob job) {
  if (job.size > 0) job.fill(0, job.size);
  return std::move(job.out);
}

Loader::Loader(LoaderOptions options) : options_(options) {
  OFA_CHECK(options_.threads >= 1, "the loader needs at least one worker thread, not ", options_.threads);
  OFA_CHECK(options_.prefetch >= 1, "the loader needs room for at least one batch, not ", options_.prefetch);
  for (int i = 0; i < options_.threads; ++i) workers_.emplace_back([this] { work(); });
}

Loader::~Loader() {
  clear();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Loader::submit(uint64_t key, BatchJob job) {
  OFA_CHECK(job.grain > 0, "batch job grain must be positive");
  auto slot = std::make_shared<Slot>();
  slot->key = key;
  slot->job = std::move(job);
  {
    std::lock_guard<std::mutex> lock(mu_);
    OFA_ASSERT(int(slots_.size()) < options_.prefetch, "loader: ", slots_.size(), " batches in flight already (prefetch ",
               options_.prefetch, ")");
    for (const auto& s : slots_) OFA_ASSERT(s->key != key, "loader: key ", key, " is already in flight");
    slots_.push_back(std::move(slot));
  }
  work_cv_.notify_all();
}

std::vector<uint64_t> Loader::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<uint64_t> keys;
  for (const auto& s : slots_) keys.push_back(s->key);
  return keys;
}

Batch Loader::take(uint64_t key) {
  std::unique_lock<std::mutex> lock(mu_);
  OFA_ASSERT(!slots_.empty() && slots_.front()->key == key, "loader: batch ", key, " is not the next one in flight");
  auto slot = slots_.front();
  done_cv_.wait(lock, [&] { return slot->done == slot->job.size && slot->running == 0; });
  slots_.pop_front();
  lock.unlock();
  if (slot->error) std::rethrow_exception(slot->error);
  return std::move(slot->job.out);
}

void Loader::clear() {
  std::unique_lock<std::mutex> lock(mu_);
  for (auto& s : slots_) {  // nothing more is handed out; chunks already running finish
    s->cancelled = true;
    s->done += s->job.size - s->next;
    s->next = s->job.size;
  }
  done_cv_.wait(lock, [&] {
    return std::all_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->running == 0; });
  });
  slots_.clear();
}

void Loader::work() {
  // LibTorch sets a new thread's OpenMP team size on its first parallel op: do that first, then
  // keep this thread's ops serial.
  at::internal::lazy_init_num_threads();
  omp_set_num_threads(1);
#ifdef SCHED_BATCH
  // Throughput work: a worker woken by submit() must not preempt the training thread when they
  // share a core (a rank bound to one core, the default under mpirun). Under SCHED_OTHER it did,
  // and the whole fill showed up as data wait inside get(); as a batch thread it runs in its fair
  // share of the step instead. A hint: where the policy cannot be set, nothing changes.
  sched_param normal{};
  normal.sched_priority = 0;
  (void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &normal);
#endif
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    std::shared_ptr<Slot> slot;
    work_cv_.wait(lock, [&] {
      if (stop_) return true;
      for (auto& s : slots_)
        if (s->next < s->job.size) {
          slot = s;
          return true;
        }
      return false;
    });
    if (stop_) return;
    const int64_t begin = slot->next, end = std::min(begin + slot->job.grain, slot->job.size);
    slot->next = end;
    ++slot->running;
    lock.unlock();
    std::exception_ptr error;
    try {
      slot->job.fill(begin, end);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    --slot->running;
    slot->done += end - begin;
    if (error && !slot->error) {
      slot->error = error;
      slot->done += slot->job.size - slot->next;  // the rest is skipped: the batch is lost anyway
      slot->next = slot->job.size;
    }
    done_cv_.notify_all();
  }
}

}  // namespace ofa::data
