package io.dlanalyze.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code corpus/calibration.py --list}: every program of {@code corpus/programs/dev/} has a
 * calibration space, and every space samples its configurations (a space whose function lost its
 * {@code return} gives nothing to sample, and the listing fails on it).
 */
class CorpusCalibrationSpacesTest {

  @Test
  void everyDevProgramsSpace_samplesItsConfigurations() {
    Python.Result result =
        Python.run(
            List.of(Python.interpreter(), "corpus/calibration.py", "--list"),
            Python.repoRoot(),
            300);

    assertThat(result.exitCode()).as(result.output()).isZero();
    assertThat(result.output()).containsPattern("(?m)^\\d+ runs$");
    assertThat(result.output()).contains("programs/dev/pt_sam_digits.py --lr");
    assertThat(result.output()).contains("programs/dev/keras_mobilevit_digits.py --lr");
  }
}
