package io.dlanalyze.trace.tensorboard;

import io.dlanalyze.trace.tensorboard.proto.Event;
import io.dlanalyze.trace.tensorboard.proto.HistogramProto;
import io.dlanalyze.trace.tensorboard.proto.Summary;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** Writes small TensorBoard event files for tests, framed as TensorBoard's writers frame them. */
public final class TestEventFiles {
  private TestEventFiles() {}

  /** A scalar event ({@code simple_value}, as PyTorch's SummaryWriter writes it). */
  public static Event scalar(long step, String tag, double value) {
    return Event.newBuilder()
        .setStep(step)
        .setSummary(
            Summary.newBuilder()
                .addValue(Summary.Value.newBuilder().setTag(tag).setSimpleValue((float) value)))
        .build();
  }

  /** A histogram event ({@code HistogramProto} with its five moments, no buckets). */
  public static Event histogram(
      long step, String tag, double min, double max, double num, double sum, double squares) {
    return Event.newBuilder()
        .setStep(step)
        .setSummary(
            Summary.newBuilder()
                .addValue(
                    Summary.Value.newBuilder()
                        .setTag(tag)
                        .setHisto(
                            HistogramProto.newBuilder()
                                .setMin(min)
                                .setMax(max)
                                .setNum(num)
                                .setSum(sum)
                                .setSumSquares(squares))))
        .build();
  }

  /** Writes an event file: a file_version event, then the events. */
  public static Path write(Path file, Event... events) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(record(Event.newBuilder().setFileVersion("brain.Event:2").build().toByteArray()));
    for (Event event : events) {
      out.write(record(event.toByteArray()));
    }
    Files.createDirectories(file.toAbsolutePath().getParent());
    return Files.write(file, out.toByteArray());
  }

  /** One TFRecord: length, masked CRC32C of the length, data, masked CRC32C of the data. */
  public static byte[] record(byte[] data) {
    ByteBuffer out = ByteBuffer.allocate(16 + data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.putLong(data.length);
    byte[] length = Arrays.copyOf(out.array(), 8);
    out.putInt(TfRecordReader.maskedCrc32c(length, 0, 8));
    out.put(data);
    out.putInt(TfRecordReader.maskedCrc32c(data, 0, data.length));
    return out.array();
  }
}
