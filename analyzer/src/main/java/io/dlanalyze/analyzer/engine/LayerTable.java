package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The layers of a trace, merged from its rows (the first name and type seen for each index) and its
 * {@code dltrace.layers} metadata (activation, trainable flag, and names/types the rows lack). Rows
 * are kept by the layer's position ({@link LayerPositions}), metadata sorted by index, so memory
 * follows the layers the trace names, not its largest index.
 */
final class LayerTable {
  private static final Layer MODEL = new Layer(-1, "model", null, null, true);

  private final TraceDictionary dictionary;
  private final LayerPositions positions;
  private final List<String> warnings;

  /** dltrace.layers: the first entry of each index >= 0, sorted by index. */
  private final int[] metadataIndex;

  private final LayerInfo[] metadataLayers;
  private final Layer[] metadataCache;

  /** Per position: the ids of the layer's name and type in the dictionary, or -1. */
  private int[] nameId = new int[0];

  private int[] typeId = new int[0];
  private Layer[] cache = new Layer[0];
  private int largestRowIndex = -1;
  private @Nullable List<Layer> all;

  LayerTable(
      TraceMetadata metadata,
      TraceDictionary dictionary,
      LayerPositions positions,
      List<String> warnings) {
    this.dictionary = dictionary;
    this.positions = positions;
    this.warnings = warnings;
    List<LayerInfo> listed = new ArrayList<>();
    for (LayerInfo layer : metadata.layers()) {
      if (layer.index() >= 0) {
        listed.add(layer);
      }
    }
    // A stable sort keeps the first entry of an index first.
    listed.sort((a, b) -> Integer.compare(a.index(), b.index()));
    int[] index = new int[listed.size()];
    LayerInfo[] infos = new LayerInfo[listed.size()];
    int n = 0;
    for (LayerInfo layer : listed) {
      if (n == 0 || index[n - 1] != layer.index()) {
        index[n] = layer.index();
        infos[n++] = layer;
      }
    }
    this.metadataIndex = Arrays.copyOf(index, n);
    this.metadataLayers = Arrays.copyOf(infos, n);
    this.metadataCache = new Layer[n];
  }

  /** True when the layer's name and type are both known from the rows (nothing left to record). */
  boolean complete(int layer) {
    int position = positions.of(layer);
    return position >= 0
        && position < nameId.length
        && nameId[position] >= 0
        && typeId[position] >= 0;
  }

  /** Records the name and type ids of a row of layer {@code layer}, which has a position. */
  void observe(int layer, int layerNameId, int layerTypeId) {
    int position = positions.of(layer);
    if (position >= nameId.length) {
      int n = Math.max(position + 1, 2 * nameId.length);
      int old = nameId.length;
      nameId = Arrays.copyOf(nameId, n);
      typeId = Arrays.copyOf(typeId, n);
      Arrays.fill(nameId, old, n, -1);
      Arrays.fill(typeId, old, n, -1);
      cache = Arrays.copyOf(cache, n);
    }
    if (nameId[position] < 0) {
      nameId[position] = layerNameId;
      cache[position] = null;
      all = null;
      largestRowIndex = Math.max(largestRowIndex, layer);
      LayerInfo info = metadata(layer);
      String name = dictionary.layerName(layerNameId);
      if (info != null && !info.name().equals(name)) {
        warnings.add(
            format(
                ROOT,
                "layer %d is named '%s' in the rows but '%s' in dltrace.layers; using '%s'",
                layer,
                name,
                info.name(),
                name));
      }
    }
    if (typeId[position] < 0 && layerTypeId >= 0) {
      typeId[position] = layerTypeId;
      cache[position] = null;
      all = null;
    }
  }

  /** One more than the largest layer index in the rows or the metadata. */
  int count() {
    int listed = metadataIndex.length == 0 ? -1 : metadataIndex[metadataIndex.length - 1];
    return Math.max(largestRowIndex, listed) + 1;
  }

  Layer layer(int index) {
    if (index < 0) {
      return MODEL;
    }
    int position = positions.of(index);
    if (position >= 0 && position < nameId.length && nameId[position] >= 0) {
      Layer layer = cache[position];
      if (layer == null) {
        layer = build(index, position);
        cache[position] = layer;
      }
      return layer;
    }
    int listed = Arrays.binarySearch(metadataIndex, index);
    if (listed < 0) {
      return Layer.unknown(index);
    }
    if (metadataCache[listed] == null) {
      metadataCache[listed] = build(index, -1);
    }
    return metadataCache[listed];
  }

  private @Nullable LayerInfo metadata(int index) {
    int listed = Arrays.binarySearch(metadataIndex, index);
    return listed < 0 ? null : metadataLayers[listed];
  }

  private Layer build(int index, int position) {
    LayerInfo info = metadata(index);
    String name =
        position >= 0 ? dictionary.layerName(nameId[position]) : info != null ? info.name() : null;
    if (name == null) {
      return Layer.unknown(index);
    }
    String type =
        position >= 0 && typeId[position] >= 0
            ? dictionary.layerType(typeId[position])
            : info != null ? info.type() : null;
    String activation = info != null ? info.activation() : null;
    boolean trainable = info == null || info.trainable();
    return new Layer(index, name, type, activation, trainable);
  }

  /**
   * Every layer named in the rows or the metadata, by index; indexes nothing names are left out.
   */
  List<Layer> all() {
    if (all == null) {
      List<Integer> indexes = new ArrayList<>();
      for (int position = 0; position < positions.count(); position++) {
        if (position < nameId.length && nameId[position] >= 0) {
          indexes.add(positions.index(position));
        }
      }
      for (int index : metadataIndex) {
        int position = positions.of(index);
        if (position < 0 || position >= nameId.length || nameId[position] < 0) {
          indexes.add(index);
        }
      }
      Collections.sort(indexes);
      List<Layer> layers = new ArrayList<>(indexes.size());
      for (int index : indexes) {
        layers.add(layer(index));
      }
      all = Collections.unmodifiableList(layers);
    }
    return all;
  }
}
