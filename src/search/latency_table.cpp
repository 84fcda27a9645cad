// Latency lookup tables: the op list of a subnet with the reference's keys and the sum of their
// entries. The YAML files are read and written in cli/latency_files.cpp (only cli parses files).
#include "search/latency_table.h"

#include <cmath>

#include "core/error.h"

namespace ofa::search {
namespace {

int64_t out_size(int64_t hw, int stride) { return (hw - 1) / stride + 1; }  // odd kernel, padding k/2

std::string shape(int64_t hw, int64_t c) {
  const std::string side = std::to_string(hw);
  return side + "x" + side + "x" + std::to_string(c);
}

LatencyOp plain_op(const char* type, int64_t in_hw, int64_t in_c, int64_t out_hw, int64_t out_c) {
  LatencyOp op;
  op.type = type;
  op.in_hw = in_hw;
  op.in_c = in_c;
  op.out_hw = out_hw;
  op.out_c = out_c;
  return op;
}

}  // namespace

// Plain string appends: the evolution asks for thousands of subnets' latencies per second.
std::string LatencyOp::key() const {
  std::string k = type + "-input:" + shape(in_hw, in_c) + "-output:";
  k += type == "Logits" ? std::to_string(out_c) : shape(out_hw, out_c);
  if (type == "expanded_conv") {
    k += "-expand:" + std::to_string(mid) + "-kernel:" + std::to_string(kernel) + "-stride:" + std::to_string(stride);
    k += std::string("-idskip:") + (idskip ? "1" : "0") + "-se:" + (se ? "1" : "0") + "-hs:" + (hswish ? "1" : "0");
  }
  return k;
}

std::vector<LatencyOp> network_ops(const supernet::SpaceConfig& space, const supernet::SubnetConfig& subnet) {
  std::vector<LatencyOp> ops;
  const int64_t stem = space.scaled(space.first_conv_width);
  int64_t hw = out_size(subnet.r, space.first_conv_stride);
  ops.push_back(plain_op("Conv", subnet.r, space.in_channels, hw, stem));
  ops.back().stride = space.first_conv_stride;
  ops.back().act = space.first_conv_act;
  for (const auto& b : supernet::active_blocks(space, subnet)) {
    LatencyOp op = plain_op("expanded_conv", hw, b.in, out_size(hw, b.stride), b.out);
    op.mid = b.hidden;
    op.kernel = b.kernel;
    op.stride = b.stride;
    op.idskip = b.residual;
    op.se = b.se;
    op.hswish = b.act == "h_swish";
    op.act = b.act;
    op.expand_conv = b.index > 0;
    ops.push_back(op);
    hw = op.out_hw;
  }
  const int64_t last = space.scaled(space.stages.back().width);
  const int64_t fe = space.scaled(space.final_expand_width), fm = space.scaled(space.feature_mix_width);
  ops.push_back(plain_op("Conv_1", hw, last, hw, fe));
  ops.push_back(plain_op("AvgPool2D", hw, fe, 1, fe));
  ops.push_back(plain_op("Conv_2", 1, fe, 1, fm));
  ops.push_back(plain_op("Logits", 1, fm, 1, space.num_classes));
  return ops;
}

void LatencyTable::set(const std::string& key, const LatencyEntry& entry, int resolution) {
  tables_[resolution][key] = entry;
}

const LatencyEntry* LatencyTable::find(const std::string& key, int resolution) const {
  for (int r : {resolution, 0}) {
    auto t = tables_.find(r);
    if (t == tables_.end()) continue;
    auto e = t->second.find(key);
    if (e != t->second.end()) return &e->second;
  }
  return nullptr;
}

double LatencyTable::predict_ms(const supernet::SpaceConfig& space, const supernet::SubnetConfig& subnet) const {
  double sum = 0;
  for (const auto& op : network_ops(space, subnet)) {
    const std::string key = op.key();
    const LatencyEntry* e = find(key, subnet.r);
    OFA_CHECK_KIND(kData, e != nullptr, source, ": no entry for key '", key, "' (resolution ", subnet.r,
                   "): this table does not cover the subnet; profile its space with `ofa search profile`");
    sum += e->value();
  }
  return sum;
}

size_t LatencyTable::size() const {
  size_t n = 0;
  for (const auto& t : tables_) n += t.second.size();
  return n;
}

}  // namespace ofa::search
