package io.dlanalyze.trace;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.ToIntFunction;

/**
 * Maps UTF-8 byte strings to dictionary ids without making a String per row: a string is decoded
 * and handed to the resolver (e.g. {@link TraceDictionary#layerNameId}) the first time it is seen,
 * then found again by its bytes. For readers of formats whose strings are not dictionary-encoded
 * (CSV, plain Arrow utf8, plain Parquet byte arrays).
 *
 * <p>Implementation notes: open addressing with linear probing over parallel arrays; the load
 * factor stays at or below 1/2.
 */
public final class Utf8Ids {
  private final String what;
  private final ToIntFunction<String> resolver;
  private byte[][] keys = new byte[64][];
  private int[] hashes = new int[64];
  private int[] ids = new int[64];
  private int size;

  /**
   * @param what what the strings are, for the error on one longer than {@link
   *     Limits#MAX_NAME_CHARS}: "layer name", "layer type", "phase name"
   */
  public Utf8Ids(String what, ToIntFunction<String> resolver) {
    this.what = what;
    this.resolver = resolver;
  }

  /** The id of the string held in {@code bytes[offset, offset + length)}. */
  public int id(byte[] bytes, int offset, int length) {
    int hash = hash(bytes, offset, length);
    int mask = keys.length - 1;
    int slot = hash & mask;
    while (true) {
      byte[] key = keys[slot];
      if (key == null) {
        break;
      }
      if (hashes[slot] == hash
          && Arrays.equals(key, 0, key.length, bytes, offset, offset + length)) {
        return ids[slot];
      }
      slot = (slot + 1) & mask;
    }
    Limits.checkNameBytes(what, length);
    String value =
        Limits.checkName(what, new String(bytes, offset, length, StandardCharsets.UTF_8));
    int id = resolver.applyAsInt(value);
    keys[slot] = Arrays.copyOfRange(bytes, offset, offset + length);
    hashes[slot] = hash;
    ids[slot] = id;
    if (++size * 2 > keys.length) {
      grow();
    }
    return id;
  }

  /** Number of distinct strings seen. */
  public int size() {
    return size;
  }

  private void grow() {
    byte[][] oldKeys = keys;
    int[] oldHashes = hashes;
    int[] oldIds = ids;
    keys = new byte[oldKeys.length * 2][];
    hashes = new int[keys.length];
    ids = new int[keys.length];
    int mask = keys.length - 1;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != null) {
        int slot = oldHashes[i] & mask;
        while (keys[slot] != null) {
          slot = (slot + 1) & mask;
        }
        keys[slot] = oldKeys[i];
        hashes[slot] = oldHashes[i];
        ids[slot] = oldIds[i];
      }
    }
  }

  private static int hash(byte[] bytes, int offset, int length) {
    int h = 0x811C9DC5;
    for (int i = offset, end = offset + length; i < end; i++) {
      h = (h ^ bytes[i]) * 0x01000193;
    }
    return h ^ (h >>> 16);
  }
}
