package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;

import io.dlanalyze.trace.Phase;
import io.dlanalyze.trace.synthetic.Fault;
import io.dlanalyze.trace.synthetic.SyntheticTrace;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * On synthetic traces of several shapes, the top finding names the injected layer, phase and step,
 * and clean traces are healthy.
 */
class InjectedFaultTest {
  static Stream<Arguments> faults() {
    return Stream.of(
        Arguments.of(3, 800, 7L, Fault.nan(0, 100), 0, Phase.FORWARD, 100L),
        Arguments.of(6, 1000, 1L, Fault.nan(3, 420), 3, Phase.FORWARD, 420L),
        Arguments.of(8, 600, 9L, Fault.nan(7, 599), 7, Phase.FORWARD, 599L),
        Arguments.of(5, 1000, 2L, Fault.inf(2, 333), 2, Phase.FORWARD, 333L),
        Arguments.of(4, 1000, 3L, Fault.deadLayer(1, 250), 1, Phase.ACTIVATION, 250L),
        Arguments.of(7, 1200, 4L, Fault.deadLayer(5, 700), 5, Phase.ACTIVATION, 700L),
        Arguments.of(6, 1000, 5L, Fault.frozenWeights(0, 300), 0, Phase.WEIGHT, 300L),
        Arguments.of(3, 900, 6L, Fault.frozenWeights(2, 123), 2, Phase.WEIGHT, 123L),
        Arguments.of(6, 1000, 8L, Fault.lossPlateau(100), -1, Phase.LOSS, 100L),
        Arguments.of(4, 2000, 10L, Fault.lossPlateau(150), -1, Phase.LOSS, 150L));
  }

  @ParameterizedTest(name = "{3} in {0} layers")
  @MethodSource("faults")
  void topFinding_namesInjectedLayerPhaseAndStep(
      int layers, long steps, long seed, Fault fault, int layer, Phase phase, long step) {
    SyntheticTrace trace =
        SyntheticTrace.builder().layers(layers).steps(steps).seed(seed).fault(fault).build();

    Report report = Analyses.analyze(trace);

    assertThat(report.verdict()).isEqualTo(Verdict.BUGGY);
    Finding top = report.topFinding().orElseThrow();
    assertThat(top.layerIndex()).as("layer").isEqualTo(layer);
    assertThat(top.phase()).as("phase").isEqualTo(phase);
    assertThat(top.firstStep()).as("step").isEqualTo(step);
    assertThat(report.rootCause().layerIndex()).isEqualTo(layer);
  }

  static Stream<Arguments> shapes() {
    return Stream.of(
        Arguments.of(1, 200, 1L, 2),
        Arguments.of(3, 500, 2L, 10),
        Arguments.of(6, 1000, 3L, 10),
        Arguments.of(10, 800, 4L, 100),
        Arguments.of(4, 3000, 5L, 2),
        Arguments.of(12, 400, 6L, 1000));
  }

  @ParameterizedTest(name = "{0} layers, {1} steps, seed {2}, {3} classes")
  @MethodSource("shapes")
  void cleanTrace_isHealthy(int layers, long steps, long seed, int classes) {
    SyntheticTrace trace =
        SyntheticTrace.builder()
            .layers(layers)
            .steps(steps)
            .seed(seed)
            .numClasses(classes)
            .optionalPhases(seed % 2 == 0)
            .build();

    Report report = Analyses.analyze(trace);

    assertThat(report.verdict()).isEqualTo(Verdict.HEALTHY);
    assertThat(report.findings()).isEmpty();
  }
}
