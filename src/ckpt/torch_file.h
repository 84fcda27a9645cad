// State dicts in the files Python's torch.save writes, read without Python: the zip format
// (torch >= 1.6; records read with LibTorch's PyTorchStreamReader) and the legacy format of
// older releases (magic number, protocol and system-info pickles, the object pickle, the list of
// storage keys, then each storage's bytes after an 8-byte element count). Both go through one
// small pickle machine (pickle_vm.h). Writing uses LibTorch's pickle_save (zip format).
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

/// Writes `tensors` as one dict that Python's torch.load returns as a dict of tensors (zip
/// format), committed atomically (durable::write_atomic).
void write_torch_file(const std::string& path, const NamedTensorList& tensors);

}  // namespace ofa::ckpt
