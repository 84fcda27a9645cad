// NVIDIA GPU energy through NVML, loaded at run time with dlopen (no CUDA or NVML headers at build
// time; the few declarations needed live in nvml.cpp). The total energy counter (mJ since the
// driver loaded, Volta and newer) is differenced; where the GPU does not support it, power (mW) is
// sampled and integrated over the interval (trapezoid), and the source says so in its kind.
// The library name is an option so the tests load a fake NVML built beside them.
#pragma once
#include <memory>
#include <string>

#include "energy/source.h"

namespace ofa::energy {

class NvmlSource : public PowerSource {
 public:
  /// Loads `library`, initialises NVML and opens GPU `index`. nullptr with *why set if any step
  /// fails (no library, no driver, no such GPU, neither energy nor power readable).
  static std::unique_ptr<NvmlSource> open(const std::string& library, int index, std::string* why);
  ~NvmlSource() override;

  std::string describe() const override;
  Reading sample(double t) override;

  struct Api;  // the dlopen handle and function pointers (nvml.cpp)

 private:
  NvmlSource(std::unique_ptr<Api> api, int index, SourceKind kind, std::string device_name);
  std::unique_ptr<Api> api_;
  int index_;
  std::string device_name_;
  bool started_ = false;
  double last_t_ = 0;
  unsigned long long last_mj_ = 0;  // counter path
  double last_w_ = 0;               // sampled-power path
};

}  // namespace ofa::energy
