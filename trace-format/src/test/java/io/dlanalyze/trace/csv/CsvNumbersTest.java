package io.dlanalyze.trace.csv;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class CsvNumbersTest {
  private static CsvNumbers.Result result = new CsvNumbers.Result();

  private static CsvNumbers.Status parseDouble(String text) {
    byte[] b = ("x" + text + "y").getBytes(StandardCharsets.UTF_8);
    return CsvNumbers.parseDouble(b, 1, b.length - 1, result);
  }

  private static double doubleOf(String text) {
    assertThat(parseDouble(text)).as(text).isEqualTo(CsvNumbers.Status.OK);
    return result.doubleValue;
  }

  private static CsvNumbers.Status parseLong(String text) {
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    return CsvNumbers.parseLong(b, 0, b.length, result);
  }

  @Test
  void formatThenParse_randomBitPatterns_sameBits() {
    SplittableRandom random = new SplittableRandom(7);
    for (int i = 0; i < 300_000; i++) {
      double value = Double.longBitsToDouble(random.nextLong());
      double back = doubleOf(CsvNumbers.format(value));
      if (Double.isNaN(value)) {
        assertThat(back).isNaN();
      } else {
        assertThat(Double.doubleToRawLongBits(back))
            .as("%s", value)
            .isEqualTo(Double.doubleToRawLongBits(value));
      }
    }
  }

  @Test
  void parseDouble_shortDecimals_matchTheJdk() {
    SplittableRandom random = new SplittableRandom(11);
    for (int i = 0; i < 200_000; i++) {
      long mantissa = random.nextLong(1_000_000_000_000_000L);
      int exponent = random.nextInt(-30, 30);
      String text = (random.nextBoolean() ? "-" : "") + mantissa + "e" + exponent;
      assertThat(doubleOf(text)).as(text).isEqualTo(Double.parseDouble(text));
      String decimal = "0." + mantissa;
      assertThat(doubleOf(decimal)).as(decimal).isEqualTo(Double.parseDouble(decimal));
    }
  }

  /**
   * Up to 19 significant digits over the whole exponent range, the Eisel-Lemire path: as the JDK.
   */
  @Test
  void parseDouble_longMantissasAnyExponent_matchTheJdk() {
    SplittableRandom random = new SplittableRandom(13);
    for (int i = 0; i < 1_000_000; i++) {
      int digits = random.nextInt(1, 20);
      StringBuilder text = new StringBuilder();
      text.append((char) ('1' + random.nextInt(9)));
      for (int d = 1; d < digits; d++) {
        text.append((char) ('0' + random.nextInt(10)));
      }
      if (random.nextBoolean()) {
        text.insert(random.nextInt(1, text.length() + 1), '.');
      }
      text.append('e').append(random.nextInt(-345, 330));
      String value = text.toString();
      assertThat(Double.doubleToRawLongBits(doubleOf(value)))
          .as(value)
          .isEqualTo(Double.doubleToRawLongBits(Double.parseDouble(value)));
    }
  }

  /** The fast path decides typical 17-digit statistics itself (else reading CSV gets slow). */
  @Test
  void eiselLemire_shortestReprOfRandomValues_decidesAlmostAll() {
    SplittableRandom random = new SplittableRandom(17);
    int decided = 0;
    int n = 100_000;
    for (int i = 0; i < n; i++) {
      double value = random.nextDouble() * Math.pow(10, random.nextInt(-30, 30));
      java.math.BigDecimal exact = new java.math.BigDecimal(Double.toString(value));
      long mantissa = exact.unscaledValue().longValueExact();
      if (CsvNumbers.eiselLemire(mantissa, -exact.scale(), false, result)) {
        decided++;
        assertThat(result.doubleValue).isEqualTo(value);
      }
    }
    assertThat(decided).isGreaterThan(n * 99 / 100);
  }

  @Test
  void parseDouble_hardCases_matchTheJdk() {
    for (String value :
        new String[] {
          "2.2250738585072011e-308",
          "2.2250738585072012e-308",
          "2.2250738585072014e-308",
          "4.9e-324",
          "2.4703282292062327e-324",
          "2.4703282292062328e-324",
          "1.7976931348623157e308",
          "1.7976931348623158e308",
          "1.7976931348623159e308",
          "9007199254740993",
          "9007199254740992",
          "9007199254740994",
          "9007199254740995",
          "18446744073709551615",
          "9999999999999999999",
          "0.1000000000000000055511151231257827",
          "7.0420557077594588669468784357561207962098443483187940792729600000e+59",
          "1e23",
          "8.41e21",
          "5e-324",
          "1e-350",
          "123456789012345678e-10",
          "0.30000000000000004",
          "3.0517578125e-05",
          "1.00000000000000011102230246251565404236316680908203125",
          "1.00000000000000011102230246251565404236316680908203124",
          "4.35679212874756e-309"
        }) {
      assertThat(Double.doubleToRawLongBits(doubleOf(value)))
          .as(value)
          .isEqualTo(Double.doubleToRawLongBits(Double.parseDouble(value)));
    }
  }

  @Test
  void parseDouble_pythonAndJavaSpellings() {
    assertThat(doubleOf("nan")).isNaN();
    assertThat(doubleOf("NaN")).isNaN();
    assertThat(doubleOf("-nan")).isNaN();
    assertThat(doubleOf("inf")).isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(doubleOf("+inf")).isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(doubleOf("Infinity")).isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(doubleOf("-inf")).isEqualTo(Double.NEGATIVE_INFINITY);
    assertThat(doubleOf("-Infinity")).isEqualTo(Double.NEGATIVE_INFINITY);
    assertThat(Double.doubleToRawLongBits(doubleOf("-0.0")))
        .isEqualTo(Double.doubleToRawLongBits(-0.0));
    assertThat(doubleOf("1.0E-5")).isEqualTo(1e-5);
    assertThat(doubleOf(" 2.5 ")).isEqualTo(2.5);
    assertThat(doubleOf(".5")).isEqualTo(0.5);
    assertThat(doubleOf("5.")).isEqualTo(5.0);
    assertThat(doubleOf("1e400")).isEqualTo(Double.POSITIVE_INFINITY);
    assertThat(doubleOf("0.1")).isEqualTo(0.1);
    assertThat(doubleOf("123456789012345678901234567890")).isEqualTo(1.2345678901234568E29);
  }

  @Test
  void parseDouble_notNumbers_invalid() {
    for (String text :
        new String[] {
          "", "abc", "1d", "0x1p3", "1e", "e5", ".", "1.2.3", "--1", "nanx", "in", "1,5"
        }) {
      assertThat(parseDouble(text)).as(text).isEqualTo(CsvNumbers.Status.INVALID);
    }
  }

  @Test
  void parseLong_edges() {
    assertThat(parseLong(Long.toString(Long.MAX_VALUE))).isEqualTo(CsvNumbers.Status.OK);
    assertThat(result.longValue).isEqualTo(Long.MAX_VALUE);
    assertThat(parseLong(Long.toString(Long.MIN_VALUE))).isEqualTo(CsvNumbers.Status.OK);
    assertThat(result.longValue).isEqualTo(Long.MIN_VALUE);
    assertThat(parseLong("9223372036854775808")).isEqualTo(CsvNumbers.Status.OUT_OF_RANGE);
    assertThat(parseLong("99999999999999999999")).isEqualTo(CsvNumbers.Status.OUT_OF_RANGE);
    assertThat(parseLong("+17")).isEqualTo(CsvNumbers.Status.OK);
    assertThat(result.longValue).isEqualTo(17);
    assertThat(parseLong("3.0")).isEqualTo(CsvNumbers.Status.OK);
    assertThat(result.longValue).isEqualTo(3);
    assertThat(parseLong("1e3")).isEqualTo(CsvNumbers.Status.OK);
    assertThat(result.longValue).isEqualTo(1000);
    assertThat(parseLong("3.5")).isEqualTo(CsvNumbers.Status.INVALID);
    assertThat(parseLong("abc")).isEqualTo(CsvNumbers.Status.INVALID);
    assertThat(parseLong("nan")).isEqualTo(CsvNumbers.Status.NOT_FINITE);
    assertThat(parseLong("1e30")).isEqualTo(CsvNumbers.Status.OUT_OF_RANGE);
  }

  @Test
  void format_nonFinite_pythonSpelling() {
    assertThat(CsvNumbers.format(Double.NaN)).isEqualTo("nan");
    assertThat(CsvNumbers.format(Double.POSITIVE_INFINITY)).isEqualTo("inf");
    assertThat(CsvNumbers.format(Double.NEGATIVE_INFINITY)).isEqualTo("-inf");
    assertThat(CsvNumbers.format(0.1)).isEqualTo("0.1");
  }
}
