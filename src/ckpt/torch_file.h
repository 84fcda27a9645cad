// State dicts in the files Python's torch.save writes, read without Python: the zip format
// (torch >= 1.6; records read with LibTorch's PyTorchStreamReader) and the legacy format of
// older releases (magic number, protocol and system-info pickles, the object pickle, the list of
// storage keys, then each storage's bytes after an 8-byte element count). Both go through one
// small pickle machine (pickle_vm.h). Writing (torch_write.cpp) produces what torch.save writes
// for a plain dict of tensors, so that torch.load(..., weights_only=True) accepts it, and the
// same tensors as a .safetensors file.
#pragma once
#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace ofa::ckpt {

using NamedTensorList = std::vector<std::pair<std::string, torch::Tensor>>;

struct TorchFile {
  NamedTensorList tensors;  // in the file's order, contiguous, on the CPU
  std::string format;       // "zip" or "legacy"
  bool wrapped = false;     // the dict was the value of "state_dict" in an outer dict
};

/// The state_dict in `path`: a dict or OrderedDict of name -> tensor, or such a dict under the
/// key "state_dict" of an outer dict. kIo when the file cannot be read; kData naming the file
/// (and the byte or key) when it is truncated or garbled, not a torch.save file, or holds
/// something other than a dict of tensors.
TorchFile read_torch_file(const std::string& path);

/// Writes `tensors` as one dict in torch.save's zip format: a protocol-2 pickle of a plain dict
/// whose values are torch._utils._rebuild_tensor_v2 calls on storages saved as data/<i>. Only the
/// globals torch.load(..., weights_only=True) allows appear in it, so that restricted unpickler
/// (which runs no code) reads it. Committed atomically (durable::write_atomic).
void write_torch_file(const std::string& path, const NamedTensorList& tensors);
/// The same tensors as a .safetensors file (an 8-byte little-endian header length, a JSON header
/// {name: {dtype, shape, data_offsets}} padded to 8 bytes, then the raw bytes): data only, no code.
void write_safetensors(const std::string& path, const NamedTensorList& tensors);

}  // namespace ofa::ckpt
