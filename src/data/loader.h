// The prefetching batch loader: worker threads transform the images of the next batches while the
// caller trains on the current one. A batch is a BatchJob: the submitting thread has already read
// its raw rows (every Dataset call, hence every HDF5 call, stays on that one thread: HDF5 is built
// without thread safety), and the job's `fill(begin, end)` turns images [begin, end) into their
// slots of the preallocated output. Workers take chunks of the oldest unfinished job first, so
// batches complete in order. Memory is bounded by the caller (at most `prefetch` jobs in flight);
// an exception in a worker is kept with its job and rethrown by take(), message and kind intact.
#pragma once
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <condition_variable>
#include <thread>
#include <vector>

#include "data/dataset.h"

namespace ofa::data {

/// One batch's work: the output (allocated by whoever built the job) and how to fill a range of
/// its images. fill must be safe to call concurrently for disjoint ranges.
struct BatchJob {
  Batch out;
  int64_t size = 0;   // images in the batch
  int64_t grain = 16; // images per work chunk
  std::function<void(int64_t begin, int64_t end)> fill;
};

struct LoaderOptions {
  int threads = 1;   // worker threads (>= 1)
  int prefetch = 2;  // batches in flight (the caller keeps to it; the loader checks)
};

/// Runs the BatchJob in the calling thread: what the loader does with threads = 0.
Batch run_job(BatchJob job);

class Loader {
 public:
  explicit Loader(LoaderOptions options);
  ~Loader();  // discards what is in flight and joins the workers
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  /// Queues a job under the caller's key (keys of jobs in flight must differ).
  void submit(uint64_t key, BatchJob job);
  /// Keys in flight, oldest first.
  std::vector<uint64_t> pending() const;
  /// Waits for the oldest job, which must have `key`, removes it and returns its batch; rethrows
  /// the first exception a worker met while filling it.
  Batch take(uint64_t key);
  /// Drops every job in flight (waits for chunks already running).
  void clear();
  int threads() const { return int(workers_.size()); }

 private:
  struct Slot {
    uint64_t key = 0;
    BatchJob job;
    int64_t next = 0;     // first image not yet handed to a worker
    int64_t running = 0;  // chunks being filled now
    int64_t done = 0;     // images filled (or skipped after an error)
    std::exception_ptr error;
    bool cancelled = false;
  };
  void work();

  LoaderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::deque<std::shared_ptr<Slot>> slots_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace ofa::data
