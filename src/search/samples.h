// Accuracy samples for the predictor (`ofa search sample`): subnet number i of a sampling run is
// drawn from the trained choices with CounterRng(seed, {i}), BN-recalibrated and measured on the
// holdout split (what the trainer validates on). Ranks take whole subnets, each measuring on all
// holdout images with its own serial evaluator; every rank appends finished records to its own
// file DIR/samples.rank<r>.jsonl (one JSON object a line, flushed and fsynced per record), so a
// rerun after a kill or a preemption reads every rank's file, measures only the numbers missing
// (whatever the world size now), and never counts one twice. A torn last line (a kill during the
// write) is ignored on reading and cut off before the next append.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dist/communicator.h"
#include "eval/evaluator.h"
#include "supernet/ofa_mbv3.h"
#include "supernet/subnet_config.h"

namespace ofa::search {

struct SampleRecord {
  int64_t index = 0;
  supernet::SubnetConfig subnet;
  double accuracy = 0;  // top-1 on the holdout, [0, 1]
  double loss = 0;
  int64_t images = 0, macs = 0, params = 0;
  double seconds = 0;   // recalibration + evaluation of this subnet
  int rank = 0;
  nlohmann::json to_json() const;
  /// kData naming `where` on a missing or mistyped field.
  static SampleRecord from_json(const nlohmann::json& j, const std::string& where);
};

/// Subnet number `index` of a sampling run with `seed` over `choices` (a function of its inputs).
supernet::SubnetConfig sample_number(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
                                     uint64_t seed, int64_t index);

/// Every record in DIR/samples.rank*.jsonl by index (the first one read where a number appears
/// twice). A last line without its newline is ignored; any other bad line is kData naming the
/// file and line.
std::map<int64_t, SampleRecord> read_samples(const std::string& dir);

/// This rank's append-only record file.
class SampleLog {
 public:
  /// Opens (creates) DIR/samples.rank<r>.jsonl, cutting a torn last line off first.
  SampleLog(const std::string& dir, int rank);
  ~SampleLog();
  SampleLog(const SampleLog&) = delete;
  SampleLog& operator=(const SampleLog&) = delete;
  /// One line, flushed and fsynced; kIo naming the file on failure.
  void append(const SampleRecord& r);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* f_ = nullptr;
};

struct SampleOptions {
  int64_t n = 1000;       // subnet numbers [0, n)
  uint64_t seed = 1;
  int64_t calib_batch = 200, eval_batch = 500;
};

struct SampleProgress {
  int64_t done_here = 0, todo_here = 0;   // this rank's
  int64_t done_before = 0, total = 0;     // found on disk at the start; options.n
  double seconds = 0;                     // this rank's time so far
};

struct SampleSummary {
  int64_t measured = 0;       // by this job, all ranks
  int64_t already = 0;        // found on disk at the start
  double seconds = 0;         // wall time of this job
};

/// Collective: measures the subnet numbers of [0, options.n) not yet recorded in `dir` (rank r
/// takes every world-th of the missing ones, in order). `eval_data`/`split` are the run's data
/// and split; `transform` has no augmentation. `progress` is called on each rank after each
/// subnet. Returns on every rank after every rank finished.
SampleSummary sample_accuracy(dist::Communicator& comm, supernet::OFAMobileNetV3& net,
                              const data::DatasetPair& eval_data, const eval::DataSplit& split,
                              const data::TransformOptions& transform, const supernet::SubnetChoices& choices,
                              const std::string& dir, const SampleOptions& options,
                              const std::function<void(const SampleProgress&)>& progress);
/// The same over any batch sources (packed image folders included): their eval transform.
SampleSummary sample_accuracy(dist::Communicator& comm, supernet::OFAMobileNetV3& net,
                              const data::SourcePair& eval_data, const eval::DataSplit& split,
                              const supernet::SubnetChoices& choices, const std::string& dir,
                              const SampleOptions& options, const std::function<void(const SampleProgress&)>& progress);

}  // namespace ofa::search
