package io.dlanalyze.analyzer.report;

import java.util.ArrayList;
import java.util.List;

/** Small helpers for writing SVG by hand: coordinates, axis ticks, compact paths. */
final class Svg {
  private Svg() {}

  /** A coordinate with at most one decimal: {@code 12.3}, {@code 40}, {@code -0.5}. */
  static String num(double value) {
    long tenths = Math.round(value * 10);
    return tenths(tenths);
  }

  static String tenths(long tenths) {
    if (tenths % 10 == 0) {
      return Long.toString(tenths / 10);
    }
    long abs = Math.abs(tenths);
    return (tenths < 0 ? "-" : "") + abs / 10 + "." + abs % 10;
  }

  /**
   * "Nice" linear ticks covering [min, max]: about {@code count} values at a step of 1, 2 or 5
   * times a power of ten.
   */
  static double[] linearTicks(double min, double max, int count) {
    double range = max - min;
    if (!(range > 0) || !Double.isFinite(range)) {
      return new double[] {min};
    }
    double raw = range / Math.max(1, count);
    double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    double residual = raw / magnitude;
    double step;
    if (residual < 1.5) {
      step = magnitude;
    } else if (residual < 3) {
      step = 2 * magnitude;
    } else if (residual < 7) {
      step = 5 * magnitude;
    } else {
      step = 10 * magnitude;
    }
    List<Double> ticks = new ArrayList<>();
    double first = Math.ceil(min / step - 1e-9) * step;
    for (int i = 0; i < 50; i++) {
      double tick = first + i * step;
      if (tick > max + step * 1e-9) {
        break;
      }
      ticks.add(Math.abs(tick) < step * 1e-9 ? 0.0 : tick);
    }
    double[] out = new double[ticks.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ticks.get(i);
    }
    return out;
  }

  /**
   * A polyline path in relative commands ({@code M x y l dx dy dx dy...}) over points given in
   * tenths of a pixel, dropping points that lie within a tenth of a pixel of the straight line
   * between their kept neighbours (flat runs of a series cost nothing).
   */
  static final class PathBuilder {
    private final StringBuilder out = new StringBuilder();
    private long[] xs = new long[64];
    private long[] ys = new long[64];
    private int n;

    /** Adds a point of the current run. */
    void point(double x, double y) {
      if (n == xs.length) {
        xs = java.util.Arrays.copyOf(xs, n * 2);
        ys = java.util.Arrays.copyOf(ys, n * 2);
      }
      xs[n] = Math.round(x * 10);
      ys[n] = Math.round(y * 10);
      n++;
    }

    /** Ends the current run (a gap in the series). */
    void breakRun() {
      if (n == 0) {
        return;
      }
      out.append('M').append(tenths(xs[0])).append(' ').append(tenths(ys[0]));
      if (n == 1) {
        out.append("h0.1");
      }
      long px = xs[0];
      long py = ys[0];
      boolean first = true;
      int kept = 0;
      for (int i = 1; i < n; i++) {
        if (i < n - 1 && collinear(xs[kept], ys[kept], xs[i], ys[i], xs[i + 1], ys[i + 1])) {
          continue;
        }
        long dx = xs[i] - px;
        long dy = ys[i] - py;
        out.append(first ? "l" : " ")
            .append(tenths(dx))
            .append(dy < 0 ? "" : " ")
            .append(tenths(dy));
        first = false;
        px = xs[i];
        py = ys[i];
        kept = i;
      }
      n = 0;
    }

    boolean isEmpty() {
      return out.length() == 0 && n == 0;
    }

    /** The path data; ends the current run. */
    String build() {
      breakRun();
      return out.toString();
    }

    /** True when (bx, by) is within 1 tenth of a pixel of the line from a to c. */
    private static boolean collinear(long ax, long ay, long bx, long by, long cx, long cy) {
      double dx = cx - ax;
      double dy = cy - ay;
      double length = Math.hypot(dx, dy);
      if (length == 0) {
        return bx == ax && by == ay;
      }
      if (bx < Math.min(ax, cx) || bx > Math.max(ax, cx)) {
        return false;
      }
      double cross = Math.abs(dx * (by - ay) - dy * (bx - ax));
      return cross / length <= 1.0;
    }
  }
}
