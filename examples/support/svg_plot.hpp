// A line plot written directly as SVG, for the example programs' learning curves: no plotting
// library to install, and the file opens in any browser or on a code forge.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace marl_rec::examples {

/// One line of a plot: a name for the legend and one y per x of the plot.
struct Series {
  std::string name;
  std::vector<double> y;
};

/// What a plot shows.
struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<double> x;        // shared by every series
  std::vector<Series> series;   // drawn in order; colours cycle through a palette safe for colour blindness
  bool log_x = false;           // a log10 x axis (every x must be > 0)
};

namespace detail {

inline std::string svg_number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

inline std::string tick_label(double v) {
  char buffer[32];
  const double a = std::abs(v);
  if (a != 0.0 && a < 1e-3) std::snprintf(buffer, sizeof buffer, "%.0e", v);
  else if (v == std::round(v) && a < 1e12) std::snprintf(buffer, sizeof buffer, "%.0f", v);
  else std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}

// Ticks at whole multiples of a round step (1, 2 or 5 × 10^k, or `step` when given) from lo to hi:
// about five of them. `cover`: the first and last tick enclose [lo, hi] (for the y axis);
// otherwise only ticks inside [lo, hi] are kept (the x axis spans the data exactly).
inline std::vector<double> nice_ticks(double lo, double hi, bool cover, double step = 0.0) {
  if (step <= 0.0) {
    const double raw = (hi - lo) / 5.0;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    const double r = raw / magnitude;
    step = (r < 1.5 ? 1.0 : r < 3.5 ? 2.0 : r < 7.5 ? 5.0 : 10.0) * magnitude;
  }
  const double first = cover ? std::floor(lo / step + 1e-9) : std::ceil(lo / step - 1e-9);
  const double last = cover ? std::ceil(hi / step - 1e-9) : std::floor(hi / step + 1e-9);
  std::vector<double> ticks;
  // At most a few dozen: a range only a few ulps wide (or a huge first/step) gets its two ends.
  if (std::isfinite(first) && std::isfinite(last) && last - first < 50.0 && first + 1.0 != first) {
    for (double k = first; k <= last + 0.5; k += 1.0) ticks.push_back(k * step);
  }
  if (ticks.size() < 2) ticks = {lo, hi};
  return ticks;
}

inline std::string escaped(const std::string& text) {
  std::string out;
  for (const char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}


// Draws `plot` as an 800 × 440 panel whose left edge is at x0.
inline void draw_panel(std::ostream& svg, const LinePlot& plot, double x0) {
  const std::size_t n = plot.x.size();
  for (const Series& s : plot.series) {
    if (s.y.size() != n) {
      throw std::runtime_error("write_svg: series '" + s.name + "' has " + std::to_string(s.y.size()) +
                               " values for " + std::to_string(n) + " x values");
    }
  }
  const auto xt = [&](double x) {
    if (!plot.log_x) return x;
    if (!(x > 0.0)) throw std::runtime_error("write_svg: a log x axis needs x > 0");
    return std::log10(x);
  };
  double x_lo = 0.0, x_hi = 1.0, y_lo = 0.0, y_hi = 1.0;
  if (n > 0) {
    x_lo = xt(*std::min_element(plot.x.begin(), plot.x.end()));
    x_hi = xt(*std::max_element(plot.x.begin(), plot.x.end()));
    y_lo = INFINITY;
    y_hi = -INFINITY;
    for (const Series& s : plot.series) {
      for (const double y : s.y) {
        if (!std::isfinite(y)) continue;
        y_lo = std::min(y_lo, y);
        y_hi = std::max(y_hi, y);
      }
    }
    if (!std::isfinite(y_lo)) {
      y_lo = 0.0;
      y_hi = 1.0;
    }
  }
  if (!(x_hi > x_lo)) x_hi = x_lo + 1.0;
  if (!(y_hi > y_lo)) {
    y_lo -= 0.5;
    y_hi += 0.5;
  }
  // Round numbers on the axes: the y range grows to whole steps of 1, 2 or 5 × 10^k.
  const std::vector<double> y_ticks = detail::nice_ticks(y_lo, y_hi, true);
  y_lo = y_ticks.front();
  y_hi = y_ticks.back();
  // A log axis: ticks at powers of 10, or of 2 over less than a decade and a half.
  const std::vector<double> x_ticks =
      plot.log_x ? detail::nice_ticks(x_lo, x_hi, false, x_hi - x_lo < 1.5 ? std::log10(2.0) : 1.0)
                 : detail::nice_ticks(x_lo, x_hi, false);

  const double left = x0 + 70, top = 40, width = 400, height = 320;
  const auto px = [&](double x) { return left + width * (xt(x) - x_lo) / (x_hi - x_lo); };
  const auto py = [&](double y) { return top + height * (1.0 - (y - y_lo) / (y_hi - y_lo)); };
  const char* colours[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"};
  const char* dashes[] = {"", "6,3", "2,2", "8,3,2,3"};

  svg << "<text x=\"" << left << "\" y=\"24\" font-size=\"14\">" << detail::escaped(plot.title) << "</text>\n";
  for (const double y : y_ticks) {
    svg << "<line x1=\"" << left << "\" y1=\"" << svg_number(py(y)) << "\" x2=\"" << left + width << "\" y2=\""
        << svg_number(py(y)) << "\" stroke=\"#e5e5e5\"/>\n<text x=\"" << left - 6 << "\" y=\""
        << svg_number(py(y) + 4) << "\" text-anchor=\"end\">" << detail::tick_label(y) << "</text>\n";
  }
  for (const double t : x_ticks) {
    const double x = plot.log_x ? std::pow(10.0, t) : t;
    svg << "<text x=\"" << svg_number(px(x)) << "\" y=\"" << top + height + 18 << "\" text-anchor=\"middle\">"
        << detail::tick_label(x) << "</text>\n";
  }
  svg << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << width << "\" height=\"" << height
      << "\" fill=\"none\" stroke=\"#333\"/>\n";
  svg << "<text x=\"" << left + width / 2 << "\" y=\"" << top + height + 38 << "\" text-anchor=\"middle\">"
      << detail::escaped(plot.x_label) << "</text>\n";
  svg << "<text transform=\"translate(" << x0 + 18 << "," << top + height / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << detail::escaped(plot.y_label) << "</text>\n";
  for (std::size_t s = 0; s < plot.series.size(); ++s) {
    const char* colour = colours[s % 7];
    const char* dash = dashes[s % 4];
    svg << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\"";
    if (*dash != '\0') svg << " stroke-dasharray=\"" << dash << "\"";
    svg << " points=\"";
    for (std::size_t i = 0; i < n; ++i) {
      if (std::isfinite(plot.series[s].y[i])) {
        svg << svg_number(px(plot.x[i])) << "," << svg_number(py(plot.series[s].y[i])) << " ";
      }
    }
    svg << "\"/>\n";
    const double ly = top + 14 + 20 * static_cast<double>(s);
    svg << "<line x1=\"" << left + width + 20 << "\" y1=\"" << ly << "\" x2=\"" << left + width + 50 << "\" y2=\""
        << ly << "\" stroke=\"" << colour << "\" stroke-width=\"2\"";
    if (*dash != '\0') svg << " stroke-dasharray=\"" << dash << "\"";
    svg << "/>\n<text x=\"" << left + width + 56 << "\" y=\"" << ly + 4 << "\">"
        << detail::escaped(plot.series[s].name) << "</text>\n";
  }
}

}  // namespace detail

/// Writes `panels` side by side to `path` as an SVG, 800 × 440 pixels per panel. Throws
/// std::runtime_error when a series and its x differ in size, when log_x has an x ≤ 0, or when
/// the file cannot be written.
inline void write_svg(const std::string& path, const std::vector<LinePlot>& panels) {
  std::ofstream svg(path);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << 800 * panels.size()
      << "\" height=\"440\" font-family=\"sans-serif\" font-size=\"12\">\n"
         "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (std::size_t p = 0; p < panels.size(); ++p) detail::draw_panel(svg, panels[p], 800.0 * static_cast<double>(p));
  svg << "</svg>\n";
  svg.close();
  if (!svg) throw std::runtime_error("write_svg: cannot write " + path);
}

/// Writes one plot (write_svg of one panel).
inline void write_svg(const std::string& path, const LinePlot& plot) { write_svg(path, std::vector<LinePlot>{plot}); }

}  // namespace marl_rec::examples
