package io.dlanalyze.analyzer.report;

import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.text.Numbers;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One line chart of bucketed series over steps, written as inline SVG: axes with ticks, one path
 * per series (the emphasised one with its min-max band when buckets hold several steps), a strip
 * above the plot where a bucket held NaN/Inf, and vertical step markers with labels.
 *
 * <p>The y axis is linear; log10 when every value is positive and they span three decades or more;
 * symmetric log ({@code sign(v) log10(1 + |v| / c)}, with {@code c} a tenth of the median
 * magnitude) when values of both signs or zeros reach a thousand times their median magnitude, as
 * exploding values do, so the steps before the explosion stay visible.
 */
final class LineChart {
  /** Width of the small charts, three to a row. */
  static final int SMALL = 356;

  /** Width of the loss and accuracy curves, two to a row. */
  static final int WIDE = 550;

  /** Height of a chart unless one is given. */
  static final int HEIGHT = 190;

  /** A series with fewer finite buckets than this, or gaps around most of them, gets markers. */
  static final int SPARSE_POINTS = 12;

  private static final int LEFT = 62;
  private static final int RIGHT = 12;
  private static final int TOP = 6;
  private static final int BOTTOM = 30;

  /** Height of one NaN/Inf strip row above the plot. */
  private static final int STRIP = 4;

  /** A series to draw. */
  record Line(String name, BucketSeries series, String color, boolean emphasis) {
    Line {
      requireNonNull(name, "name is null");
      requireNonNull(series, "series is null");
      requireNonNull(color, "color is null");
    }
  }

  /** A filled range between two per-bucket arrays (NaN: no value in that bucket). */
  record Band(String name, double[] lo, double[] hi, String color, double opacity) {
    Band {
      requireNonNull(name, "name is null");
      requireNonNull(lo, "lo is null");
      requireNonNull(hi, "hi is null");
      requireNonNull(color, "color is null");
    }
  }

  /** A vertical line at a step, with a label. */
  record Marker(long step, String label, String color) {
    Marker {
      requireNonNull(label, "label is null");
      requireNonNull(color, "color is null");
    }
  }

  private final TraceCharts charts;
  private final int width;
  private final int height;
  private final List<Band> bands = new ArrayList<>();
  private final int plotWidth;
  private final String ariaLabel;
  private final List<Line> lines = new ArrayList<>();
  private final List<Marker> markers = new ArrayList<>();

  /** How values map to the y axis. */
  enum Scale {
    LINEAR,
    LOG,
    SYMLOG
  }

  private Scale scale = Scale.LINEAR;
  private double symlogUnit = 1;
  private long clippedAt = -1;
  private int drawn;
  private final double[] tickYs = new double[32];
  private int tickCount;
  private int plotTop;
  private int plotHeight;

  LineChart(TraceCharts charts, int width, String ariaLabel) {
    this(charts, width, HEIGHT, ariaLabel);
  }

  LineChart(TraceCharts charts, int width, int height, String ariaLabel) {
    this.charts = charts;
    this.width = width;
    this.height = height;
    this.plotWidth = width - LEFT - RIGHT;
    this.ariaLabel = ariaLabel;
  }

  LineChart line(Line line) {
    lines.add(line);
    return this;
  }

  LineChart marker(Marker marker) {
    markers.add(marker);
    return this;
  }

  LineChart band(Band band) {
    bands.add(band);
    return this;
  }

  List<Line> lines() {
    return lines;
  }

  List<Band> bands() {
    return bands;
  }

  List<Marker> markers() {
    return markers;
  }

  /** The symmetric-log unit {@link #render} chose (meaningful for {@link Scale#SYMLOG}). */
  double symlogUnit() {
    return symlogUnit;
  }

  /** The last step on the x axis {@link #render} drew. */
  double xHigh() {
    return clippedAt >= 0 ? clippedAt : Math.max(charts.lastStep(), charts.firstStep() + 1);
  }

  /**
   * True when a series has so few points, or so many gaps between them (per-epoch validation in a
   * per-step trace), that a line alone would vanish: it is drawn with markers and across its gaps.
   */
  static boolean sparse(BucketSeries s) {
    int finite = 0;
    int isolated = 0;
    for (int b = 0; b < s.buckets(); b++) {
      if (s.hasFinite(b)) {
        finite++;
        boolean before = b > 0 && s.hasFinite(b - 1);
        boolean after = b + 1 < s.buckets() && s.hasFinite(b + 1);
        if (!before && !after) {
          isolated++;
        }
      }
    }
    return finite > 0 && (finite < SPARSE_POINTS || isolated * 2 > finite);
  }

  boolean isEmpty() {
    for (Line line : lines) {
      if (!line.series().isEmpty()) {
        return false;
      }
    }
    return true;
  }

  /**
   * The value every line holds in every bucket (say nan_count 0 throughout), or NaN when the lines
   * vary, hold a NaN/Inf, or have a bucket without a value.
   */
  double constantValue() {
    double value = Double.NaN;
    for (Line line : lines) {
      BucketSeries s = line.series();
      for (int b = 0; b < s.buckets(); b++) {
        if (!s.hasFinite(b)
            || s.hasNonFinite(b)
            || s.min(b) != s.max(b)
            || (!Double.isNaN(value) && s.min(b) != value)) {
          return Double.NaN;
        }
        value = s.min(b);
      }
    }
    return value;
  }

  /**
   * The last step drawn when {@link #render} cut the x axis short, or -1: when every value after
   * the first quarter of the run is NaN/Inf (a run that blew up early), the axis ends shortly after
   * the last finite value and the last marker, and the NaN/Inf strips run to its edge.
   */
  long clippedAt() {
    return clippedAt;
  }

  /** The y axis {@link #render} chose. */
  Scale scale() {
    return scale;
  }

  /** Writes the {@code <svg>} element. */
  void render(StringBuilder out) {
    int buckets = charts.buckets();
    double yMin = Double.POSITIVE_INFINITY;
    double yMax = Double.NEGATIVE_INFINITY;
    for (Line line : lines) {
      BucketSeries s = line.series();
      for (int b = 0; b < buckets; b++) {
        if (s.hasFinite(b)) {
          double lo = line.emphasis() ? s.min(b) : s.last(b);
          double hi = line.emphasis() ? s.max(b) : s.last(b);
          yMin = Math.min(yMin, lo);
          yMax = Math.max(yMax, hi);
        }
      }
    }
    for (Band band : bands) {
      for (int b = 0; b < Math.min(buckets, band.lo().length); b++) {
        if (Double.isFinite(band.lo()[b]) && Double.isFinite(band.hi()[b])) {
          yMin = Math.min(yMin, band.lo()[b]);
          yMax = Math.max(yMax, band.hi()[b]);
        }
      }
    }
    boolean anyFinite = yMin <= yMax;
    if (!anyFinite) {
      yMin = 0;
      yMax = 1;
    }
    double typical = anyFinite ? typicalMagnitude() : 0;
    double maxAbs = Math.max(Math.abs(yMin), Math.abs(yMax));
    if (anyFinite && yMin > 0 && yMax / yMin >= 1e3) {
      scale = Scale.LOG;
    } else if (anyFinite && typical > 0 && maxAbs / typical >= 1e3) {
      scale = Scale.SYMLOG;
      symlogUnit = typical / 10;
    } else {
      scale = Scale.LINEAR;
    }
    double[] range =
        switch (scale) {
          case LOG -> {
            double lo = Math.floor(Math.log10(yMin));
            double hi = Math.ceil(Math.log10(yMax));
            yield new double[] {lo, hi == lo ? lo + 1 : hi};
          }
          case SYMLOG -> {
            double pad = (scaled(yMax) - scaled(yMin)) * 0.04;
            yield new double[] {
              scaled(yMin) - (yMin < 0 ? pad : 0), scaled(yMax) + (yMax > 0 ? pad : 0)
            };
          }
          case LINEAR -> {
            if (yMax == yMin) {
              double pad = yMin == 0 ? 1 : Math.abs(yMin) * 0.1;
              yield new double[] {yMin - pad, yMax + pad};
            }
            double pad = (yMax - yMin) * 0.05;
            yield new double[] {yMin >= 0 && yMin - pad < 0 ? 0 : yMin - pad, yMax + pad};
          }
        };
    int strips = 0;
    for (Line line : lines) {
      for (int b = 0; b < buckets; b++) {
        if (line.series().hasNonFinite(b)) {
          strips++;
          break;
        }
      }
    }
    plotTop = TOP + (strips == 0 ? 0 : strips * STRIP + 4);
    plotHeight = height - plotTop - BOTTOM;
    final double yLo = range[0];
    final double yHi = range[1];
    double xLo = charts.firstStep();
    double xHi = Math.max(charts.lastStep(), charts.firstStep() + 1);
    drawn = buckets;
    int lastFinite = -1;
    for (Line line : lines) {
      for (int b = buckets - 1; b > lastFinite; b--) {
        if (line.series().hasFinite(b)) {
          lastFinite = b;
          break;
        }
      }
    }
    if (lastFinite >= 0) {
      double limit = charts.bucketStep(lastFinite);
      for (Marker marker : markers) {
        if (marker.step() <= charts.lastStep()) {
          limit = Math.max(limit, (double) marker.step());
        }
      }
      if (limit - xLo < 0.25 * (xHi - xLo)) {
        clippedAt =
            (long)
                Math.min(
                    (double) charts.lastStep(),
                    Math.ceil(limit + 0.15 * (limit - xLo) + charts.stepsPerBucket() + 1));
        xHi = clippedAt;
        while (drawn > 0 && charts.bucketStep(drawn - 1) > xHi) {
          drawn--;
        }
      }
    }

    out.append("<svg class=\"chart\" viewBox=\"0 0 ")
        .append(width)
        .append(' ')
        .append(height)
        .append("\" width=\"")
        .append(width)
        .append("\" height=\"")
        .append(height)
        .append("\" role=\"img\" aria-label=\"")
        .append(Html.attribute(ariaLabel))
        .append("\">");
    out.append("<rect class=\"plot\" x=\"")
        .append(LEFT)
        .append("\" y=\"")
        .append(plotTop)
        .append("\" width=\"")
        .append(plotWidth)
        .append("\" height=\"")
        .append(plotHeight)
        .append("\"/>");
    // y axis
    out.append("<g class=\"axis\">");
    switch (scale) {
      case LOG -> {
        int decades = (int) (yHi - yLo);
        int every = Math.max(1, (decades + 4) / 5);
        for (int d = (int) yLo; d <= (int) yHi; d += every) {
          yTick(out, yOf(d, yLo, yHi), "1e" + d);
        }
      }
      case SYMLOG -> {
        yTick(out, yOf(0, yLo, yHi), "0");
        int from = (int) Math.ceil(Math.log10(symlogUnit * 10));
        int to = (int) Math.floor(Math.log10(maxAbs));
        int every = Math.max(1, (to - from + 3) / 3);
        for (int d = from; d <= to; d += every) {
          if (yMax >= Math.pow(10, d)) {
            yTick(out, yOf(scaled(Math.pow(10, d)), yLo, yHi), "1e" + d);
          }
          if (yMin <= -Math.pow(10, d)) {
            yTick(out, yOf(scaled(-Math.pow(10, d)), yLo, yHi), "-1e" + d);
          }
        }
      }
      case LINEAR -> {
        for (double tick : Svg.linearTicks(yLo, yHi, 4)) {
          yTick(out, yOf(tick, yLo, yHi), Numbers.format(tick, 3));
        }
      }
    }
    for (double tick : Svg.linearTicks(xLo, xHi, width > 400 ? 5 : 4)) {
      if (tick != Math.rint(tick)) {
        continue;
      }
      double x = xOf(tick, xLo, xHi);
      out.append("<line x1=\"")
          .append(Svg.num(x))
          .append("\" x2=\"")
          .append(Svg.num(x))
          .append("\" y1=\"")
          .append(plotTop + plotHeight)
          .append("\" y2=\"")
          .append(plotTop + plotHeight + 4)
          .append("\"/>");
      out.append("<text x=\"")
          .append(Svg.num(x))
          .append("\" y=\"")
          .append(plotTop + plotHeight + 16)
          .append("\" text-anchor=\"middle\">")
          .append((long) tick)
          .append("</text>");
    }
    out.append("<text x=\"")
        .append(LEFT + plotWidth)
        .append("\" y=\"")
        .append(height - 2)
        .append("\" text-anchor=\"end\">step</text>");
    out.append("</g>");

    // distribution bands first, then per-series bands and lines: emphasised last so it is on top
    for (Band band : bands) {
      bandArrays(out, band, xLo, xHi, yLo, yHi);
    }
    for (int pass = 0; pass < 2; pass++) {
      for (Line line : lines) {
        if (line.emphasis() != (pass == 1)) {
          continue;
        }
        if (line.emphasis() && charts.stepsPerBucket() > 1) {
          band(out, line, xLo, xHi, yLo, yHi);
        }
        Svg.PathBuilder path = new Svg.PathBuilder();
        BucketSeries s = line.series();
        boolean sparse = sparse(s);
        StringBuilder dots = new StringBuilder();
        for (int b = 0; b < drawn; b++) {
          double v = s.hasFinite(b) ? s.last(b) : Double.NaN;
          if (Double.isNaN(v) || (scale == Scale.LOG && v <= 0)) {
            if (!sparse || s.hasNonFinite(b)) {
              path.breakRun();
            }
            continue;
          }
          double x = xOf(charts.bucketStep(b), xLo, xHi);
          double y = yOf(scaled(v), yLo, yHi);
          path.point(x, y);
          if (sparse) {
            dots.append('M').append(Svg.num(x)).append(' ').append(Svg.num(y)).append("h0");
          }
        }
        if (dots.length() > 0) {
          out.append("<path class=\"dots\" stroke=\"")
              .append(line.color())
              .append("\" d=\"")
              .append(dots)
              .append("\"/>");
        }
        String d = path.build();
        if (!d.isEmpty()) {
          out.append("<path class=\"")
              .append(line.emphasis() ? "line main" : "line")
              .append("\" stroke=\"")
              .append(line.color())
              .append("\" d=\"")
              .append(d)
              .append("\"><title>")
              .append(Html.text(Html.shorten(line.name(), 200)))
              .append("</title></path>");
        }
      }
    }
    // non-finite strips above the plot, one row per line that has any
    int strip = 0;
    for (int i = 0; i < lines.size(); i++) {
      Line line = lines.get(i);
      BucketSeries s = line.series();
      StringBuilder d = new StringBuilder();
      double y = TOP + STRIP * strip + STRIP / 2.0;
      int b = 0;
      while (b < buckets) {
        if (!s.hasNonFinite(b)) {
          b++;
          continue;
        }
        int start = b;
        while (b < buckets && s.hasNonFinite(b)) {
          b++;
        }
        double x0 = xOf(charts.bucketStep(start) - charts.stepsPerBucket() / 2.0, xLo, xHi);
        double x1 = xOf(charts.bucketStep(b - 1) + charts.stepsPerBucket() / 2.0, xLo, xHi);
        x0 = Math.max(LEFT, x0);
        if (x0 >= LEFT + plotWidth) {
          break;
        }
        x1 = Math.min(LEFT + plotWidth, Math.max(x1, x0 + 1));
        d.append('M')
            .append(Svg.num(x0))
            .append(' ')
            .append(Svg.num(y))
            .append('H')
            .append(Svg.num(x1));
      }
      if (d.length() > 0) {
        strip++;
        out.append("<path class=\"nonfinite\" stroke=\"")
            .append(line.color())
            .append("\" d=\"")
            .append(d)
            .append("\"><title>NaN/Inf: ")
            .append(Html.text(Html.shorten(line.name(), 200)))
            .append("</title></path>");
      }
    }
    if (strips > 0) {
      out.append("<text class=\"nonfinite-label\" x=\"")
          .append(LEFT - 4)
          .append("\" y=\"")
          .append(TOP + strips * STRIP / 2 + 3)
          .append("\" text-anchor=\"end\">NaN/Inf</text>");
    }
    // markers
    for (int i = 0; i < markers.size(); i++) {
      Marker marker = markers.get(i);
      if (marker.step() < charts.firstStep() || marker.step() > xHi) {
        continue;
      }
      double x = xOf((double) marker.step(), xLo, xHi);
      out.append("<line class=\"marker\" stroke=\"")
          .append(marker.color())
          .append("\" x1=\"")
          .append(Svg.num(x))
          .append("\" x2=\"")
          .append(Svg.num(x))
          .append("\" y1=\"")
          .append(plotTop)
          .append("\" y2=\"")
          .append(plotTop + plotHeight)
          .append("\"/>");
      boolean right = x < LEFT + plotWidth * 0.6;
      out.append("<text class=\"marker-label\" fill=\"")
          .append(marker.color())
          .append("\" x=\"")
          .append(Svg.num(right ? x + 3 : x - 3))
          .append("\" y=\"")
          .append(plotTop + 11 + 11 * i)
          .append("\" text-anchor=\"")
          .append(right ? "start" : "end")
          .append("\">")
          .append(Html.text(marker.label()))
          .append("</text>");
    }
    if (!anyFinite) {
      out.append("<text class=\"note\" x=\"")
          .append(LEFT + plotWidth / 2)
          .append("\" y=\"")
          .append(plotTop + plotHeight / 2)
          .append("\" text-anchor=\"middle\">no finite value</text>");
    }
    out.append("</svg>");
  }

  private void band(StringBuilder out, Line line, double xLo, double xHi, double yLo, double yHi) {
    BucketSeries s = line.series();
    int buckets = drawn;
    StringBuilder d = new StringBuilder();
    int b = 0;
    while (b < buckets) {
      if (!bandable(s, b)) {
        b++;
        continue;
      }
      int start = b;
      while (b < buckets && bandable(s, b)) {
        b++;
      }
      Svg.PathBuilder upper = new Svg.PathBuilder();
      for (int i = start; i < b; i++) {
        upper.point(xOf(charts.bucketStep(i), xLo, xHi), yOf(scaled(s.max(i)), yLo, yHi));
      }
      for (int i = b - 1; i >= start; i--) {
        upper.point(xOf(charts.bucketStep(i), xLo, xHi), yOf(scaled(s.min(i)), yLo, yHi));
      }
      d.append(upper.build()).append('Z');
    }
    if (d.length() > 0) {
      out.append("<path class=\"band\" fill=\"")
          .append(line.color())
          .append("\" d=\"")
          .append(d)
          .append("\"/>");
    }
  }

  private void bandArrays(
      StringBuilder out, Band band, double xLo, double xHi, double yLo, double yHi) {
    StringBuilder d = new StringBuilder();
    int n = Math.min(drawn, band.lo().length);
    int b = 0;
    while (b < n) {
      if (!bandable(band, b)) {
        b++;
        continue;
      }
      int start = b;
      while (b < n && bandable(band, b)) {
        b++;
      }
      Svg.PathBuilder edge = new Svg.PathBuilder();
      for (int i = start; i < b; i++) {
        edge.point(xOf(charts.bucketStep(i), xLo, xHi), yOf(scaled(band.hi()[i]), yLo, yHi));
      }
      for (int i = b - 1; i >= start; i--) {
        edge.point(xOf(charts.bucketStep(i), xLo, xHi), yOf(scaled(band.lo()[i]), yLo, yHi));
      }
      d.append(edge.build()).append('Z');
    }
    if (d.length() > 0) {
      out.append("<path class=\"dist\" fill=\"")
          .append(band.color())
          .append("\" fill-opacity=\"")
          .append(Svg.num(band.opacity()))
          .append("\" d=\"")
          .append(d)
          .append("\"><title>")
          .append(Html.text(band.name()))
          .append("</title></path>");
    }
  }

  private boolean bandable(Band band, int b) {
    double lo = band.lo()[b];
    double hi = band.hi()[b];
    return Double.isFinite(lo) && Double.isFinite(hi) && (scale != Scale.LOG || lo > 0);
  }

  private boolean bandable(BucketSeries s, int b) {
    return s.hasFinite(b) && (scale != Scale.LOG || s.min(b) > 0);
  }

  /** A value in axis units. */
  private double scaled(double v) {
    return switch (scale) {
      case LINEAR -> v;
      case LOG -> Math.log10(v);
      case SYMLOG -> Math.signum(v) * Math.log10(1 + Math.abs(v) / symlogUnit);
    };
  }

  /**
   * The median magnitude of the drawn values (last per bucket) that are not zero, or 0 when there
   * is none.
   */
  private double typicalMagnitude() {
    double[] values = new double[lines.size() * charts.buckets()];
    int n = 0;
    for (Line line : lines) {
      BucketSeries s = line.series();
      for (int b = 0; b < s.buckets(); b++) {
        if (s.hasFinite(b) && s.last(b) != 0) {
          values[n++] = Math.abs(s.last(b));
        }
      }
    }
    if (n == 0) {
      return 0;
    }
    Arrays.sort(values, 0, n);
    return values[n / 2];
  }

  private void yTick(StringBuilder out, double y, String label) {
    for (int i = 0; i < tickCount; i++) {
      if (Math.abs(tickYs[i] - y) < 10) {
        return; // would overlap a label already drawn
      }
    }
    if (tickCount < tickYs.length) {
      tickYs[tickCount++] = y;
    }
    gridLine(out, y);
    out.append("<text x=\"")
        .append(LEFT - 4)
        .append("\" y=\"")
        .append(Svg.num(y + 3))
        .append("\" text-anchor=\"end\">")
        .append(Html.text(label))
        .append("</text>");
  }

  private void gridLine(StringBuilder out, double y) {
    out.append("<line class=\"gl\" x1=\"")
        .append(LEFT)
        .append("\" x2=\"")
        .append(LEFT + plotWidth)
        .append("\" y1=\"")
        .append(Svg.num(y))
        .append("\" y2=\"")
        .append(Svg.num(y))
        .append("\"/>");
  }

  private double xOf(double step, double lo, double hi) {
    return LEFT + (step - lo) / (hi - lo) * plotWidth;
  }

  private double yOf(double value, double lo, double hi) {
    double y = plotTop + plotHeight - (value - lo) / (hi - lo) * plotHeight;
    return Math.max(plotTop - 2, Math.min(plotTop + plotHeight + 2, y));
  }
}
