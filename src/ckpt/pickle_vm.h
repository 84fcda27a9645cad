// A small pickle machine for the objects Python's torch.save writes for a state_dict: dicts and
// OrderedDicts, tuples, lists, numbers, strings, and tensors rebuilt from storages named by
// persistent ids. It evaluates nothing else: an unknown global or opcode is a kData error. Every
// read is bounds-checked, so truncated or garbled bytes give an error naming the file and the
// byte offset, never a crash. Storage bytes are supplied afterwards by the container format
// (torch_file.cpp: the zip records or the legacy stream after the pickles).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ofa::ckpt::pickle {

/// One storage as the persistent id names it; `data` (1-D, dtype, numel elements) is filled by
/// the caller once the container's bytes are known.
struct Storage {
  std::string key;
  c10::ScalarType dtype = c10::ScalarType::Float;
  int64_t numel = 0;
  torch::Tensor data;
};

struct Value;
using Ref = std::shared_ptr<Value>;

struct Value {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kBigInt,
    kFloat,
    kStr,
    kBytes,
    kTuple,
    kList,
    kDict,
    kGlobal,
    kStorage,
    kTensor
  };
  Kind kind = Kind::kNone;
  int64_t i = 0;                        // bool, int
  double f = 0;                         // float
  std::string s;                        // str, bytes, a big int's little-endian bytes, a global's "module.name"
  std::vector<Ref> items;               // tuple and list; a dict's keys and values alternate
  std::shared_ptr<Storage> storage;     // storage, tensor
  int64_t offset = 0;                   // tensor: in elements of the storage
  std::vector<int64_t> sizes, strides;  // tensor
};

/// The storages of one pickle by key, in the order the pickle names them.
using StorageMap = std::map<std::string, std::shared_ptr<Storage>>;

/// Runs the pickle that starts at bytes[pos] up to its STOP and returns the object; `pos` is left
/// just after the STOP. Storages named by persistent ids are added to `storages` (data empty).
/// kData naming `where` and the byte offset for anything it cannot read.
Ref run(const char* bytes, size_t size, size_t& pos, StorageMap& storages, const std::string& where);

/// The tensor a kTensor value describes, copied out of its storage (contiguous, CPU); kData naming
/// `where` when the storage has no data or the view reaches outside it.
torch::Tensor materialize(const Value& v, const std::string& where);

/// Bytes per element of a storage dtype.
int64_t element_size(c10::ScalarType t);

}  // namespace ofa::ckpt::pickle
