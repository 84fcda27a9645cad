// hwmon discovery and reading (see hwmon.h for which channels are summed and why).
#include "energy/hwmon.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace ofa::energy {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool contains_any(const std::string& label, const std::vector<std::string>& words) {
  const std::string l = lower(label);
  for (const std::string& w : words)
    if (l.find(lower(w)) != std::string::npos) return true;
  return false;
}

enum class Role { kPart, kNested, kGpu, kWholeNode };

Role role_of(const std::string& label) {
  if (contains_any(label, {"core", "vdd", "vdn", "vcs", "vio"})) return Role::kNested;
  if (contains_any(label, {"gpu"})) return Role::kGpu;
  if (contains_any(label, {"system", "node", "total"})) return Role::kWholeNode;
  return Role::kPart;
}

// "power3_input" -> ("power", 3, "input"); false for anything else.
bool parse_channel_file(const std::string& f, std::string* type, int* index, std::string* suffix) {
  for (const char* t : {"energy", "power"}) {
    const std::string prefix = t;
    if (f.compare(0, prefix.size(), prefix) != 0) continue;
    size_t i = prefix.size(), j = i;
    while (j < f.size() && std::isdigit(static_cast<unsigned char>(f[j]))) ++j;
    if (j == i || j - i > 6 || j >= f.size() || f[j] != '_') return false;
    *type = prefix;
    *index = std::stoi(f.substr(i, j - i));
    *suffix = f.substr(j + 1);
    return true;
  }
  return false;
}

struct Candidate {
  std::string device;  // "hwmon3"
  std::string name;    // contents of `name`
  bool energy = false;
  HwmonChannel channel;
};

}  // namespace

HwmonSource::HwmonSource(std::string name, SourceKind kind, std::string device, std::vector<HwmonChannel> channels)
    : PowerSource(std::move(name), kind, Scope::kNode), device_(std::move(device)), channels_(std::move(channels)) {}

std::string HwmonSource::describe() const {
  std::string s = std::string("hwmon ") + device_ + ": " +
                  (kind() == SourceKind::kCounter ? "energy counters " : "power x interval ");
  for (size_t i = 0; i < channels_.size(); ++i)
    s += (i ? ", " : "") + channels_[i].label + (channels_[i].lost ? " (lost)" : "");
  return s;
}

Reading HwmonSource::sample(double t) {
  Reading r;
  const double dt = started_ ? t - last_t_ : 0;
  const bool counter = kind() == SourceKind::kCounter;
  int alive = 0;
  double watts_now = 0;
  for (HwmonChannel& c : channels_) {
    if (c.lost) continue;
    unsigned long long v = 0;
    std::string err;
    if (!read_u64_file(c.file, &v, &err)) {
      c.lost = true;
      r.note += (r.note.empty() ? "" : "; ") + c.label + " can no longer be read (" + err + ")";
      continue;
    }
    ++alive;
    if (counter) {
      if (c.have_last && v >= c.last) r.joules += double(v - c.last) * 1e-6;
      if (c.have_last && v < c.last) r.note += (r.note.empty() ? "" : "; ") + c.label + " went back: interval skipped";
    } else {
      const double w = double(v) * 1e-6;
      if (c.have_last) r.joules += 0.5 * (double(c.last) * 1e-6 + w) * dt;
      watts_now += w;
    }
    c.last = v;
    c.have_last = true;
  }
  if (alive == 0) {
    r.ok = false;
    if (r.note.empty()) r.note = "no readable hwmon channel left";
  }
  r.watts = counter ? (dt > 0 ? r.joules / dt : 0) : watts_now;
  last_t_ = t;
  started_ = true;
  return r;
}

namespace {

// The energy and power channels of one device directory, labelled: every energyK_input, and per
// power channel its _input file, else its _average.
std::vector<Candidate> device_channels(const std::string& dir, const std::string& dev) {
  std::string name;
  name = read_small_file(dir + "/name", &name) ? trim(name) : dev;
  std::vector<Candidate> cands;
  std::map<std::string, std::string> power_files;  // "power3" -> file (_input over _average)
  for (const std::string& f : list_dir(dir)) {
    std::string type, suffix;
    int index = 0;
    if (!parse_channel_file(f, &type, &index, &suffix)) continue;
    const std::string chan = type + std::to_string(index);
    if (type == "energy" && suffix == "input") {
      cands.push_back({dev, name, true, {dir + "/" + f, chan}});
    } else if (type == "power" && (suffix == "input" || (suffix == "average" && !power_files.count(chan)))) {
      power_files[chan] = dir + "/" + f;
    }
  }
  for (const auto& [chan, file] : power_files) cands.push_back({dev, name, false, {file, chan}});
  for (Candidate& c : cands) {
    std::string label;
    if (read_small_file(dir + "/" + c.channel.label + "_label", &label)) c.channel.label = trim(label);
  }
  return cands;
}

// The channels that can be read now; a note names each one that cannot.
std::vector<Candidate> readable_channels(const std::vector<Candidate>& cands, std::vector<std::string>* notes) {
  std::vector<Candidate> readable;
  for (const Candidate& c : cands) {
    unsigned long long v = 0;
    std::string err;
    if (read_u64_file(c.channel.file, &v, &err))
      readable.push_back(c);
    else
      notes->push_back(c.device + " (" + c.name + ") " + c.channel.label + ": unreadable (" + err + "), skipped");
  }
  return readable;
}

// The channels to sum (the rule in hwmon.h): those that `labels` name, else the parts that are not
// nested in another, else one whole-node channel when the GPUs are not measured apart.
std::vector<Candidate> channels_to_sum(const std::vector<Candidate>& readable, const std::vector<std::string>& labels,
                                       bool gpus_measured, std::vector<std::string>* notes) {
  std::vector<Candidate> keep;
  if (!labels.empty()) {
    for (const Candidate& c : readable)
      if (contains_any(c.channel.label, labels)) keep.push_back(c);
    return keep;
  }
  const Candidate* whole = nullptr;
  for (const Candidate& c : readable) {
    const Role role = role_of(c.channel.label);
    if (role == Role::kPart) keep.push_back(c);
    if (role == Role::kWholeNode && (!whole || (c.energy && !whole->energy && c.device == whole->device)))
      whole = &c;
  }
  if (keep.empty() && whole) {
    if (gpus_measured)
      notes->push_back("hwmon has only whole-node sensors (" + whole->channel.label +
                       "), which include the GPUs NVML measures: not used (energy.hwmon_labels can force it)");
    else
      keep.push_back(*whole);
  }
  return keep;
}

// One source per device of `keep`, in order: its energy channels if it has any, else its power
// channels; "hwmon.<name>", with ":<N>" when devices share a name.
std::vector<SourcePtr> one_source_per_device(const std::vector<Candidate>& keep) {
  std::map<std::string, int> name_count;
  std::vector<std::string> devices;
  for (const Candidate& c : keep) {
    if (std::find(devices.begin(), devices.end(), c.device) == devices.end()) {
      devices.push_back(c.device);
      ++name_count[c.name];
    }
  }
  std::vector<SourcePtr> sources;
  for (const std::string& dev : devices) {
    bool has_energy = false;
    std::string name;
    for (const Candidate& c : keep)
      if (c.device == dev) {
        has_energy |= c.energy;
        name = c.name;
      }
    std::vector<HwmonChannel> chans;
    for (const Candidate& c : keep)
      if (c.device == dev && c.energy == has_energy) chans.push_back(c.channel);
    std::string source = "hwmon." + name + (name_count[name] > 1 ? ":" + dev.substr(5) : "");
    const SourceKind kind = has_energy ? SourceKind::kCounter : SourceKind::kSampledPower;
    sources.push_back(std::make_unique<HwmonSource>(source, kind, dev + " (" + name + ")", std::move(chans)));
  }
  return sources;
}

}  // namespace

Discovered discover_hwmon(const std::string& sysfs_root, const std::vector<std::string>& labels, bool gpus_measured) {
  Discovered out;
  const std::string base = join_root(sysfs_root, "sys/class/hwmon");
  std::vector<Candidate> cands;
  for (const std::string& dev : list_dir(base)) {
    if (dev.rfind("hwmon", 0) != 0) continue;
    for (Candidate& c : device_channels(base + "/" + dev, dev)) cands.push_back(std::move(c));
  }
  const std::vector<Candidate> readable = readable_channels(cands, &out.notes);
  out.sources = one_source_per_device(channels_to_sum(readable, labels, gpus_measured, &out.notes));
  if (out.sources.empty()) out.notes.push_back("no usable hwmon power or energy channel under " + base);
  return out;
}

}  // namespace ofa::energy
