package io.dlanalyze.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.analyzer.AnalysisMode;
import io.dlanalyze.analyzer.AnalysisOptions;
import io.dlanalyze.analyzer.Thresholds;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AnalysisSettingsTest {
  @TempDir Path dir;

  private static final String YAML =
      """
      mode: deeplocalize
      thresholds:
        window: 30
        patience: 7
      exclude-layers: ["fc1"]
      detectors:
        oscillating-loss: false
      """;

  private AnalysisSettings.ConfigFile config(String name, String text) throws IOException {
    Path file = dir.resolve(name);
    Files.writeString(file, text, StandardCharsets.UTF_8);
    return AnalysisSettings.ConfigFile.read(file);
  }

  @Test
  void options_configFile_appliedFirstThenTheCommandLine() throws IOException {
    AnalysisSettings settings =
        new AnalysisSettings(
            AnalysisMode.DEFAULT,
            Map.of("window", 20.0),
            null,
            List.of("dying-relu"),
            config("c.yaml", YAML));

    AnalysisOptions options = settings.options();

    assertThat(options.mode()).isEqualTo(AnalysisMode.DEFAULT);
    assertThat(options.getInt(Thresholds.WINDOW)).isEqualTo(20);
    assertThat(options.getInt(Thresholds.PATIENCE)).isEqualTo(7);
    assertThat(options.isEnabled("oscillating-loss")).isFalse();
    assertThat(options.isEnabled("dying-relu")).isFalse();
    assertThat(options.isExcluded("dead-or-zero", "fc1")).isTrue();
    assertThat(options.readAhead()).isFalse();
  }

  @Test
  void options_noModeGiven_theConfigsModeElseDefault() throws IOException {
    assertThat(
            new AnalysisSettings(null, Map.of(), null, List.of(), config("c.yaml", YAML))
                .options()
                .mode())
        .isEqualTo(AnalysisMode.DEEPLOCALIZE);
    assertThat(new AnalysisSettings(null, Map.of(), null, List.of(), null).options().mode())
        .isEqualTo(AnalysisMode.DEFAULT);
  }

  @Test
  void constructor_invalidConfig_namesTheFileAndTheKey() throws IOException {
    AnalysisSettings.ConfigFile bad = config("bad.json", "{\"thresholds\": {\"windoww\": 3}}");

    assertThatThrownBy(() -> new AnalysisSettings(null, Map.of(), null, List.of(), bad))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(
            dir.resolve("bad.json") + ": thresholds.windoww: unknown threshold");
  }

  @Test
  void configFileRead_missingFile_oneLineError() {
    Path missing = dir.resolve("missing.yaml");

    assertThatThrownBy(() -> AnalysisSettings.ConfigFile.read(missing))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage(missing + ": config file not found");
  }

  @Test
  void serialization_withConfigFile_sameSettingsAndOptionsAfterTheTrip() throws Exception {
    AnalysisSettings settings =
        new AnalysisSettings(null, Map.of(), null, List.of(), config("c.yaml", YAML));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(settings);
    }

    AnalysisSettings copy;
    try (ObjectInputStream in =
        new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      copy = (AnalysisSettings) in.readObject();
    }

    assertThat(copy).isEqualTo(settings);
    assertThat(copy.options().getInt(Thresholds.PATIENCE)).isEqualTo(7);
    assertThat(copy.options().isExcluded("saturation", "fc1")).isTrue();
  }
}
