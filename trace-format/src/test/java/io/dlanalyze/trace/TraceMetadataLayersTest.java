package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code dltrace.layers} is parsed one entry at a time, holds at most one entry per layer index,
 * and is looked up by index without a scan of the list (issue 17, item 3).
 */
class TraceMetadataLayersTest {
  private static TraceMetadata layers(String json) {
    return TraceMetadata.of(Map.of(TraceMetadata.LAYERS, json));
  }

  private static String entries(int count) {
    StringBuilder json = new StringBuilder(count * 16).append('[');
    for (int i = 0; i < count; i++) {
      json.append(i == 0 ? "" : ",").append("{\"name\":\"l").append(i).append("\"}");
    }
    return json.append(']').toString();
  }

  @Test
  void moreEntriesThanLayerIndexes_isAnErrorWithTheCountAndTheLimit() {
    int count = Limits.MAX_LAYER_ENTRIES + 3;

    assertThatThrownBy(() -> layers(entries(count)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(
            "dltrace.layers lists 1048580 layers, more than the limit of 1048577 (one per layer"
                + " index 0 to 1048576)");
  }

  @Test
  void entriesUpToTheLimit_areRead() {
    TraceMetadata metadata = layers(entries(Limits.MAX_LAYER_ENTRIES));

    assertThat(metadata.layers()).hasSize(Limits.MAX_LAYER_ENTRIES);
    assertThat(metadata.layer(LayerInfo.MAX_INDEX).orElseThrow().name()).isEqualTo("l1048576");
  }

  @Test
  void layerByIndex_findsTheFirstEntryOfAnIndex_andListsEachIndexOnceInOrder() {
    TraceMetadata metadata =
        layers(
            "[{\"index\":5,\"name\":\"e\"},{\"index\":2,\"name\":\"b\"},"
                + "{\"index\":5,\"name\":\"again\"},{\"index\":-1,\"name\":\"m\"}]");

    assertThat(metadata.layer(5).orElseThrow().name()).isEqualTo("e");
    assertThat(metadata.layer(3)).isEmpty();
    assertThat(metadata.layersByIndex()).extracting(LayerInfo::name).containsExactly("m", "b", "e");
    assertThat(metadata.layers()).hasSize(4);
  }

  @Test
  void repeatedTypesAndActivations_areKeptOnce() {
    TraceMetadata metadata =
        layers(
            "[{\"name\":\"a\",\"type\":\"Linear\",\"activation\":\"relu\"},"
                + "{\"name\":\"b\",\"type\":\"Linear\",\"activation\":\"relu\"}]");

    assertThat(metadata.layers().get(1).type()).isSameAs(metadata.layers().get(0).type());
    assertThat(metadata.layers().get(1).activation())
        .isSameAs(metadata.layers().get(0).activation());
  }

  @Test
  void malformedArrays_areErrors() {
    assertThatThrownBy(() -> layers("{\"name\":\"a\"}"))
        .hasMessage("dltrace.layers must be a JSON array");
    assertThatThrownBy(() -> layers("[{\"name\":\"a\"}, 3]"))
        .hasMessage("dltrace.layers[1] must be a JSON object");
    assertThatThrownBy(() -> layers("[{\"name\":\"a\"}"))
        .hasMessageStartingWith("dltrace.layers is not valid JSON: ");
    assertThatThrownBy(() -> layers("[{\"name\":\"a\"}] [1]"))
        .hasMessage("dltrace.layers is not valid JSON: text after the end of the array");
  }
}
