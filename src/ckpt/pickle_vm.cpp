// The pickle machine of pickle_vm.h: opcodes of protocols 2-4 that torch.save and LibTorch's
// pickle_save use, and the few globals a state_dict needs (collections.OrderedDict, the
// torch._utils tensor rebuilders, torch.*Storage types, torch.jit's type tag).
#include "ckpt/pickle_vm.h"

#include <cstring>
#include <unordered_map>

#include "core/error.h"

namespace ofa::ckpt::pickle {

namespace {

using Kind = Value::Kind;

Ref make(Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}
Ref make_int(int64_t i) {
  auto v = make(Kind::kInt);
  v->i = i;
  return v;
}
Ref make_str(Kind k, std::string s) {
  auto v = make(k);
  v->s = std::move(s);
  return v;
}

const std::map<std::string, c10::ScalarType>& storage_types() {
  static const std::map<std::string, c10::ScalarType> types = {
      {"torch.FloatStorage", c10::ScalarType::Float}, {"torch.DoubleStorage", c10::ScalarType::Double},
      {"torch.HalfStorage", c10::ScalarType::Half},   {"torch.BFloat16Storage", c10::ScalarType::BFloat16},
      {"torch.LongStorage", c10::ScalarType::Long},   {"torch.IntStorage", c10::ScalarType::Int},
      {"torch.ShortStorage", c10::ScalarType::Short}, {"torch.CharStorage", c10::ScalarType::Char},
      {"torch.ByteStorage", c10::ScalarType::Byte},   {"torch.BoolStorage", c10::ScalarType::Bool}};
  return types;
}

class Machine {
 public:
  Machine(const char* b, size_t n, size_t pos, StorageMap& st, const std::string& where)
      : b_(b), n_(n), pos_(pos), storages_(st), where_(where) {}
  Ref run();
  size_t pos() const { return pos_; }

 private:
  template <class... A>
  [[noreturn]] void bad(const A&... a) const {
    fail(ErrorKind::kData, where_, ": byte ", op_pos_, ": ", a...);
  }
  const char* take(size_t k) {
    if (k > n_ - pos_) bad("truncated (needs ", k, " more bytes, ", n_ - pos_, " left)");
    const char* p = b_ + pos_;
    pos_ += k;
    return p;
  }
  uint64_t le(size_t k) {  // little-endian unsigned of k <= 8 bytes
    const auto* p = reinterpret_cast<const unsigned char*>(take(k));
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
    return v;
  }
  std::string text(size_t k) { return std::string(take(k), k); }
  std::string line() {
    const void* nl = std::memchr(b_ + pos_, '\n', n_ - pos_);
    if (nl == nullptr) bad("truncated GLOBAL");
    const size_t k = static_cast<const char*>(nl) - (b_ + pos_);
    std::string s = text(k);
    take(1);
    return s;
  }
  void push(Ref v) { stack_.push_back(std::move(v)); }
  Ref pop() {
    if (stack_.size() <= floor()) bad("stack underflow");
    Ref v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Ref& top() {
    if (stack_.size() <= floor()) bad("stack underflow");
    return stack_.back();
  }
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  std::vector<Ref> pop_mark() {
    if (marks_.empty()) bad("no MARK");
    std::vector<Ref> items(stack_.begin() + static_cast<std::ptrdiff_t>(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return items;
  }
  Ref tuple(std::vector<Ref> items) {
    auto t = make(Kind::kTuple);
    t->items = std::move(items);
    return t;
  }
  Ref int_from_long(size_t k) {
    const std::string raw = text(k);
    if (k > 8) return make_str(Kind::kBigInt, raw);
    uint64_t v = 0;
    for (size_t i = 0; i < k; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(raw[i])) << (8 * i);
    if (k > 0 && k < 8 && (static_cast<unsigned char>(raw[k - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * k);
    return make_int(static_cast<int64_t>(v));
  }
  void memo_put(uint64_t key) { memo_[key] = top(); }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) bad("memo key ", key, " not set");
    push(it->second);
  }
  void set_items(const Ref& dict, const std::vector<Ref>& kv) {
    if (dict->kind != Kind::kDict) bad("SETITEM(S) on a non-dict");
    if (kv.size() % 2 != 0) bad("odd number of items for a dict");
    dict->items.insert(dict->items.end(), kv.begin(), kv.end());
  }
  void append(const Ref& list, const std::vector<Ref>& xs) {
    if (list->kind != Kind::kList) bad("APPEND(S) on a non-list");
    list->items.insert(list->items.end(), xs.begin(), xs.end());
  }
  bool step(uint8_t op);
  bool scalar(uint8_t op);
  Ref persistent(const Ref& pid);
  Ref reduce(const Ref& fn, const Ref& args);
  Ref rebuild_tensor(const std::vector<Ref>& a);
  std::vector<int64_t> ints(const Ref& v, const char* what);

  const char* b_;
  size_t n_, pos_, op_pos_ = 0;
  StorageMap& storages_;
  const std::string& where_;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
};

std::vector<int64_t> Machine::ints(const Ref& v, const char* what) {
  if (v->kind != Kind::kTuple) bad(what, " is not a tuple");
  std::vector<int64_t> out;
  for (const auto& x : v->items) {
    if (x->kind != Kind::kInt || x->i < 0) bad(what, " holds a value that is not a non-negative int");
    out.push_back(x->i);
  }
  return out;
}

Ref Machine::persistent(const Ref& pid) {
  const auto& a = pid->items;
  if (pid->kind != Kind::kTuple || a.size() < 5 || a[0]->kind != Kind::kStr || a[0]->s != "storage")
    bad("persistent id is not ('storage', type, key, location, numel)");
  if (a.size() > 5 && a[5]->kind != Kind::kNone) bad("storage views (view_metadata) are not supported");
  const auto type = storage_types().find(a[1]->kind == Kind::kGlobal ? a[1]->s : "");
  if (type == storage_types().end()) bad("persistent id: unsupported storage type '", a[1]->s, "'");
  if (a[2]->kind != Kind::kStr || a[4]->kind != Kind::kInt || a[4]->i < 0)
    bad("persistent id: key is not a string or numel not a non-negative int");
  auto& st = storages_[a[2]->s];
  if (!st) {
    st = std::make_shared<Storage>();
    st->key = a[2]->s;
    st->dtype = type->second;
    st->numel = a[4]->i;
  } else if (st->dtype != type->second || st->numel != a[4]->i) {
    bad("storage '", st->key, "' named twice with different type or size");
  }
  auto v = make(Kind::kStorage);
  v->storage = st;
  return v;
}

Ref Machine::rebuild_tensor(const std::vector<Ref>& a) {
  if (a.size() < 4 || a[0]->kind != Kind::kStorage || a[1]->kind != Kind::kInt || a[1]->i < 0)
    bad("tensor: expected (storage, offset, size, stride, ...)");
  auto t = make(Kind::kTensor);
  t->storage = a[0]->storage;
  t->offset = a[1]->i;
  t->sizes = ints(a[2], "tensor size");
  t->strides = ints(a[3], "tensor stride");
  if (t->sizes.size() != t->strides.size()) bad("tensor: size and stride differ in length");
  return t;
}

Ref Machine::reduce(const Ref& fn, const Ref& args) {
  if (fn->kind != Kind::kGlobal || args->kind != Kind::kTuple) bad("REDUCE without a global and a tuple");
  const std::string& name = fn->s;
  const auto& a = args->items;
  if (name == "collections.OrderedDict" || name == "builtins.dict" || name == "__builtin__.dict") {
    if (!a.empty()) bad(name, " with arguments is not supported");
    return make(Kind::kDict);
  }
  if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") return rebuild_tensor(a);
  if (name == "torch._utils._rebuild_parameter" || name == "torch.jit._pickle.restore_type_tag") {
    if (a.empty()) bad(name, " without arguments");
    return a[0];
  }
  bad("unsupported global '", name, "' (not a state_dict of tensors?)");
}

// The opcode tables, one line per opcode.
// clang-format off
// A number, string or memo opcode; false when `op` is none of these.
bool Machine::scalar(uint8_t op) {
  switch (op) {
    case 'N': push(make(Kind::kNone)); break;
    case 0x88: case 0x89: { auto v = make(Kind::kBool); v->i = op == 0x88; push(v); break; }
    case 'K': push(make_int(static_cast<int64_t>(le(1)))); break;                       // BININT1
    case 'M': push(make_int(static_cast<int64_t>(le(2)))); break;                       // BININT2
    case 'J': push(make_int(static_cast<int32_t>(le(4)))); break;                       // BININT
    case 0x8a: push(int_from_long(le(1))); break;                                       // LONG1
    case 0x8b: { const uint64_t k = le(4); if (k > n_) bad("LONG4 too long"); push(int_from_long(k)); break; }
    case 'G': {                                                                         // BINFLOAT (big-endian)
      const auto* p = reinterpret_cast<const unsigned char*>(take(8));
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
      auto v = make(Kind::kFloat);
      std::memcpy(&v->f, &bits, sizeof bits);
      push(v);
      break;
    }
    // BINUNICODE, and Python 2's BINSTRING (torch.load decodes those as str too).
    case 'X': case 'T': push(make_str(Kind::kStr, text(le(4)))); break;
    case 0x8c: case 'U': push(make_str(Kind::kStr, text(le(1)))); break;                // SHORT_BINUNICODE/STRING
    case 0x8d: { const uint64_t k = le(8); if (k > n_) bad("string too long"); push(make_str(Kind::kStr, text(k))); break; }
    case 'B': push(make_str(Kind::kBytes, text(le(4)))); break;                         // BINBYTES
    case 'C': push(make_str(Kind::kBytes, text(le(1)))); break;                         // SHORT_BINBYTES
    case 'q': memo_put(le(1)); break;                                                   // BINPUT
    case 'r': memo_put(le(4)); break;                                                   // LONG_BINPUT
    case 0x94: memo_put(memo_.size()); break;                                           // MEMOIZE
    case 'h': memo_get(le(1)); break;                                                   // BINGET
    case 'j': memo_get(le(4)); break;                                                   // LONG_BINGET
    default: return false;
  }
  return true;
}

// One opcode; false at STOP.
bool Machine::step(uint8_t op) {
  switch (op) {
    case 0x80: take(1); break;                                    // PROTO
    case 0x95: take(8); break;                                    // FRAME
    case '.': return false;                                       // STOP
    case '(': marks_.push_back(stack_.size()); break;             // MARK
    case ')': push(make(Kind::kTuple)); break;                    // EMPTY_TUPLE
    case 't': push(tuple(pop_mark())); break;                     // TUPLE
    case 0x85: case 0x86: case 0x87: {                            // TUPLE1..3
      std::vector<Ref> items(op - 0x84);
      for (size_t i = items.size(); i-- > 0;) items[i] = pop();
      push(tuple(std::move(items)));
      break;
    }
    case ']': push(make(Kind::kList)); break;                     // EMPTY_LIST
    case 'l': { auto l = make(Kind::kList); l->items = pop_mark(); push(l); break; }  // LIST
    case 'a': { auto x = pop(); append(top(), {x}); break; }      // APPEND
    case 'e': { auto xs = pop_mark(); append(top(), xs); break; } // APPENDS
    case '}': push(make(Kind::kDict)); break;                     // EMPTY_DICT
    case 'd': { auto d = make(Kind::kDict); set_items(d, pop_mark()); push(d); break; }  // DICT
    case 's': { auto v = pop(); auto k = pop(); set_items(top(), {k, v}); break; }       // SETITEM
    case 'u': { auto kv = pop_mark(); set_items(top(), kv); break; }                    // SETITEMS
    case 'c': { std::string mod = line(); push(make_str(Kind::kGlobal, mod + "." + line())); break; }  // GLOBAL
    case 0x93: {                                                                        // STACK_GLOBAL
      auto name = pop(), mod = pop();
      if (name->kind != Kind::kStr || mod->kind != Kind::kStr) bad("STACK_GLOBAL without strings");
      push(make_str(Kind::kGlobal, mod->s + "." + name->s));
      break;
    }
    case 'Q': push(persistent(pop())); break;                                           // BINPERSID
    case 'R': { auto args = pop(); auto fn = pop(); push(reduce(fn, args)); break; }    // REDUCE
    case 'b': pop(); top(); break;                                                      // BUILD: state ignored
    case '0': pop(); break;                                                             // POP
    case '1': pop_mark(); break;                                                        // POP_MARK
    case '2': push(top()); break;                                                       // DUP
    default:
      if (!scalar(op)) {
        static const char* hex = "0123456789abcdef";
        bad("unsupported pickle opcode 0x", hex[op >> 4], hex[op & 15]);
      }
  }
  return true;
}
// clang-format on

Ref Machine::run() {
  for (;;) {
    op_pos_ = pos_;
    const auto op = static_cast<uint8_t>(*take(1));
    if (!step(op)) break;
  }
  if (!marks_.empty() || stack_.size() != 1) bad("STOP with ", stack_.size(), " values and ", marks_.size(), " marks");
  return stack_.back();
}

}  // namespace

Ref run(const char* bytes, size_t size, size_t& pos, StorageMap& storages, const std::string& where) {
  OFA_CHECK_KIND(kData, pos <= size, where, ": truncated (no pickle at byte ", pos, ")");
  Machine m(bytes, size, pos, storages, where);
  Ref out = m.run();
  pos = m.pos();
  return out;
}

int64_t element_size(c10::ScalarType t) { return static_cast<int64_t>(c10::elementSize(t)); }

torch::Tensor materialize(const Value& v, const std::string& where) {
  OFA_ASSERT(v.kind == Value::Kind::kTensor, "materialize: not a tensor");
  const auto& st = *v.storage;
  OFA_CHECK_KIND(kData, st.data.defined(), where, ": storage '", st.key, "' has no data");
  // The last element the view touches must lie inside the storage (sizes and strides are >= 0;
  // each term is checked before it is added, so nothing overflows).
  OFA_CHECK_KIND(kData, v.sizes.size() <= 16 && v.offset < st.numel + 1, where, ": storage '", st.key,
                 "': implausible tensor (", v.sizes.size(), " dims, offset ", v.offset, ")");
  int64_t last = v.offset;
  for (size_t d = 0; d < v.sizes.size(); ++d) {
    if (v.sizes[d] == 0) return torch::empty(v.sizes, torch::TensorOptions().dtype(st.dtype));
    OFA_CHECK_KIND(kData, v.sizes[d] < (int64_t{1} << 31) && v.strides[d] < (int64_t{1} << 31), where, ": storage '",
                   st.key, "': implausible tensor size or stride");
    last += (v.sizes[d] - 1) * v.strides[d];
    OFA_CHECK_KIND(kData, last < st.numel, where, ": a tensor at offset ", v.offset, " reaches outside storage '",
                   st.key, "' (", st.numel, " elements)");
  }
  OFA_CHECK_KIND(kData, last < st.numel, where, ": a tensor at offset ", v.offset, " lies outside storage '", st.key,
                 "' (", st.numel, " elements)");
  return st.data.as_strided(v.sizes, v.strides, v.offset).clone(torch::MemoryFormat::Contiguous);
}

}  // namespace ofa::ckpt::pickle
