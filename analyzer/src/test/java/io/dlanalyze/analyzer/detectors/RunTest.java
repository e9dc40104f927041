package io.dlanalyze.analyzer.detectors;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class RunTest {
  /** Feeds observations at steps from, from + 1...: '1' holds, '0' does not. */
  private static boolean[] feed(Run run, long from, String holds) {
    boolean[] kept = new boolean[holds.length()];
    for (int i = 0; i < holds.length(); i++) {
      kept[i] = run.observe(from + i, holds.charAt(i) == '1');
    }
    return kept;
  }

  @Test
  void first_keepsTheFirstQualifyingRunWhileItLasts() {
    Run run = new Run(3, Run.Policy.FIRST);

    assertThat(feed(run, 10, "110111101111"))
        .containsExactly(
            false, false, false, false, false, true, true, false, false, false, false, false);
    assertThat(run.qualified()).isTrue();
    assertThat(run.onset()).isEqualTo(13);
    assertThat(run.end()).isEqualTo(16);
    assertThat(run.occurrences()).isEqualTo(4);
    assertThat(run.longest()).isEqualTo(4);
  }

  @Test
  void any_firstOnsetLastEnd_everyQualifyingRunCountedInFull() {
    Run run = new Run(3, Run.Policy.ANY);

    assertThat(feed(run, 0, "11101100111110"))
        .containsExactly(
            false, false, true, false, false, false, false, false, false, false, true, true, true,
            false);
    assertThat(run.onset()).isEqualTo(0);
    assertThat(run.end()).isEqualTo(12);
    assertThat(run.occurrences()).isEqualTo(3 + 5);
    assertThat(run.longest()).isEqualTo(5);
  }

  @Test
  void longest_theLongestQualifyingRun_firstOfEquals() {
    Run run = new Run(2, Run.Policy.LONGEST);

    feed(run, 0, "1110111101110");

    assertThat(run.onset()).isEqualTo(4);
    assertThat(run.end()).isEqualTo(7);
    assertThat(run.occurrences()).isEqualTo(4);
  }

  @Test
  void gate_askedOnlyOnceTheRunIsLongEnough_qualifiesWhenItHolds() {
    Run run = new Run(2, Run.Policy.FIRST);
    StringBuilder asked = new StringBuilder();
    Run.Gate gate =
        step -> {
          asked.append(step).append(' ');
          return step >= 4;
        };

    for (long step = 0; step < 6; step++) {
      run.observe(step, true, step, run.qualified() ? null : gate);
    }

    assertThat(asked.toString()).isEqualTo("1 2 3 4 ");
    assertThat(run.onset()).as("the run's start, not the gate's step").isEqualTo(0);
    assertThat(run.occurrences()).isEqualTo(6);
  }

  @Test
  void resetAndStart_aRunBrokenByAGap_startsAgainWhereTheCallerSays() {
    Run run = new Run(2, Run.Policy.ANY);
    run.observe(1, true, 0, null);
    run.reset();
    run.observe(5, true, 4, null);
    run.observe(6, true, 5, null);

    assertThat(run.onset()).isEqualTo(4);
    assertThat(run.length()).isEqualTo(2);
  }

  /** Feeds observations that all hold at steps 0, every, 2 every...; the count that qualified. */
  private static int qualifyingObservation(Run run, int every) {
    for (int i = 1; i <= 1000; i++) {
      if (run.observe((long) (i - 1) * every, true)) {
        return i;
      }
    }
    return -1;
  }

  @Test
  void spread_recordedEvery4StepsOrMoreOften_qualifiesAtWindowObservations_asBefore() {
    assertThat(qualifyingObservation(new Run(50, Run.Policy.FIRST, true), 1)).isEqualTo(50);
    assertThat(qualifyingObservation(new Run(50, Run.Policy.FIRST, true), 4)).isEqualTo(50);
  }

  @Test
  void spread_recordedEvery16Steps_qualifiesOnceTheRunSpans196Steps_with14Observations() {
    // 50 observations recorded every 4 steps span 196 steps; every 16 steps, 14 observations do
    assertThat(qualifyingObservation(new Run(50, Run.Policy.FIRST, true), 16)).isEqualTo(14);
    assertThat(qualifyingObservation(new Run(50, Run.Policy.FIRST), 16))
        .as("a run that counts observations only")
        .isEqualTo(50);
  }

  @Test
  void spread_aRunOfFewObservationsFarApart_needsAQuarterOfTheWindowStill() {
    // recorded every 100 steps: 2 observations span 100 steps, 13 span 1,200
    assertThat(qualifyingObservation(new Run(50, Run.Policy.FIRST, true), 100)).isEqualTo(13);
    assertThat(qualifyingObservation(new Run(1, Run.Policy.FIRST, true), 100)).isEqualTo(1);
  }

  @Test
  void bandRun_sampledSparsely_firesAfterTheStepsAWindowSpansAt4StepsARecord() {
    BandRun band = new BandRun(50);
    int observations = 0;
    for (long step = 0; !band.fired() && step < 10_000; step += 16) {
      band.observe(step, 20, 1, 10);
      observations++;
    }

    assertThat(observations).isEqualTo(14);
    assertThat(band.start()).isEqualTo(0);
    assertThat(band.end()).isEqualTo(13 * 16);
  }

  @Test
  void bandRun_windowOnOneSide_firesFromTheRunsStartAndGrowsWhileItLasts() {
    BandRun band = new BandRun(3);
    double[] values = {20, 20, 20, 20, 5, 20};
    boolean[] kept = new boolean[values.length];
    for (int i = 0; i < values.length; i++) {
      kept[i] = band.observe(10 + i, values[i], 1, 10);
    }

    assertThat(kept).containsExactly(false, false, true, true, false, false);
    assertThat(band.firedSide()).isEqualTo(1);
    assertThat(band.start()).isEqualTo(10);
    assertThat(band.end()).isEqualTo(13);
    assertThat(band.length()).isEqualTo(4);
  }

  @Test
  void bandRun_sideChangesOrInterrupted_runStartsOver_laterRunsIgnored() {
    BandRun band = new BandRun(3);
    band.observe(0, 20, 1, 10);
    band.observe(1, 20, 1, 10);
    band.observe(2, 0.5, 1, 10);
    band.observe(3, 0.5, 1, 10);
    band.interrupt();
    band.observe(4, 0.5, 1, 10);
    assertThat(band.fired()).isFalse();

    band.observe(5, 0.5, 1, 10);
    band.observe(6, 0.5, 1, 10);
    assertThat(band.fired()).isTrue();
    assertThat(band.firedSide()).isEqualTo(-1);

    band.observe(7, 20, 1, 10);
    band.observe(8, 20, 1, 10);
    band.observe(9, 20, 1, 10);
    assertThat(band.firedSide()).isEqualTo(-1);
    assertThat(band.start()).isEqualTo(4);
    assertThat(band.end()).isEqualTo(6);
  }
}
