package io.dlanalyze.analyzer.compare;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.analyzer.CausalOrder;
import io.dlanalyze.analyzer.Finding;
import io.dlanalyze.analyzer.Report;
import io.dlanalyze.analyzer.compare.Comparison.Curve;
import io.dlanalyze.analyzer.compare.Comparison.Divergence;
import io.dlanalyze.analyzer.compare.Comparison.FindingMatch;
import io.dlanalyze.analyzer.compare.Comparison.How;
import io.dlanalyze.analyzer.compare.Comparison.LayerMatch;
import io.dlanalyze.analyzer.compare.Comparison.Run;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.ReadOptions;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.TraceReader;
import io.dlanalyze.trace.TraceReaders;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Compares two traces of the same model (a buggy and a fixed run, two seeds, before and after a
 * change).
 *
 * <p><b>Alignment.</b> Steps are paired by their step value; layers by name and type, then by name,
 * then (renamed layers) by index and type ({@link LayerAligner}); model-level phases pair with
 * themselves.
 *
 * <p><b>The band.</b> For each paired (layer, phase) and each statistic (mean, std, l2_norm,
 * zero_fraction), each run has a band around its own value at step {@code t}: {@code value +- (K *
 * typical change + floor)}, where the typical change is the mean absolute step-to-step change of
 * that statistic in that run over the common steps before {@code t}, {@code K} the band width
 * (default 3), and the floor 5% of the value's magnitude (for the mean: of the larger of |mean| and
 * the std, so a mean near zero does not make the band vanish; for zero_fraction: 0.05). The runs
 * diverge at the first common step where either run's value leaves the other's band, where one is
 * finite and the other NaN or infinite, or where one has NaN/Inf elements ({@code nan_count +
 * inf_count}) and the other none.
 *
 * <p>Memory: the traces are streamed side by side, one step of each at a time; state is kept per
 * (layer, phase), never per step. A second pass keeps, per step, the loss and accuracy curves and
 * the statistics of the three earliest divergences, for the charts.
 */
public final class TraceComparison {
  /** The default band width, in typical step-to-step changes. */
  public static final double DEFAULT_BAND = 3;

  static final double RELATIVE_FLOOR = 0.05;
  static final double ZERO_FRACTION_FLOOR = 0.05;
  static final int SERIES_PAIRS = 3;
  static final Set<Column> COLUMNS =
      EnumSet.of(
          Column.STEP,
          Column.LAYER_INDEX,
          Column.LAYER_NAME,
          Column.LAYER_TYPE,
          Column.PHASE,
          Column.MEAN,
          Column.STD,
          Column.L2_NORM,
          Column.ZERO_FRACTION,
          Column.NAN_COUNT,
          Column.INF_COUNT);

  private static final Phase[] CURVE_PHASES = {
    Phase.LOSS, Phase.ACCURACY, Phase.VAL_LOSS, Phase.VAL_ACCURACY
  };

  private TraceComparison() {}

  /**
   * Analyses both traces with {@code options}, then compares them.
   *
   * @param bandWidth K, the band's width in typical step-to-step changes (positive)
   * @throws TraceFormatException when a trace cannot be read
   */
  public static Comparison compare(Path a, Path b, double bandWidth, AnalysisOptions options) {
    if (!(bandWidth > 0) || Double.isInfinite(bandWidth)) {
      throw new IllegalArgumentException(
          format(ROOT, "the band width must be a positive number: %s", bandWidth));
    }
    Analyzer analyzer = new Analyzer();
    Report reportA = analyzer.analyze(a, options);
    Report reportB = analyzer.analyze(b, options);
    Pass pass;
    try (TraceReader ra = open(a);
        TraceReader rb = open(b)) {
      pass = new Pass(bandWidth, new StepCursor(ra), new StepCursor(rb));
      pass.run();
    }
    List<Divergence> divergences = pass.divergences();
    List<LayerMatch> layers = pass.layers();
    List<String> notes = pass.notes(layers);
    List<int[]> seriesSlots = new ArrayList<>();
    for (Divergence d : divergences) {
      if (seriesSlots.size() == SERIES_PAIRS) {
        break;
      }
      if (d.layerIndexA() >= 0 || seriesSlots.stream().noneMatch(s -> s[0] < Phase.COUNT)) {
        int slotA = StepCursor.slot(d.layerIndexA(), d.phase());
        int slotB =
            d.layerIndexA() < 0
                ? slotA
                : StepCursor.slot(pass.aligner.toB(d.layerIndexA()), d.phase());
        seriesSlots.add(new int[] {slotA, slotB});
      }
    }
    List<Curve> curves = new ArrayList<>();
    List<Curve> layerSeries = new ArrayList<>();
    collectSeries(a, b, divergences, seriesSlots, curves, layerSeries);
    Run runA = new Run(a.toString(), pass.stepsA, pass.firstA, pass.lastA, phases(pass.a), reportA);
    Run runB = new Run(b.toString(), pass.stepsB, pass.firstB, pass.lastB, phases(pass.b), reportB);
    return new Comparison(
        runA,
        runB,
        bandWidth,
        pass.common,
        notes,
        layers,
        divergences,
        curves,
        layerSeries,
        findings(reportA, reportB, layers));
  }

  private static TraceReader open(Path trace) {
    return TraceReaders.open(trace, ReadOptions.columns(COLUMNS));
  }

  private static List<Phase> phases(StepCursor cursor) {
    List<Phase> list = new ArrayList<>();
    for (Phase phase : Phase.values()) {
      if (cursor.phases()[phase.code()]) {
        list.add(phase);
      }
    }
    return list;
  }

  /** The first pass: steps side by side, bands, first divergences. */
  private static final class Pass {
    final double k;
    final LayerAligner aligner = new LayerAligner();
    final Map<Integer, Bands> bands = new TreeMap<>();
    final StepCursor a;
    final StepCursor b;
    long common;
    long stepsA;
    long stepsB;
    long firstA = -1;
    long lastA = -1;
    long firstB = -1;
    long lastB = -1;

    Pass(double k, StepCursor a, StepCursor b) {
      this.k = k;
      this.a = a;
      this.b = b;
    }

    void run() {
      boolean moreA = a.advance();
      boolean moreB = b.advance();
      firstA = moreA ? a.step() : -1;
      firstB = moreB ? b.step() : -1;
      while (moreA && moreB) {
        if (a.step() == b.step()) {
          if (a.takeNewLayers() | b.takeNewLayers()) {
            aligner.match(a.names(), a.types(), b.names(), b.types());
          }
          compareStep();
          common++;
          lastA = a.step();
          lastB = b.step();
          moreA = a.advance();
          moreB = b.advance();
        } else if (a.step() < b.step()) {
          lastA = a.step();
          moreA = a.advance();
        } else {
          lastB = b.step();
          moreB = b.advance();
        }
      }
      while (moreA) {
        lastA = a.step();
        moreA = a.advance();
      }
      while (moreB) {
        lastB = b.step();
        moreB = b.advance();
      }
      stepsA = a.steps();
      stepsB = b.steps();
      aligner.match(a.names(), a.types(), b.names(), b.types());
    }

    private void compareStep() {
      for (int i = 0; i < a.touchedCount(); i++) {
        int slotA = a.touched(i);
        int layerA = StepCursor.layerOf(slotA);
        Phase phase = StepCursor.phaseOf(slotA);
        int layerB = layerA < 0 ? -1 : aligner.toB(layerA);
        if (layerA >= 0 && layerB < 0) {
          continue;
        }
        int slotB = StepCursor.slot(layerB, phase);
        if (!b.has(slotB)) {
          continue;
        }
        bands.computeIfAbsent(slotA, s -> new Bands()).observe(this, slotA, slotB);
      }
    }

    List<Divergence> divergences() {
      List<Divergence> list = new ArrayList<>();
      for (Bands band : bands.values()) {
        if (band.first != null) {
          list.add(band.first);
        }
      }
      list.sort(
          Comparator.comparingLong(Divergence::step)
              .thenComparingInt(d -> CausalOrder.phaseRank(d.phase()))
              .thenComparingLong(d -> CausalOrder.executionOrder(d.layerIndexA(), d.phase())));
      return list;
    }

    List<LayerMatch> layers() {
      return aligner.matches(a.names(), a.types(), b.names(), b.types());
    }

    String label(int layerA) {
      if (layerA < 0) {
        return "model";
      }
      int layerB = aligner.toB(layerA);
      String nameA = a.names().get(layerA);
      String nameB = b.names().get(layerB);
      return nameA.equals(nameB) ? nameA : nameA + " -> " + nameB;
    }

    List<String> notes(List<LayerMatch> layers) {
      List<String> notes = new ArrayList<>();
      if (common == 0) {
        notes.add(
            format(
                ROOT,
                "the traces hold no step in common (a: %s, b: %s): nothing is compared step by"
                    + " step",
                range(stepsA, firstA, lastA),
                range(stepsB, firstB, lastB)));
      } else if (stepsA != common || stepsB != common) {
        notes.add(
            format(
                ROOT,
                "different lengths: a holds %s, b holds %s; compared over the %d steps both hold"
                    + " (%d only in a, %d only in b)",
                range(stepsA, firstA, lastA),
                range(stepsB, firstB, lastB),
                common,
                stepsA - common,
                stepsB - common));
      }
      List<String> onlyA = new ArrayList<>();
      List<String> onlyB = new ArrayList<>();
      for (Phase phase : Phase.values()) {
        boolean inA = a.phases()[phase.code()];
        boolean inB = b.phases()[phase.code()];
        if (inA && !inB) {
          onlyA.add(phase.wireName());
        } else if (inB && !inA) {
          onlyB.add(phase.wireName());
        }
      }
      if (!onlyA.isEmpty()) {
        notes.add("phases recorded only in a, not compared: " + String.join(", ", onlyA));
      }
      if (!onlyB.isEmpty()) {
        notes.add("phases recorded only in b, not compared: " + String.join(", ", onlyB));
      }
      for (LayerMatch m : layers) {
        switch (m.how()) {
          case POSITION ->
              notes.add(
                  format(
                      ROOT,
                      "layer %s of a is named %s in b: paired by index (%d) and type (%s)",
                      m.nameA(),
                      m.nameB(),
                      m.indexA(),
                      m.type() == null ? "none" : m.type()));
          case NAME_OTHER_TYPE ->
              notes.add(
                  format(
                      ROOT,
                      "layer %s has type %s in a and %s in b: paired by name",
                      m.nameA(),
                      a.types().get(m.indexA()),
                      b.types().get(m.indexB())));
          case ONLY_A ->
              notes.add(
                  format(
                      ROOT,
                      "layer %s (index %d) is only in a: not compared",
                      m.nameA(),
                      m.indexA()));
          case ONLY_B ->
              notes.add(
                  format(
                      ROOT,
                      "layer %s (index %d) is only in b: not compared",
                      m.nameB(),
                      m.indexB()));
          case NAME -> {}
        }
      }
      return notes;
    }

    private static String range(long steps, long first, long last) {
      return steps == 0 ? "no step" : format(ROOT, "%d steps (%d to %d)", steps, first, last);
    }
  }

  /** The bands of one paired (layer, phase): per statistic and run, the running typical change. */
  private static final class Bands {
    final double[] prevA = new double[StepCursor.STAT_COUNT];
    final double[] prevB = new double[StepCursor.STAT_COUNT];
    final double[] sumA = new double[StepCursor.STAT_COUNT];
    final double[] sumB = new double[StepCursor.STAT_COUNT];
    final long[] nA = new long[StepCursor.STAT_COUNT];
    final long[] nB = new long[StepCursor.STAT_COUNT];
    final boolean[] seen = new boolean[StepCursor.STAT_COUNT];
    @Nullable Divergence first;

    void observe(Pass pass, int slotA, int slotB) {
      StepCursor a = pass.a;
      StepCursor b = pass.b;
      for (int k = 0; k < StepCursor.STAT_COUNT; k++) {
        if (!a.present(k, slotA) || !b.present(k, slotB)) {
          continue;
        }
        double va = a.value(k, slotA);
        double vb = b.value(k, slotB);
        if (first == null) {
          check(pass, slotA, slotB, k, va, vb);
        }
        if (seen[k]) {
          double dA = Math.abs(va - prevA[k]);
          double dB = Math.abs(vb - prevB[k]);
          if (Double.isFinite(dA)) {
            sumA[k] += dA;
            nA[k]++;
          }
          if (Double.isFinite(dB)) {
            sumB[k] += dB;
            nB[k]++;
          }
        }
        prevA[k] = va;
        prevB[k] = vb;
        seen[k] = true;
      }
    }

    private void check(Pass pass, int slotA, int slotB, int k, double va, double vb) {
      String left = null;
      double low = 0;
      double high = 0;
      if (k == StepCursor.NON_FINITE) {
        if ((va == 0) != (vb == 0)) {
          left = vb != 0 ? "b left a's band" : "a left b's band";
        }
      } else {
        boolean finiteA = Double.isFinite(va);
        boolean finiteB = Double.isFinite(vb);
        if (finiteA != finiteB) {
          left = finiteA ? "b left a's band" : "a left b's band";
          double half = finiteA ? half(pass, k, va, sumA, nA, pass.a, slotA) : 0;
          double center = finiteA ? va : vb;
          if (!finiteA) {
            half = half(pass, k, vb, sumB, nB, pass.b, slotB);
          }
          low = center - half;
          high = center + half;
        } else if (finiteA) {
          double halfA = half(pass, k, va, sumA, nA, pass.a, slotA);
          double halfB = half(pass, k, vb, sumB, nB, pass.b, slotB);
          if (Math.abs(vb - va) > halfA) {
            left = "b left a's band";
            low = va - halfA;
            high = va + halfA;
          } else if (Math.abs(va - vb) > halfB) {
            left = "a left b's band";
            low = vb - halfB;
            high = vb + halfB;
          }
        }
      }
      if (left != null) {
        int layerA = StepCursor.layerOf(slotA);
        String statistic =
            k == StepCursor.NON_FINITE ? "nan_count + inf_count" : StepCursor.STATS[k].wireName();
        first =
            new Divergence(
                pass.label(layerA),
                layerA,
                StepCursor.phaseOf(slotA),
                pass.a.step(),
                statistic,
                va,
                vb,
                low,
                high,
                left);
      }
    }

    private double half(
        Pass pass, int k, double value, double[] sum, long[] n, StepCursor run, int slot) {
      double typical = n[k] > 0 ? sum[k] / n[k] : 0;
      double floor;
      if (StepCursor.STATS[k] == Column.ZERO_FRACTION) {
        floor = ZERO_FRACTION_FLOOR;
      } else if (StepCursor.STATS[k] == Column.MEAN) {
        double std = run.present(1, slot) ? run.value(1, slot) : 0;
        floor = RELATIVE_FLOOR * Math.max(Math.abs(value), Double.isFinite(std) ? std : 0);
      } else {
        floor = RELATIVE_FLOOR * Math.abs(value);
      }
      return pass.k * typical + floor + 1e-12;
    }
  }

  /** The second pass: loss and accuracy curves, and the first divergences' statistics. */
  private static void collectSeries(
      Path a,
      Path b,
      List<Divergence> divergences,
      List<int[]> slots,
      List<Curve> curves,
      List<Curve> layerSeries) {
    int[] curveSlots = new int[CURVE_PHASES.length];
    for (int i = 0; i < CURVE_PHASES.length; i++) {
      curveSlots[i] = StepCursor.slot(-1, CURVE_PHASES[i]);
    }
    int seriesStats = 3; // mean, std, l2_norm
    int lines = CURVE_PHASES.length + slots.size() * seriesStats;
    Series series = new Series(lines);
    try (TraceReader ra = open(a);
        TraceReader rb = open(b)) {
      StepCursor ca = new StepCursor(ra);
      StepCursor cb = new StepCursor(rb);
      boolean moreA = ca.advance();
      boolean moreB = cb.advance();
      while (moreA || moreB) {
        long step = !moreB ? ca.step() : !moreA ? cb.step() : Math.min(ca.step(), cb.step());
        boolean useA = moreA && ca.step() == step;
        boolean useB = moreB && cb.step() == step;
        series.begin(step);
        int line = 0;
        for (int i = 0; i < CURVE_PHASES.length; i++, line++) {
          if (useA && ca.present(0, curveSlots[i])) {
            series.setA(line, ca.value(0, curveSlots[i]));
          }
          if (useB && cb.present(0, curveSlots[i])) {
            series.setB(line, cb.value(0, curveSlots[i]));
          }
        }
        for (int[] pair : slots) {
          for (int s = 0; s < seriesStats; s++, line++) {
            if (useA && ca.present(s, pair[0])) {
              series.setA(line, ca.value(s, pair[0]));
            }
            if (useB && cb.present(s, pair[1])) {
              series.setB(line, cb.value(s, pair[1]));
            }
          }
        }
        if (useA) {
          moreA = ca.advance();
        }
        if (useB) {
          moreB = cb.advance();
        }
      }
    }
    int line = 0;
    for (Phase phase : CURVE_PHASES) {
      Curve curve = series.curve(line++, phase.wireName(), phase, "mean");
      if (curve != null) {
        curves.add(curve);
      }
    }
    for (int[] pair : slots) {
      Divergence d = null;
      for (Divergence candidate : divergences) {
        if (StepCursor.slot(candidate.layerIndexA(), candidate.phase()) == pair[0]) {
          d = candidate;
          break;
        }
      }
      for (int s = 0; s < seriesStats; s++) {
        String stat = StepCursor.STATS[s].wireName();
        Divergence found = requireNonNull(d, "every charted slot is a divergence's");
        Curve curve =
            series.curve(
                line++, found.layer() + " " + found.phase().wireName(), found.phase(), stat);
        if (curve != null) {
          layerSeries.add(curve);
        }
      }
    }
  }

  /** Growable per-step columns of the second pass. */
  private static final class Series {
    private long[] steps = new long[256];
    private final double[][] a;
    private final double[][] b;
    private final boolean[][] hasA;
    private final boolean[][] hasB;
    private int size;

    Series(int lines) {
      a = new double[lines][256];
      b = new double[lines][256];
      hasA = new boolean[lines][256];
      hasB = new boolean[lines][256];
    }

    void begin(long step) {
      if (size == steps.length) {
        int capacity = size * 2;
        steps = Arrays.copyOf(steps, capacity);
        for (int i = 0; i < a.length; i++) {
          a[i] = Arrays.copyOf(a[i], capacity);
          b[i] = Arrays.copyOf(b[i], capacity);
          hasA[i] = Arrays.copyOf(hasA[i], capacity);
          hasB[i] = Arrays.copyOf(hasB[i], capacity);
        }
      }
      steps[size++] = step;
    }

    void setA(int line, double value) {
      a[line][size - 1] = value;
      hasA[line][size - 1] = true;
    }

    void setB(int line, double value) {
      b[line][size - 1] = value;
      hasB[line][size - 1] = true;
    }

    /** The line as a curve over the steps where a or b has it, or null when neither has it. */
    @Nullable Curve curve(int line, String name, Phase phase, String statistic) {
      int n = 0;
      for (int i = 0; i < size; i++) {
        if (hasA[line][i] || hasB[line][i]) {
          n++;
        }
      }
      if (n == 0) {
        return null;
      }
      long[] s = new long[n];
      double[] va = new double[n];
      double[] vb = new double[n];
      boolean[] ha = new boolean[n];
      boolean[] hb = new boolean[n];
      int j = 0;
      for (int i = 0; i < size; i++) {
        if (hasA[line][i] || hasB[line][i]) {
          s[j] = steps[i];
          va[j] = a[line][i];
          vb[j] = b[line][i];
          ha[j] = hasA[line][i];
          hb[j] = hasB[line][i];
          j++;
        }
      }
      return new Curve(name, phase, statistic, s, va, ha, vb, hb);
    }
  }

  /** Pairs the findings of both analyses by detector, layer (through the pairing) and phase. */
  private static List<FindingMatch> findings(Report a, Report b, List<LayerMatch> layers) {
    List<FindingMatch> list = new ArrayList<>();
    List<Finding> restB = new ArrayList<>(b.findings());
    for (Finding f : a.findings()) {
      String nameInB = f.isModelLevel() ? "model" : nameInB(f.resolvedLayerName(), layers);
      Finding match = null;
      for (Finding g : restB) {
        if (g.detector().equals(f.detector())
            && g.phase() == f.phase()
            && (g.isModelLevel() ? "model" : g.resolvedLayerName()).equals(nameInB)) {
          match = g;
          break;
        }
      }
      if (match != null) {
        restB.remove(match);
      }
      list.add(
          new FindingMatch(
              f.detector(),
              label(f, layers),
              f.phase(),
              f.severity().wireName(),
              f.firstStep(),
              match == null ? -1 : match.firstStep()));
    }
    for (Finding g : restB) {
      list.add(
          new FindingMatch(
              g.detector(),
              g.isModelLevel() ? "model" : g.resolvedLayerName(),
              g.phase(),
              g.severity().wireName(),
              -1,
              g.firstStep()));
    }
    return list;
  }

  private static @Nullable String nameInB(String nameA, List<LayerMatch> layers) {
    for (LayerMatch m : layers) {
      if (nameA.equals(m.nameA()) && m.how() != How.ONLY_A) {
        return m.nameB();
      }
    }
    return nameA;
  }

  private static String label(Finding f, List<LayerMatch> layers) {
    if (f.isModelLevel()) {
      return "model";
    }
    for (LayerMatch m : layers) {
      if (f.resolvedLayerName().equals(m.nameA())) {
        return m.label();
      }
    }
    return f.resolvedLayerName();
  }
}
