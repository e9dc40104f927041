package io.dlanalyze.trace.arrow;

import io.dlanalyze.trace.ReadErrors;
import java.util.List;
import java.util.Locale;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.compression.CompressionCodec;
import org.apache.arrow.vector.dictionary.Dictionary;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.message.ArrowDictionaryBatch;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.validate.ValidateUtil;

/**
 * An {@link ArrowStreamReader} that validates a dictionary batch before Arrow Java applies it.
 * Arrow Java appends a delta dictionary by copying memory as the delta's offsets say, unchecked: a
 * delta with damaged offsets made it copy from outside its buffers and crash the JVM. The batch is
 * first loaded into a scratch vector and validated ({@code ValueVectorUtility.validateFull}); only
 * a valid one is applied.
 */
final class CheckedStreamReader extends ArrowStreamReader {
  private final CompressionCodec.Factory codecs;

  CheckedStreamReader(
      CheckedMessages messages, BufferAllocator allocator, CompressionCodec.Factory codecs) {
    super(messages, allocator, codecs);
    this.codecs = codecs;
  }

  @Override
  protected void loadDictionary(ArrowDictionaryBatch batch) {
    Dictionary dictionary = dictionaries.get(batch.getDictionaryId());
    if (dictionary != null) {
      Field field = dictionary.getVector().getField();
      try (FieldVector scratch = field.createVector(allocator);
          VectorSchemaRoot root = new VectorSchemaRoot(List.of(field), List.of(scratch), 0)) {
        new VectorLoader(root, codecs).load(batch.getDictionary());
        VectorChecks.check(scratch);
      } catch (ValidateUtil.ValidateException | IllegalArgumentException e) {
        throw new IllegalArgumentException(
            String.format(
                Locale.ROOT,
                "dictionary batch %d is inconsistent: %s",
                batch.getDictionaryId(),
                ReadErrors.describe(e, "its offsets do not fit its data")),
            e);
      }
    }
    super.loadDictionary(batch);
  }
}
