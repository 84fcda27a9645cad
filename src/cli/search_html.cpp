// search_html (see search_html.h): scatter charts drawn as inline SVG with energy/svg.h's tick
// and text helpers (accuracy against MACs, and against latency when known), and a table of the
// winners.
#include "cli/search_html.h"

#include <algorithm>
#include <sstream>

#include "energy/svg.h"

namespace ofa::cli {
namespace {

namespace svg = energy::svg;

constexpr double kW = 760, kH = 420, kLeft = 70, kRight = 20, kTop = 20, kBottom = 50;

// The x axis of a chart: which value of a point, its label, and how ticks print.
struct XAxis {
  double (*of)(const SearchPoint&);
  const char* label;
  double tick_scale;  // a tick's value is printed divided by this
  const char* tick_unit;
  const char* id;  // the svg element's id
};
double macs_of(const SearchPoint& p) { return p.macs; }
double latency_of(const SearchPoint& p) { return p.latency_ms; }
const XAxis kMacsAxis{macs_of, "MACs", 1e6, "M", "search"};
const XAxis kLatencyAxis{latency_of, "predicted latency (ms)", 1, "", "search_latency"};

struct Frame {
  double x0, x1, y0, y1;
  double x(double v) const { return kLeft + (v - x0) / (x1 - x0) * (kW - kLeft - kRight); }
  double y(double v) const { return kH - kBottom - (v - y0) / (y1 - y0) * (kH - kTop - kBottom); }
};

// The best predicted accuracy at or below each x value: the points where it improves.
std::vector<SearchPoint> front_of(std::vector<SearchPoint> pts, const XAxis& ax) {
  std::sort(pts.begin(), pts.end(), [&ax](const auto& a, const auto& b) { return ax.of(a) < ax.of(b); });
  std::vector<SearchPoint> front;
  for (const auto& p : pts)
    if (front.empty() || p.predicted > front.back().predicted) front.push_back(p);
  return front;
}

void axes(std::ostringstream& os, const Frame& f, const std::vector<double>& xt, const std::vector<double>& yt,
          const XAxis& ax) {
  for (double t : xt)
    os << "<line x1='" << f.x(t) << "' x2='" << f.x(t) << "' y1='" << kTop << "' y2='" << kH - kBottom
       << "' stroke='#eee'/><text x='" << f.x(t) << "' y='" << kH - kBottom + 16 << "' text-anchor='middle'>"
       << svg::fmt(t / ax.tick_scale) << ax.tick_unit << "</text>";
  for (double t : yt)
    os << "<line x1='" << kLeft << "' x2='" << kW - kRight << "' y1='" << f.y(t) << "' y2='" << f.y(t)
       << "' stroke='#eee'/><text x='" << kLeft - 6 << "' y='" << f.y(t) + 4 << "' text-anchor='end'>"
       << svg::fmt(100 * t) << "%</text>";
  os << "<text x='" << (kLeft + kW - kRight) / 2 << "' y='" << kH - 10 << "' text-anchor='middle'>" << ax.label
     << "</text>"
     << "<text x='16' y='" << (kTop + kH - kBottom) / 2 << "' transform='rotate(-90 16 " << (kTop + kH - kBottom) / 2
     << ")' text-anchor='middle'>accuracy</text>";
}

// A winner as a point on the chart's axes.
SearchPoint point_of(const SearchWinner& w) { return {w.macs, w.predicted, w.latency_ms}; }

std::string chart(const std::vector<SearchPoint>& shown, const std::vector<SearchPoint>& front,
                  const std::vector<SearchWinner>& winners, const XAxis& ax) {
  double x0 = 1e300, x1 = 0, y0 = 1, y1 = 0;
  auto extend = [&](double m, double a) {
    x0 = std::min(x0, m), x1 = std::max(x1, m), y0 = std::min(y0, a), y1 = std::max(y1, a);
  };
  for (const auto& p : shown) extend(ax.of(p), p.predicted);
  for (const auto& w : winners) extend(ax.of(point_of(w)), w.test ? std::min(*w.test, w.predicted) : w.predicted);
  const auto xt = svg::nice_ticks(x0, x1, 6), yt = svg::nice_ticks(y0, y1, 5);
  const Frame f{xt.front(), std::max(xt.back(), xt.front() + 1e-3), yt.front(), std::max(yt.back(), yt.front() + 1e-3)};
  std::ostringstream os;
  os << "<svg id='" << ax.id << "' viewBox='0 0 " << kW << " " << kH << "' font-size='12' role='img'>"
     << "<title>Predicted accuracy against " << ax.label << " of the scored candidates</title>";
  axes(os, f, xt, yt, ax);
  for (const auto& p : shown)
    os << "<circle cx='" << f.x(ax.of(p)) << "' cy='" << f.y(p.predicted) << "' r='1.5' fill='#bbb'/>";
  os << "<polyline fill='none' stroke='#1f77b4' stroke-width='2' points='";
  for (const auto& p : front) os << f.x(ax.of(p)) << "," << f.y(p.predicted) << " ";
  os << "'/>";
  for (const auto& w : winners) {
    const double x = f.x(ax.of(point_of(w)));
    os << "<circle cx='" << x << "' cy='" << f.y(w.predicted) << "' r='5' fill='#d62728'><title>"
       << svg::escape(w.budget) << ": predicted " << svg::fmt(100 * w.predicted) << "%</title></circle>";
    if (w.test)
      os << "<rect x='" << x - 4 << "' y='" << f.y(*w.test) - 4 << "' width='8' height='8' fill='#000'><title>"
         << svg::escape(w.budget) << ": test " << svg::fmt(100 * *w.test) << "%</title></rect>";
  }
  os << "</svg>";
  return os.str();
}

}  // namespace

std::string search_html(const std::string& title, std::vector<SearchPoint> candidates,
                        const std::vector<SearchWinner>& winners) {
  const bool latency = !candidates.empty() && candidates.front().latency_ms >= 0;
  const size_t step = std::max<size_t>(1, candidates.size() / 3000);  // every step-th: a few thousand dots
  std::vector<SearchPoint> shown;
  for (size_t i = 0; i < candidates.size(); i += step) shown.push_back(candidates[i]);
  std::ostringstream os;
  os << "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>" << svg::escape(title)
     << "</title><style>body{font-family:sans-serif;max-width:820px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body><h1>"
     << svg::escape(title) << "</h1><p>" << candidates.size() << " candidates scored (" << shown.size()
     << " drawn, grey), the front of the best predicted accuracy at each MACs value (blue), the winners "
        "(red) and, with --verify, their test accuracy (black squares). Predicted values are holdout "
        "accuracies.</p>"
     << (candidates.empty() ? std::string() : chart(shown, front_of(candidates, kMacsAxis), winners, kMacsAxis))
     << (latency ? chart(shown, front_of(candidates, kLatencyAxis), winners, kLatencyAxis) : std::string())
     << "<table><tr><th>budget</th><th>predicted</th><th>test</th><th>MACs</th><th>params</th><th>peak "
        "activations (bytes)</th>"
     << (latency ? "<th>latency (ms)</th>" : "") << "<th>subnet</th></tr>";
  for (const auto& w : winners)
    os << "<tr><td>" << svg::escape(w.budget) << "</td><td>" << svg::fmt(100 * w.predicted, 4) << "%</td><td>"
       << (w.test ? svg::fmt(100 * *w.test, 4) + "%" : "-") << "</td><td>" << svg::fmt(w.macs) << "</td><td>"
       << svg::fmt(w.params) << "</td><td>" << svg::fmt(w.memory) << "</td>"
       << (latency ? "<td>" + svg::fmt(w.latency_ms, 4) + "</td>" : "") << "<td style='text-align:left'>"
       << svg::escape(w.subnet) << "</td></tr>";
  os << "</table></body></html>\n";
  return os.str();
}

}  // namespace ofa::cli
