package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.dlanalyze.analyzer.BuiltInDetectors;
import io.dlanalyze.analyzer.DetectorInfo;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class DetectorsCommandTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    return DlAnalyze.run(new PrintWriter(out), new PrintWriter(err), args);
  }

  @Test
  void text_listsEveryDetectorWithSymptomSeverityDefaultsAndSource() {
    assertThat(run("detectors")).isEqualTo(ExitCodes.OK);

    String text = out.toString();
    for (DetectorInfo info : BuiltInDetectors.all()) {
      assertThat(text)
          .contains(
              info.id() + "  [" + info.symptom().wireName() + ", " + info.severity().wireName());
      assertThat(text).contains(info.source());
    }
    assertThat(text).contains("defaults: window=50, exploding-growth=2300000, exploding-ratio=70");
    assertThat(text).contains("dying-relu-fraction=0.9883");
  }

  @Test
  void json_hasOneObjectPerDetectorInRegistryOrder() throws Exception {
    assertThat(run("detectors", "--format", "json")).isEqualTo(ExitCodes.OK);

    JsonNode array = new ObjectMapper().readTree(out.toString());
    List<String> ids = new ArrayList<>();
    array.forEach(node -> ids.add(node.get("id").asText()));
    List<String> expected = new ArrayList<>();
    BuiltInDetectors.all().forEach(info -> expected.add(info.id()));
    assertThat(ids).isEqualTo(expected);
    JsonNode vanishing = array.get(expected.indexOf("vanishing-gradient"));
    assertThat(vanishing.get("symptom").asText()).isEqualTo("vanishing_gradient");
    assertThat(vanishing.get("severity").asText()).isEqualTo("warning");
    assertThat(vanishing.get("modes").get(0).asText()).isEqualTo("default");
    assertThat(vanishing.get("thresholds").get("vanishing-ratio").asDouble()).isEqualTo(1e-4);
    assertThat(vanishing.get("thresholds").get("window").asLong()).isEqualTo(50);
    assertThat(vanishing.get("needs_corroboration").asBoolean()).isFalse();
    assertThat(array.get(expected.indexOf("input-range")).get("needs_corroboration").asBoolean())
        .isTrue();
  }

  @Test
  void text_saysWhichDetectorsNeedCorroboration() {
    assertThat(run("detectors")).isEqualTo(ExitCodes.OK);

    String text = out.toString();
    String inputRange = text.substring(text.indexOf("input-range  ["));
    inputRange = inputRange.substring(0, inputRange.indexOf("\n\n"));
    assertThat(inputRange).contains("decides the verdict only beside another detector's warning");
    assertThat(text.split("decides the verdict only beside", -1)).hasSize(2);
  }
}
