// SubnetConfig: JSON conversion, validation, sampling and hashing.
#include "supernet/subnet_config.h"

#include <algorithm>
#include <sstream>

#include "core/error.h"

namespace ofa::supernet {

namespace {

std::string list_str(const std::vector<int>& v) {
  std::ostringstream os;
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os.str();
}

void check_values(const char* field, const std::vector<int>& v, size_t expected_len,
                  const std::vector<int>& allowed) {
  OFA_CHECK(v.size() == expected_len, "subnet.", field, ": has ", v.size(),
            " entries, the space needs ", expected_len);
  for (size_t i = 0; i < v.size(); ++i)
    OFA_CHECK(std::find(allowed.begin(), allowed.end(), v[i]) != allowed.end(), "subnet.", field,
              "[", i, "] = ", v[i], ": not in the space's choices {", list_str(allowed), "}");
}

std::vector<int> int_list(const nlohmann::json& j, const char* key) {
  OFA_CHECK(j.contains(key), "subnet JSON: missing key '", key, "'");
  const auto& v = j.at(key);
  OFA_CHECK(v.is_array(), "subnet JSON: '", key, "' must be a list of integers");
  std::vector<int> out;
  for (size_t i = 0; i < v.size(); ++i) {
    OFA_CHECK(v[i].is_number_integer(), "subnet JSON: ", key, "[", i, "] is not an integer");
    out.push_back(v[i].get<int>());
  }
  return out;
}

int pick(const std::vector<int>& list, CounterRng& rng) {
  OFA_CHECK(!list.empty(), "sample_subnet: empty choice list");
  return list[rng.uniform_int(list.size())];
}

}  // namespace

void SubnetConfig::validate(const SpaceConfig& space) const {
  const size_t nb = static_cast<size_t>(space.num_blocks());
  check_values("ks", ks, nb, space.ks_list);
  check_values("e", e, nb, space.expand_list);
  check_values("d", d, space.stages.size(), space.depth_list);
  for (size_t s = 0; s < d.size(); ++s)
    OFA_CHECK(d[s] <= space.stages[s].blocks, "subnet.d[", s, "] = ", d[s], ": stage ", s,
              " has only ", space.stages[s].blocks, " blocks");
  OFA_CHECK(std::find(space.resolutions.begin(), space.resolutions.end(), r) !=
                space.resolutions.end(),
            "subnet.r = ", r, ": not in the space's resolutions {", list_str(space.resolutions), "}");
}

uint64_t SubnetConfig::stable_hash() const {
  uint64_t h = mix64(0x6f66615f7375626eULL);  // "ofa_subn"
  auto feed = [&h](uint64_t v) { h = mix64(h ^ v); };
  for (const auto* v : {&ks, &e, &d}) {
    feed(v->size());
    for (int x : *v) feed(static_cast<uint64_t>(static_cast<uint32_t>(x)));
  }
  feed(static_cast<uint64_t>(static_cast<uint32_t>(r)));
  return h;
}

std::string SubnetConfig::to_string() const {
  std::ostringstream os;
  os << "r" << r << " d" << list_str(d) << " ks" << list_str(ks) << " e" << list_str(e);
  return os.str();
}

nlohmann::json SubnetConfig::to_json() const {
  return nlohmann::json{{"ks", ks}, {"e", e}, {"d", d}, {"r", std::vector<int>{r}}};
}

SubnetConfig SubnetConfig::from_json(const nlohmann::json& j) {
  OFA_CHECK(j.is_object(), "subnet JSON: expected an object with keys ks, e, d, r");
  SubnetConfig c;
  c.ks = int_list(j, "ks");
  c.e = int_list(j, "e");
  c.d = int_list(j, "d");
  OFA_CHECK(j.contains("r"), "subnet JSON: missing key 'r'");
  const auto& r = j.at("r");
  if (r.is_number_integer()) {
    c.r = r.get<int>();
  } else {
    auto rl = int_list(j, "r");
    OFA_CHECK(rl.size() == 1, "subnet JSON: 'r' must hold exactly one resolution, has ", rl.size());
    c.r = rl[0];
  }
  return c;
}

std::vector<BlockShape> active_blocks(const SpaceConfig& space, const SubnetConfig& subnet) {
  subnet.validate(space);
  std::vector<BlockShape> out;
  BlockShape b0;
  b0.in = space.scaled(space.first_conv_width);
  b0.hidden = b0.in;  // expand 1: the reference keeps round(in * 1) = in
  b0.out = space.scaled(space.first_block_width);
  b0.act = "relu";
  b0.residual = b0.in == b0.out;
  out.push_back(b0);
  int64_t ch = b0.out;
  int index = 1;
  for (size_t s = 0; s < space.stages.size(); ++s) {
    const auto& st = space.stages[s];
    for (int j = 0; j < subnet.d[s]; ++j) {
      BlockShape b;
      b.index = index + j;
      b.in = ch;
      b.out = space.scaled(st.width);
      b.kernel = subnet.ks[b.index - 1];
      b.expand = subnet.e[b.index - 1];
      b.hidden = make_divisible(static_cast<double>(ch * b.expand), 8);
      b.stride = j == 0 ? st.stride : 1;
      b.act = st.act;
      b.se = st.se;
      b.residual = b.stride == 1 && b.in == b.out;
      out.push_back(b);
      ch = b.out;
    }
    index += st.blocks;
  }
  return out;
}

SubnetChoices full_choices(const SpaceConfig& space) {
  return {space.ks_list, space.expand_list, space.depth_list, space.resolutions};
}

SubnetConfig uniform_subnet(const SpaceConfig& space, int ks, int e, int d, int r) {
  SubnetConfig s;
  s.ks.assign(space.num_blocks(), ks);
  s.e.assign(space.num_blocks(), e);
  s.d.assign(space.stages.size(), d);
  s.r = r;
  return s;
}

SubnetConfig extreme_subnet(const SpaceConfig& space, const SubnetChoices& choices, bool largest) {
  auto ext = [largest](const std::vector<int>& v) {
    OFA_CHECK(!v.empty(), "extreme_subnet: empty choice list");
    return largest ? *std::max_element(v.begin(), v.end()) : *std::min_element(v.begin(), v.end());
  };
  SubnetConfig c;
  const size_t nb = static_cast<size_t>(space.num_blocks());
  c.ks.assign(nb, ext(choices.ks_list));
  c.e.assign(nb, ext(choices.expand_list));
  c.d.assign(space.stages.size(), ext(choices.depth_list));
  c.r = ext(choices.resolutions);
  return c;
}

SubnetConfig max_subnet(const SpaceConfig& space) { return extreme_subnet(space, full_choices(space), true); }
SubnetConfig min_subnet(const SpaceConfig& space) { return extreme_subnet(space, full_choices(space), false); }

SubnetConfig sample_subnet(const SpaceConfig& space, const SubnetChoices& choices, CounterRng& rng) {
  SubnetConfig c;
  const int nb = space.num_blocks();
  for (int i = 0; i < nb; ++i) c.ks.push_back(pick(choices.ks_list, rng));
  for (int i = 0; i < nb; ++i) c.e.push_back(pick(choices.expand_list, rng));
  for (size_t s = 0; s < space.stages.size(); ++s) c.d.push_back(pick(choices.depth_list, rng));
  c.r = pick(choices.resolutions, rng);
  return c;
}

}  // namespace ofa::supernet
