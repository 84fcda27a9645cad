// A power source: something that can say how many joules were spent since it was last asked.
// Counters (RAPL, NVML total energy, hwmon energy) are differenced; sampled power is integrated
// over the interval; an estimate is watts x utilisation. Every figure carries the source's name
// and kind so that no output can hide where a number came from.
#pragma once
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace ofa::energy {

enum class SourceKind { kCounter, kSampledPower, kEstimate };
/// kNode: the whole node (read by local rank 0 only); kRank: this rank's own device.
enum class Scope { kNode, kRank };

/// "counter", "sampled_power", "estimate"; and back (throws kData on an unknown name).
const char* kind_name(SourceKind kind);
SourceKind kind_from_name(const std::string& name);
const char* scope_name(Scope scope);

struct Reading {
  double joules = 0;  // energy over (previous sample, this sample]; 0 on the first sample
  double watts = 0;   // mean power over that interval (the last reading for sampled power)
  bool ok = true;     // false: the source can no longer be read and must be dropped
  std::string note;   // why not ok, or what degraded (a zone that disappeared)
};

class PowerSource {
 public:
  PowerSource(std::string name, SourceKind kind, Scope scope)
      : name_(std::move(name)), kind_(kind), scope_(scope) {}
  virtual ~PowerSource() = default;
  PowerSource(const PowerSource&) = delete;
  PowerSource& operator=(const PowerSource&) = delete;

  const std::string& name() const { return name_; }
  SourceKind kind() const { return kind_; }
  Scope scope() const { return scope_; }
  /// One line for logs and reports: what is read ("package-0, package-1 + dram-0 from ...").
  virtual std::string describe() const = 0;
  /// Reads at steady time t (seconds). The first call sets the baseline and returns 0 J.
  virtual Reading sample(double t) = 0;
  /// Longest sampling period that cannot miss a counter wrap at the power seen so far.
  virtual double max_interval_s() const { return std::numeric_limits<double>::infinity(); }

 private:
  std::string name_;
  SourceKind kind_;
  Scope scope_;
};

using SourcePtr = std::unique_ptr<PowerSource>;

/// Small sysfs/procfs helpers: whole-file reads with open/read (no iostreams: they are on the
/// sampling path). Return false and leave *out alone when the file cannot be read.
bool read_small_file(const std::string& path, std::string* out, std::string* error = nullptr);
bool read_u64_file(const std::string& path, unsigned long long* out, std::string* error = nullptr);
std::string trim(const std::string& s);
/// root + "/" + rel with exactly one slash between them ("/" + "sys/x" -> "/sys/x").
std::string join_root(const std::string& root, const std::string& rel);
/// Directory entries (names only, sorted, "." and ".." dropped); empty if it cannot be listed.
std::vector<std::string> list_dir(const std::string& dir);

}  // namespace ofa::energy
