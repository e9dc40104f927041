package org.apache.parquet;

import java.util.Collections;
import java.util.HashMap;
import org.apache.parquet.bytes.HeapByteBufferAllocator;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.conf.PlainParquetConfiguration;
import org.apache.parquet.filter2.compat.FilterCompat;
import org.apache.parquet.format.converter.ParquetMetadataConverter;
import org.jspecify.annotations.NullMarked;

/**
 * Builds {@link ParquetReadOptions} without touching Hadoop.
 *
 * <p>Why this class lives in parquet-mr's package: in Parquet-MR 1.18.1 every public way to build
 * read options ({@code ParquetReadOptions.builder(...)}) creates a Hadoop-backed codec factory in
 * the builder's constructor, which fails with {@code NoClassDefFoundError} when Hadoop is not on
 * the class path, even if a codec factory is set afterwards. The package-private constructor takes
 * the codec factory directly. This works on the class path (one class loader, same runtime
 * package), not as a named JPMS module. If parquet-mr changes the constructor, this class stops
 * compiling, which is the intended alarm.
 *
 * <p>{@code @NullMarked} on the class, not on a package-info: the package is parquet-mr's.
 */
@NullMarked
public final class NoHadoopReadOptions {
  /** parquet-mr's default read buffer size (8 MiB). */
  private static final int MAX_ALLOCATION_SIZE = 8 << 20;

  private NoHadoopReadOptions() {}

  /**
   * Read options with every filter off (no statistics, dictionary, bloom or column-index
   * filtering), page checksums verified where the writer stored them, heap buffers, and the given
   * codec factory.
   */
  public static ParquetReadOptions create(CompressionCodecFactory codecs) {
    return new ParquetReadOptions(
        false, // useSignedStringMinMax
        false, // useStatsFilter
        false, // useDictionaryFilter
        false, // useRecordFilter
        false, // useColumnIndexFilter
        true, // usePageChecksumVerification: pages that carry a CRC (parquet-mr writes them) are
        // checked
        false, // useBloomFilter
        false, // useOffHeapDecryptBuffer
        false, // useHadoopVectoredIo
        FilterCompat.NOOP,
        ParquetMetadataConverter.NO_FILTER,
        codecs,
        new HeapByteBufferAllocator(),
        MAX_ALLOCATION_SIZE,
        Collections.unmodifiableMap(new HashMap<>()),
        null, // no decryption
        null, // no metrics callback
        new PlainParquetConfiguration());
  }
}
