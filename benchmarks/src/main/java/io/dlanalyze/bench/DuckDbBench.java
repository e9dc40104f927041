package io.dlanalyze.bench;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Analyzer;
import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.ColumnType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * DuckDB over a trace file, inside one warm JVM: the performance anchor of docs/performance.md.
 *
 * <pre>
 * java -cp ... io.dlanalyze.bench.DuckDbBench TRACE.parquet [REPS] [QUERY...]
 * </pre>
 *
 * <p>Queries (all by default):
 *
 * <ul>
 *   <li>{@code scan_mean}: {@code count(*), sum(mean)};
 *   <li>{@code scan_alg2}: the 6 columns a DeepLocalize Algorithm-2 pass needs (epoch, batch, step,
 *       layer_index, phase, mean), every one aggregated so that it is decoded;
 *   <li>{@code scan_default}, {@code scan_deeplocalize}: the columns dl-analyze itself loads in
 *       that mode ({@link Analyzer#projection}), the like-for-like scan;
 *   <li>{@code deeplocalize_sql}: DeepLocalize's checks (NaN/Inf, the cumulative zero rule, the
 *       every-5-batches unchanged and MDL rules, its check order) as SQL with window functions,
 *       returning the first hit, which should be the hit {@code --mode deeplocalize} reports.
 * </ul>
 *
 * <p>Threads: 2 ({@code SET threads = 2}). Each query runs once to warm up (the first one also
 * loads DuckDB's native library), then REPS times; one line per repetition, then the best and the
 * median. Peak RSS is the process's VmHWM, reset before each repetition.
 */
public final class DuckDbBench {
  private DuckDbBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 1) {
      System.err.println("usage: DuckDbBench TRACE [REPS] [QUERY...]");
      System.exit(2);
    }
    Path trace = Path.of(args[0]).toAbsolutePath();
    if (!Files.exists(trace)) {
      throw new IllegalArgumentException("no such trace: " + trace);
    }
    int reps = args.length > 1 ? Integer.parseInt(args[1]) : 3;
    Map<String, String> queries = queries(trace);
    List<String> selected = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      if (!queries.containsKey(args[i])) {
        throw new IllegalArgumentException(
            format(ROOT, "unknown query: %s (known: %s)", args[i], queries.keySet()));
      }
      selected.add(args[i]);
    }
    if (selected.isEmpty()) {
      selected.addAll(queries.keySet());
    }
    Class.forName("org.duckdb.DuckDBDriver");
    try (Connection connection = DriverManager.getConnection("jdbc:duckdb:");
        Statement statement = connection.createStatement()) {
      statement.execute("SET threads = 2");
      long rows = scalar(statement, format(ROOT, "SELECT count(*) FROM read_parquet('%s')", trace));
      System.out.println(
          format(
              ROOT,
              "# duckdb %s, threads=2, trace %s, %d rows",
              run(statement, "SELECT version() AS v"),
              trace.getFileName(),
              rows));
      for (String name : selected) {
        String sql = requireNonNull(queries.get(name), "the names are checked against the queries");
        String answer = run(statement, sql); // warm-up
        Measure.Result[] results = new Measure.Result[reps];
        for (int i = 0; i < reps; i++) {
          Measure measure = Measure.start();
          answer = run(statement, sql);
          results[i] = measure.stop();
          System.out.println(
              format(
                  ROOT,
                  "duckdb query=%s rep=%d rows=%d %s",
                  name,
                  i,
                  rows,
                  results[i].format(rows)));
        }
        Measure.Result[] bm = Measure.bestAndMedian(results);
        System.out.println(
            format(ROOT, "duckdb query=%s stat=best rows=%d %s", name, rows, bm[0].format(rows)));
        System.out.println(
            format(ROOT, "duckdb query=%s stat=median rows=%d %s", name, rows, bm[1].format(rows)));
        System.out.println(format(ROOT, "# %s answer: %s", name, answer));
      }
    }
  }

  /** The queries by name, in the order they run. */
  static Map<String, String> queries(Path trace) {
    String file = format(ROOT, "read_parquet('%s')", trace.toString().replace("'", "''"));
    Map<String, String> queries = new LinkedHashMap<>();
    queries.put("scan_mean", "SELECT count(*), sum(mean) FROM " + file);
    queries.put(
        "scan_alg2",
        scan(
            file,
            EnumSet.of(
                Column.EPOCH,
                Column.BATCH,
                Column.STEP,
                Column.LAYER_INDEX,
                Column.PHASE,
                Column.MEAN)));
    Analyzer analyzer = new Analyzer();
    for (AnalysisMode mode : AnalysisMode.values()) {
      Set<Column> projection = analyzer.projection(AnalysisOptions.builder().mode(mode).build());
      queries.put("scan_" + mode.wireName(), scan(file, projection));
    }
    queries.put("deeplocalize_sql", deepLocalizeSql(file, 5, 0.5));
    return queries;
  }

  /** Aggregates every given column so DuckDB must decode it: sums, and min() for strings. */
  static String scan(String file, Set<Column> columns) {
    StringBuilder sql = new StringBuilder("SELECT count(*)");
    for (Column column : columns) {
      String function = column.type() == ColumnType.STRING ? "min" : "sum";
      sql.append(", ").append(function).append('(').append(column.wireName()).append(')');
    }
    return sql.append(" FROM ").append(file).toString();
  }

  /**
   * DeepLocalize's per-batch checks (DeepLocalizeDetector, docs/references.md#deeplocalize-checks)
   * as one SQL query, first hit only, written to be cheap: one scan of the 7 columns, a hash join
   * with the step counters, window functions only where an order matters (the batch counter, and
   * the running count of zero means over the rows whose mean is 0), plain aggregates for the
   * blocks. Streams: 0 forward (the activation row where the layer has them, else forward), 1
   * weights, 2 loss, 3 accuracy, 4 delta weights (gradient), 5 output gradient (backward). Rules:
   * NaN/Inf; mean == 0 in at least {@code zeroRatio} of the batches so far (layer streams); at
   * every {@code window}-th batch, mean == max over the block (unchanged; MDL for loss and
   * accuracy). The weight and delta-weight block tests and delta weights run on dense-like layers
   * only, the forward and backward block tests skip flatten layers; hits are ordered as the
   * detector checks them. One simplification in DuckDB's favour: whether a layer's forward stream
   * reads activation rows is decided once per layer, not per batch (the same thing for every trace
   * a recorder writes).
   */
  static String deepLocalizeSql(String file, int window, double zeroRatio) {
    return """
    WITH t AS (
      SELECT step, batch, layer_index, layer_name, layer_type, phase, mean FROM %1$s
      WHERE phase IN ('forward', 'activation', 'weight', 'loss', 'accuracy', 'gradient', 'backward')
    ),
    activation_layers AS (SELECT DISTINCT layer_index FROM t WHERE phase = 'activation'),
    counters AS (
      SELECT step, batch, row_number() OVER (ORDER BY step) AS counter
      FROM (SELECT step, min(batch) AS batch FROM t GROUP BY step)
    ),
    v AS (
      SELECT c.counter, c.batch, t.layer_index, t.mean,
        CASE t.phase WHEN 'forward' THEN 0 WHEN 'activation' THEN 0 WHEN 'weight' THEN 1
          WHEN 'loss' THEN 2 WHEN 'accuracy' THEN 3 WHEN 'gradient' THEN 4 ELSE 5 END AS stream,
        coalesce(t.layer_type IN ('Dense', 'Linear'), false)
          OR (t.layer_type IS NULL AND lower(t.layer_name) LIKE '%%dense%%') AS dense,
        coalesce(t.layer_type = 'Flatten', false) AS flatten
      FROM t JOIN counters c USING (step)
      WHERE NOT (t.phase = 'forward' AND t.layer_index IN (SELECT layer_index FROM activation_layers))
        AND (t.phase <> 'gradient' OR coalesce(t.layer_type IN ('Dense', 'Linear'), false)
          OR (t.layer_type IS NULL AND lower(t.layer_name) LIKE '%%dense%%'))
    ),
    value_hits AS (
      SELECT counter, batch, layer_index, stream, 'nan_inf' AS rule FROM v
      WHERE isnan(mean) OR isinf(mean)
      UNION ALL
      SELECT counter, batch, layer_index, stream, 'zero_frequency' FROM (
        SELECT *, row_number() OVER (PARTITION BY stream, layer_index ORDER BY counter) AS zeros
        FROM v WHERE mean = 0 AND stream NOT IN (2, 3))
      WHERE zeros >= counter * %3$s
    ),
    blocks AS (
      SELECT stream, layer_index, (counter - 1) // %2$d AS block, avg(mean) AS block_mean,
        max(mean) AS block_max, bool_and(dense) AS dense, bool_or(flatten) AS flatten
      FROM v GROUP BY stream, layer_index, (counter - 1) // %2$d
    ),
    block_hits AS (
      SELECT c.counter, c.batch, b.layer_index, b.stream,
        CASE WHEN b.stream IN (2, 3) THEN 'mdl' ELSE 'unchanged' END AS rule
      FROM blocks b JOIN counters c ON c.counter = (b.block + 1) * %2$d
      WHERE b.block_mean = b.block_max
        AND (CASE WHEN b.stream IN (1, 4) THEN b.dense WHEN b.stream IN (0, 5) THEN NOT b.flatten ELSE true END)
    )
    SELECT counter, batch, layer_index, stream, rule
    FROM (SELECT * FROM value_hits UNION ALL SELECT * FROM block_hits)
    ORDER BY counter, stream, rule IN ('unchanged', 'mdl'),
      CASE WHEN stream = 0 THEN layer_index ELSE -layer_index END
    LIMIT 1
    """
        .formatted(file, window, Double.toString(zeroRatio));
  }

  private static long scalar(Statement statement, String sql) throws SQLException {
    try (ResultSet result = statement.executeQuery(sql)) {
      result.next();
      Object value = result.getObject(1);
      return value instanceof Number number ? number.longValue() : 0;
    }
  }

  /** Runs a query and renders its (small) result as one line. */
  private static String run(Statement statement, String sql) throws SQLException {
    StringBuilder text = new StringBuilder();
    try (ResultSet result = statement.executeQuery(sql)) {
      ResultSetMetaData meta = result.getMetaData();
      while (result.next()) {
        text.append('[');
        for (int c = 1; c <= meta.getColumnCount(); c++) {
          if (c > 1) {
            text.append(", ");
          }
          text.append(meta.getColumnName(c)).append('=').append(result.getObject(c));
        }
        text.append(']');
      }
    }
    return text.toString();
  }
}
