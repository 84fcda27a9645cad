// NVML through dlopen (see nvml.h). The declarations below are the stable C ABI of libnvidia-ml:
// every call returns an int status (0 = success) and a device is an opaque pointer.
#include "energy/nvml.h"

#include <dlfcn.h>

namespace ofa::energy {
namespace {

using nvmlReturn_t = int;
using nvmlDevice_t = struct nvmlDevice_st*;
constexpr nvmlReturn_t kNvmlSuccess = 0;

using InitFn = nvmlReturn_t (*)();
using ShutdownFn = nvmlReturn_t (*)();
using ErrorStringFn = const char* (*)(nvmlReturn_t);
using CountFn = nvmlReturn_t (*)(unsigned int*);
using HandleFn = nvmlReturn_t (*)(unsigned int, nvmlDevice_t*);
using NameFn = nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned int);
using EnergyFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned long long*);
using PowerFn = nvmlReturn_t (*)(nvmlDevice_t, unsigned int*);

}  // namespace

struct NvmlSource::Api {
  void* handle = nullptr;
  bool initialised = false;
  ShutdownFn shutdown = nullptr;
  ErrorStringFn error_string = nullptr;
  EnergyFn energy = nullptr;  // nullptr: this GPU (or library) has no total energy counter
  PowerFn power = nullptr;
  nvmlDevice_t device = nullptr;

  std::string err(nvmlReturn_t rc) const {
    const char* s = error_string ? error_string(rc) : nullptr;
    return "NVML error " + std::to_string(rc) + (s ? std::string(" (") + s + ")" : "");
  }
  ~Api() {
    if (initialised && shutdown) shutdown();
    if (handle) dlclose(handle);
  }
};

std::unique_ptr<NvmlSource> NvmlSource::open(const std::string& library, int index, std::string* why) {
  auto api = std::make_unique<Api>();
  api->handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!api->handle) {
    const char* e = dlerror();
    *why = "cannot load " + library + ": " + (e ? e : "unknown dlopen error");
    return nullptr;
  }
  auto sym = [&](const char* name) { return dlsym(api->handle, name); };
  auto init = reinterpret_cast<InitFn>(sym("nvmlInit_v2"));
  auto count_fn = reinterpret_cast<CountFn>(sym("nvmlDeviceGetCount_v2"));
  auto handle_fn = reinterpret_cast<HandleFn>(sym("nvmlDeviceGetHandleByIndex_v2"));
  auto name_fn = reinterpret_cast<NameFn>(sym("nvmlDeviceGetName"));
  api->shutdown = reinterpret_cast<ShutdownFn>(sym("nvmlShutdown"));
  api->error_string = reinterpret_cast<ErrorStringFn>(sym("nvmlErrorString"));
  api->energy = reinterpret_cast<EnergyFn>(sym("nvmlDeviceGetTotalEnergyConsumption"));
  api->power = reinterpret_cast<PowerFn>(sym("nvmlDeviceGetPowerUsage"));
  if (!init || !handle_fn || (!api->energy && !api->power)) {
    *why = library + " lacks nvmlInit_v2, nvmlDeviceGetHandleByIndex_v2 or both energy and power calls";
    return nullptr;
  }
  nvmlReturn_t rc = init();
  if (rc != kNvmlSuccess) {
    *why = "nvmlInit_v2 failed: " + api->err(rc);
    return nullptr;
  }
  api->initialised = true;
  unsigned int count = 0;
  if (count_fn && count_fn(&count) == kNvmlSuccess && index >= int(count)) {
    *why = "GPU " + std::to_string(index) + " asked for but NVML sees " + std::to_string(count) +
           " (more ranks than GPUs on this node?)";
    return nullptr;
  }
  rc = handle_fn(unsigned(index), &api->device);
  if (rc != kNvmlSuccess) {
    *why = "nvmlDeviceGetHandleByIndex_v2(" + std::to_string(index) + ") failed: " + api->err(rc);
    return nullptr;
  }
  char name[96] = {0};
  std::string device_name = "GPU";
  if (name_fn && name_fn(api->device, name, sizeof name) == kNvmlSuccess) device_name = name;

  // Probe: the energy counter where it works (Volta+), else power sampling.
  SourceKind kind = SourceKind::kSampledPower;
  unsigned long long mj = 0;
  if (api->energy && api->energy(api->device, &mj) == kNvmlSuccess) {
    kind = SourceKind::kCounter;
  } else {
    api->energy = nullptr;
    unsigned int mw = 0;
    rc = api->power ? api->power(api->device, &mw) : -1;
    if (rc != kNvmlSuccess) {
      *why = "GPU " + std::to_string(index) + " reports neither total energy nor power" +
             (api->power ? ": " + api->err(rc) : std::string(" (no nvmlDeviceGetPowerUsage)"));
      return nullptr;
    }
  }
  return std::unique_ptr<NvmlSource>(new NvmlSource(std::move(api), index, kind, device_name));
}

NvmlSource::NvmlSource(std::unique_ptr<Api> api, int index, SourceKind kind, std::string device_name)
    : PowerSource("nvml.gpu" + std::to_string(index), kind, Scope::kRank),
      api_(std::move(api)),
      index_(index),
      device_name_(std::move(device_name)) {}

NvmlSource::~NvmlSource() = default;

std::string NvmlSource::describe() const {
  return "NVML GPU " + std::to_string(index_) + " (" + device_name_ + "): " +
         (kind() == SourceKind::kCounter ? "total energy counter" : "power usage x interval (no energy counter)");
}

Reading NvmlSource::sample(double t) {
  Reading r;
  const double dt = started_ ? t - last_t_ : 0;
  if (kind() == SourceKind::kCounter) {
    unsigned long long mj = 0;
    nvmlReturn_t rc = api_->energy(api_->device, &mj);
    if (rc != kNvmlSuccess) {
      r.ok = false;
      r.note = "nvmlDeviceGetTotalEnergyConsumption failed: " + api_->err(rc);
      return r;
    }
    if (started_) {
      if (mj >= last_mj_) {
        r.joules = double(mj - last_mj_) * 1e-3;
      } else {
        r.note = "GPU energy counter went back (driver reloaded?): interval skipped";
      }
    }
    last_mj_ = mj;
    r.watts = dt > 0 ? r.joules / dt : 0;
  } else {
    unsigned int mw = 0;
    nvmlReturn_t rc = api_->power(api_->device, &mw);
    if (rc != kNvmlSuccess) {
      r.ok = false;
      r.note = "nvmlDeviceGetPowerUsage failed: " + api_->err(rc);
      return r;
    }
    const double w = mw * 1e-3;
    if (started_) r.joules = 0.5 * (last_w_ + w) * dt;  // trapezoid between the two readings
    last_w_ = w;
    r.watts = w;
  }
  last_t_ = t;
  started_ = true;
  return r;
}

}  // namespace ofa::energy
