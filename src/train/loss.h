// The training loss of one subnet: label-smoothed cross-entropy plus, when a teacher is given,
// soft cross-entropy to softmax(teacher / T) (ofa-facts section 3; weights configurable).
#pragma once
#include <torch/types.h>

namespace ofa::train {

struct LossOptions {
  double label_smoothing = 0.1;
  double kd_weight = 1.0;
  double kd_temperature = 1.0;
};

/// Mean over the batch. teacher_logits may be undefined (no distillation).
torch::Tensor subnet_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                          const torch::Tensor& teacher_logits, const LossOptions& opts);

}  // namespace ofa::train
