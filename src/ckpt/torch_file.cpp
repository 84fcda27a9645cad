// torch.save files: the two containers (zip, legacy) around the object pickle, and the state_dict
// inside it (see torch_file.h).
#include "ckpt/torch_file.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/serialize.h>

#include <cstring>
#include <fstream>

#include "ckpt/pickle_vm.h"
#include "core/durable_file.h"
#include "core/error.h"

namespace ofa::ckpt {

namespace {

using pickle::Ref;
using Kind = pickle::Value::Kind;

// The legacy format's first pickle: the integer 0x1950a86a20f9469cfc6c, little-endian.
constexpr unsigned char kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocol = 1001;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  OFA_CHECK_KIND(kIo, in.good(), path, ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  OFA_CHECK_KIND(kIo, !in.bad(), path, ": read error");
  return bytes;
}

torch::Tensor storage_tensor(const pickle::Storage& st, const char* bytes, size_t available, const std::string& where) {
  const int64_t elem = pickle::element_size(st.dtype);
  OFA_CHECK_KIND(kData, st.numel <= static_cast<int64_t>(available) / elem, where, ": storage '", st.key, "' needs ",
                 st.numel, " elements of ", elem, " bytes, the file has ", available, " bytes for it");
  auto t = torch::empty({st.numel}, torch::TensorOptions().dtype(st.dtype));
  if (st.numel > 0) std::memcpy(t.data_ptr(), bytes, static_cast<size_t>(st.numel * elem));
  return t;
}

Ref read_zip(const std::string& path, pickle::StorageMap& storages) {
  try {
    caffe2::serialize::PyTorchStreamReader zip(path);
    OFA_CHECK_KIND(kData, zip.hasRecord("data.pkl"), path, ": a zip archive without data.pkl (not a torch.save file)");
    auto [pkl, pkl_size] = zip.getRecord("data.pkl");
    size_t pos = 0;
    Ref obj = pickle::run(static_cast<const char*>(pkl.get()), pkl_size, pos, storages, path + " (data.pkl)");
    for (auto& [key, st] : storages) {
      const std::string rec = "data/" + key;
      OFA_CHECK_KIND(kData, zip.hasRecord(rec), path, ": storage record '", rec, "' is missing");
      auto [data, size] = zip.getRecord(rec);
      st->data = storage_tensor(*st, static_cast<const char*>(data.get()), size, path);
    }
    return obj;
  } catch (const c10::Error& e) {
    fail(ErrorKind::kData, path, ": not a readable zip archive: ", e.what_without_backtrace());
  }
}

Ref read_legacy(const std::string& path, const std::string& bytes, pickle::StorageMap& storages) {
  const char* b = bytes.data();
  const size_t n = bytes.size();
  size_t pos = 0;
  pickle::StorageMap none;
  Ref magic = pickle::run(b, n, pos, none, path);
  OFA_CHECK_KIND(kData,
                 magic->kind == Kind::kBigInt && magic->s.size() == sizeof kLegacyMagic &&
                     std::memcmp(magic->s.data(), kLegacyMagic, sizeof kLegacyMagic) == 0,
                 path, ": not a torch.save file (no legacy magic number, and not a zip archive)");
  Ref protocol = pickle::run(b, n, pos, none, path);
  OFA_CHECK_KIND(kData, protocol->kind == Kind::kInt && protocol->i == kLegacyProtocol, path,
                 ": unsupported legacy protocol version");
  Ref info = pickle::run(b, n, pos, none, path);
  bool little = false;
  if (info->kind == Kind::kDict)
    for (size_t i = 0; i + 1 < info->items.size(); i += 2)
      if (info->items[i]->s == "little_endian")
        little = info->items[i + 1]->kind == Kind::kBool && info->items[i + 1]->i;
  OFA_CHECK_KIND(kData, little, path, ": written on a big-endian machine (or system info unreadable)");
  Ref obj = pickle::run(b, n, pos, storages, path);
  Ref keys = pickle::run(b, n, pos, none, path);
  OFA_CHECK_KIND(kData, keys->kind == Kind::kList, path, ": the storage key list is missing");
  for (const auto& k : keys->items) {
    const auto it = k->kind == Kind::kStr ? storages.find(k->s) : storages.end();
    OFA_CHECK_KIND(kData, it != storages.end(), path, ": storage key list names a storage the object does not use");
    auto& st = *it->second;
    OFA_CHECK_KIND(kData, n - pos >= 8, path, ": truncated at byte ", pos, " (size of storage '", st.key, "')");
    int64_t count = 0;
    std::memcpy(&count, b + pos, 8);
    pos += 8;
    OFA_CHECK_KIND(kData, count == st.numel, path, ": storage '", st.key, "' has ", count,
                   " elements, its tensor says ", st.numel);
    st.data = storage_tensor(st, b + pos, n - pos, path);
    pos += static_cast<size_t>(st.numel * pickle::element_size(st.dtype));
  }
  return obj;
}

const Ref* dict_get(const pickle::Value& d, const std::string& key) {
  for (size_t i = 0; i + 1 < d.items.size(); i += 2)
    if (d.items[i]->kind == Kind::kStr && d.items[i]->s == key) return &d.items[i + 1];
  return nullptr;
}

bool is_zip(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  OFA_CHECK_KIND(kIo, in.good(), path, ": cannot open");
  char magic[4] = {};
  in.read(magic, sizeof magic);
  return in.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

}  // namespace

TorchFile read_torch_file(const std::string& path) {
  TorchFile out;
  pickle::StorageMap storages;
  Ref obj;
  if (is_zip(path)) {
    out.format = "zip";
    obj = read_zip(path, storages);
  } else {
    out.format = "legacy";
    obj = read_legacy(path, read_all(path), storages);
  }
  OFA_CHECK_KIND(kData, obj->kind == Kind::kDict, path, ": holds no dict (a state_dict is a dict of tensors)");
  if (const Ref* inner = dict_get(*obj, "state_dict"); inner && (*inner)->kind == Kind::kDict) {
    obj = *inner;
    out.wrapped = true;
  }
  for (size_t i = 0; i + 1 < obj->items.size(); i += 2) {
    const auto& k = obj->items[i];
    const auto& v = obj->items[i + 1];
    OFA_CHECK_KIND(kData, k->kind == Kind::kStr, path, ": a state_dict key that is not a string");
    OFA_CHECK_KIND(kData, v->kind == Kind::kTensor, path, ": '", k->s, "' is not a tensor");
    out.tensors.emplace_back(k->s, pickle::materialize(*v, path));
  }
  return out;
}

}  // namespace ofa::ckpt
