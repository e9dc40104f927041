package io.dlanalyze.trace.parquet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.parquet.io.ParquetDecodingException;
import org.junit.jupiter.api.Test;

class RleDecoderTest {
  private final RleDecoder decoder = new RleDecoder();

  private int[] read(byte[] data, int bitWidth, int n) {
    decoder.init(data, 0, data.length, bitWidth, n);
    int[] values = new int[n];
    decoder.read(values, 0, n);
    return values;
  }

  @Test
  void read_bitPackedRun_valuesLsbFirst() {
    // header 0x03: one group of eight 1-bit values; 0b0000_0010 -> 0,1,0,0,0,0,0,0
    assertThat(read(new byte[] {0x03, 0x02}, 1, 3)).containsExactly(0, 1, 0);
  }

  @Test
  void read_rleRun_repeatsTheValue() {
    // header 0x0a: RLE run of 5; value 0x07 in one byte
    assertThat(read(new byte[] {0x0a, 0x07}, 3, 5)).containsExactly(7, 7, 7, 7, 7);
  }

  @Test
  void read_bitPackedRunOfWidthZero_zerosNotThePreviousPagesValues() {
    // parquet-mr writes the ids of a one-entry dictionary as a bit-packed run of width 0: a header
    // and no data bytes. The decoder is reused across pages, so the buffer of the page before
    // (ids 0,1,1) must not show through.
    assertThat(read(new byte[] {0x03, 0x06}, 1, 3)).containsExactly(0, 1, 1);
    assertThat(read(new byte[] {0x03}, 0, 3)).containsExactly(0, 0, 0);
  }

  @Test
  void read_rleRunOfWidthZero_zeros() {
    assertThat(read(new byte[] {0x03, 0x06}, 1, 3)).containsExactly(0, 1, 1);
    assertThat(read(new byte[] {0x06}, 0, 3)).containsExactly(0, 0, 0);
  }

  @Test
  void read_pastTheEnd_decodingError() {
    decoder.init(new byte[] {0x04, 0x01}, 0, 2, 1, 4);
    int[] values = new int[4];
    assertThatThrownBy(() -> decoder.read(values, 0, 4))
        .isInstanceOf(ParquetDecodingException.class)
        .hasMessage("RLE data ends before all values were read");
  }

  @Test
  void init_bitWidthOver32_decodingError() {
    assertThatThrownBy(() -> decoder.init(new byte[1], 0, 1, 33, 1))
        .isInstanceOf(ParquetDecodingException.class)
        .hasMessage("invalid bit width 33");
  }
}
