// The accuracy predictor's file: one JSON header line (format, version, the encoding layout, the
// MLP's size and tensor shapes, the caller's meta, the fit report), the weights as raw float32
// little-endian bytes in the MLP's parameter order, then a trailer line with the FNV-1a 64 hash
// of everything before it, so truncation or any flipped byte is caught. Written atomically.
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "core/durable_file.h"
#include "core/error.h"
#include "search/predictor.h"
#include "search/predictor_impl.h"

namespace ofa::search {
namespace {

constexpr const char* kFormat = "ofa-accuracy-predictor";
constexpr int kVersion = 1;
constexpr const char* kTrailerTag = "end fnv1a64=";
constexpr size_t kTrailerSize = 12 + 16 + 1;  // tag, 16 hex digits, '\n'

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

std::string hex16(uint64_t v) {
  std::ostringstream os;
  os << std::hex << std::setw(16) << std::setfill('0') << v;
  return os.str();
}

nlohmann::json layout_json(const supernet::SpaceConfig& space) {
  std::vector<int> blocks;
  for (const auto& st : space.stages) blocks.push_back(st.blocks);
  return {{"name", space.name},
          {"stage_blocks", blocks},
          {"ks_list", space.ks_list},
          {"expand_list", space.expand_list},
          {"depth_list", space.depth_list},
          {"resolutions", space.resolutions}};
}

supernet::SpaceConfig layout_from_json(const nlohmann::json& j) {
  supernet::SpaceConfig s;
  s.name = j.at("name").get<std::string>();
  for (int b : j.at("stage_blocks").get<std::vector<int>>()) {
    OFA_CHECK_KIND(kData, b >= 1 && b <= 64, "a stage of ", b, " blocks");
    supernet::StageSpec st;
    st.blocks = b;
    s.stages.push_back(st);
  }
  s.ks_list = j.at("ks_list").get<std::vector<int>>();
  s.expand_list = j.at("expand_list").get<std::vector<int>>();
  s.depth_list = j.at("depth_list").get<std::vector<int>>();
  s.resolutions = j.at("resolutions").get<std::vector<int>>();
  return encoding_layout(s);
}

std::string read_whole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  OFA_CHECK_KIND(kIo, in.good(), path, ": cannot open accuracy predictor file");
  std::ostringstream os;
  os << in.rdbuf();
  OFA_CHECK_KIND(kIo, !in.bad(), path, ": read failed");
  return os.str();
}

/// The header line and the weight bytes of a file whose trailer hash matches.
std::pair<nlohmann::json, std::string_view> split_file(std::string_view file) {
  const size_t eol = file.find('\n');
  OFA_CHECK_KIND(kData, file.size() > kTrailerSize && file.front() == '{' && eol != std::string_view::npos,
                 "not an accuracy predictor file (no JSON header line)");
  auto header = nlohmann::json::parse(file.substr(0, eol), nullptr, /*allow_exceptions=*/false);
  OFA_CHECK_KIND(kData, header.is_object() && header.value("format", "") == kFormat,
                 "not an accuracy predictor file (format is not '", kFormat, "')");
  OFA_CHECK_KIND(kData, header.value("version", 0) == kVersion, "version ", header.value("version", 0),
                 " of the predictor format is not supported (this build reads ", kVersion, ")");
  const auto weight_bytes = header.at("weight_bytes").get<uint64_t>();
  OFA_CHECK_KIND(kData, file.size() == eol + 1 + weight_bytes + kTrailerSize, "the file has ", file.size(),
                 " bytes, its header announces ", eol + 1 + weight_bytes + kTrailerSize, " (truncated?)");
  const auto trailer = file.substr(file.size() - kTrailerSize);
  const std::string expected = kTrailerTag + hex16(fnv1a64(file.substr(0, file.size() - kTrailerSize))) + "\n";
  OFA_CHECK_KIND(kData, trailer == expected, "checksum mismatch (the file is damaged)");
  return {header, file.substr(eol + 1, weight_bytes)};
}

/// Copies the weights into the predictor's MLP, checking names and shapes against the header.
void copy_weights(torch::nn::Sequential& mlp, const nlohmann::json& tensors, std::string_view bytes) {
  const auto params = mlp->named_parameters();
  OFA_CHECK_KIND(kData, tensors.is_array() && tensors.size() == params.size(), "the header lists ", tensors.size(),
                 " tensors, an MLP of this size has ", params.size());
  torch::NoGradGuard no_grad;
  size_t at = 0, i = 0;
  for (const auto& kv : params) {
    const auto& t = tensors.at(i++);
    const auto shape = t.at("shape").get<std::vector<int64_t>>();
    OFA_CHECK_KIND(kData, t.at("name").get<std::string>() == kv.key() && shape == kv.value().sizes().vec(), "tensor ",
                   kv.key(), ": the file's name or shape does not match the MLP");
    const size_t n = static_cast<size_t>(kv.value().numel()) * sizeof(float);
    OFA_CHECK_KIND(kData, at + n <= bytes.size(), "the weights end early at tensor ", kv.key());
    std::memcpy(kv.value().data_ptr<float>(), bytes.data() + at, n);
    at += n;
  }
  OFA_CHECK_KIND(kData, at == bytes.size(), "the weights hold ", bytes.size() - at, " bytes more than the MLP");
}

}  // namespace

void AccuracyPredictor::save(const std::string& path, const nlohmann::json& meta) const {
  std::string weights;
  nlohmann::json tensors = nlohmann::json::array();
  for (const auto& kv : impl_->mlp->named_parameters()) {
    const auto t = kv.value().detach().to(torch::kFloat).contiguous();
    tensors.push_back({{"name", kv.key()}, {"shape", t.sizes().vec()}});
    weights.append(reinterpret_cast<const char*>(t.data_ptr<float>()), static_cast<size_t>(t.numel()) * sizeof(float));
  }
  nlohmann::json header = {{"format", kFormat},
                           {"version", kVersion},
                           {"layout", layout_json(impl_->space)},
                           {"hidden", impl_->hidden},
                           {"layers", impl_->layers},
                           {"dtype", "float32-le"},
                           {"tensors", tensors},
                           {"weight_bytes", weights.size()},
                           {"meta", meta},
                           {"report", impl_->report.to_json()}};
  // dump() escapes control characters, so the header stays one line whatever meta holds.
  std::string file = header.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  file += '\n';
  file += weights;
  file += kTrailerTag + hex16(fnv1a64(file)) + "\n";
  durable::write_atomic(path, file);
}

AccuracyPredictor AccuracyPredictor::load(const std::string& path, nlohmann::json* meta) {
  const std::string file = read_whole(path);
  try {
    const auto [header, weights] = split_file(file);
    OFA_CHECK_KIND(kData, header.at("dtype").get<std::string>() == "float32-le", "unknown dtype");
    const int hidden = header.at("hidden").get<int>(), layers = header.at("layers").get<int>();
    OFA_CHECK_KIND(kData, hidden >= 1 && hidden <= 65536 && layers >= 1 && layers <= 64, "an MLP of ", layers, " x ",
                   hidden, " units");
    AccuracyPredictor p(layout_from_json(header.at("layout")), hidden, layers);
    copy_weights(p.impl_->mlp, header.at("tensors"), weights);
    p.impl_->report = report_from_json(header.at("report"));
    if (meta) *meta = header.at("meta");
    return p;
  } catch (const nlohmann::json::exception& e) {
    fail(ErrorKind::kData, path, ": damaged accuracy predictor file: ", e.what());
  } catch (const Error& e) {
    fail(ErrorKind::kData, path, ": ", e.what());
  }
}

}  // namespace ofa::search
