package io.dlanalyze.trace.fuzz;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Deterministic structure-blind mutations of a valid file, the ones that broke the readers before:
 * bit flips, a 4- or 8-byte overwrite with a boundary value (lengths and offsets become 0, -1, huge
 * or off by a few), deleted and inserted bytes (4 at a time, as a lost or doubled length prefix), a
 * repeated chunk, and a cut. The same seed gives the same mutant.
 */
final class Mutator {
  private static final long[] BOUNDARY = {
    0,
    1,
    -1,
    2,
    7,
    8,
    63,
    64,
    255,
    256,
    0x7F,
    0x80,
    0xFF,
    0xFFFF,
    0x7FFF_FFFFL,
    0x8000_0000L,
    0xFFFF_FFFFL,
    0x1_0000_0000L,
    Long.MAX_VALUE,
    Long.MIN_VALUE,
    1 << 20,
    1 << 24,
    1 << 30
  };

  private Mutator() {}

  /** One to three mutations of {@code seed}, chosen by {@code random}. */
  static byte[] mutate(byte[] seed, SplittableRandom random) {
    byte[] data = seed.clone();
    int count = 1 + random.nextInt(3);
    for (int i = 0; i < count && data.length > 0; i++) {
      data = once(data, random);
    }
    return data;
  }

  private static byte[] once(byte[] data, SplittableRandom random) {
    int at = random.nextInt(data.length);
    switch (random.nextInt(9)) {
      case 0 -> data[at] ^= (byte) (1 << random.nextInt(8));
      case 1, 2 -> {
        long value = BOUNDARY[random.nextInt(BOUNDARY.length)];
        value += random.nextInt(3) == 0 ? random.nextInt(17) - 8 : 0;
        int width = random.nextBoolean() ? 4 : 8;
        for (int k = 0; k < width && at + k < data.length; k++) {
          data[at + k] = (byte) (value >>> (8 * k));
        }
      }
      case 3 -> data[at] = (byte) random.nextInt(256);
      case 4 -> {
        int n = random.nextBoolean() ? 4 : 1 + random.nextInt(8);
        n = Math.min(n, data.length - at);
        byte[] out = new byte[data.length - n];
        System.arraycopy(data, 0, out, 0, at);
        System.arraycopy(data, at + n, out, at, data.length - at - n);
        return out;
      }
      case 5 -> {
        int n = random.nextBoolean() ? 4 : 1 + random.nextInt(8);
        byte[] out = new byte[data.length + n];
        System.arraycopy(data, 0, out, 0, at);
        for (int k = 0; k < n; k++) {
          out[at + k] = (byte) random.nextInt(256);
        }
        System.arraycopy(data, at, out, at + n, data.length - at);
        return out;
      }
      case 6 -> {
        int n = Math.min(1 + random.nextInt(64), data.length - at);
        byte[] out = Arrays.copyOf(data, data.length + n);
        System.arraycopy(data, at, out, at + n, data.length - at);
        return out;
      }
      case 7 -> {
        return Arrays.copyOf(data, at);
      }
      default -> {
        int to = random.nextInt(data.length);
        int n = Math.min(1 + random.nextInt(16), Math.min(data.length - at, data.length - to));
        System.arraycopy(data, at, data, to, n);
      }
    }
    return data;
  }
}
