package io.dlanalyze.analyzer.engine;

import io.dlanalyze.trace.Column;
import io.dlanalyze.trace.TraceBatch;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceFormat;
import io.dlanalyze.trace.TraceMetadata;
import io.dlanalyze.trace.TraceReader;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Semaphore;
import org.jspecify.annotations.Nullable;

/**
 * A producer/consumer pipeline over a reader: a second thread decodes batch k+1 into the source
 * reader's batch while the caller analyses batch k in this reader's batch. A decoded batch changes
 * hands by {@link TraceBatch#swapContents} (an exchange of array references, no copy), so there are
 * two reused batches and no allocation per batch.
 *
 * <p>What the caller sees is exactly what the source gives, in the same order: the same batches,
 * the same exception (thrown on the caller's thread at the batch where the source failed), and
 * {@link #rowsRead()}, {@link #truncated()} and {@link #warnings()} as they were right after the
 * source read the batch the caller holds, not the one read ahead. So an analysis through this
 * reader gives the same report as one over the source.
 *
 * <p>{@link #close()} stops the thread (after at most the batch it is decoding) but does not close
 * the source, which the caller owns; the source must not be used until then.
 */
final class ReadAheadReader implements TraceReader {
  /** What the producer hands over: a batch, the end, or the source's exception. */
  private record Handoff(
      boolean more,
      @Nullable Throwable error,
      long rowsRead,
      boolean truncated,
      List<String> warnings) {}

  private final TraceReader source;
  private final TraceBatch batch;
  private final Semaphore free = new Semaphore(1);
  private final BlockingQueue<Handoff> full = new ArrayBlockingQueue<>(1);
  private final Thread producer;
  private volatile boolean stopping;
  private boolean holding;
  private boolean ended;
  private Handoff current;

  private ReadAheadReader(TraceReader source) {
    this.source = source;
    TraceBatch sourceBatch = source.batch();
    this.batch = new TraceBatch(source.dictionary(), sourceBatch.columns(), sourceBatch.capacity());
    this.current =
        new Handoff(true, null, source.rowsRead(), source.truncated(), source.warnings());
    this.producer = new Thread(this::produce, "dl-analyze-read-ahead");
    this.producer.setDaemon(true);
  }

  /** Starts reading ahead of the caller. */
  static ReadAheadReader start(TraceReader source) {
    ReadAheadReader reader = new ReadAheadReader(source);
    reader.producer.start();
    return reader;
  }

  private void produce() {
    try {
      while (true) {
        Handoff handoff;
        try {
          boolean more = source.next();
          handoff =
              new Handoff(more, null, source.rowsRead(), source.truncated(), source.warnings());
        } catch (RuntimeException | Error e) {
          handoff = new Handoff(false, e, source.rowsRead(), source.truncated(), List.of());
        }
        free.acquire(); // the caller is done with the batch it held
        if (stopping) {
          return;
        }
        if (handoff.more()) {
          batch.swapContents(source.batch());
        }
        full.put(handoff);
        if (!handoff.more()) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public boolean next() {
    if (ended) {
      return false;
    }
    if (holding) {
      holding = false;
      free.release();
    }
    Handoff handoff;
    try {
      handoff = full.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(
          "interrupted while waiting for the next batch of " + source.path(), e);
    }
    current = handoff;
    if (handoff.error() != null) {
      ended = true;
      batch.reset(0);
      if (handoff.error() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw (Error) handoff.error();
    }
    if (!handoff.more()) {
      ended = true;
      batch.reset(0);
      return false;
    }
    holding = true;
    return true;
  }

  @Override
  public TraceBatch batch() {
    return batch;
  }

  @Override
  public Path path() {
    return source.path();
  }

  @Override
  public TraceFormat format() {
    return source.format();
  }

  @Override
  public TraceMetadata metadata() {
    return source.metadata();
  }

  @Override
  public Set<Column> columnsInFile() {
    return source.columnsInFile();
  }

  @Override
  public TraceDictionary dictionary() {
    return source.dictionary();
  }

  @Override
  public long rowsRead() {
    return current.rowsRead();
  }

  @Override
  public long totalRows() {
    return source.totalRows();
  }

  @Override
  public boolean truncated() {
    return current.truncated();
  }

  @Override
  public List<String> warnings() {
    return current.warnings();
  }

  /** Stops the read-ahead thread and waits for it; the source stays open. */
  @Override
  public void close() {
    stopping = true;
    free.release();
    full.clear();
    boolean interrupted = false;
    while (producer.isAlive()) {
      try {
        producer.join();
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
