package io.dlanalyze.analyzer.engine;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.analyzer.StepView;
import io.dlanalyze.trace.Column;
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

  private static StepTable table() {
    return table(StepView.CLASSIFICATIONS);
  }

  private static StepTable table(int classifications) {
    return new StepTable(null, new LayerPositions(), 2, 0.999, 1e-6, classifications);
  }

  private static int claim(StepTable table, int layer, Phase phase) {
    int slot = table.claimSlot(layer, phase.code());
    table.claim(slot, 0);
    return slot;
  }

  /** Writes a row's statistic as the engine's scatter does. */
  private static void set(StepTable table, int slot, Column column, double value) {
    table.doubles(column)[slot] = value;
    table.presentBits()[slot] |= column.bit();
  }

  private static void count(StepTable table, int slot, Column column, long value) {
    table.longs(column)[slot] = value;
    table.presentBits()[slot] |= column.bit();
  }

  @Test
  void presentLayers_eachLayerOnceAscendingWhateverTheRowOrder_modelRowsNotALayer() {
    StepTable table = table();
    table.begin(10, 0, 10);
    claim(table, 7, Phase.FORWARD);
    claim(table, 2, Phase.FORWARD);
    claim(table, -1, Phase.LOSS);
    claim(table, 7, Phase.ACTIVATION);
    claim(table, 0, Phase.GRADIENT);

    assertThat(presentLayers(table)).containsExactly(0, 2, 7);
    assertThat(table.presentSlotCount()).isEqualTo(5);
  }

  @Test
  void presentLayers_nextStep_onlyItsOwnLayers() {
    StepTable table = table();
    table.begin(1, 0, 1);
    claim(table, 1, Phase.FORWARD);
    claim(table, 3, Phase.FORWARD);
    table.begin(2, 0, 2);
    claim(table, 3, Phase.WEIGHT);

    assertThat(presentLayers(table)).containsExactly(3);
    assertThat(table.has(1, Phase.FORWARD)).isFalse();
    assertThat(table.has(3, Phase.WEIGHT)).isTrue();
  }

  @Test
  void claim_columnBits_markedPresentInANewSlotAndAddedInADuplicate_notKeptIntoTheNextStep() {
    StepTable table = table();
    table.begin(1, 0, 1);
    int slot = table.claimSlot(2, Phase.FORWARD.code());
    assertThat(table.claim(slot, Column.MEAN.bit())).isTrue();
    assertThat(table.present(2, Phase.FORWARD, Column.MEAN)).isTrue();
    assertThat(table.present(2, Phase.FORWARD, Column.STD)).isFalse();
    assertThat(table.claim(slot, Column.STD.bit())).isFalse();
    assertThat(table.present(2, Phase.FORWARD, Column.MEAN)).isTrue();
    assertThat(table.present(2, Phase.FORWARD, Column.STD)).isTrue();

    table.begin(2, 0, 2);
    assertThat(table.claim(slot, Column.MIN.bit())).isTrue();
    assertThat(table.present(2, Phase.FORWARD, Column.MIN)).isTrue();
    assertThat(table.present(2, Phase.FORWARD, Column.MEAN)).isFalse();
  }

  @Test
  void replay_claimsWhatTheSameRowsClaimedOneByOne() {
    StepTable replayed = table();
    StepTable claimed = table();
    int[][] rows = {{7, 1}, {2, 1}, {-1, Phase.LOSS.code()}, {7, 3}, {0, 2}};
    for (StepTable table : List.of(replayed, claimed)) {
      table.begin(1, 0, 1);
      for (int[] row : rows) {
        table.claim(table.claimSlot(row[0], row[1]), Column.MEAN.bit());
      }
    }
    int[] layerIndex = new int[3 + rows.length];
    int[] phase = new int[3 + rows.length];
    for (int i = 0; i < rows.length; i++) {
      layerIndex[3 + i] = rows[i][0];
      phase[3 + i] = rows[i][1];
    }
    replayed.rememberLayout(layerIndex, phase, 3, 3 + rows.length);

    int[] rowSlots = new int[3 + rows.length];
    replayed.begin(2, 0, 2);
    assertThat(replayed.replay(layerIndex, phase, 3, 3 + rows.length, rowSlots, Column.MEAN.bit()))
        .isTrue();
    assertThat(replayed.replay(layerIndex, phase, 3, 3 + rows.length, rowSlots, Column.MEAN.bit()))
        .as("a step that has rows already")
        .isFalse();
    claimed.begin(2, 0, 2);
    for (int i = 0; i < rows.length; i++) {
      int slot = claimed.claimSlot(rows[i][0], rows[i][1]);
      assertThat(claimed.claim(slot, Column.MEAN.bit())).isTrue();
      assertThat(rowSlots[3 + i]).as("row %d", i).isEqualTo(slot);
    }

    assertThat(presentLayers(replayed)).isEqualTo(presentLayers(claimed)).containsExactly(0, 2, 7);
    assertThat(replayed.presentSlotCount()).isEqualTo(claimed.presentSlotCount());
    for (int i = 0; i < rows.length; i++) {
      assertThat(replayed.presentSlot(i)).isEqualTo(claimed.presentSlot(i));
      assertThat(replayed.presentMask(replayed.presentSlot(i)))
          .isEqualTo(claimed.presentMask(claimed.presentSlot(i)));
    }
    assertThat(replayed.has(7, Phase.ofCode(3))).isTrue();
    assertThat(replayed.has(7, Phase.ofCode(2))).isFalse();
    assertThat(replayed.claim(replayed.claimSlot(0, 2), 0))
        .as("replayed slots are taken")
        .isFalse();

    phase[4] = 3;
    replayed.begin(3, 0, 3);
    assertThat(replayed.replay(layerIndex, phase, 3, 3 + rows.length, rowSlots, 0))
        .as("rows that differ from the layout's")
        .isFalse();
    assertThat(replayed.presentSlotCount()).isZero();
  }

  @Test
  void presentLayers_duplicateRow_countedOnce() {
    StepTable table = table();
    table.begin(1, 0, 1);
    int slot = table.claimSlot(2, Phase.FORWARD.code());
    assertThat(table.claim(slot, 0)).isTrue();
    assertThat(table.claim(slot, 0)).isFalse();

    assertThat(presentLayers(table)).containsExactly(2);
  }

  @Test
  void slots_sparseLayerIndexes_denseSlotsInOrderOfAppearance() {
    StepTable table = table();
    table.begin(1, 0, 1);
    int far = claim(table, 1_048_576, Phase.FORWARD);
    int near = claim(table, 3, Phase.WEIGHT);

    assertThat(far).isEqualTo(Phase.COUNT + Phase.FORWARD.code());
    assertThat(near).isEqualTo(2 * Phase.COUNT + Phase.WEIGHT.code());
    assertThat(table.slot(1_048_576, Phase.GRADIENT))
        .isEqualTo(Phase.COUNT + Phase.GRADIENT.code());
    assertThat(table.slot(5, Phase.FORWARD)).as("no rows: no slot").isEqualTo(-1);
    assertThat(table.has(5, Phase.FORWARD)).isFalse();
    assertThat(presentLayers(table)).containsExactly(3, 1_048_576);
  }

  @Test
  void classify_nonFiniteAndAllZero_fromTheStatisticsPresent() {
    StepTable table = table();
    table.begin(1, 0, 1);
    int nanMean = claim(table, 0, Phase.FORWARD);
    set(table, nanMean, Column.MEAN, Double.NaN);
    int infMax = claim(table, 0, Phase.WEIGHT);
    set(table, infMax, Column.MEAN, 1);
    set(table, infMax, Column.MAX, Double.POSITIVE_INFINITY);
    int nanCount = claim(table, 0, Phase.GRADIENT);
    set(table, nanCount, Column.MEAN, 0.5);
    count(table, nanCount, Column.NAN_COUNT, 3);
    int zeros = claim(table, 1, Phase.FORWARD);
    set(table, zeros, Column.MEAN, 0.2);
    set(table, zeros, Column.ZERO_FRACTION, 0.9995);
    int zeroStats = claim(table, 1, Phase.WEIGHT);
    set(table, zeroStats, Column.MEAN, 0);
    set(table, zeroStats, Column.STD, 0);
    int notZero = claim(table, 1, Phase.GRADIENT);
    set(table, notZero, Column.MEAN, 0);
    set(table, notZero, Column.L2_NORM, 1e-9);

    table.classify();

    assertThat(table.presentMask(nanMean) & StepView.NON_FINITE).isNotZero();
    assertThat(table.presentMask(infMax) & StepView.NON_FINITE).isNotZero();
    assertThat(table.presentMask(nanCount) & StepView.NON_FINITE).isNotZero();
    assertThat(table.presentMask(zeros) & (StepView.NON_FINITE | StepView.ALL_ZERO))
        .isEqualTo(StepView.ALL_ZERO);
    assertThat(table.presentMask(zeroStats) & StepView.ALL_ZERO).isNotZero();
    assertThat(table.presentMask(notZero) & StepView.ALL_ZERO).isZero();
  }

  @Test
  void classify_unchanged_againstTheStreamsPreviousRow_notTheFirstOne() {
    StepTable table = table();
    long[] steps = {0, 1, 5};
    double[] means = {0.5, 0.5, 0.5000001};
    int slot = -1;
    for (int i = 0; i < steps.length; i++) {
      table.begin(steps[i], 0, (int) steps[i]);
      slot = claim(table, 2, Phase.WEIGHT);
      set(table, slot, Column.MEAN, means[i]);
      set(table, slot, Column.STD, 0.1);
      table.classify();
      assertThat(table.presentMask(slot) & StepView.UNCHANGED)
          .as("row %d", i)
          .isEqualTo(i == 0 ? 0 : StepView.UNCHANGED);
    }
    assertThat(table.previousStep(slot)).isEqualTo(1);

    table.begin(6, 0, 6);
    claim(table, 2, Phase.WEIGHT);
    set(table, slot, Column.MEAN, 0.6);
    set(table, slot, Column.STD, 0.1);
    table.classify();
    assertThat(table.presentMask(slot) & StepView.UNCHANGED).isZero();
  }

  /** Rows of every classification, one step: NaN mean, all zero, and a weight seen before. */
  private static int[] classifiedStep(StepTable table) {
    table.begin(0, 0, 0);
    int weight = claim(table, 2, Phase.WEIGHT);
    set(table, weight, Column.MEAN, 0.3);
    table.classify();
    table.begin(1, 0, 1);
    int nanMean = claim(table, 0, Phase.FORWARD);
    set(table, nanMean, Column.MEAN, Double.NaN);
    int zeros = claim(table, 1, Phase.FORWARD);
    set(table, zeros, Column.MEAN, 0);
    set(table, zeros, Column.ZERO_FRACTION, 1);
    claim(table, 2, Phase.WEIGHT);
    set(table, weight, Column.MEAN, 0.3);
    table.classify();
    return new int[] {nanMean, zeros, weight};
  }

  @Test
  void classify_allBits_eachRowItsOwn() {
    StepTable table = table(StepView.CLASSIFICATIONS);
    int[] slots = classifiedStep(table);

    assertThat(table.presentMask(slots[0]) & StepView.CLASSIFICATIONS)
        .isEqualTo(StepView.NON_FINITE);
    assertThat(table.presentMask(slots[1]) & StepView.CLASSIFICATIONS).isEqualTo(StepView.ALL_ZERO);
    assertThat(table.presentMask(slots[2]) & StepView.CLASSIFICATIONS)
        .isEqualTo(StepView.UNCHANGED);
  }

  @Test
  void classify_onlyTheBitsAskedFor_previousStepKeptWithNone() {
    StepTable nonFinite = table(StepView.NON_FINITE);
    int[] slots = classifiedStep(nonFinite);
    assertThat(nonFinite.presentMask(slots[0]) & StepView.CLASSIFICATIONS)
        .isEqualTo(StepView.NON_FINITE);
    assertThat(nonFinite.presentMask(slots[1]) & StepView.CLASSIFICATIONS).isZero();
    assertThat(nonFinite.presentMask(slots[2]) & StepView.CLASSIFICATIONS).isZero();

    StepTable allZero = table(StepView.ALL_ZERO);
    slots = classifiedStep(allZero);
    assertThat(allZero.presentMask(slots[0]) & StepView.CLASSIFICATIONS).isZero();
    assertThat(allZero.presentMask(slots[1]) & StepView.CLASSIFICATIONS)
        .isEqualTo(StepView.ALL_ZERO);
    assertThat(allZero.presentMask(slots[2]) & StepView.CLASSIFICATIONS).isZero();

    StepTable none = table(0);
    slots = classifiedStep(none);
    for (int slot : slots) {
      assertThat(none.presentMask(slot) & StepView.CLASSIFICATIONS).isZero();
      assertThat(none.presentMask(slot) & Column.MEAN.bit()).isNotZero();
    }
    assertThat(none.previousStep(slots[2])).isEqualTo(0);
  }

  @Test
  void classify_unchangedAlone_alsoMarksAllZero_sameRunsAsWithEveryBit() {
    StepTable unchanged = table(StepView.UNCHANGED);
    StepTable every = table(StepView.CLASSIFICATIONS);
    double[] means = {0.5, 0.5, 0, 0, 0.7, 0.7, 0.7000001, 0.9};
    for (int i = 0; i < means.length; i++) {
      for (StepTable table : List.of(unchanged, every)) {
        table.begin(i, 0, i);
        int slot = claim(table, 3, Phase.GRADIENT);
        set(table, slot, Column.MEAN, means[i]);
        set(table, slot, Column.ZERO_FRACTION, means[i] == 0 ? 1 : 0);
        table.classify();
      }
      int slot = every.slot(3, Phase.GRADIENT);
      int bits = StepView.UNCHANGED | StepView.ALL_ZERO;
      assertThat(unchanged.presentMask(slot) & StepView.CLASSIFICATIONS)
          .as("row %d", i)
          .isEqualTo(every.presentMask(slot) & bits);
    }
    int slot = every.slot(3, Phase.GRADIENT);
    assertThat(unchanged.presentMask(slot) & StepView.UNCHANGED).isZero();
  }

  @Test
  void classify_allZeroRow_notComparable() {
    StepTable table = table();
    int slot = -1;
    for (long step = 0; step < 3; step++) {
      table.begin(step, 0, (int) step);
      slot = claim(table, 0, Phase.GRADIENT);
      set(table, slot, Column.MEAN, 0);
      set(table, slot, Column.ZERO_FRACTION, 1);
      table.classify();
    }

    assertThat(table.presentMask(slot) & StepView.UNCHANGED).isZero();
    assertThat(table.presentMask(slot) & StepView.ALL_ZERO).isNotZero();
  }

  @Test
  void isReciprocalOfInteger_recognizesSoftmaxMeans() {
    assertThat(StepTable.isReciprocalOfInteger(0.1)).isTrue();
    assertThat(StepTable.isReciprocalOfInteger(1.0 / 7)).isTrue();
    assertThat(StepTable.isReciprocalOfInteger(0.37)).isFalse();
    assertThat(StepTable.isReciprocalOfInteger(1.0)).isFalse();
  }
}
