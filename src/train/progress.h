// Rank 0's view of training: a single progress line (refreshed in place on a terminal, plain
// periodic lines otherwise), metrics.jsonl (append-only, one JSON object per line), and the final
// table of grid subnets. Other ranks construct it too and it stays silent there.
#pragma once
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluator.h"

namespace ofa::train {

struct StepInfo {
  std::string phase_name;
  int phase = 0, phases = 1;
  int64_t epoch = 0, epochs = 1;
  int64_t step = 0, steps = 1;  // within the phase
  int64_t global_step = 0;
  double loss = 0, lr = 0, images_per_s = 0;
  double data_wait_share = 0;  // time blocked waiting for data / step time, since the last metrics record
  double eta_s = 0;  // the rest of this phase (the later phases' subnets cost too differently to guess)
};

class Progress {
 public:
  Progress(bool active, const std::string& metrics_path, int log_every);
  ~Progress();
  void step(const StepInfo& s);
  void record(const nlohmann::json& j);  // one metrics.jsonl line (rank 0 only)
  void validation(const StepInfo& s, const std::string& split, const std::vector<eval::SubnetResult>& grid);
  void end_line();  // finishes an in-place line before other output
  /// The final table: subnet, resolution, MACs, params, accuracy.
  static std::string table(const std::vector<eval::SubnetResult>& grid);

 private:
  bool active_, tty_;
  int log_every_;
  std::FILE* metrics_ = nullptr;
  bool dirty_ = false;
  std::chrono::steady_clock::time_point last_print_;
};

std::string format_duration(double seconds);

}  // namespace ofa::train
