// Minimal inline-SVG charts for the carbon report: a line chart and a stacked bar chart with
// "nice" axis ticks, a legend, and text escaped for XML. The output is well-formed XML (the report
// test parses it), has no script, and sizes itself to the page through its viewBox.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace ofa::energy::svg {

std::string escape(const std::string& text);
/// A number for people: 3 significant digits, no exponent for ordinary magnitudes.
std::string fmt(double v, int significant = 3);
/// About `target` round tick values covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
/// The i-th colour of a categorical palette (cycles).
const char* palette(size_t i);

struct Line {
  std::string label;
  std::string color;
  bool dashed = false;
  std::vector<std::vector<std::pair<double, double>>> parts;  // a gap in the data starts a new part
};

struct Axes {
  std::string id;      // the <svg> element's id
  std::string title;   // <title> of the svg, read by screen readers
  std::string x_label, y_label;
  bool y_from_zero = true;
};

std::string line_chart(const Axes& axes, const std::vector<Line>& lines);

struct Bar {
  std::string label;                                // below the bar
  std::vector<std::pair<std::string, double>> parts;  // (series, value), stacked bottom-up
};
/// Colours come from the order of `series` (each bar part names one of them).
std::string stacked_bar_chart(const Axes& axes, const std::vector<std::string>& series, const std::vector<Bar>& bars);

}  // namespace ofa::energy::svg
