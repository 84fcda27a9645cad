// energy.csv writer and reader (see series.h).
#include "energy/series.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace ofa::energy {

const char* const kEnergyCsvHeader = "time_s,node,rank,source,kind,watts,joules";

namespace {

std::string quoted(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// Splits one CSV line (RFC 4180 quoting, no embedded newlines).
bool split_csv(const std::string& line, std::vector<std::string>* fields) {
  fields->clear();
  std::string cur;
  bool in_quotes = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (in_quotes) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur += '"';
        ++i;
      } else if (c == '"') {
        in_quotes = false;
      } else {
        cur += c;
      }
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == ',') {
      fields->push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  fields->push_back(cur);
  return !in_quotes;
}

double to_double(const std::string& s, const std::string& where) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  OFA_CHECK_KIND(kData, !s.empty() && *end == '\0' && errno == 0, where, ": not a number: '", s, "'");
  return v;
}

}  // namespace

std::string to_csv(const std::vector<SeriesRow>& rows) {
  std::string out;
  char num[96];
  for (const SeriesRow& r : rows) {
    std::snprintf(num, sizeof num, "%.3f", r.time_s);
    out += num;
    out += ',' + quoted(r.node) + ',' + std::to_string(r.rank) + ',' + quoted(r.source) + ',' + kind_name(r.kind);
    std::snprintf(num, sizeof num, ",%.4f,%.6f\n", r.watts, r.joules);
    out += num;
  }
  return out;
}

void append_energy_csv(const std::string& path, const std::vector<SeriesRow>& rows) {
  std::FILE* f = std::fopen(path.c_str(), "a");
  OFA_CHECK_KIND(kIo, f != nullptr, "cannot open ", path, " for appending: ", std::strerror(errno));
  std::string text;
  std::fseek(f, 0, SEEK_END);
  if (std::ftell(f) == 0) text = std::string(kEnergyCsvHeader) + "\n";
  text += to_csv(rows);
  const size_t n = std::fwrite(text.data(), 1, text.size(), f);
  const bool ok = n == text.size() && std::fclose(f) == 0;
  OFA_CHECK_KIND(kIo, ok, "cannot write ", path, ": ", std::strerror(errno));
}

std::vector<SeriesRow> parse_energy_csv(const std::string& text, const std::string& origin) {
  std::vector<SeriesRow> rows;
  std::istringstream is(text);
  std::string line;
  std::vector<std::string> f;
  int line_no = 0;
  while (std::getline(is, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line == kEnergyCsvHeader) continue;
    const std::string where = origin + ":" + std::to_string(line_no);
    OFA_CHECK_KIND(kData, split_csv(line, &f) && f.size() == 7, where, ": expected 7 fields (", kEnergyCsvHeader,
                   "), got '", line, "'");
    SeriesRow r;
    r.time_s = to_double(f[0], where);
    r.node = f[1];
    r.rank = int(to_double(f[2], where));
    r.source = f[3];
    OFA_CHECK_KIND(kData, f[4] == "counter" || f[4] == "sampled_power" || f[4] == "estimate", where,
                   ": unknown kind '", f[4], "'");
    r.kind = kind_from_name(f[4]);
    r.watts = to_double(f[5], where);
    r.joules = to_double(f[6], where);
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<SeriesRow> read_energy_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  OFA_CHECK_KIND(kIo, in.good(), "cannot read ", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_energy_csv(ss.str(), path);
}

}  // namespace ofa::energy
