package io.dlanalyze.cli.eval;

/** Lays out an {@link Evaluation.Result} as text tables, Markdown or JSON. */
public final class EvalRenderer {
  /**
   * Version of the JSON layout: 2 replaced {@code totals} with {@code splits} (rates with their
   * Wilson intervals, pairs, confusion, groups, detectors) and added {@code dev_vs_test}.
   */
  public static final int JSON_VERSION = 2;

  private EvalRenderer() {}

  /** The tables without the per-detector ones (JSON always has them). */
  public static String render(Evaluation.Result result, EvalFormat format) {
    return render(result, format, false);
  }

  /**
   * The tables in this format.
   *
   * @param perDetector add each scope's per-detector table to text and Markdown (JSON always has
   *     it)
   */
  public static String render(Evaluation.Result result, EvalFormat format, boolean perDetector) {
    return switch (format) {
      case TEXT -> EvalTables.render(result, false, perDetector);
      case MARKDOWN -> EvalTables.render(result, true, perDetector);
      case JSON -> EvalJson.render(result);
    };
  }
}
