// Checkpoint tensor names and module copies (see tensor_keys.h).
#include "ckpt/tensor_keys.h"

#include <torch/torch.h>

#include "core/error.h"

namespace ofa::ckpt {

void add_module(const torch::nn::Module& m, const std::string& prefix, NamedTensors& params, NamedTensors& buffers) {
  for (const auto& kv : m.named_parameters()) params.emplace_back(prefix + kv.key(), kv.value());
  for (const auto& kv : m.named_buffers()) buffers.emplace_back(prefix + kv.key(), kv.value());
}

void copy_tensor(const torch::Tensor& dst, const TensorMap& tensors, const std::string& key, const std::string& where) {
  auto it = tensors.find(key);
  OFA_CHECK_KIND(kData, it != tensors.end(), where, ": checkpoint has no tensor '", key,
                 "' (written for another space or version?)");
  OFA_CHECK_KIND(kData, it->second.sizes() == dst.sizes(), where, ": tensor '", key, "' has shape ",
                 it->second.sizes(), ", this network's is ", dst.sizes(), " (another space?)");
  torch::NoGradGuard no_grad;
  dst.copy_(it->second);
}

void load_module(torch::nn::Module& m, const std::string& prefix, const TensorMap& params, const TensorMap& buffers,
                 const std::string& where) {
  for (const auto& kv : m.named_parameters()) copy_tensor(kv.value(), params, prefix + kv.key(), where);
  for (const auto& kv : m.named_buffers()) copy_tensor(kv.value(), buffers, prefix + kv.key(), where);
}

}  // namespace ofa::ckpt
