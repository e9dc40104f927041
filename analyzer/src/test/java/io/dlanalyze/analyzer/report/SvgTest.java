package io.dlanalyze.analyzer.report;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class SvgTest {
  @Test
  void num_oneDecimalAtMost() {
    assertThat(Svg.num(12.34)).isEqualTo("12.3");
    assertThat(Svg.num(40)).isEqualTo("40");
    assertThat(Svg.num(-0.46)).isEqualTo("-0.5");
    assertThat(Svg.num(-0.04)).isEqualTo("0");
  }

  @Test
  void linearTicks_range_niceSteps() {
    assertThat(Svg.linearTicks(0, 999, 5)).containsExactly(0, 200, 400, 600, 800);
    assertThat(Svg.linearTicks(0.013, 0.052, 4)).containsExactly(0.02, 0.03, 0.04, 0.05);
    assertThat(Svg.linearTicks(-1.1, 1.1, 4)).containsExactly(-1, -0.5, 0, 0.5, 1);
    assertThat(Svg.linearTicks(3, 3, 4)).containsExactly(3);
  }

  @Test
  void pathBuilder_flatRun_keepsOnlyEnds() {
    Svg.PathBuilder path = new Svg.PathBuilder();
    for (int i = 0; i <= 100; i++) {
      path.point(10 + i, 50);
    }

    assertThat(path.build()).isEqualTo("M10 50l100 0");
  }

  @Test
  void pathBuilder_gap_startsNewSubpathWithRelativeSteps() {
    Svg.PathBuilder path = new Svg.PathBuilder();
    path.point(0, 0);
    path.point(1, 2.5);
    path.point(2, 0);
    path.breakRun();
    path.point(5, 1);
    path.point(6, 1);

    assertThat(path.build()).isEqualTo("M0 0l1 2.5 1-2.5M5 1l1 0");
  }
}
