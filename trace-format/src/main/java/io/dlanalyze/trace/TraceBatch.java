package io.dlanalyze.trace;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A block of trace rows held column by column in primitive arrays, reused from one batch to the
 * next. String columns (layer_name, layer_type, phase) hold integer ids into the reader's {@link
 * TraceDictionary}; the phase column holds {@link Phase} codes. A nullable column carries a null
 * mask only when the batch has nulls in it ({@link #hasNulls(Column)}), so a reader of a column
 * without nulls runs a plain index loop.
 *
 * <p>Only the columns the reader was asked for are loaded ({@link #has(Column)}); arrays of other
 * columns may be absent or hold stale values. The arrays may be longer than {@link #size()}.
 *
 * <p>Not thread-safe: one batch belongs to one reader at a time.
 */
public final class TraceBatch {
  private final TraceDictionary dictionary;
  private final EnumSet<Column> loaded;
  private final int[][] ints = new int[Column.COUNT][];
  private final long[][] longs = new long[Column.COUNT][];
  private final double[][] doubles = new double[Column.COUNT][];
  private final boolean[][] nullMasks = new boolean[Column.COUNT][];
  private final boolean[] hasNulls = new boolean[Column.COUNT];
  private int capacity;
  private int size;

  public TraceBatch(TraceDictionary dictionary, Set<Column> columns, int capacity) {
    if (capacity < 0) {
      throw new IllegalArgumentException(
          format(ROOT, "capacity must not be negative: %s", capacity));
    }
    this.dictionary = dictionary;
    this.loaded = columns.isEmpty() ? EnumSet.noneOf(Column.class) : EnumSet.copyOf(columns);
    this.capacity = 0;
    ensureCapacity(capacity);
  }

  /** A batch of every column. */
  public static TraceBatch allColumns(TraceDictionary dictionary, int capacity) {
    return new TraceBatch(dictionary, Column.all(), capacity);
  }

  public TraceDictionary dictionary() {
    return dictionary;
  }

  /** The columns this batch loads. */
  public Set<Column> columns() {
    return loaded.clone();
  }

  public boolean has(Column column) {
    return loaded.contains(column);
  }

  public int size() {
    return size;
  }

  public int capacity() {
    return capacity;
  }

  /**
   * Grows every loaded column to hold at least {@code rows} rows. Existing values are kept; new
   * null masks start all false.
   */
  public void ensureCapacity(int rows) {
    if (rows <= capacity) {
      return;
    }
    for (Column column : loaded) {
      int i = column.ordinal();
      switch (column.type()) {
        case INT32, STRING ->
            ints[i] = ints[i] == null ? new int[rows] : Arrays.copyOf(ints[i], rows);
        case INT64 -> longs[i] = longs[i] == null ? new long[rows] : Arrays.copyOf(longs[i], rows);
        case FLOAT64 ->
            doubles[i] = doubles[i] == null ? new double[rows] : Arrays.copyOf(doubles[i], rows);
      }
      if (nullMasks[i] != null) {
        nullMasks[i] = Arrays.copyOf(nullMasks[i], rows);
      }
    }
    capacity = rows;
  }

  /**
   * Starts a new batch of {@code rows} rows: grows the arrays if needed and clears the null flags.
   * Values are left as they are; the reader overwrites them.
   */
  public void reset(int rows) {
    ensureCapacity(rows);
    this.size = rows;
    Arrays.fill(hasNulls, false);
  }

  /** Sets the row count after a reader filled fewer rows than it reset for. */
  public void setSize(int rows) {
    if (rows < 0 || rows > capacity) {
      throw new IllegalArgumentException(
          format(ROOT, "size must be in [0, %s]: %s", capacity, rows));
    }
    this.size = rows;
  }

  /**
   * Values of an int32 or string column (string columns hold dictionary ids; phase holds codes).
   */
  public int[] ints(Column column) {
    checkType(column, ColumnType.INT32, ColumnType.STRING);
    return ints[column.ordinal()];
  }

  public long[] longs(Column column) {
    checkType(column, ColumnType.INT64, ColumnType.INT64);
    return longs[column.ordinal()];
  }

  public double[] doubles(Column column) {
    checkType(column, ColumnType.FLOAT64, ColumnType.FLOAT64);
    return doubles[column.ordinal()];
  }

  /** True when at least one of the first {@link #size()} rows of the column is null. */
  public boolean hasNulls(Column column) {
    return hasNulls[column.ordinal()];
  }

  /** True when the value of {@code column} at {@code row} is null. */
  public boolean isNull(Column column, int row) {
    int i = column.ordinal();
    return hasNulls[i] && nullMasks[i][row];
  }

  /**
   * The null mask of a column for writing: allocates it on first use and marks the column as having
   * nulls. Readers clear entries they fill with values; call only for columns with nulls.
   */
  public boolean[] nullMaskForWrite(Column column) {
    int i = column.ordinal();
    if (nullMasks[i] == null) {
      nullMasks[i] = new boolean[capacity];
    }
    if (!hasNulls[i]) {
      Arrays.fill(nullMasks[i], 0, size, false);
      hasNulls[i] = true;
    }
    return nullMasks[i];
  }

  /** Marks one value as null (allocating the mask on first use). */
  public void setNull(Column column, int row) {
    nullMaskForWrite(column)[row] = true;
  }

  /** The null mask of a column, or {@code null} when the column has no nulls in this batch. */
  public boolean @Nullable [] nullMask(Column column) {
    int i = column.ordinal();
    return hasNulls[i] ? nullMasks[i] : null;
  }

  /**
   * Exchanges the rows of this batch and {@code other} (arrays, null masks, sizes) in O(1), no
   * copy: a reader can decode its next batch into its own batch while a consumer works on rows it
   * swapped out of it before. Both batches must load the same columns from the same dictionary.
   *
   * @throws IllegalArgumentException when the batches load different columns or dictionaries
   */
  public void swapContents(TraceBatch other) {
    if (other.dictionary != dictionary || !other.loaded.equals(loaded)) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "cannot swap a batch of %s with one of %s (or of another dictionary)",
              other.loaded,
              loaded));
    }
    swap(ints, other.ints);
    swap(longs, other.longs);
    swap(doubles, other.doubles);
    swap(nullMasks, other.nullMasks);
    for (int i = 0; i < Column.COUNT; i++) {
      boolean h = hasNulls[i];
      hasNulls[i] = other.hasNulls[i];
      other.hasNulls[i] = h;
    }
    int c = capacity;
    capacity = other.capacity;
    other.capacity = c;
    int s = size;
    size = other.size;
    other.size = s;
  }

  private static <T> void swap(T[] a, T[] b) {
    for (int i = 0; i < a.length; i++) {
      T t = a[i];
      a[i] = b[i];
      b[i] = t;
    }
  }

  private void checkType(Column column, ColumnType expected, ColumnType alsoAllowed) {
    if (column.type() != expected && column.type() != alsoAllowed) {
      throw new IllegalArgumentException(
          format(
              ROOT,
              "column %s has type %s, expected %s",
              column.wireName(),
              column.type(),
              expected));
    }
    if (!loaded.contains(column)) {
      throw new IllegalStateException(
          format(ROOT, "column %s is not loaded in this batch", column.wireName()));
    }
  }
}
