// What each rank of a job hands to rank 0 at a checkpoint or at the end: its ledger and the
// power rows since the last hand-over, as one string (the caller moves the strings, e.g. with
// dist::Communicator::all_gather_strings: energy has no MPI), and rank 0's merge of them. Node-
// wide joules exist on one rank per node, so the merged ledger counts nothing twice.
#pragma once
#include <string>
#include <vector>

#include "energy/ledger.h"
#include "energy/monitor.h"
#include "energy/series.h"

namespace ofa::energy {

/// This rank's ledger and the rows drained from `m` since the last call.
std::string rank_part(Monitor& m);

struct MergedParts {
  Ledger ledger;
  std::vector<SeriesRow> rows;
};
/// The ranks' parts merged; kData naming `where` for a part that does not parse.
MergedParts merge_rank_parts(const std::vector<std::string>& parts, const std::string& where);

}  // namespace ofa::energy
