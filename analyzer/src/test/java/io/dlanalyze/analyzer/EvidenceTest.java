package io.dlanalyze.analyzer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dlanalyze.analyzer.EvidenceKeys.Direction;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EvidenceTest {
  @Test
  void typedKeys_readBackTheirType_choicesAsTheirWireName() {
    Evidence evidence =
        Evidence.builder()
            .put(EvidenceKeys.RUN_STEPS, 12)
            .put(EvidenceKeys.BAND_LOW, 1e-5)
            .put(EvidenceKeys.LOSS_STALLED, true)
            .put(EvidenceKeys.FIRST_LAYER, "fc0")
            .put(EvidenceKeys.DIRECTION, Direction.HIGH)
            .build();

    assertThat(evidence.get(EvidenceKeys.RUN_STEPS)).isEqualTo(12L);
    assertThat(evidence.get(EvidenceKeys.BAND_LOW)).isEqualTo(1e-5);
    assertThat(evidence.get(EvidenceKeys.LOSS_STALLED)).isTrue();
    assertThat(evidence.get(EvidenceKeys.FIRST_LAYER)).isEqualTo("fc0");
    assertThat(evidence.get(EvidenceKeys.DIRECTION)).isEqualTo(Direction.HIGH);
    assertThat(evidence.asMap()).containsEntry("direction", "high").containsEntry("run_steps", 12L);
    assertThat(evidence.get(EvidenceKeys.BAND_HIGH)).isNull();
    assertThat(evidence.get(EvidenceKey.real("run_steps"))).as("another type").isNull();
  }

  @Test
  void keys_snakeCaseAndSupportedTypesOnly_setOnce() {
    assertThatThrownBy(() -> EvidenceKey.real("Run-Steps"))
        .hasMessageContaining("snake_case: Run-Steps");
    assertThatThrownBy(() -> new EvidenceKey<>("when", java.time.Instant.class))
        .hasMessageContaining("unsupported type: Instant");
    Evidence.Builder builder = Evidence.builder().put(EvidenceKeys.WINDOW, 50);
    assertThatThrownBy(() -> builder.put(EvidenceKeys.WINDOW, 51))
        .hasMessageContaining("evidence window is set twice");
  }

  @Test
  void evidenceKeys_oneTypePerName_exceptTheRuleChoices() throws IllegalAccessException {
    Map<String, Class<?>> types = new HashMap<>();
    for (Field field : EvidenceKeys.class.getDeclaredFields()) {
      if (!Modifier.isStatic(field.getModifiers()) || field.getType() != EvidenceKey.class) {
        continue;
      }
      EvidenceKey<?> key = (EvidenceKey<?>) field.get(null);
      Class<?> before = types.put(key.name(), key.type());
      assertThat(before == null || before == key.type() || key.name().equals("rule"))
          .as("%s declared as %s and %s", key.name(), before, key.type())
          .isTrue();
    }
    assertThat(types).hasSizeGreaterThan(90);
  }
}
