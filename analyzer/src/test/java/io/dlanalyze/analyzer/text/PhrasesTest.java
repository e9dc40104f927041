package io.dlanalyze.analyzer.text;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class PhrasesTest {
  @Test
  void uncapitalize_ordinarySentenceStarts() {
    assertThat(Phrases.uncapitalize("The loss fell")).isEqualTo("the loss fell");
    assertThat(Phrases.uncapitalize("Over 40 steps the loss rose"))
        .isEqualTo("over 40 steps the loss rose");
    assertThat(Phrases.uncapitalize("A layer died")).isEqualTo("a layer died");
    assertThat(Phrases.uncapitalize("Every layer")).isEqualTo("every layer");
    assertThat(Phrases.uncapitalize("The")).isEqualTo("the");
  }

  @Test
  void uncapitalize_keepsNamesAcronymsAndOtherWords() {
    assertThat(Phrases.uncapitalize("Dense_1 died at step 3")).isEqualTo("Dense_1 died at step 3");
    assertThat(Phrases.uncapitalize("NaN appeared")).isEqualTo("NaN appeared");
    assertThat(Phrases.uncapitalize("ReLU units died")).isEqualTo("ReLU units died");
    assertThat(Phrases.uncapitalize("Theory says")).isEqualTo("Theory says");
    assertThat(Phrases.uncapitalize("fc1 died")).isEqualTo("fc1 died");
    assertThat(Phrases.uncapitalize("")).isEmpty();
  }
}
