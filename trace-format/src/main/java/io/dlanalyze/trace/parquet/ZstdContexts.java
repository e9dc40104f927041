package io.dlanalyze.trace.parquet;

import com.github.luben.zstd.ZstdDecompressCtx;
import java.lang.ref.Cleaner;
import java.util.Iterator;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * zstd decompression contexts, one per decoding thread, shared by the decompressors of one codec
 * factory and freed with it.
 *
 * <p>zstd-jni's one-shot {@code Zstd.decompressByteArray} creates and frees a native context for
 * every page; on the 32M-row benchmark trace (docs/performance.md) creating contexts took 4-5% of
 * the whole process's CPU samples, a sixth of the decoding thread's time. A context is used by one
 * thread at a time, so each thread gets its own; a reader decodes on at most {@code decodeThreads}
 * threads, so there are that few. Contexts are native memory that the garbage collector does not
 * see: {@link #close()} frees them (the reader releases its codec factory when it closes), and a
 * {@link Cleaner} frees them when a factory that was never released becomes unreachable.
 */
final class ZstdContexts implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  private final Contexts contexts = new Contexts();

  ZstdContexts() {
    CLEANER.register(this, contexts);
  }

  /**
   * The calling thread's context, made on first use; after {@link #close()} a fresh one, freed by
   * the next {@link #close()} or by the cleaner.
   */
  ZstdDecompressCtx forCurrentThread() {
    return contexts.map.computeIfAbsent(Thread.currentThread(), thread -> new ZstdDecompressCtx());
  }

  /** Number of live contexts. */
  int size() {
    return contexts.map.size();
  }

  /** Frees every context; the decompressors of the factory make new ones if still used. */
  @Override
  public void close() {
    contexts.run();
  }

  /**
   * The contexts by thread; also the cleaning action, so it must not refer to the {@link
   * ZstdContexts} that owns it.
   */
  private static final class Contexts implements Runnable {
    final Map<Thread, ZstdDecompressCtx> map = new ConcurrentHashMap<>();

    @Override
    public void run() {
      for (Iterator<ZstdDecompressCtx> i = map.values().iterator(); i.hasNext(); ) {
        ZstdDecompressCtx context = i.next();
        i.remove();
        context.close();
      }
    }
  }
}
