package io.dlanalyze.analyzer.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HtmlTest {
  @Test
  void text_markupCharacters_escaped() {
    assertThat(Html.text("<a href=\"x\" title='y'>&amp;</a>"))
        .isEqualTo("&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;");
  }

  @Test
  void text_controlCharactersAndLoneSurrogates_replacedButPairsKept() {
    assertThat(Html.text("a\u0000b\u001bc\u007fd\te\nf")).isEqualTo("a\uFFFDb\uFFFDc\uFFFDd\te\nf");
    assertThat(Html.text("x\ud800y\udc00z")).isEqualTo("x\uFFFDy\uFFFDz");
    assertThat(Html.text("rocket \ud83d\ude80 \u00e9\u5c42"))
        .isEqualTo("rocket \ud83d\ude80 \u00e9\u5c42");
  }

  @Test
  void scriptJson_closingTagsAndLineSeparators_escapedAndStillSameValue() throws Exception {
    ObjectMapper mapper = new ObjectMapper();
    String value = "</script><!-- & \u2028 \u2029 <b> \ud83d\ude80";
    String json = mapper.writeValueAsString(Map.of("name", value));

    String safe = Html.scriptJson(json);

    assertThat(safe).doesNotContain("<", ">", "&", "\u2028", "\u2029");
    assertThat(safe).contains("\\u003c/script\\u003e", "\\u0026", "\\u2028", "\\u2029");
    assertThat(mapper.readTree(safe).get("name").asText()).isEqualTo(value);
  }

  @Test
  void shorten_longText_cutAtCodePointsWithEllipsis() {
    assertThat(Html.shorten("abc", 3)).isEqualTo("abc");
    assertThat(Html.shorten("abcdef", 4)).isEqualTo("abc\u2026");
    String rockets = "\ud83d\ude80".repeat(5);
    assertThat(Html.shorten(rockets, 3)).isEqualTo("\ud83d\ude80\ud83d\ude80\u2026");
  }
}
