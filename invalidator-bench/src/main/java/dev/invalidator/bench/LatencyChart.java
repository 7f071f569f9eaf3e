package dev.invalidator.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

/**
 * Draws commit-to-apply latency percentiles against offered rate as a self-contained SVG: one line
 * per percentile of the pipeline, the same-run baseline's p99 dashed, and the external CDC figures
 * as labelled horizontal reference lines. Logarithmic latency axis, offered rates evenly spaced.
 */
final class LatencyChart {
  private static final int WIDTH = 860;
  private static final int HEIGHT = 520;
  private static final int LEFT = 70;
  private static final int RIGHT = 250;
  private static final int TOP = 50;
  private static final int BOTTOM = 60;

  private record Series(String label, String color, boolean dashed, List<Double> values) {}

  private LatencyChart() {}

  static String svg(
      List<LatencyPoint> pipeline, List<LatencyPoint> baseline, String title, String subtitle) {
    List<Series> series = new ArrayList<>();
    series.add(series("p50", "#1f77b4", false, pipeline, LatencyPoint::p50));
    series.add(series("p90", "#2ca02c", false, pipeline, LatencyPoint::p90));
    series.add(series("p99", "#ff7f0e", false, pipeline, LatencyPoint::p99));
    series.add(series("p99.9", "#d62728", false, pipeline, LatencyPoint::p999));
    series.add(series("max", "#9467bd", false, pipeline, LatencyPoint::max));
    if (!baseline.isEmpty()) {
      series.add(
          series(
              "baseline p99 (delete after commit)", "#7f7f7f", true, baseline, LatencyPoint::p99));
    }
    double lo = Double.MAX_VALUE;
    double hi = 1000; // keep the 850 ms external reference in view
    for (Series s : series) {
      for (double v : s.values) {
        if (v > 0) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    lo = Math.min(lo, 20);
    double minExp = Math.floor(Math.log10(Math.max(lo, 0.01)));
    double maxExp = Math.ceil(Math.log10(hi));
    int plotW = WIDTH - LEFT - RIGHT;
    int plotH = HEIGHT - TOP - BOTTOM;
    int n = pipeline.size();
    StringBuilder b = new StringBuilder();
    b.append(
        f(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d"
                + " %d\" font-family=\"sans-serif\" font-size=\"12\">%n",
            WIDTH, HEIGHT, WIDTH, HEIGHT));
    b.append(f("<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, HEIGHT));
    b.append(
        f(
            "<text x=\"%d\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>%n",
            LEFT, esc(title)));
    b.append(f("<text x=\"%d\" y=\"38\" fill=\"#555\">%s</text>%n", LEFT, esc(subtitle)));
    // y grid and labels (decades)
    for (double e = minExp; e <= maxExp; e++) {
      double y = y(Math.pow(10, e), minExp, maxExp, plotH);
      b.append(
          f(
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>%n",
              LEFT, y, LEFT + plotW, y));
      b.append(
          f(
              "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>%n",
              LEFT - 6, y + 4, number(Math.pow(10, e))));
    }
    b.append(
        f(
            "<text transform=\"translate(18,%d) rotate(-90)\" text-anchor=\"middle\">latency (ms,"
                + " log scale)</text>%n",
            TOP + plotH / 2));
    // x labels
    for (int i = 0; i < n; i++) {
      double x = x(i, n, plotW);
      b.append(
          f(
              "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/>%n",
              x, TOP, x, TOP + plotH));
      b.append(
          f(
              "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%,d/s</text>%n",
              x, TOP + plotH + 18, pipeline.get(i).offeredRate()));
    }
    b.append(
        f(
            "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">offered rate (events/s)</text>%n",
            LEFT + plotW / 2, TOP + plotH + 40));
    b.append(
        f(
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#333\"/>%n",
            LEFT, TOP, plotW, plotH));
    // external references
    reference(b, 26, 33, "external: best CDC p99 26-33 ms", minExp, maxExp, plotW, plotH);
    reference(
        b, 850, 850, "external: Debezium Server p99 ~850 ms @200/s", minExp, maxExp, plotW, plotH);
    // series
    int legendY = TOP + 10;
    for (Series s : series) {
      StringBuilder pts = new StringBuilder();
      for (int i = 0; i < s.values.size(); i++) {
        double v = Math.max(s.values.get(i), Math.pow(10, minExp));
        pts.append(f("%.1f,%.1f ", x(i, n, plotW), y(v, minExp, maxExp, plotH)));
      }
      String dash = s.dashed ? " stroke-dasharray=\"6,4\"" : "";
      b.append(
          f(
              "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>%n",
              pts.toString().trim(), s.color, dash));
      for (int i = 0; i < s.values.size(); i++) {
        double v = Math.max(s.values.get(i), Math.pow(10, minExp));
        b.append(
            f(
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s at %,d/s: %s ms</title></circle>%n",
                x(i, n, plotW),
                y(v, minExp, maxExp, plotH),
                s.color,
                esc(s.label),
                pipeline.get(Math.min(i, n - 1)).offeredRate(),
                number(s.values.get(i))));
      }
      int lx = LEFT + plotW + 15;
      b.append(
          f(
              "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/>%n",
              lx, legendY, lx + 24, legendY, s.color, dash));
      b.append(f("<text x=\"%d\" y=\"%d\">%s</text>%n", lx + 30, legendY + 4, esc(s.label)));
      legendY += 18;
    }
    b.append("</svg>\n");
    return b.toString();
  }

  private static void reference(
      StringBuilder b,
      double from,
      double to,
      String label,
      double minExp,
      double maxExp,
      int plotW,
      int plotH) {
    double y1 = y(to, minExp, maxExp, plotH);
    double y2 = y(from, minExp, maxExp, plotH);
    if (to > from) {
      b.append(
          f(
              "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" fill=\"#f4b400\""
                  + " fill-opacity=\"0.15\"/>%n",
              LEFT, y1, plotW, Math.max(1, y2 - y1)));
    } else {
      b.append(
          f(
              "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#f4b400\""
                  + " stroke-dasharray=\"2,3\" stroke-width=\"2\"/>%n",
              LEFT, y1, LEFT + plotW, y1));
    }
    b.append(
        f("<text x=\"%d\" y=\"%.1f\" fill=\"#8a6d00\">%s</text>%n", LEFT + 6, y1 - 4, esc(label)));
  }

  private static Series series(
      String label,
      String color,
      boolean dashed,
      List<LatencyPoint> points,
      ToDoubleFunction<LatencyPoint> f) {
    return new Series(label, color, dashed, points.stream().map(f::applyAsDouble).toList());
  }

  private static double x(int i, int n, int plotW) {
    return LEFT + (n == 1 ? plotW / 2.0 : 40 + i * (plotW - 80.0) / (n - 1));
  }

  private static double y(double v, double minExp, double maxExp, int plotH) {
    double e = Math.log10(Math.max(v, Math.pow(10, minExp)));
    return TOP + plotH - (e - minExp) / (maxExp - minExp) * plotH;
  }

  static String number(double v) {
    if (v >= 100) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    if (v >= 1) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    return String.format(Locale.ROOT, "%.2f", v);
  }

  private static String esc(String s) {
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }

  private static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
