// Slurm's own energy figure for a job, as a cross-check beside ours: runs
//   sacct -j JOB -n -P -o ConsumedEnergyRaw
// and returns joules when Slurm reports any. Only sites with an energy accounting plugin fill the
// field (its NVIDIA GPU plugin reads nothing); empty, zero or unparsable output means "none". The
// job line and step lines may all carry values; the largest is taken (the job covers its steps).
// The executable is a parameter so tests can put a fake script in its place.
#pragma once
#include <optional>
#include <string>

namespace ofa::energy {

struct SacctResult {
  std::optional<double> joules;
  std::string note;  // why there is no figure (no sacct, failed, not reported)
};

/// Never throws for a missing or failing sacct (that is a note); kUsage for a malformed job id.
SacctResult sacct_consumed_energy(const std::string& job_id, const std::string& sacct = "sacct",
                                  double timeout_s = 20);

}  // namespace ofa::energy
