// The reference's static MobileNetV3 config JSON (get_active_net_config()), key for key, so that
// MobileNetV3.build_from_config() in the reference rebuilds the extracted network.
#include "core/error.h"
#include "supernet/static_net.h"

namespace ofa::supernet {

namespace {

using json = nlohmann::json;

json conv_layer(int64_t in, int64_t out, int kernel, int stride, bool use_bn, const char* act) {
  return json{{"name", "ConvLayer"},   {"kernel_size", kernel}, {"stride", stride},
              {"dilation", 1},         {"groups", 1},           {"bias", false},
              {"has_shuffle", false},  {"use_se", false},       {"in_channels", in},
              {"out_channels", out},   {"use_bn", use_bn},      {"act_func", act ? json(act) : json()},
              {"dropout_rate", 0},     {"ops_order", "weight_bn_act"}};
}

json identity(int64_t c) {
  return json{{"name", "IdentityLayer"}, {"in_channels", c},   {"out_channels", c},
              {"use_bn", false},         {"act_func", nullptr}, {"dropout_rate", 0},
              {"ops_order", "weight_bn_act"}};
}

json block(const BlockShape& b) {
  json conv{{"name", "MBConvLayer"}, {"in_channels", b.in}, {"out_channels", b.out},
            {"kernel_size", b.kernel},  {"stride", b.stride},  {"expand_ratio", b.expand},
            {"mid_channels", b.index == 0 ? json() : json(b.hidden)},
            {"act_func", b.act},        {"use_se", b.se}};
  if (b.index == 0) conv["groups"] = nullptr;  // the static first block's own config has it
  return json{{"name", "ResidualBlock"},
              {"conv", conv},
              {"shortcut", b.residual ? identity(b.in) : json()}};
}

}  // namespace

nlohmann::json net_config_json(const SpaceConfig& s, const SubnetConfig& subnet) {
  const int64_t stem = s.scaled(s.first_conv_width);
  const int64_t last = s.scaled(s.stages.back().width);
  const int64_t fe = s.scaled(s.final_expand_width), fm = s.scaled(s.feature_mix_width);
  json blocks = json::array();
  for (const auto& b : active_blocks(s, subnet)) blocks.push_back(block(b));
  json first = conv_layer(s.in_channels, stem, 3, s.first_conv_stride, true, s.first_conv_act.c_str());
  json classifier{{"name", "LinearLayer"}, {"in_features", fm},   {"out_features", s.num_classes},
                  {"bias", true},          {"use_bn", false},     {"act_func", nullptr},
                  {"dropout_rate", s.dropout}, {"ops_order", "weight_bn_act"}};
  return json{{"name", "MobileNetV3"},
              {"bn", {{"momentum", s.bn_momentum}, {"eps", s.bn_eps}, {"ws_eps", nullptr}}},
              {"first_conv", first},
              {"blocks", blocks},
              {"final_expand_layer", conv_layer(last, fe, 1, 1, true, "h_swish")},
              {"feature_mix_layer", conv_layer(fe, fm, 1, 1, false, "h_swish")},
              {"classifier", classifier}};
}

}  // namespace ofa::supernet
