// search.html, self-contained like carbon.html (inline SVG, no script): the predicted accuracy
// against MACs of the candidates the searches scored, the front they trace (the best predicted
// accuracy at or below each MACs value), each winner, and its measured test accuracy when
// --verify ran; with a latency table, the same against predicted latency in a second chart.
// cli-internal (cmd_search_run.cpp).
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ofa::cli {

struct SearchPoint {
  double macs = 0;
  double predicted = 0;        // [0, 1]
  double latency_ms = -1;      // predicted by a latency table; < 0: none
};

struct SearchWinner {
  std::string budget;  // e.g. "macs<=2.5M"
  std::string subnet;  // SubnetConfig::to_string()
  double macs = 0, params = 0, memory = 0;
  double latency_ms = -1;  // < 0: no latency table
  double predicted = 0;
  std::optional<double> test;  // --verify
};

/// The page; `candidates` may be many (they are thinned to a few thousand, the front is kept whole).
std::string search_html(const std::string& title, std::vector<SearchPoint> candidates,
                        const std::vector<SearchWinner>& winners);

}  // namespace ofa::cli
