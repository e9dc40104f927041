package io.dlanalyze.cli.fuzz;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

/**
 * A structure-aware byte mutator with a fixed seed: the same seeds and the same number give the
 * same inputs on every machine, so the bounded run in {@code mvn verify} is reproducible. Each
 * mutant applies one to four edits to a seed: flip a byte, insert a token of the format's
 * dictionary, delete, duplicate or move a range, truncate, or splice in a part of another seed.
 */
final class Mutator {
  private final Random random;
  private final List<byte[]> seeds;
  private final List<String> tokens;

  Mutator(long seed, List<byte[]> seeds, List<String> tokens) {
    this.random = new Random(seed);
    this.seeds = seeds;
    this.tokens = tokens;
  }

  byte[] next() {
    byte[] data = seeds.get(random.nextInt(seeds.size()));
    for (int edits = 1 + random.nextInt(4); edits > 0; edits--) {
      data = edit(data);
    }
    return data;
  }

  private byte[] edit(byte[] data) {
    int n = data.length;
    int at = n == 0 ? 0 : random.nextInt(n + 1);
    ByteArrayOutputStream out = new ByteArrayOutputStream(n + 64);
    switch (random.nextInt(7)) {
      case 0 -> {
        byte[] copy = data.clone();
        if (n > 0) {
          copy[random.nextInt(n)] ^= (byte) (1 << random.nextInt(8));
        }
        return copy;
      }
      case 1 -> {
        out.write(data, 0, at);
        out.writeBytes(tokens.get(random.nextInt(tokens.size())).getBytes(StandardCharsets.UTF_8));
        out.write(data, at, n - at);
      }
      case 2 -> {
        int end = Math.min(n, at + 1 + random.nextInt(16));
        out.write(data, 0, at);
        out.write(data, end, n - end);
      }
      case 3 -> {
        int end = Math.min(n, at + 1 + random.nextInt(32));
        out.write(data, 0, end);
        for (int i = random.nextInt(3); i >= 0; i--) {
          out.write(data, at, end - at);
        }
        out.write(data, end, n - end);
      }
      case 4 -> {
        return java.util.Arrays.copyOf(data, at);
      }
      case 5 -> {
        byte[] other = seeds.get(random.nextInt(seeds.size()));
        int from = other.length == 0 ? 0 : random.nextInt(other.length);
        int length = Math.min(other.length - from, random.nextInt(64));
        out.write(data, 0, at);
        out.write(other, from, length);
        out.write(data, at, n - at);
      }
      default -> {
        byte[] copy = data.clone();
        if (n > 1) {
          int a = random.nextInt(n);
          int b = random.nextInt(n);
          byte t = copy[a];
          copy[a] = copy[b];
          copy[b] = t;
        }
        return copy;
      }
    }
    return out.toByteArray();
  }
}
