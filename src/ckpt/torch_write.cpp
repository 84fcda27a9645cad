// Writing torch.save-compatible and .safetensors files (see torch_file.h). The pickle is written
// byte by byte: LibTorch's pickle_save tags the dict with torch.jit._pickle.restore_type_tag, a
// global that torch.load(..., weights_only=True) refuses.
#include <caffe2/serialize/inline_container.h>

#include <cstring>

#include <nlohmann/json.hpp>

#include "ckpt/torch_file.h"
#include "core/durable_file.h"
#include "core/error.h"

namespace ofa::ckpt {
namespace {

struct DtypeNames {
  c10::ScalarType type;
  const char* storage;       // torch.<X>Storage in the pickle
  const char* safetensors;   // the safetensors dtype
};
constexpr DtypeNames kDtypes[] = {
    {c10::ScalarType::Float, "FloatStorage", "F32"},   {c10::ScalarType::Double, "DoubleStorage", "F64"},
    {c10::ScalarType::Half, "HalfStorage", "F16"},     {c10::ScalarType::BFloat16, "BFloat16Storage", "BF16"},
    {c10::ScalarType::Long, "LongStorage", "I64"},     {c10::ScalarType::Int, "IntStorage", "I32"},
    {c10::ScalarType::Short, "ShortStorage", "I16"},   {c10::ScalarType::Char, "CharStorage", "I8"},
    {c10::ScalarType::Byte, "ByteStorage", "U8"},      {c10::ScalarType::Bool, "BoolStorage", "BOOL"},
};

const DtypeNames& names_of(const torch::Tensor& t, const std::string& key) {
  for (const auto& d : kDtypes)
    if (d.type == t.scalar_type()) return d;
  fail(ErrorKind::kUsage, "tensor '", key, "': dtype ", t.scalar_type(), " cannot be written to a weights file");
}

// Protocol-2 pickle opcodes, only those the writer needs.
class Pickle {
 public:
  Pickle() { out_ += "\x80\x02"; }
  void op(char c) { out_ += c; }
  void str(const std::string& s) {
    out_ += 'X';
    le(static_cast<uint32_t>(s.size()), 4);
    out_ += s;
  }
  void global(const char* module, const char* name) { out_ += std::string("c") + module + "\n" + name + "\n"; }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      out_ += 'K';
      le(static_cast<uint64_t>(v), 1);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      out_ += 'J';
      le(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
    } else {
      out_ += "\x8a\x08";  // LONG1, 8 bytes two's complement
      le(static_cast<uint64_t>(v), 8);
    }
  }
  void tuple_of(const c10::IntArrayRef values) {
    op('(');
    for (int64_t v : values) integer(v);
    op('t');
  }
  const std::string& bytes() const { return out_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_ += static_cast<char>((v >> (8 * i)) & 0xff);
  }
  std::string out_;
};

// _rebuild_tensor_v2(storage, offset 0, size, stride, requires_grad False, OrderedDict()) on the
// storage data/<key>, as torch.save writes a contiguous CPU tensor.
void pickle_tensor(Pickle& p, const torch::Tensor& t, const std::string& key, const char* storage) {
  p.global("torch._utils", "_rebuild_tensor_v2");
  p.op('(');
  p.op('(');
  p.str("storage");
  p.global("torch", storage);
  p.str(key);
  p.str("cpu");
  p.integer(t.numel());
  p.op('t');
  p.op('Q');  // BINPERSID: the storage is a persistent id
  p.integer(0);
  p.tuple_of(t.sizes());
  p.tuple_of(t.strides());
  p.op('\x89');  // NEWFALSE
  p.global("collections", "OrderedDict");
  p.op(')');
  p.op('R');
  p.op('t');
  p.op('R');
}

std::vector<torch::Tensor> cpu_contiguous(const NamedTensorList& tensors) {
  std::vector<torch::Tensor> out;
  for (const auto& [k, t] : tensors) out.push_back(t.detach().to(torch::kCPU).contiguous());
  return out;
}

}  // namespace

void write_torch_file(const std::string& path, const NamedTensorList& tensors) {
  const auto data = cpu_contiguous(tensors);
  Pickle p;
  p.op('}');  // EMPTY_DICT
  p.op('(');
  for (size_t i = 0; i < tensors.size(); ++i) {
    p.str(tensors[i].first);
    pickle_tensor(p, data[i], std::to_string(i), names_of(data[i], tensors[i].first).storage);
  }
  p.op('u');  // SETITEMS
  p.op('.');
  std::string file;
  caffe2::serialize::PyTorchStreamWriter writer([&file](const void* buf, size_t n) {
    file.append(static_cast<const char*>(buf), n);
    return n;
  });
  writer.writeRecord("data.pkl", p.bytes().data(), p.bytes().size());
  for (size_t i = 0; i < data.size(); ++i)
    writer.writeRecord("data/" + std::to_string(i), data[i].data_ptr(), data[i].nbytes());
  writer.writeEndOfFile();
  durable::write_atomic(path, file);
}

void write_safetensors(const std::string& path, const NamedTensorList& tensors) {
  const auto data = cpu_contiguous(tensors);
  nlohmann::ordered_json header;
  size_t offset = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    const auto& key = tensors[i].first;
    OFA_CHECK(!header.contains(key) && key != "__metadata__", "safetensors: duplicate or reserved key '", key, "'");
    header[key] = {{"dtype", names_of(data[i], key).safetensors},
                   {"shape", data[i].sizes().vec()},
                   {"data_offsets", {offset, offset + data[i].nbytes()}}};
    offset += data[i].nbytes();
  }
  header["__metadata__"] = {{"format", "pt"}, {"writer", "ofa-hpc"}};
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string file(8, '\0');
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  file += h;
  for (const auto& t : data) file.append(static_cast<const char*>(t.data_ptr()), t.nbytes());
  durable::write_atomic(path, file);
}

}  // namespace ofa::ckpt
