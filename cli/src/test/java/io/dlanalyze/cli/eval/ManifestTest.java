package io.dlanalyze.cli.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.analyzer.Symptom;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ManifestTest {
  @TempDir Path dir;

  private Path manifest(String cases) throws IOException {
    return Files.writeString(
        dir.resolve("manifest.json"), "{\"version\": 1, \"cases\": [" + cases + "]}");
  }

  @Test
  void read_layerAndModelRootCauses_parsedWithPathsResolvedAgainstManifest() throws IOException {
    Manifest m =
        Manifest.read(
            manifest(
                """
                {"id": "a-buggy", "trace": "traces/a.parquet", "buggy": true, "symptom": "numerical_error",
                 "acceptable_symptoms": ["exploding_gradient"], "root_cause": {"layer_name": "fc2", "layer_index": 1},
                 "origin": "Stack Overflow 1", "description": "d", "twin": "a-fixed"},
                {"id": "a-fixed", "trace": "traces/a-fixed.parquet", "buggy": false, "symptom": null, "root_cause": null,
                 "twin": "a-buggy"},
                {"id": "b-buggy", "trace": "b.arrows", "buggy": true, "symptom": "not_learning", "root_cause": "model"}
                """));

    assertThat(m.cases()).hasSize(3);
    Manifest.Case a = m.cases().get(0);
    assertThat(a.trace()).isEqualTo(dir.toAbsolutePath().resolve("traces/a.parquet"));
    assertThat(a.rootCause()).isEqualTo(new Manifest.Location(1, "fc2"));
    assertThat(a.symptomMatches(Symptom.EXPLODING_GRADIENT)).isTrue();
    assertThat(a.symptomMatches(Symptom.SATURATION)).isFalse();
    assertThat(m.cases().get(1).buggy()).isFalse();
    assertThat(m.cases().get(1).rootCause()).isNull();
    assertThat(m.cases().get(2).rootCause().isModel()).isTrue();
  }

  @Test
  void read_unknownSymptom_namesFileAndCase() throws IOException {
    Path path =
        manifest(
            "{\"id\": \"x\", \"trace\": \"x.csv\", \"buggy\": true, \"symptom\": \"on_fire\","
                + " \"root_cause\": \"model\"}");

    assertThatThrownBy(() -> Manifest.read(path))
        .isInstanceOf(ManifestException.class)
        .hasMessage(path + ": cases[0] (x): unknown symptom: on_fire");
  }

  @Test
  void read_badRootCause_rejected() throws IOException {
    Path path =
        manifest(
            "{\"id\": \"x\", \"trace\": \"x.csv\", \"buggy\": true, \"symptom\": \"oscillation\","
                + " \"root_cause\": {\"layer_name\": \"fc\"}}");

    assertThatThrownBy(() -> Manifest.read(path))
        .hasMessageContaining("cases[0] (x): \"root_cause\" must be");
  }

  @Test
  void read_duplicateId_rejected() throws IOException {
    Path path =
        manifest(
            "{\"id\": \"x\", \"trace\": \"x.csv\", \"buggy\": false}, {\"id\": \"x\", \"trace\":"
                + " \"y.csv\", \"buggy\": false}");

    assertThatThrownBy(() -> Manifest.read(path)).hasMessage(path + ": cases[1] (x): duplicate id");
  }

  @Test
  void read_missingFileOrNotJson_oneLineError() throws IOException {
    assertThatThrownBy(() -> Manifest.read(dir.resolve("nope.json")))
        .hasMessageEndingWith("nope.json: no such file");
    Path bad = Files.writeString(dir.resolve("bad.json"), "{cases:");
    assertThatThrownBy(() -> Manifest.read(bad)).hasMessageStartingWith(bad + ": not valid JSON");
  }

  @Test
  void read_labels_keptWhenPresentNullWhenAbsentUnknownFieldsIgnored() throws IOException {
    Manifest m =
        Manifest.read(
            manifest(
                """
                {"id": "a", "trace": "a.parquet", "buggy": false, "family": "mlp-zero-init",
                 "split": "test", "framework": "keras", "architecture": "cnn",
                 "program": "programs/test/keras_cnn.py --lr 3", "final": {"loss": 0.1}},
                {"id": "b", "trace": "b.parquet", "buggy": false, "split": null}
                """));

    Manifest.Case a = m.cases().get(0);
    assertThat(a.family()).isEqualTo("mlp-zero-init");
    assertThat(a.split()).isEqualTo("test");
    assertThat(a.framework()).isEqualTo("keras");
    assertThat(a.architecture()).isEqualTo("cnn");
    assertThat(m.cases().get(1).labels()).isEqualTo(Manifest.Labels.NONE);
  }

  @Test
  void read_labelNotAStringOrBlank_namesCaseAndField() throws IOException {
    Path number = manifest("{\"id\": \"x\", \"trace\": \"x.csv\", \"buggy\": false, \"split\": 2}");
    assertThatThrownBy(() -> Manifest.read(number))
        .isInstanceOf(ManifestException.class)
        .hasMessage(number + ": cases[0] (x): \"split\" must be a string");

    Path blank =
        manifest("{\"id\": \"x\", \"trace\": \"x.csv\", \"buggy\": false, \"framework\": \" \"}");
    assertThatThrownBy(() -> Manifest.read(blank))
        .hasMessage(
            blank + ": cases[0] (x): \"framework\" must not be blank (omit it or give a name)");

    Path control =
        manifest("{\"id\": \"x\", \"trace\": \"x.csv\", \"buggy\": false, \"split\": \"de\\nv\"}");
    assertThatThrownBy(() -> Manifest.read(control))
        .hasMessage(
            control
                + ": cases[0] (x): \"split\" must not contain control characters (a line break, a"
                + " tab...)");

    Path all =
        manifest("{\"id\": \"x\", \"trace\": \"x.csv\", \"buggy\": false, \"split\": \"all\"}");
    assertThatThrownBy(() -> Manifest.read(all))
        .hasMessageStartingWith(all + ": cases[0] (x): \"split\" must not be \"all\"");
  }
}
