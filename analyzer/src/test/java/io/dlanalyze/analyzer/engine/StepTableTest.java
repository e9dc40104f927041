package io.dlanalyze.analyzer.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.Phase;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StepTableTest {
  private static List<Integer> presentLayers(StepTable table) {
    List<Integer> layers = new ArrayList<>();
    for (int i = 0; i < table.presentLayerCount(); i++) {
      layers.add(table.presentLayer(i));
    }
    return layers;
  }

  @Test
  void presentLayers_eachLayerOnceAscendingWhateverTheRowOrder_modelRowsNotALayer() {
    StepTable table = new StepTable(null, 2);
    table.begin(10, 0, 10);
    table.ensureLayer(7);
    table.claim(StepTable.slot(7, Phase.FORWARD.code()));
    table.claim(StepTable.slot(2, Phase.FORWARD.code()));
    table.claim(StepTable.slot(-1, Phase.LOSS.code()));
    table.claim(StepTable.slot(7, Phase.ACTIVATION.code()));
    table.claim(StepTable.slot(0, Phase.GRADIENT.code()));

    assertThat(presentLayers(table)).containsExactly(0, 2, 7);
  }

  @Test
  void presentLayers_nextStep_onlyItsOwnLayers() {
    StepTable table = new StepTable(null, 4);
    table.begin(1, 0, 1);
    table.claim(StepTable.slot(1, Phase.FORWARD.code()));
    table.claim(StepTable.slot(3, Phase.FORWARD.code()));
    table.begin(2, 0, 2);
    table.claim(StepTable.slot(3, Phase.WEIGHT.code()));

    assertThat(presentLayers(table)).containsExactly(3);
  }

  @Test
  void presentLayers_duplicateRow_countedOnce() {
    StepTable table = new StepTable(null, 4);
    table.begin(1, 0, 1);
    assertThat(table.claim(StepTable.slot(2, Phase.FORWARD.code()))).isTrue();
    assertThat(table.claim(StepTable.slot(2, Phase.FORWARD.code()))).isFalse();

    assertThat(presentLayers(table)).containsExactly(2);
  }
}
