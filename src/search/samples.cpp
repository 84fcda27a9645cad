// Accuracy samples: numbering, the per-rank record files and the collective sampling loop (see
// samples.h).
#include "search/samples.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/durable_file.h"
#include "core/error.h"
#include "core/rng.h"
#include "supernet/flops.h"

namespace ofa::search {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr uint64_t kSampleKey = 0x5a3b1e;
const std::string kPrefix = "samples.rank";
const std::string kSuffix = ".jsonl";

std::string log_path(const std::string& dir, int rank) {
  char name[32];
  std::snprintf(name, sizeof name, "%05d", rank);
  return (fs::path(dir) / (kPrefix + name + kSuffix)).string();
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  OFA_CHECK_KIND(kIo, in.good(), path, ": cannot open");
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

// Records of one file into out (first one wins); a last line without its newline is torn.
void read_file_into(const std::string& path, std::map<int64_t, SampleRecord>& out) {
  const std::string text = read_all(path);
  size_t at = 0;
  for (int64_t line = 1; at < text.size(); ++line) {
    const size_t nl = text.find('\n', at);
    if (nl == std::string::npos) break;  // torn by a kill during the write: ignored
    const std::string where = path + ":" + std::to_string(line);
    json j;
    try {
      j = json::parse(text.begin() + static_cast<std::ptrdiff_t>(at), text.begin() + static_cast<std::ptrdiff_t>(nl));
    } catch (const json::exception& e) {
      fail(ErrorKind::kData, where, ": not a JSON record: ", e.what());
    }
    auto r = SampleRecord::from_json(j, where);
    out.emplace(r.index, std::move(r));
    at = nl + 1;
  }
}

}  // namespace

json SampleRecord::to_json() const {
  return {{"index", index}, {"subnet", subnet.to_json()}, {"accuracy", accuracy}, {"loss", loss},
          {"images", images}, {"macs", macs},             {"params", params},     {"seconds", seconds},
          {"rank", rank}};
}

SampleRecord SampleRecord::from_json(const json& j, const std::string& where) {
  SampleRecord r;
  try {
    r.index = j.at("index").get<int64_t>();
    r.subnet = supernet::SubnetConfig::from_json(j.at("subnet"));
    r.accuracy = j.at("accuracy").get<double>();
    r.loss = j.value("loss", 0.0);
    r.images = j.value("images", int64_t{0});
    r.macs = j.at("macs").get<int64_t>();
    r.params = j.value("params", int64_t{0});
    r.seconds = j.value("seconds", 0.0);
    r.rank = j.value("rank", 0);
  } catch (const json::exception& e) {
    fail(ErrorKind::kData, where, ": bad sample record: ", e.what());
  } catch (const Error& e) {
    fail(ErrorKind::kData, where, ": bad sample record: ", e.what());
  }
  OFA_CHECK_KIND(kData, r.index >= 0 && r.accuracy >= 0 && r.accuracy <= 1, where,
                 ": index must be >= 0 and accuracy in [0, 1]");
  return r;
}

supernet::SubnetConfig sample_number(const supernet::SpaceConfig& space, const supernet::SubnetChoices& choices,
                                     uint64_t seed, int64_t index) {
  CounterRng rng(seed, {kSampleKey, static_cast<uint64_t>(index)});
  return supernet::sample_subnet(space, choices, rng);
}

std::map<int64_t, SampleRecord> read_samples(const std::string& dir) {
  std::map<int64_t, SampleRecord> out;
  if (!fs::is_directory(dir)) return out;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) == 0 && name.size() > kSuffix.size() &&
        name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0)
      files.push_back(e.path().string());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) read_file_into(f, out);
  return out;
}

SampleLog::SampleLog(const std::string& dir, int rank) : path_(log_path(dir, rank)) {
  if (fs::exists(path_)) {
    const std::string text = read_all(path_);
    if (!text.empty() && text.back() != '\n') {
      const size_t keep = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
      fs::resize_file(path_, keep);  // the torn record is measured again
    }
  }
  f_ = std::fopen(path_.c_str(), "ab");
  OFA_CHECK_KIND(kIo, f_ != nullptr, path_, ": cannot open for appending: ", durable::errno_text(errno));
}

SampleLog::~SampleLog() {
  if (f_ != nullptr) std::fclose(f_);
}

void SampleLog::append(const SampleRecord& r) {
  const std::string line = r.to_json().dump() + "\n";
  const bool ok = std::fwrite(line.data(), 1, line.size(), f_) == line.size() && std::fflush(f_) == 0 &&
                  ::fsync(::fileno(f_)) == 0;
  OFA_CHECK_KIND(kIo, ok, path_, ": cannot append a sample record: ", durable::errno_text(errno));
}

SampleSummary sample_accuracy(dist::Communicator& comm, supernet::OFAMobileNetV3& net,
                              const data::DatasetPair& eval_data, const eval::DataSplit& split,
                              const data::TransformOptions& transform, const supernet::SubnetChoices& choices,
                              const std::string& dir, const SampleOptions& options,
                              const std::function<void(const SampleProgress&)>& progress) {
  const data::TransformOptions tf{0, false, transform.mean, transform.std};  // no augmentation
  const data::SourcePair sources{std::make_shared<data::PixelSource>(eval_data.train, tf),
                                 std::make_shared<data::PixelSource>(eval_data.test, tf)};
  return sample_accuracy(comm, net, sources, split, choices, dir, options, progress);
}

SampleSummary sample_accuracy(dist::Communicator& comm, supernet::OFAMobileNetV3& net,
                              const data::SourcePair& eval_data, const eval::DataSplit& split,
                              const supernet::SubnetChoices& choices, const std::string& dir,
                              const SampleOptions& options, const std::function<void(const SampleProgress&)>& progress) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (comm.rank() == 0) fs::create_directories(dir);
  comm.barrier();
  const auto done = read_samples(dir);
  comm.barrier();  // every rank has read before any rank appends
  std::vector<int64_t> mine;
  int64_t k = 0;
  for (int64_t i = 0; i < options.n; ++i)
    if (!done.count(i) && k++ % comm.size() == comm.rank()) mine.push_back(i);
  SampleLog log(dir, comm.rank());
  auto serial = dist::make_serial();  // a rank measures its subnets alone, on every holdout image
  auto ev = eval::split_evaluator(serial, eval_data, split, eval::Split::kHoldout, options.calib_batch,
                                  options.eval_batch);
  SampleProgress p;
  p.todo_here = static_cast<int64_t>(mine.size());
  p.total = options.n;
  for (const auto& kv : done) p.done_before += kv.first < options.n ? 1 : 0;
  for (int64_t i : mine) {
    const auto s0 = Clock::now();
    SampleRecord r;
    r.index = i;
    r.subnet = sample_number(net->space(), choices, options.seed, i);
    const auto res = ev.evaluate(net, {r.subnet}).at(0);
    r.accuracy = res.accuracy;
    r.loss = res.loss;
    r.images = res.images;
    r.macs = res.macs;
    r.params = res.params;
    r.seconds = std::chrono::duration<double>(Clock::now() - s0).count();
    r.rank = comm.rank();
    log.append(r);
    ++p.done_here;
    p.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (progress) progress(p);
  }
  auto count = torch::tensor({static_cast<double>(mine.size())}, torch::kDouble);
  comm.all_reduce(count);  // also: every rank has finished
  SampleSummary sum;
  sum.measured = static_cast<int64_t>(count.item<double>());
  sum.already = p.done_before;
  sum.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return sum;
}

}  // namespace ofa::search
