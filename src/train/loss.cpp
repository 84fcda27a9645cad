// subnet_loss (see loss.h).
#include "train/loss.h"

#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

namespace ofa::train {

torch::Tensor subnet_loss(const torch::Tensor& logits, const torch::Tensor& labels,
                          const torch::Tensor& teacher_logits, const LossOptions& opts) {
  namespace F = torch::nn::functional;
  auto loss = F::cross_entropy(logits, labels, F::CrossEntropyFuncOptions().label_smoothing(opts.label_smoothing));
  if (teacher_logits.defined() && opts.kd_weight > 0) {
    const double t = opts.kd_temperature;
    auto target = torch::softmax(teacher_logits / t, 1);
    auto kd = -(target * torch::log_softmax(logits / t, 1)).sum(1).mean();
    loss = loss + opts.kd_weight * kd;
  }
  return loss;
}

}  // namespace ofa::train
