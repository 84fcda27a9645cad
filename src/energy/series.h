// The power time series and its file, energy.csv: one row per (sample, source) with columns
// time_s,node,rank,source,kind,watts,joules. time_s is Unix time in seconds (so rows from several
// nodes and from runs resumed after preemption line up); joules is the energy of the interval
// that ends at time_s. Rows are appended by the trainer; the report reads them back.
#pragma once
#include <string>
#include <vector>

#include "energy/source.h"

namespace ofa::energy {

struct SeriesRow {
  double time_s = 0;
  std::string node;
  int rank = 0;
  std::string source;
  SourceKind kind = SourceKind::kCounter;
  double watts = 0;
  double joules = 0;
};

extern const char* const kEnergyCsvHeader;  // "time_s,node,rank,source,kind,watts,joules"

/// Rows as CSV text, without the header (fields with a comma or quote are quoted).
std::string to_csv(const std::vector<SeriesRow>& rows);
/// Appends rows to `path`, writing the header first when the file is new or empty. Throws kIo.
void append_energy_csv(const std::string& path, const std::vector<SeriesRow>& rows);
/// Parses CSV text (a header line is recognised and skipped). Throws kData naming the line.
std::vector<SeriesRow> parse_energy_csv(const std::string& text, const std::string& origin = "energy.csv");
/// Reads a file written by append_energy_csv. Throws kIo if it cannot be read.
std::vector<SeriesRow> read_energy_csv(const std::string& path);

}  // namespace ofa::energy
