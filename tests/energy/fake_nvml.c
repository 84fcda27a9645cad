/* A fake libnvidia-ml for the energy tests, loaded through the same dlopen path as the real one.
 * Its state is a text file named by FAKE_NVML_STATE, re-read on every call so a test can change
 * counters between samples. Lines are "key value":
 *   count N            GPUs visible (default 1)
 *   init_fail 1        nvmlInit_v2 returns NVML_ERROR_DRIVER_NOT_LOADED (9)
 *   energy_mj X        total energy counter; absent: the call returns NOT_SUPPORTED (3)
 *   power_mw X         power usage; absent: NOT_SUPPORTED
 *   lost 1             every device call returns NVML_ERROR_GPU_IS_LOST (15)
 * Only the functions ofa's NvmlSource looks up are defined. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct nvmlDevice_st* nvmlDevice_t;

struct fake_state {
  unsigned count;
  int init_fail, lost, have_energy, have_power;
  unsigned long long energy_mj;
  unsigned power_mw;
};

static int g_initialised = 0;

static struct fake_state read_state(void) {
  struct fake_state s = {1, 0, 0, 0, 0, 0, 0};
  const char* path = getenv("FAKE_NVML_STATE");
  FILE* f = path ? fopen(path, "r") : NULL;
  char key[64];
  unsigned long long v;
  if (!f) return s;
  while (fscanf(f, "%63s %llu", key, &v) == 2) {
    if (!strcmp(key, "count")) s.count = (unsigned)v;
    else if (!strcmp(key, "init_fail")) s.init_fail = (int)v;
    else if (!strcmp(key, "lost")) s.lost = (int)v;
    else if (!strcmp(key, "energy_mj")) { s.have_energy = 1; s.energy_mj = v; }
    else if (!strcmp(key, "power_mw")) { s.have_power = 1; s.power_mw = (unsigned)v; }
  }
  fclose(f);
  return s;
}

int nvmlInit_v2(void) {
  if (read_state().init_fail) return 9;
  ++g_initialised; /* reference counted, as the real library */
  return 0;
}

int nvmlShutdown(void) {
  if (g_initialised > 0) --g_initialised;
  return 0;
}

const char* nvmlErrorString(int rc) {
  switch (rc) {
    case 3: return "Not Supported";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    default: return "Unknown Error";
  }
}

int nvmlDeviceGetCount_v2(unsigned* count) {
  if (!g_initialised) return 1; /* NVML_ERROR_UNINITIALIZED */
  *count = read_state().count;
  return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t* device) {
  if (!g_initialised) return 1;
  if (index >= read_state().count) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *device = (nvmlDevice_t)(uintptr_t)(0x1000 + 16 * index); /* opaque, never dereferenced */
  return 0;
}

int nvmlDeviceGetName(nvmlDevice_t device, char* name, unsigned length) {
  (void)device;
  snprintf(name, length, "Fake GPU");
  return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t device, unsigned long long* mj) {
  struct fake_state s = read_state();
  (void)device;
  if (s.lost) return 15;
  if (!s.have_energy) return 3;
  *mj = s.energy_mj;
  return 0;
}

int nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned* mw) {
  struct fake_state s = read_state();
  (void)device;
  if (s.lost) return 15;
  if (!s.have_power) return 3;
  *mw = s.power_mw;
  return 0;
}
