package io.dlanalyze.analyzer.detectors;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class BandRunsTest {
  private final BandRuns runs = new BandRuns(3);

  private boolean[] feed(int layer, long from, int... sides) {
    boolean[] counted = new boolean[sides.length];
    for (int i = 0; i < sides.length; i++) {
      counted[i] = runs.observe(layer, from + i, sides[i]);
    }
    return counted;
  }

  @Test
  void observe_windowOnOneSide_firesFromTheRunsStartAndGrowsWhileItLasts() {
    runs.ensure(1);

    assertThat(feed(0, 10, 1, 1, 1, 1, 0, 1))
        .containsExactly(false, false, true, true, false, false);
    assertThat(runs.fired(0)).isTrue();
    assertThat(runs.firedSide(0)).isEqualTo(1);
    assertThat(runs.firedStart(0)).isEqualTo(10);
    assertThat(runs.firedEnd(0)).isEqualTo(13);
    assertThat(runs.firedLength(0)).isEqualTo(4);
  }

  @Test
  void observe_laterRun_doesNotReplaceTheFirst() {
    runs.ensure(1);
    feed(0, 0, -1, -1, -1, 0);

    assertThat(feed(0, 4, 1, 1, 1, 1)).containsOnly(false);
    assertThat(runs.firedSide(0)).isEqualTo(-1);
    assertThat(runs.firedStart(0)).isEqualTo(0);
    assertThat(runs.firedEnd(0)).isEqualTo(2);
  }

  @Test
  void observe_sideChangesOrInterrupted_runStartsOver() {
    runs.ensure(2);
    feed(0, 0, 1, 1, -1, -1);
    runs.observe(1, 0, 1);
    runs.observe(1, 1, 1);
    runs.interrupt(1);
    runs.observe(1, 3, 1);

    assertThat(runs.fired(0)).isFalse();
    assertThat(runs.fired(1)).isFalse();
  }

  @Test
  void ensure_growsByDoublingAndNewLayersHaveNotFired() {
    assertThat(runs.ensure(3)).isEqualTo(3);
    assertThat(runs.ensure(4)).isEqualTo(6);
    assertThat(runs.ensure(5)).isEqualTo(6);
    assertThat(runs.fired(5)).isFalse();
  }
}
