// The names of a training run's tensors in a checkpoint (docs/checkpoint-format.md), in one place
// for the trainer and the CLI: the supernet under model/ (parameters shared, BN buffers per rank),
// the teacher under teacher/ (all shared), the running phase's SGD momentum under
// optimizer/momentum/. Copying back checks presence and shape and names the checkpoint.
#pragma once
#include <torch/nn/module.h>

#include <map>
#include <string>

#include "ckpt/shard.h"

namespace ofa::ckpt {

inline const std::string kModelPrefix = "model/";
inline const std::string kTeacherPrefix = "teacher/";
inline const std::string kMomentumPrefix = "optimizer/momentum/";

using TensorMap = std::map<std::string, torch::Tensor>;

/// Appends prefix + name of each of m's parameters to `params` and of each buffer to `buffers`
/// (the same list for both is fine).
void add_module(const torch::nn::Module& m, const std::string& prefix, NamedTensors& params, NamedTensors& buffers);

/// dst <- tensors[key] without autograd; kData naming `where` and the key when the checkpoint
/// lacks it or its shape differs (a checkpoint of another space or version).
void copy_tensor(const torch::Tensor& dst, const TensorMap& tensors, const std::string& key, const std::string& where);

/// Every parameter of m from `params` and every buffer from `buffers`, each under prefix.
void load_module(torch::nn::Module& m, const std::string& prefix, const TensorMap& params, const TensorMap& buffers,
                 const std::string& where);

}  // namespace ofa::ckpt
