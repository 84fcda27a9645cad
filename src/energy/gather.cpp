// rank_part and merge_rank_parts (see gather.h).
#include "energy/gather.h"

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ofa::energy {

using json = nlohmann::json;

std::string rank_part(Monitor& m) {
  return json{{"ledger", m.ledger().to_json()}, {"rows", to_csv(m.drain_series())}}.dump();
}

MergedParts merge_rank_parts(const std::vector<std::string>& parts, const std::string& where) {
  MergedParts out;
  std::string rows;
  for (size_t r = 0; r < parts.size(); ++r) {
    json part;
    try {
      part = json::parse(parts[r]);
    } catch (const json::exception& e) {
      fail(ErrorKind::kData, where, ": rank ", r, "'s energy part: ", e.what());
    }
    out.ledger.merge(Ledger::from_json(part.at("ledger")));
    rows += part.at("rows").get<std::string>();
  }
  out.rows = parse_energy_csv(rows, where);
  return out;
}

}  // namespace ofa::energy
