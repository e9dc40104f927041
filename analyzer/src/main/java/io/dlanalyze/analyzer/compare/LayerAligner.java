package io.dlanalyze.analyzer.compare;

import io.dlanalyze.analyzer.compare.Comparison.How;
import io.dlanalyze.analyzer.compare.Comparison.LayerMatch;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Pairs the layers of two runs: same name and type first, then same name, then (for what is left)
 * the same index and type, which is a renamed layer. Called again whenever a step brings layers not
 * seen before; a pairing, once made, stays.
 */
final class LayerAligner {
  private int[] aToB = new int[0];
  private int[] bToA = new int[0];
  private How[] how = new How[0];

  void match(List<String> namesA, List<String> typesA, List<String> namesB, List<String> typesB) {
    grow(namesA.size(), namesB.size());
    Map<String, List<Integer>> byName = new HashMap<>();
    for (int j = 0; j < namesB.size(); j++) {
      if (namesB.get(j) != null && bToA[j] < 0) {
        byName.computeIfAbsent(namesB.get(j), k -> new ArrayList<>()).add(j);
      }
    }
    for (int pass = 0; pass < 2; pass++) {
      for (int i = 0; i < namesA.size(); i++) {
        if (namesA.get(i) == null || aToB[i] >= 0) {
          continue;
        }
        for (int j : byName.getOrDefault(namesA.get(i), List.of())) {
          boolean sameType = Objects.equals(typesA.get(i), typesB.get(j));
          if (bToA[j] < 0 && (sameType || pass == 1)) {
            pair(i, j, sameType ? How.NAME : How.NAME_OTHER_TYPE);
            break;
          }
        }
      }
    }
    for (int i = 0; i < namesA.size() && i < namesB.size(); i++) {
      if (namesA.get(i) != null
          && namesB.get(i) != null
          && aToB[i] < 0
          && bToA[i] < 0
          && Objects.equals(typesA.get(i), typesB.get(i))
          && !namesB.contains(namesA.get(i))
          && !namesA.contains(namesB.get(i))) {
        pair(i, i, How.POSITION);
      }
    }
  }

  private void pair(int i, int j, How kind) {
    aToB[i] = j;
    bToA[j] = i;
    how[i] = kind;
  }

  private void grow(int sizeA, int sizeB) {
    if (aToB.length < sizeA) {
      int old = aToB.length;
      aToB = Arrays.copyOf(aToB, sizeA);
      how = Arrays.copyOf(how, sizeA);
      Arrays.fill(aToB, old, sizeA, -1);
    }
    if (bToA.length < sizeB) {
      int old = bToA.length;
      bToA = Arrays.copyOf(bToA, sizeB);
      Arrays.fill(bToA, old, sizeB, -1);
    }
  }

  /** The layer of b paired with layer {@code i} of a, or -1. */
  int toB(int i) {
    return i >= 0 && i < aToB.length ? aToB[i] : -1;
  }

  /** The layer of a paired with layer {@code j} of b, or -1. */
  int toA(int j) {
    return j >= 0 && j < bToA.length ? bToA[j] : -1;
  }

  /** Every layer of either run: a's in index order (paired or not), then b's unpaired ones. */
  List<LayerMatch> matches(
      List<String> namesA, List<String> typesA, List<String> namesB, List<String> typesB) {
    grow(namesA.size(), namesB.size());
    List<LayerMatch> list = new ArrayList<>();
    for (int i = 0; i < namesA.size(); i++) {
      if (namesA.get(i) == null) {
        continue;
      }
      int j = aToB[i];
      list.add(
          j < 0
              ? new LayerMatch(i, namesA.get(i), -1, null, typesA.get(i), How.ONLY_A)
              : new LayerMatch(i, namesA.get(i), j, namesB.get(j), typesA.get(i), how[i]));
    }
    for (int j = 0; j < namesB.size(); j++) {
      if (namesB.get(j) != null && bToA[j] < 0) {
        list.add(new LayerMatch(-1, null, j, namesB.get(j), typesB.get(j), How.ONLY_B));
      }
    }
    return list;
  }
}
