package io.dlanalyze.cli.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ProportionTest {
  /**
   * Published Wilson intervals (Newcombe, R. G., 1998, "Two-sided confidence intervals for the
   * single proportion: comparison of seven methods", Statistics in Medicine 17: 857-872, Table I,
   * method 3, four decimals) and values computed independently with SciPy 1.17 ({@code
   * scipy.stats.binomtest(k, n).proportion_ci(method="wilson")}, which equals R's {@code
   * prop.test(k, n, correct = FALSE)$conf.int}) and checked by bisecting the score statistic.
   */
  @ParameterizedTest(name = "{0}/{1}")
  @CsvSource({
    // Newcombe 1998a, Table I
    "81, 263, 0.2553, 0.3662, 1e-4",
    "15, 148, 0.0624, 0.1605, 1e-4",
    "0, 20, 0.0, 0.1611, 1e-4",
    "1, 29, 0.0061, 0.1718, 1e-4",
    // SciPy
    "0, 10, 0.0, 0.2775327999, 1e-9",
    "1, 10, 0.0178762131, 0.4041500268, 1e-9",
    "5, 10, 0.2365930905, 0.7634069095, 1e-9",
    "10, 10, 0.7224672001, 1.0, 1e-9",
    "16, 17, 0.7301796936, 0.9895395990, 1e-9",
    "17, 17, 0.8156818650, 1.0, 1e-9",
    "1, 120, 0.0014725557, 0.0456962912, 1e-9",
    "6, 180, 0.0153647910, 0.0708043404, 1e-9",
    "29, 30, 0.8332960901, 0.9940914096, 1e-9",
    "0, 1, 0.0, 0.7934506856, 1e-9",
  })
  void wilson_matchesPublishedAndIndependentValues(
      int k, int n, double low, double high, double tolerance) {
    Proportion p = new Proportion(k, n);

    assertThat(p.rate()).isEqualTo((double) k / n);
    assertThat(p.low()).isCloseTo(low, within(tolerance));
    assertThat(p.high()).isCloseTo(high, within(tolerance));
  }

  @Test
  void wilson_isTheScoreTestInversion_boundsWhereTheScoreStatisticIsZ() {
    // at each bound p0, |k/n - p0| / sqrt(p0 (1 - p0) / n) equals z: the definition of the interval
    for (int n = 1; n <= 60; n += 7) {
      for (int k = 1; k < n; k++) {
        Proportion p = new Proportion(k, n);
        for (double bound : new double[] {p.low(), p.high()}) {
          double score = Math.abs(p.rate() - bound) / Math.sqrt(bound * (1 - bound) / n);
          assertThat(score).as("%d/%d at %s", k, n, bound).isCloseTo(Proportion.Z95, within(1e-9));
        }
      }
    }
  }

  @Test
  void noTrials_undefinedRateAndInterval_printedAsZeroOverZero() {
    assertThat(Proportion.EMPTY.rate()).isNaN();
    assertThat(Proportion.EMPTY.low()).isNaN();
    assertThat(Proportion.EMPTY.high()).isNaN();
    assertThat(Proportion.EMPTY).hasToString("0/0");
    assertThat(Proportion.EMPTY.minus(new Proportion(1, 2))).isNull();
  }

  @Test
  void toString_countRateAndIntervalInPercent() {
    assertThat(new Proportion(16, 17)).hasToString("16/17 = 94.1% [73.0, 99.0]");
    assertThat(new Proportion(0, 20)).hasToString("0/20 = 0.0% [0.0, 16.1]");
  }

  @Test
  void addAndPlus_countTrialsAndSuccesses() {
    Proportion p = Proportion.EMPTY.add(true).add(false).add(true);

    assertThat(p).isEqualTo(new Proportion(2, 3));
    assertThat(p.plus(new Proportion(1, 4))).isEqualTo(new Proportion(3, 7));
  }

  @Test
  void outOfRange_rejectedWithTheValues() {
    assertThatThrownBy(() -> new Proportion(3, 2))
        .hasMessage("a proportion needs 0 <= k <= n: got 3/2");
    assertThatThrownBy(() -> new Proportion(-1, 2)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * Newcombe, R. G., 1998, "Interval estimation for the difference between independent proportions:
   * comparison of eleven methods", Statistics in Medicine 17: 873-890, Table II, method 10 (score
   * interval without continuity correction), the six published examples.
   */
  @ParameterizedTest(name = "{0}/{1} - {2}/{3}")
  @CsvSource({
    "56, 70, 48, 80, 0.0524, 0.3339",
    "9, 10, 3, 10, 0.1705, 0.8090",
    "6, 7, 2, 7, 0.0582, 0.8062",
    "5, 56, 0, 29, -0.0381, 0.1926",
    "0, 10, 0, 20, -0.1611, 0.2775",
    "10, 10, 0, 20, 0.6791, 1.0",
  })
  void newcombeDifference_matchesPublishedExamples(
      int k1, int n1, int k2, int n2, double low, double high) {
    Proportion.Difference d = new Proportion(k1, n1).minus(new Proportion(k2, n2));

    assertThat(d.value()).isCloseTo((double) k1 / n1 - (double) k2 / n2, within(1e-12));
    assertThat(d.low()).isCloseTo(low, within(1e-4));
    assertThat(d.high()).isCloseTo(high, within(1e-4));
    assertThat(d.excludesZero()).isEqualTo(low > 0 || high < 0);
  }
}
