package io.dlanalyze.analyzer.report;

import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.analyzer.text.Numbers;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A {@link HeatmapGrid} as inline SVG: the cells are one palette PNG (a data: URI, one pixel per
 * cell, scaled without smoothing), with SVG axes, layer labels, a hover title per layer row, the
 * first-fault step and layer marked, and a legend.
 */
final class HeatmapChart {
  static final int WIDTH = 1100;
  private static final int LEFT = 170;
  private static final int RIGHT = 14;
  private static final int TOP = 8;
  private static final int BOTTOM = 30;
  private static final int PLOT_WIDTH = WIDTH - LEFT - RIGHT;

  /** Viridis, 9 anchors; the palette interpolates 64 levels between them. */
  private static final int[] VIRIDIS = {
    0x440154, 0x472d7b, 0x3b528b, 0x2c728e, 0x21918c, 0x28ae80, 0x5ec962, 0xaddc30, 0xfde725
  };

  static final int LEVELS = 64;
  static final int NON_FINITE_COLOR = 0xe41a1c;
  static final int ZERO_COLOR = 0x000000;
  static final int NO_DATA_COLOR = 0xeeeeee;
  static final int CLEAR_COLOR = 0xffffff;
  private static final int[] PALETTE = palette();

  private HeatmapChart() {}

  /** The colour of level {@code i} of {@link #LEVELS}. */
  static int level(int i) {
    double t = i / (double) (LEVELS - 1) * (VIRIDIS.length - 1);
    int a = Math.min((int) t, VIRIDIS.length - 2);
    double f = t - a;
    int c0 = VIRIDIS[a];
    int c1 = VIRIDIS[a + 1];
    int r = (int) Math.round(((c0 >> 16) & 0xff) * (1 - f) + ((c1 >> 16) & 0xff) * f);
    int g = (int) Math.round(((c0 >> 8) & 0xff) * (1 - f) + ((c1 >> 8) & 0xff) * f);
    int b = (int) Math.round((c0 & 0xff) * (1 - f) + (c1 & 0xff) * f);
    return r << 16 | g << 8 | b;
  }

  static String hex(int rgb) {
    return String.format(java.util.Locale.ROOT, "#%06x", rgb & 0xffffff);
  }

  private static int[] palette() {
    int[] palette = new int[LEVELS + 4];
    for (int i = 0; i < LEVELS; i++) {
      palette[i] = level(i);
    }
    palette[LEVELS] = NON_FINITE_COLOR;
    palette[LEVELS + 1] = ZERO_COLOR;
    palette[LEVELS + 2] = NO_DATA_COLOR;
    palette[LEVELS + 3] = CLEAR_COLOR;
    return palette;
  }

  /**
   * Writes the SVG and returns the log10 range of the colour scale ({@code {lo, hi}}), or {@code
   * null} when no cell holds a finite non-zero mean.
   *
   * @param markLayer the layer to point at, or -1
   * @param markStep the step to draw a line at, or -1
   */
  static double @Nullable [] render(
      StringBuilder out,
      HeatmapGrid grid,
      List<Layer> layers,
      int markLayer,
      long markStep,
      long lastStep) {
    int rows = grid.rows();
    int columns = grid.columns();
    float lo = Float.POSITIVE_INFINITY;
    float hi = Float.NEGATIVE_INFINITY;
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < columns; c++) {
        if (grid.cell(r, c) == HeatmapGrid.Cell.VALUE) {
          lo = Math.min(lo, grid.log(r, c));
          hi = Math.max(hi, grid.log(r, c));
        }
      }
    }
    if (grid.metric() == HeatmapGrid.Metric.ZERO_FRACTION && lo <= hi) {
      lo = 0;
      hi = 1;
    }
    boolean hasScale = lo <= hi;
    if (hasScale && hi - lo < 1e-3f) {
      lo -= 0.5f;
      hi += 0.5f;
    }
    byte[] pixels = new byte[rows * columns];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < columns; c++) {
        int index =
            switch (grid.cell(r, c)) {
              case NO_DATA -> LEVELS + 2;
              case NON_FINITE -> LEVELS;
              case ALL_ZERO -> LEVELS + 1;
              case FLOOR -> 0;
              case CLEAR -> LEVELS + 3;
              case VALUE ->
                  Math.max(
                      0,
                      Math.min(
                          LEVELS - 1,
                          Math.round((grid.log(r, c) - lo) / (hi - lo) * (LEVELS - 1))));
            };
        pixels[r * columns + c] = (byte) index;
      }
    }
    double cell = Math.max(2, Math.min(16, 320.0 / rows));
    double plotHeight = rows * cell;
    int height = (int) Math.ceil(TOP + plotHeight + BOTTOM);
    out.append("<svg class=\"chart heatmap\" viewBox=\"0 0 ")
        .append(WIDTH)
        .append(' ')
        .append(height)
        .append("\" width=\"")
        .append(WIDTH)
        .append("\" height=\"")
        .append(height)
        .append("\" role=\"img\" aria-label=\"layer by step heatmap of ")
        .append(grid.metric().title())
        .append(" in ")
        .append(grid.phase().wireName())
        .append("\">");
    out.append("<image x=\"")
        .append(LEFT)
        .append("\" y=\"")
        .append(TOP)
        .append("\" width=\"")
        .append(PLOT_WIDTH)
        .append("\" height=\"")
        .append(Svg.num(plotHeight))
        .append("\" preserveAspectRatio=\"none\" href=\"")
        .append(Png.dataUri(columns, rows, pixels, PALETTE))
        .append("\"/>");
    // layer rows: labels and hover titles
    boolean labelEvery = cell >= 9;
    int labelStep = labelEvery ? 1 : Math.max(1, (int) Math.ceil(9 / cell));
    out.append("<g class=\"axis\">");
    for (int r = 0; r < rows; r++) {
      int firstLayer = r * grid.layersPerRow();
      int lastLayer = Math.min(grid.layers() - 1, firstLayer + grid.layersPerRow() - 1);
      String name = rowName(layers, firstLayer, lastLayer);
      double y = TOP + r * cell;
      out.append("<rect class=\"row\" x=\"")
          .append(LEFT)
          .append("\" y=\"")
          .append(Svg.num(y))
          .append("\" width=\"")
          .append(PLOT_WIDTH)
          .append("\" height=\"")
          .append(Svg.num(cell))
          .append("\"><title>")
          .append(Html.text(name))
          .append("</title></rect>");
      if (r % labelStep == 0) {
        String label = labelEvery ? Html.shorten(name, 24) : Integer.toString(firstLayer);
        out.append("<text x=\"")
            .append(LEFT - 6)
            .append("\" y=\"")
            .append(Svg.num(y + cell / 2 + 3))
            .append("\" text-anchor=\"end\">")
            .append(Html.text(label))
            .append("</text>");
      }
    }
    double xLo = grid.firstStep();
    double xHi = (double) (grid.firstStep() + grid.columns() * grid.stepsPerColumn());
    for (double tick : Svg.linearTicks(xLo, Math.max((double) lastStep, xLo + 1), 6)) {
      if (tick != Math.rint(tick)) {
        continue;
      }
      double x = LEFT + (tick - xLo) / (xHi - xLo) * PLOT_WIDTH;
      out.append("<line x1=\"")
          .append(Svg.num(x))
          .append("\" x2=\"")
          .append(Svg.num(x))
          .append("\" y1=\"")
          .append(Svg.num(TOP + plotHeight))
          .append("\" y2=\"")
          .append(Svg.num(TOP + plotHeight + 4))
          .append("\"/><text x=\"")
          .append(Svg.num(x))
          .append("\" y=\"")
          .append(Svg.num(TOP + plotHeight + 16))
          .append("\" text-anchor=\"middle\">")
          .append((long) tick)
          .append("</text>");
    }
    out.append("<text x=\"")
        .append(LEFT + PLOT_WIDTH)
        .append("\" y=\"")
        .append(height - 2)
        .append("\" text-anchor=\"end\">step</text>");
    if (!labelEvery) {
      out.append("<text x=\"4\" y=\"").append(TOP + 8).append("\">layer index</text>");
    }
    out.append("</g>");
    if (markStep >= grid.firstStep() && markStep <= lastStep) {
      double x = LEFT + (markStep + 0.5 - xLo) / (xHi - xLo) * PLOT_WIDTH;
      out.append("<line class=\"marker hm\" x1=\"")
          .append(Svg.num(x))
          .append("\" x2=\"")
          .append(Svg.num(x))
          .append("\" y1=\"")
          .append(TOP)
          .append("\" y2=\"")
          .append(Svg.num(TOP + plotHeight))
          .append("\"><title>first step of the marked finding: ")
          .append(markStep)
          .append("</title></line>");
    }
    if (markLayer >= 0 && markLayer < grid.layers()) {
      int row = markLayer / grid.layersPerRow();
      double y = TOP + row * cell + cell / 2;
      out.append("<path class=\"pointer\" d=\"M")
          .append(LEFT - 1)
          .append(' ')
          .append(Svg.num(y))
          .append("l-7 -5v10z\"><title>layer of the marked finding</title></path>");
    }
    out.append("</svg>");
    return hasScale ? new double[] {lo, hi} : null;
  }

  /** The colour-scale legend: a gradient bar with its log10 range and the special colours. */
  static void legend(StringBuilder out, double @Nullable [] range, HeatmapGrid.Metric metric) {
    out.append("<div class=\"legend hm-legend\">");
    if (range != null) {
      out.append("<span>")
          .append(Html.text(metric.scaleLabel()))
          .append(' ')
          .append(Html.text(Numbers.format(range[0], 3)))
          .append(" </span><span class=\"gradient\" style=\"background:linear-gradient(to right");
      for (int i = 0; i < VIRIDIS.length; i++) {
        out.append(',').append(hex(VIRIDIS[i]));
      }
      out.append(")\"></span><span> ")
          .append(Html.text(Numbers.format(range[1], 3)))
          .append("</span>");
    }
    if (metric == HeatmapGrid.Metric.NON_FINITE) {
      swatch(out, CLEAR_COLOR, "no NaN/Inf");
    } else if (metric != HeatmapGrid.Metric.ZERO_FRACTION) {
      swatch(out, NON_FINITE_COLOR, "NaN/Inf in the cell");
      swatch(out, ZERO_COLOR, "all zero");
    }
    swatch(out, NO_DATA_COLOR, "no row");
    out.append("</div>");
  }

  private static void swatch(StringBuilder out, int color, String label) {
    out.append("<span class=\"swatch\" style=\"background:")
        .append(hex(color))
        .append("\"></span><span>")
        .append(label)
        .append("</span>");
  }

  private static String rowName(List<Layer> layers, int first, int last) {
    if (first == last) {
      return layerLabel(layers, first);
    }
    return "layers "
        + first
        + "-"
        + last
        + ": "
        + Html.shorten(layerLabel(layers, first), 40)
        + " ... "
        + Html.shorten(layerLabel(layers, last), 40);
  }

  private static String layerLabel(List<Layer> layers, int index) {
    String name = Layer.nameIn(layers, index);
    return Html.shorten(name, 200) + " (" + index + ")";
  }
}
