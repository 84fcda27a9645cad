// The reference's OFAMobileNetV3: space check, constructor call and state_dict names (reference.h).
#include "supernet/reference.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/error.h"

namespace ofa::supernet {

namespace {

// A float as Python's repr writes it for these values (1.0, 0.1, 1e-05).
std::string py_float(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  std::string s = buf;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string py_list(const std::vector<int>& xs) {
  std::string s = "[";
  for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + std::to_string(xs[i]);
  return s + "]";
}

std::vector<std::string> split(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream in(key);
  for (std::string p; std::getline(in, p, '.');) parts.push_back(p);
  return parts;
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? "." : "") + parts[i];
  return s;
}

// blocks.N.conv.<sublayer>.<conv|bn> of an elastic block (N >= 1): the reference's dynamic module.
bool elastic_module(const std::vector<std::string>& p) {
  static const char* sublayers[] = {"inverted_bottleneck", "depth_conv", "point_linear"};
  return p.size() >= 6 && p[0] == "blocks" && p[1] != "0" && p[2] == "conv" &&
         std::find(std::begin(sublayers), std::end(sublayers), p[3]) != std::end(sublayers) &&
         (p[4] == "conv" || p[4] == "bn");
}

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream os;
  os << t.sizes();
  return os.str();
}

}  // namespace

std::vector<std::string> reference_differences(const SpaceConfig& s) {
  SpaceConfig ref = ofa_mbv3_space(s.width_mult, s.num_classes);
  const int blocks = s.depth_list.empty() ? 0 : *std::max_element(s.depth_list.begin(), s.depth_list.end());
  for (auto& st : ref.stages) st.blocks = blocks;
  std::vector<std::string> out;
  auto cmp = [&](const std::string& field, const auto& ours, const auto& theirs) {
    if (ours != theirs) {
      std::ostringstream os;
      os << field << " is " << ours << ", the reference's is " << theirs;
      out.push_back(os.str());
    }
  };
  cmp("in_channels", s.in_channels, ref.in_channels);
  cmp("first_conv.width", s.first_conv_width, ref.first_conv_width);
  cmp("first_conv.stride", s.first_conv_stride, ref.first_conv_stride);
  cmp("first_conv.act", s.first_conv_act, ref.first_conv_act);
  cmp("first_block_width", s.first_block_width, ref.first_block_width);
  cmp("number of stages", s.stages.size(), ref.stages.size());
  for (size_t i = 0; i < std::min(s.stages.size(), ref.stages.size()); ++i) {
    const auto &a = s.stages[i], &b = ref.stages[i];
    const std::string at = "stages[" + std::to_string(i) + "].";
    cmp(at + "width", a.width, b.width);
    cmp(at + "stride", a.stride, b.stride);
    cmp(at + "act", a.act, b.act);
    cmp(at + "se", a.se, b.se);
    cmp(at + "blocks (max of depth_list)", a.blocks, b.blocks);
  }
  cmp("final_expand_width", s.final_expand_width, ref.final_expand_width);
  cmp("feature_mix_width", s.feature_mix_width, ref.feature_mix_width);
  return out;
}

std::string reference_constructor(const SpaceConfig& s) {
  return "OFAMobileNetV3(n_classes=" + std::to_string(s.num_classes) + ", width_mult=" + py_float(s.width_mult) +
         ", ks_list=" + py_list(s.ks_list) + ", expand_ratio_list=" + py_list(s.expand_list) +
         ", depth_list=" + py_list(s.depth_list) + ", bn_param=(" + py_float(s.bn_momentum) + ", " +
         py_float(s.bn_eps) + "), dropout_rate=" + py_float(s.dropout) + ")";
}

std::string to_reference_key(const std::string& ours) {
  auto p = split(ours);
  // A leaf right under the conv/bn module (not a transform matrix) gains the wrapped module's name.
  if (elastic_module(p) && p.size() == 6 && p[5].find("_matrix") == std::string::npos) p.insert(p.begin() + 5, p[4]);
  return join(p);
}

std::string from_reference_key(const std::string& reference) {
  auto p = split(normalise_reference_key(reference));
  if (elastic_module(p) && p.size() == 7 && p[5] == p[4]) p.erase(p.begin() + 5);
  return join(p);
}

NamedTensorList reference_state_dict(const OFAMobileNetV3& net) {
  // PyTorch's state_dict order: each module's own parameters, then its own buffers, then its
  // children, in pre-order (what named_modules() walks). A tensor that sits one level deeper in the
  // reference (the wrapped conv/bn) comes after the module's own (the transform matrices).
  NamedTensorList out;
  for (const auto& m : net->named_modules("", /*include_self=*/true)) {
    const std::string prefix = m.key().empty() ? "" : m.key() + ".";
    NamedTensorList own, deeper;
    auto add = [&](const std::string& key, const torch::Tensor& t) {
      const std::string ref = to_reference_key(prefix + key);
      (ref == prefix + key ? own : deeper).emplace_back(ref, t);
    };
    for (const auto& kv : m.value()->named_parameters(/*recurse=*/false)) add(kv.key(), kv.value());
    for (const auto& kv : m.value()->named_buffers(/*recurse=*/false)) add(kv.key(), kv.value());
    out.insert(out.end(), own.begin(), own.end());
    out.insert(out.end(), deeper.begin(), deeper.end());
  }
  return out;
}

std::string normalise_reference_key(const std::string& key) {
  const std::string old_name = ".mobile_inverted_conv.";
  const auto at = key.find(old_name);
  return at == std::string::npos ? key : key.substr(0, at) + ".conv." + key.substr(at + old_name.size());
}

void load_reference_state_dict(OFAMobileNetV3& net, const NamedTensorList& file_tensors, const std::string& where) {
  NamedTensorList tensors;
  for (const auto& [key, t] : file_tensors) tensors.emplace_back(normalise_reference_key(key), t);
  std::map<std::string, torch::Tensor> given(tensors.begin(), tensors.end());
  const NamedTensorList expected = reference_state_dict(net);
  std::vector<std::string> missing, extra, shapes;
  for (const auto& [key, t] : expected) {
    auto it = given.find(key);
    if (it == given.end())
      missing.push_back(key);
    else if (it->second.sizes() != t.sizes())
      shapes.push_back(key + " (file " + shape_str(it->second) + ", space " + shape_str(t) + ")");
  }
  std::map<std::string, bool> known;
  for (const auto& kv : expected) known[kv.first] = true;
  for (const auto& kv : tensors)
    if (!known.count(kv.first)) extra.push_back(kv.first);
  if (!missing.empty() || !extra.empty() || !shapes.empty()) {
    std::ostringstream os;
    auto list = [&](const char* what, const std::vector<std::string>& keys) {
      if (keys.empty()) return;
      os << "\n  " << keys.size() << " " << what << ":";
      for (size_t i = 0; i < keys.size() && i < 20; ++i) os << "\n    " << keys[i];
      if (keys.size() > 20) os << "\n    ... and " << keys.size() - 20 << " more";
    };
    list("missing key(s)", missing);
    list("extra key(s)", extra);
    list("wrong shape(s)", shapes);
    fail(ErrorKind::kData, where, ": does not match the space '", net->space().name, "' (", expected.size(),
         " tensors under the reference's names, ", reference_constructor(net->space()), "):", os.str());
  }
  torch::NoGradGuard no_grad;
  for (const auto& [key, t] : expected) t.copy_(given.at(key));
}

}  // namespace ofa::supernet
