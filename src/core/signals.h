// Preemption signals. Slurm sends SIGUSR2 (`--signal`) or SIGTERM (time limit, scancel) before
// it kills a job; the handler only records the signal, and the trainer acts on it at the next
// step boundary (all ranks agree there, checkpoint at the same step and exit with code 75).
#pragma once

namespace ofa::signals {

/// Installs the SIGUSR2 and SIGTERM handlers (idempotent).
void install_stop_handlers();
/// The signal number received since installation, or 0.
int stop_requested();
/// For tests: forget a received signal.
void clear_stop();

}  // namespace ofa::signals
