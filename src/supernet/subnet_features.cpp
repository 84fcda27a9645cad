// The predictor's encoding of a subnet (see subnet_features.h).
#include "supernet/subnet_features.h"

#include <algorithm>

#include "core/error.h"

namespace ofa::supernet {
namespace {

int index_of(const std::vector<int>& list, int v, const char* what) {
  auto it = std::find(list.begin(), list.end(), v);
  OFA_CHECK(it != list.end(), "subnet feature encoding: ", what, " ", v, " is not a choice of the space");
  return static_cast<int>(it - list.begin());
}

}  // namespace

int feature_size(const SpaceConfig& space) {
  return space.num_blocks() * static_cast<int>(space.ks_list.size() + space.expand_list.size()) +
         static_cast<int>(space.resolutions.size());
}

std::vector<float> encode_features(const SpaceConfig& space, const SubnetConfig& subnet) {
  subnet.validate(space);
  const int nb = space.num_blocks();
  const int nk = static_cast<int>(space.ks_list.size()), ne = static_cast<int>(space.expand_list.size());
  std::vector<float> f(feature_size(space), 0.0f);
  const int expand_at = nb * nk, res_at = nb * (nk + ne);
  int block = 0;
  for (size_t st = 0; st < space.stages.size(); ++st) {
    for (int i = 0; i < space.stages[st].blocks; ++i, ++block) {
      if (i >= subnet.d[st]) continue;  // skipped by the depth: all zeros
      f[block * nk + index_of(space.ks_list, subnet.ks[block], "kernel")] = 1.0f;
      f[expand_at + block * ne + index_of(space.expand_list, subnet.e[block], "expand ratio")] = 1.0f;
    }
  }
  f[res_at + index_of(space.resolutions, subnet.r, "resolution")] = 1.0f;
  return f;
}

}  // namespace ofa::supernet
