package io.dlanalyze.analyzer;

import static java.lang.String.format;
import static java.util.Locale.ROOT;
import static java.util.Objects.requireNonNull;

import io.dlanalyze.trace.ReadOptions;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What an analysis runs and how strict it is. Immutable; build with {@link #builder()}, which
 * checks each setting when it is set.
 *
 * <pre>{@code
 * AnalysisOptions options = AnalysisOptions.builder()
 *     .mode(AnalysisMode.DEFAULT)
 *     .set(Thresholds.WINDOW, 20)
 *     .failOn(Severity.ERROR)
 *     .build();
 * }</pre>
 */
public final class AnalysisOptions {
  /** The key of layer exclusions that apply to every detector. */
  public static final String ALL_DETECTORS = "*";

  private final AnalysisMode mode;
  private final Map<String, Double> thresholds;

  /** The detectors enabled by id, or {@code null} for every built-in one. */
  private final @Nullable Set<String> enabledDetectors;

  private final Set<String> disabledDetectors;
  private final Map<String, List<String>> excludedLayers;
  private final @Nullable Severity failOn;
  private final boolean firstFault;
  private final int readBatchRows;
  private final boolean readAhead;
  private final int decodeThreads;

  private AnalysisOptions(Builder builder) {
    this.mode = builder.mode;
    this.thresholds = Map.copyOf(builder.thresholds);
    this.enabledDetectors =
        builder.enabledDetectors == null ? null : Set.copyOf(builder.enabledDetectors);
    this.disabledDetectors = Set.copyOf(builder.disabledDetectors);
    Map<String, List<String>> excluded = new LinkedHashMap<>();
    builder.excludedLayers.forEach((id, globs) -> excluded.put(id, List.copyOf(globs)));
    this.excludedLayers = java.util.Collections.unmodifiableMap(excluded);
    this.failOn = builder.failOn;
    this.firstFault = builder.firstFault;
    this.readBatchRows = builder.readBatchRows;
    this.readAhead = builder.readAhead;
    this.decodeThreads = builder.decodeThreads;
  }

  /** The defaults: default mode, every built-in detector, fail on warning. */
  public static AnalysisOptions defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding this object's settings. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.mode = mode;
    builder.thresholds.putAll(thresholds);
    builder.enabledDetectors =
        enabledDetectors == null ? null : new LinkedHashSet<>(enabledDetectors);
    builder.disabledDetectors.addAll(disabledDetectors);
    excludedLayers.forEach((id, globs) -> builder.excludedLayers.put(id, new ArrayList<>(globs)));
    builder.failOn = failOn;
    builder.firstFault = firstFault;
    builder.readBatchRows = readBatchRows;
    builder.readAhead = readAhead;
    builder.decodeThreads = decodeThreads;
    return builder;
  }

  public AnalysisMode mode() {
    return mode;
  }

  /** The value of a threshold: the one set, or its default. */
  public double get(Threshold threshold) {
    Double value = thresholds.get(threshold.key());
    return value == null ? threshold.defaultValue() : value;
  }

  /** The value of a whole-number threshold. */
  public int getInt(Threshold threshold) {
    return (int) Math.min(Integer.MAX_VALUE, Math.round(get(threshold)));
  }

  /** Every known threshold with its effective value, in {@link Thresholds#all()} order. */
  public Map<String, Double> effectiveThresholds() {
    Map<String, Double> values = new LinkedHashMap<>();
    for (Threshold threshold : Thresholds.all()) {
      values.put(threshold.key(), get(threshold));
    }
    return values;
  }

  /** True when the detector with this id runs (in a mode that has it). */
  public boolean isEnabled(String detectorId) {
    if (disabledDetectors.contains(detectorId)) {
      return false;
    }
    return enabledDetectors == null || enabledDetectors.contains(detectorId);
  }

  /**
   * True when findings of this detector on the layer with this name are dropped: the name matches a
   * glob given for every detector or for this one ({@code *} any run of characters, {@code ?} one
   * character, anything else literal).
   */
  public boolean isExcluded(String detectorId, String layerName) {
    return matches(excludedLayers.get(ALL_DETECTORS), layerName)
        || matches(excludedLayers.get(detectorId), layerName);
  }

  /** True when any layer exclusion is set. */
  public boolean hasExclusions() {
    return !excludedLayers.isEmpty();
  }

  /** The layer exclusions by detector id ({@code "*"} for every detector), in the order set. */
  public Map<String, List<String>> excludedLayers() {
    return excludedLayers;
  }

  private static boolean matches(@Nullable List<String> globs, String name) {
    if (globs == null || name == null) {
      return false;
    }
    for (String glob : globs) {
      if (globMatches(glob, name)) {
        return true;
      }
    }
    return false;
  }

  /**
   * True when {@code name} matches {@code glob} ({@code *} any run of characters, {@code ?} one
   * character, anything else literal). Matched left to right, going back only to the last {@code *}
   * seen: at most (glob length + 1) x (name length + 1) steps whatever the pattern, where a
   * translation into a backtracking regular expression takes exponential time on globs such as
   * {@code *a*a*a*a*a*a*a*a*b}.
   */
  static boolean globMatches(String glob, String name) {
    return matchGlob(glob, name).matches();
  }

  /** Whether a glob matched, and in how many steps (for the bound's test). */
  record GlobMatch(boolean matches, long steps) {}

  static GlobMatch matchGlob(String glob, String name) {
    int g = 0;
    int n = 0;
    int star = -1;
    int resume = 0;
    long steps = 0;
    while (n < name.length()) {
      steps++;
      if (g < glob.length() && (glob.charAt(g) == '?' || glob.charAt(g) == name.charAt(n))) {
        g++;
        n++;
      } else if (g < glob.length() && glob.charAt(g) == '*') {
        star = g++;
        resume = n;
      } else if (star >= 0) {
        g = star + 1;
        n = ++resume;
      } else {
        return new GlobMatch(false, steps);
      }
    }
    while (g < glob.length() && glob.charAt(g) == '*') {
      g++;
      steps++;
    }
    return new GlobMatch(g == glob.length(), steps);
  }

  /** The detector ids named by {@link Builder#enableOnly} and {@link Builder#disable}. */
  public List<String> namedDetectors() {
    List<String> ids = new ArrayList<>();
    if (enabledDetectors != null) {
      ids.addAll(enabledDetectors);
    }
    ids.addAll(disabledDetectors);
    ids.sort(null);
    return ids;
  }

  /**
   * The least severity that makes {@link Report#fails(AnalysisOptions)} true, or empty for "never".
   */
  public Optional<Severity> failOn() {
    return Optional.ofNullable(failOn);
  }

  /** Stop reading at the end of the first step in which a detector fired. */
  public boolean firstFault() {
    return firstFault;
  }

  /** Rows per batch when {@link Analyzer} opens a trace itself. */
  public int readBatchRows() {
    return readBatchRows;
  }

  /**
   * Decode the next batch on a second thread while this one is analysed. The report is the same
   * either way; the default is on when the JVM has more than one processor.
   */
  public boolean readAhead() {
    return readAhead;
  }

  /**
   * How many threads decode the columns of a Parquet batch when {@link Analyzer} opens a trace
   * itself (the read-ahead thread included). The report is the same whatever the number; the
   * default is {@link #defaultDecodeThreads()}.
   */
  public int decodeThreads() {
    return decodeThreads;
  }

  /**
   * The default of {@link #decodeThreads()}: 2 on a machine of four processors or more, else 1. The
   * read-ahead thread and the analysis thread already keep two processors busy; a decode helper
   * only pays where a third one is free. On 2 cores, measured quietly on a 32M-row trace, a second
   * decode thread made the default mode 3.5% slower and the deeplocalize mode no faster
   * (docs/performance.md, "Parallel column decoding").
   */
  public static int defaultDecodeThreads() {
    return defaultDecodeThreads(Runtime.getRuntime().availableProcessors());
  }

  /** {@link #defaultDecodeThreads()} on a machine of {@code processors} processors. */
  static int defaultDecodeThreads(int processors) {
    return processors >= 4 ? 2 : 1;
  }

  /** Settings of an analysis; each setter checks its argument. */
  public static final class Builder {
    private AnalysisMode mode = AnalysisMode.DEFAULT;
    private final Map<String, Double> thresholds = new LinkedHashMap<>();
    private @Nullable Set<String> enabledDetectors;
    private final Set<String> disabledDetectors = new LinkedHashSet<>();
    private final Map<String, List<String>> excludedLayers = new LinkedHashMap<>();
    private @Nullable Severity failOn = Severity.WARNING;
    private boolean firstFault;
    private int readBatchRows = ReadOptions.DEFAULT_BATCH_ROWS;
    private boolean readAhead = Runtime.getRuntime().availableProcessors() > 1;
    private int decodeThreads = defaultDecodeThreads();

    private Builder() {}

    public Builder mode(AnalysisMode mode) {
      this.mode = requireNonNull(mode, "mode is null");
      return this;
    }

    /** Sets a threshold, checking its range. */
    public Builder set(Threshold threshold, double value) {
      thresholds.put(threshold.key(), threshold.validate(value));
      return this;
    }

    /** Sets a threshold by key ({@code "window"}), checking the key and the range. */
    public Builder set(String key, double value) {
      return set(Thresholds.require(key), value);
    }

    /** Runs only these detectors (ids as in {@link DetectorSpec#id()}). */
    public Builder enableOnly(Collection<String> detectorIds) {
      Set<String> ids = new LinkedHashSet<>();
      for (String id : detectorIds) {
        ids.add(checkId(id));
      }
      this.enabledDetectors = ids;
      return this;
    }

    /** Does not run this detector. */
    public Builder disable(String detectorId) {
      disabledDetectors.add(checkId(detectorId));
      return this;
    }

    /** Runs this detector again after {@link #disable} (a config file's {@code enabled: true}). */
    public Builder enable(String detectorId) {
      disabledDetectors.remove(checkId(detectorId));
      if (enabledDetectors != null) {
        enabledDetectors.add(detectorId);
      }
      return this;
    }

    /** Drops every detector's findings on layers whose name matches {@code glob}. */
    public Builder excludeLayers(String glob) {
      return excludeLayers(ALL_DETECTORS, glob);
    }

    /** Drops this detector's findings on layers whose name matches {@code glob}. */
    public Builder excludeLayers(String detectorId, String glob) {
      requireNonNull(glob, "glob is null");
      if (glob.isEmpty()) {
        throw new IllegalArgumentException("layer glob is empty");
      }
      String id = detectorId.equals(ALL_DETECTORS) ? detectorId : checkId(detectorId);
      excludedLayers.computeIfAbsent(id, k -> new ArrayList<>()).add(glob);
      return this;
    }

    /** Findings at or above this severity make the analysis fail (CLI exit code 3). */
    public Builder failOn(Severity severity) {
      this.failOn = requireNonNull(severity, "severity is null");
      return this;
    }

    /** No finding makes the analysis fail. */
    public Builder neverFail() {
      this.failOn = null;
      return this;
    }

    public Builder firstFault(boolean firstFault) {
      this.firstFault = firstFault;
      return this;
    }

    public Builder readBatchRows(int rows) {
      if (rows <= 0) {
        throw new IllegalArgumentException(
            format(ROOT, "readBatchRows must be positive: %s", rows));
      }
      this.readBatchRows = rows;
      return this;
    }

    /** See {@link AnalysisOptions#readAhead()}. */
    public Builder readAhead(boolean readAhead) {
      this.readAhead = readAhead;
      return this;
    }

    /**
     * See {@link AnalysisOptions#decodeThreads()}; from 1 to {@value
     * ReadOptions#MAX_DECODE_THREADS}.
     */
    public Builder decodeThreads(int threads) {
      if (threads < 1 || threads > ReadOptions.MAX_DECODE_THREADS) {
        throw new IllegalArgumentException(
            format(
                ROOT,
                "decode threads must be between 1 and %d: %s",
                ReadOptions.MAX_DECODE_THREADS,
                threads));
      }
      this.decodeThreads = threads;
      return this;
    }

    public AnalysisOptions build() {
      return new AnalysisOptions(this);
    }

    private static String checkId(String id) {
      requireNonNull(id, "detector id is null");
      if (!DetectorSpec.ID_PATTERN.matcher(id).matches()) {
        throw new IllegalArgumentException(format(ROOT, "detector id must be kebab-case: %s", id));
      }
      return id;
    }
  }
}
