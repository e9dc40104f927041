package io.dlanalyze.trace;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PrintableTest {
  @Test
  void escape_plainText_sameInstance() {
    String name = "encoder.layers.0/attn (Linear) \u00e9\u6f22\u5b57 C:\\runs\\a.parquet";
    assertThat(Printable.escape(name)).isSameAs(name);
  }

  @Test
  void escape_null_null() {
    assertThat(Printable.escape(null)).isNull();
  }

  @Test
  void escape_ansiSequencesAndNewlines_visible() {
    assertThat(Printable.escape("fc1\u001b[2J\u001b[31mEVIL\nrow\r\t"))
        .isEqualTo("fc1\\e[2J\\e[31mEVIL\\nrow\\r\\t");
  }

  @Test
  void escape_otherControls_unicodeEscapes() {
    assertThat(Printable.escape("a\u0000b\u0007c\u007fd\u0085e\u009bf"))
        .isEqualTo("a\\u0000b\\u0007c\\u007fd\\u0085e\\u009bf");
  }

  @Test
  void escape_bidiControlsAndSeparators_unicodeEscapes() {
    assertThat(Printable.escape("fc\u202egnp.exe\u2066x\u2069\u200e\u200f\u061c\u2028\u2029"))
        .isEqualTo("fc\\u202egnp.exe\\u2066x\\u2069\\u200e\\u200f\\u061c\\u2028\\u2029");
  }

  @Test
  void escape_everyCharacter_noControlLeftOver() {
    StringBuilder all = new StringBuilder();
    for (char c = 0; c < 0x3000; c++) {
      all.append(c);
    }
    String escaped = Printable.escape(all.toString());
    for (int i = 0; i < escaped.length(); i++) {
      assertThat(Printable.needsEscape(escaped.charAt(i)))
          .as("char %04x", (int) escaped.charAt(i))
          .isFalse();
    }
  }

  @Test
  void excerpt_escapesBeforeCutting_soEscapesCannotGrowPastTheBound() {
    String nuls = "\u0000".repeat(1_000);

    String excerpt = Printable.excerpt(nuls, 60);

    assertThat(excerpt).isEqualTo("\\u0000".repeat(10) + "... (1000 characters)");
  }

  @Test
  void excerpt_shortText_isOnlyEscaped() {
    assertThat(Printable.excerpt("mode\nX", 60)).isEqualTo("mode\\nX");
    assertThat(Printable.excerpt("x".repeat(60), 60)).isEqualTo("x".repeat(60));
  }
}
