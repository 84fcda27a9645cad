// Inline SVG charts (see svg.h). Geometry: a fixed 720-unit-wide viewBox, the plot area inside
// margins, the legend in rows under the x-axis label.
#include "energy/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ofa::energy::svg {
namespace {

constexpr double kWidth = 720, kPlotHeight = 260;
constexpr double kLeft = 70, kRight = 20, kTop = 16, kBottom = 46;
constexpr double kLegendRow = 18;

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

struct Frame {
  double x0, x1, y0, y1;  // data range
  double px0 = kLeft, px1 = kWidth - kRight, py0 = kTop + kPlotHeight, py1 = kTop;
  double sx(double x) const { return x1 > x0 ? px0 + (x - x0) / (x1 - x0) * (px1 - px0) : (px0 + px1) / 2; }
  double sy(double y) const { return y1 > y0 ? py0 + (y - y0) / (y1 - y0) * (py1 - py0) : (py0 + py1) / 2; }
};

// A tick label with just the decimals its step needs ("2", "0.25", "1.5e+04" for big ones).
std::string tick_text(double v, const std::vector<double>& ticks) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  if (std::fabs(v) >= 1e7 || (step < 1e-4 && v != 0)) return fmt(v);
  const int decimals = std::max(0, int(-std::floor(std::log10(step) + 1e-9)));
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string open_svg(const Axes& a, double height) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"" + escape(a.id) + "\" class=\"chart\" viewBox=\"0 0 " +
         num(kWidth) + " " + num(height) + "\" role=\"img\"><title>" + escape(a.title) + "</title>\n";
}

std::string y_axis(const Frame& f, const std::vector<double>& ticks, const std::string& label) {
  std::string s;
  for (double t : ticks) {
    const double y = f.sy(t);
    s += "<line class=\"grid\" x1=\"" + num(f.px0) + "\" x2=\"" + num(f.px1) + "\" y1=\"" + num(y) + "\" y2=\"" +
         num(y) + "\"/>";
    s += "<text class=\"tick\" x=\"" + num(f.px0 - 6) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" +
         escape(tick_text(t, ticks)) + "</text>\n";
  }
  const double cy = (f.py0 + f.py1) / 2;
  s += "<text class=\"axis-label\" x=\"14\" y=\"" + num(cy) + "\" text-anchor=\"middle\" transform=\"rotate(-90 14 " +
       num(cy) + ")\">" + escape(label) + "</text>\n";
  return s;
}

std::string legend(const std::vector<std::pair<std::string, std::string>>& items, double y, bool dashed_flags,
                   const std::vector<bool>& dashed) {
  std::string s = "<g class=\"legend\">";
  double x = kLeft;
  for (size_t i = 0; i < items.size(); ++i) {
    const double w = 34 + 6.5 * double(items[i].first.size());
    if (x + w > kWidth - kRight && x > kLeft) {
      x = kLeft;
      y += kLegendRow;
    }
    const bool dash = dashed_flags && dashed[i];
    s += "<line x1=\"" + num(x) + "\" x2=\"" + num(x + 18) + "\" y1=\"" + num(y - 4) + "\" y2=\"" + num(y - 4) +
         "\" stroke=\"" + items[i].second + "\" stroke-width=\"3\"" + (dash ? " stroke-dasharray=\"5 3\"" : "") + "/>";
    s += "<text x=\"" + num(x + 24) + "\" y=\"" + num(y) + "\">" + escape(items[i].first) + "</text>";
    x += w;
  }
  return s + "</g>\n";
}

// Rows the legend will need (same wrapping rule as legend()).
int legend_rows(const std::vector<std::string>& labels) {
  int rows = labels.empty() ? 0 : 1;
  double x = kLeft;
  for (const std::string& l : labels) {
    const double w = 34 + 6.5 * double(l.size());
    if (x + w > kWidth - kRight && x > kLeft) {
      x = kLeft;
      ++rows;
    }
    x += w;
  }
  return rows;
}

}  // namespace

std::string escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') break;  // not allowed in XML
        out += c;
    }
  }
  return out;
}

std::string fmt(double v, int significant) {
  char buf[48];
  if (!std::isfinite(v)) return "n/a";
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e7 || a < 1e-3) {
    std::snprintf(buf, sizeof buf, "%.*g", significant, v);
    return buf;
  }
  const int mag = int(std::floor(std::log10(a)));
  const int decimals = std::max(0, significant - 1 - mag);
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo)) {
    const double pad = std::fabs(hi) > 0 ? std::fabs(hi) * 0.5 : 1.0;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  std::vector<double> ticks;
  for (double t = std::floor(lo / step) * step; t <= hi + step * 0.999; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
  return ticks;
}

const char* palette(size_t i) {
  static const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return kColors[i % 10];
}

std::string line_chart(const Axes& a, const std::vector<Line>& lines) {
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (const Line& l : lines)
    for (const auto& part : l.parts)
      for (const auto& [x, y] : part) {
        xmin = std::min(xmin, x), xmax = std::max(xmax, x);
        ymin = std::min(ymin, y), ymax = std::max(ymax, y);
      }
  if (!std::isfinite(xmin)) xmin = 0, xmax = 1, ymin = 0, ymax = 1;
  if (a.y_from_zero) ymin = std::min(0.0, ymin);
  const std::vector<double> xt = nice_ticks(xmin, xmax, 6), yt = nice_ticks(ymin, ymax, 5);
  Frame f{xt.front(), xt.back(), yt.front(), yt.back()};
  std::vector<std::string> labels;
  for (const Line& l : lines) labels.push_back(l.label);
  const double height = kTop + kPlotHeight + kBottom + kLegendRow * legend_rows(labels);
  std::string s = open_svg(a, height) + y_axis(f, yt, a.y_label);
  for (double t : xt)
    s += "<text class=\"tick\" x=\"" + num(f.sx(t)) + "\" y=\"" + num(f.py0 + 16) + "\" text-anchor=\"middle\">" +
         escape(tick_text(t, xt)) + "</text>";
  s += "\n<text class=\"axis-label\" x=\"" + num((f.px0 + f.px1) / 2) + "\" y=\"" + num(f.py0 + 34) +
       "\" text-anchor=\"middle\">" + escape(a.x_label) + "</text>\n";
  s += "<line class=\"axis\" x1=\"" + num(f.px0) + "\" x2=\"" + num(f.px1) + "\" y1=\"" + num(f.py0) + "\" y2=\"" +
       num(f.py0) + "\"/>\n";
  std::vector<std::pair<std::string, std::string>> items;
  std::vector<bool> dashed;
  for (const Line& l : lines) {
    s += "<g class=\"series\" data-label=\"" + escape(l.label) + "\">";
    for (const auto& part : l.parts) {
      if (part.size() == 1) {
        s += "<circle cx=\"" + num(f.sx(part[0].first)) + "\" cy=\"" + num(f.sy(part[0].second)) + "\" r=\"3\" fill=\"" +
             l.color + "\"/>";
        continue;
      }
      s += "<polyline fill=\"none\" stroke=\"" + l.color + "\" stroke-width=\"2\"" +
           (l.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"";
      for (const auto& [x, y] : part) s += num(f.sx(x)) + "," + num(f.sy(y)) + " ";
      s += "\"/>";
    }
    s += "</g>\n";
    items.emplace_back(l.label, l.color);
    dashed.push_back(l.dashed);
  }
  s += legend(items, f.py0 + kBottom + 10, true, dashed);
  return s + "</svg>";
}

std::string stacked_bar_chart(const Axes& a, const std::vector<std::string>& series, const std::vector<Bar>& bars) {
  double ymax = 0;
  for (const Bar& b : bars) {
    double total = 0;
    for (const auto& part : b.parts) total += std::max(0.0, part.second);
    ymax = std::max(ymax, total);
  }
  const std::vector<double> yt = nice_ticks(0, ymax > 0 ? ymax : 1, 5);
  Frame f{0, 1, yt.front(), yt.back()};
  const double height = kTop + kPlotHeight + kBottom + kLegendRow * legend_rows(series);
  std::string s = open_svg(a, height) + y_axis(f, yt, a.y_label);
  const double slot = (f.px1 - f.px0) / double(std::max<size_t>(bars.size(), 1));
  const double width = std::min(slot * 0.6, 90.0);
  for (size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    const double cx = f.px0 + slot * (double(i) + 0.5);
    double base = 0;
    s += "<g class=\"bar\" data-label=\"" + escape(b.label) + "\">";
    for (const auto& [name, value] : b.parts) {
      if (value <= 0) continue;
      const size_t k = size_t(std::find(series.begin(), series.end(), name) - series.begin());
      const double ytop = f.sy(base + value), ybot = f.sy(base);
      s += "<rect x=\"" + num(cx - width / 2) + "\" y=\"" + num(ytop) + "\" width=\"" + num(width) + "\" height=\"" +
           num(std::max(ybot - ytop, 0.5)) + "\" fill=\"" + palette(k) + "\"><title>" +
           escape(b.label + ", " + name + ": " + fmt(value)) + "</title></rect>";
      base += value;
    }
    s += "<text class=\"value\" x=\"" + num(cx) + "\" y=\"" + num(f.sy(base) - 4) + "\" text-anchor=\"middle\">" +
         escape(fmt(base)) + "</text>";
    std::string label = b.label.size() > 18 ? b.label.substr(0, 17) + "~" : b.label;
    const double ly = f.py0 + 16 + (slot < 110 && i % 2 ? 13 : 0);  // stagger labels of narrow bars
    s += "<text class=\"tick\" x=\"" + num(cx) + "\" y=\"" + num(ly) + "\" text-anchor=\"middle\">" +
         escape(label) + "</text></g>\n";
  }
  s += "<line class=\"axis\" x1=\"" + num(f.px0) + "\" x2=\"" + num(f.px1) + "\" y1=\"" + num(f.py0) + "\" y2=\"" +
       num(f.py0) + "\"/>\n";
  std::vector<std::pair<std::string, std::string>> items;
  for (size_t k = 0; k < series.size(); ++k) items.emplace_back(series[k], palette(k));
  s += legend(items, f.py0 + kBottom + 10, false, {});
  return s + "</svg>";
}

}  // namespace ofa::energy::svg
