// Latency lookup table files: `ofa search profile` writes ours; `--latency-table` reads ours or
// the reference's published per-device tables (one <r>_lookup_table.yaml per resolution, a file
// or a directory of them). An entry is {count, mean, var} (ms), ours adds median; our files carry
// how they were measured under search::LatencyTable::kMetaKey. Errors: kIo when a file cannot be
// read, kData naming the file and the key when it is malformed. search/latency_table.h holds the
// table itself (plain data: the module parses no file).
#pragma once
#include <string>

#include "search/latency_table.h"

namespace ofa::cli {

/// A table file, or a directory of the reference's <r>_lookup_table.yaml files (each applies to
/// its resolution only).
search::LatencyTable load_latency_table(const std::string& path);
/// Every common entry and the meta (if present), keys sorted; atomically. kIo on failure.
void save_latency_table(const search::LatencyTable& table, const std::string& path);

}  // namespace ofa::cli
