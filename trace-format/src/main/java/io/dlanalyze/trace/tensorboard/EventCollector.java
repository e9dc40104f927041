package io.dlanalyze.trace.tensorboard;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import com.google.protobuf.InvalidProtocolBufferException;
import io.dlanalyze.trace.ErrorCode;
import io.dlanalyze.trace.TraceFormatException;
import io.dlanalyze.trace.tensorboard.TagMapping.Mapped;
import io.dlanalyze.trace.tensorboard.TagMapping.Target;
import io.dlanalyze.trace.tensorboard.TensorBoardRun.EventFile;
import io.dlanalyze.trace.tensorboard.proto.Event;
import io.dlanalyze.trace.tensorboard.proto.Summary;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Reads the event files of a run, record by record, and keeps the values the tag mapping maps, per
 * tag ({@link Series}); everything else (images, audio, text, graphs, unmapped tags) is counted and
 * dropped at once. Per file it also notes whether Keras' {@code epoch_*} tags are in it and, for
 * placing those per-epoch values later, the largest step of the other scalars read so far.
 */
final class EventCollector {
  /** What one file held. */
  static final class FileInfo {
    final EventFile file;
    boolean epochTags;
    long records;
    @Nullable String truncation;
    private long[] logSeq = new long[16];
    private long[] logMax = new long[16];
    private int logSize;
    private final Map<String, String> plugins = new HashMap<>();

    FileInfo(EventFile file) {
      this.file = file;
    }

    void noteStep(long seq, long step) {
      if (logSize > 0 && step <= logMax[logSize - 1]) {
        return;
      }
      if (logSize == logSeq.length) {
        logSeq = Arrays.copyOf(logSeq, logSize * 2);
        logMax = Arrays.copyOf(logMax, logSize * 2);
      }
      logSeq[logSize] = seq;
      logMax[logSize] = step;
      logSize++;
    }

    /** The largest per-step scalar step read in this file before {@code seq}, or -1. */
    long maxStepBefore(long seq) {
      int low = 0;
      int high = logSize - 1;
      long found = -1;
      while (low <= high) {
        int middle = (low + high) >>> 1;
        if (logSeq[middle] < seq) {
          found = logMax[middle];
          low = middle + 1;
        } else {
          high = middle - 1;
        }
      }
      return found;
    }
  }

  private final TagMapping mapping;
  private final List<FileInfo> files = new ArrayList<>();
  private final List<Series> series = new ArrayList<>();
  private final Map<String, Series> byKey = new HashMap<>();
  private final Map<String, Boolean> unmappedKeys = new HashMap<>();
  private final Map<String, long[]> unmapped = new LinkedHashMap<>();
  private final Map<String, long[]> skippedPlugins = new LinkedHashMap<>();
  private final double[] numbers = new double[TensorValues.MOMENTS];
  private @Nullable String kerasConfig;
  private long seq;
  private long negativeSteps;
  private long unreadableValues;
  private long records;

  EventCollector(TagMapping mapping) {
    this.mapping = mapping;
  }

  List<FileInfo> files() {
    return files;
  }

  /** The mapped series in the order their tags first appeared. */
  List<Series> series() {
    return series;
  }

  /** Tags no rule maps, with their value counts, in order of appearance. */
  Map<String, long[]> unmapped() {
    return unmapped;
  }

  /** Values of plugins that hold no scalar or histogram (images, text...), by plugin. */
  Map<String, long[]> skippedPlugins() {
    return skippedPlugins;
  }

  long negativeSteps() {
    return negativeSteps;
  }

  long unreadableValues() {
    return unreadableValues;
  }

  long records() {
    return records;
  }

  /** The model config of Keras' TensorBoard callback, or null. */
  @Nullable String kerasConfig() {
    return kerasConfig;
  }

  /** Reads one event file to its end (or to a tolerated truncation). */
  void read(EventFile file) {
    FileInfo info = new FileInfo(file);
    int index = files.size();
    files.add(info);
    try (TfRecordReader records = TfRecordReader.open(file.path())) {
      while (records.next()) {
        Event event;
        try {
          event = Event.parser().parseFrom(records.data(), 0, records.length());
        } catch (InvalidProtocolBufferException e) {
          throw records.corrupt(
              records.recordOffset(), "not a valid TensorBoard event: " + e.getMessage());
        }
        if (info.records == 0
            && !(event.getWhatCase() == Event.WhatCase.FILE_VERSION
                && event.getFileVersion().startsWith("brain.Event:"))) {
          throw new TraceFormatException(
              ErrorCode.CORRUPT,
              file.path(),
              TfRecordReader.location(records.recordOffset()),
              "not a TensorBoard event file: its first record is not a file_version event");
        }
        info.records++;
        this.records++;
        if (event.getWhatCase() == Event.WhatCase.SUMMARY) {
          summary(info, index, event.getStep(), event.getSummary());
        }
      }
      info.truncation = records.truncation();
    }
  }

  private void summary(FileInfo info, int file, long step, Summary summary) {
    for (Summary.Value value : summary.getValueList()) {
      long at = seq++;
      String tag = value.getTag();
      String plugin = value.getMetadata().getPluginData().getPluginName();
      if (!plugin.isEmpty()) {
        info.plugins.putIfAbsent(tag, plugin);
      } else {
        plugin = info.plugins.getOrDefault(tag, "");
      }
      boolean histogram;
      switch (value.getValueCase()) {
        case SIMPLE_VALUE -> {
          numbers[0] = value.getSimpleValue();
          histogram = false;
        }
        case HISTO -> {
          TensorValues.histogram(value.getHisto(), numbers);
          histogram = true;
        }
        case TENSOR -> {
          if (plugin.equals("graph_keras_model")) {
            if (kerasConfig == null) {
              kerasConfig = TensorValues.string(value.getTensor());
            }
            continue;
          }
          if (plugin.equals("scalars")) {
            histogram = false;
            if (!TensorValues.scalar(value.getTensor(), numbers)) {
              unreadableValues++;
              continue;
            }
          } else if (plugin.equals("histograms")) {
            histogram = true;
            if (!TensorValues.buckets(value.getTensor(), numbers)) {
              unreadableValues++;
              continue;
            }
          } else {
            count(skippedPlugins, plugin.isEmpty() ? "tensor" : plugin);
            continue;
          }
        }
        case IMAGE -> {
          count(skippedPlugins, "images");
          continue;
        }
        case AUDIO -> {
          count(skippedPlugins, "audio");
          continue;
        }
        case OBSOLETE_OLD_STYLE_HISTOGRAM, VALUE_NOT_SET -> {
          count(skippedPlugins, "other");
          continue;
        }
        default -> {
          continue;
        }
      }
      boolean epochTag = !histogram && tag.toLowerCase(Locale.ROOT).startsWith("epoch_");
      if (epochTag) {
        info.epochTags = true;
      } else if (!histogram && step >= 0) {
        info.noteStep(at, step);
      }
      if (step < 0) {
        negativeSteps++;
        continue;
      }
      Series target = seriesOf(tag, info.file.validation(), histogram, at);
      if (target == null) {
        continue;
      }
      if (histogram && plugin.equals("histograms")) {
        target.estimated = true;
      }
      target.add(step, at, file, numbers);
    }
  }

  private @Nullable Series seriesOf(String tag, boolean validation, boolean histogram, long at) {
    String key = (validation ? "v" : "t") + (histogram ? "h" : "s") + tag;
    Series found = byKey.get(key);
    if (found != null) {
      return found;
    }
    Boolean unmappedBefore = unmappedKeys.get(key);
    if (unmappedBefore != null) {
      if (unmappedBefore) {
        count(unmapped, label(tag, validation, histogram));
      }
      return null;
    }
    Mapped mapped =
        histogram ? mapping.histogram(tag, validation) : mapping.scalar(tag, validation);
    if (mapped == null || mapped.target() == Target.IGNORE) {
      unmappedKeys.put(key, mapped == null);
      if (mapped == null) {
        count(unmapped, label(tag, validation, histogram));
      }
      return null;
    }
    Series created = new Series(tag, validation, histogram, mapped, at);
    byKey.put(key, created);
    series.add(created);
    return created;
  }

  private static String label(String tag, boolean validation, boolean histogram) {
    return format(
        ROOT,
        "%s%s (%s)",
        validation ? "validation: " : "",
        tag,
        histogram ? "histogram" : "scalar");
  }

  private static void count(Map<String, long[]> counts, String key) {
    counts.computeIfAbsent(key, k -> new long[1])[0]++;
  }
}
