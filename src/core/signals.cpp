// Preemption signal flag (see signals.h). The handler does nothing but store the number: no
// allocation, no locks, nothing that is not async-signal-safe.
#include "core/signals.h"

#include <atomic>
#include <csignal>

namespace ofa::signals {

namespace {
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal flag must be lock-free");

extern "C" void on_stop_signal(int sig) { g_signal.store(sig, std::memory_order_relaxed); }
}  // namespace

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = &on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGUSR2, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int stop_requested() { return g_signal.load(std::memory_order_relaxed); }

void clear_stop() { g_signal.store(0, std::memory_order_relaxed); }

}  // namespace ofa::signals
