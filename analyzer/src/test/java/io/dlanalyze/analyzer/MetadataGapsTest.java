package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.TraceMetadata;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MetadataGapsTest {
  /** Every key a rule reads, but the class count, with the given task (or none). */
  private static TraceMetadata withoutClassCount(String task) {
    Map<String, String> values = new HashMap<>();
    values.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(List.of()));
    values.put(TraceMetadata.LOSS, "mse");
    values.put(TraceMetadata.OPTIMIZER, "Adam");
    values.put(TraceMetadata.LEARNING_RATE, "0.001");
    if (task != null) {
      values.put(TraceMetadata.TASK, task);
    }
    return TraceMetadata.of(values);
  }

  @Test
  void regressionWithoutAClassCount_isNotAGap() {
    assertThat(MetadataGaps.notes(withoutClassCount("regression"))).isEmpty();
  }

  @Test
  void classifierWithoutAClassCount_isAGap() {
    assertThat(MetadataGaps.notes(withoutClassCount("classification")))
        .singleElement()
        .asString()
        .startsWith("no dltrace.num_classes in the metadata: initial-loss")
        .endsWith(
            " did not run (give it to the dltrace recorder as num_classes= when it cannot read it"
                + " off the model, e.g. a Keras loss kept outside compile)");
  }

  @Test
  void keysTheRecorderCannotSeeName_theRecorderArgument_othersDoNot() {
    // a Keras model that kept its loss outside compile: layers and learning rate, nothing else
    Map<String, String> values = new HashMap<>();
    values.put(TraceMetadata.LAYERS, TraceMetadata.layersJson(List.of()));
    values.put(TraceMetadata.LEARNING_RATE, "0.001");
    assertThat(MetadataGaps.notes(TraceMetadata.of(values)))
        .anySatisfy(
            line ->
                assertThat(line)
                    .startsWith("no dltrace.loss ")
                    .contains("recorder as loss_name= when"))
        .anySatisfy(
            line ->
                assertThat(line).startsWith("no dltrace.task ").contains("recorder as task= when"))
        .anySatisfy(
            line ->
                assertThat(line)
                    .startsWith("no dltrace.optimizer ")
                    .endsWith("adaptive-optimizer rule did not run"));
  }

  @Test
  void unknownTaskWithoutAClassCount_isAGapToo() {
    // no task: a classifier cannot be ruled out, and the missing task is a gap of its own
    assertThat(MetadataGaps.notes(withoutClassCount(null)))
        .anySatisfy(line -> assertThat(line).startsWith("no dltrace.num_classes"))
        .anySatisfy(line -> assertThat(line).startsWith("no dltrace.task"));
  }

  @Test
  void aClassCountTheAnalysisReadOffTheOutput_isNoGap() {
    assertThat(MetadataGaps.notes(withoutClassCount("classification"), true)).isEmpty();
  }

  @Test
  void noKeyAtAll_isOneLine_evenWithAClassCountReadOffTheOutput() {
    for (boolean classCountKnown : new boolean[] {false, true}) {
      assertThat(MetadataGaps.notes(TraceMetadata.empty(), classCountKnown))
          .singleElement()
          .asString()
          .startsWith("none of the dltrace.* metadata the rules read");
    }
  }
}
