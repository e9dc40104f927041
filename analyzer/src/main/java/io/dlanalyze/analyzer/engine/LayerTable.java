package io.dlanalyze.analyzer.engine;

import static java.lang.String.format;
import static java.util.Locale.ROOT;

import io.dlanalyze.analyzer.Layer;
import io.dlanalyze.trace.LayerInfo;
import io.dlanalyze.trace.TraceDictionary;
import io.dlanalyze.trace.TraceMetadata;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The layers of a trace, merged from its rows (the first name and type seen for each index) and its
 * {@code dltrace.layers} metadata (activation, trainable flag, and names/types the rows lack).
 */
final class LayerTable {
  private static final Layer MODEL = new Layer(-1, "model", null, null, true);

  private final TraceDictionary dictionary;
  private final LayerInfo[] metadataLayers;
  private final List<String> warnings;
  private int[] nameId = new int[0];
  private int[] typeId = new int[0];
  private Layer[] cache = new Layer[0];
  private int dataLayers;

  LayerTable(TraceMetadata metadata, TraceDictionary dictionary, List<String> warnings) {
    this.dictionary = dictionary;
    this.warnings = warnings;
    int max = -1;
    for (LayerInfo layer : metadata.layers()) {
      max = Math.max(max, layer.index());
    }
    this.metadataLayers = new LayerInfo[max + 1];
    for (LayerInfo layer : metadata.layers()) {
      if (layer.index() >= 0 && metadataLayers[layer.index()] == null) {
        metadataLayers[layer.index()] = layer;
      }
    }
    ensure(metadataLayers.length);
  }

  private void ensure(int layers) {
    if (layers <= nameId.length) {
      return;
    }
    int n = Math.max(layers, nameId.length * 2);
    int old = nameId.length;
    nameId = Arrays.copyOf(nameId, n);
    typeId = Arrays.copyOf(typeId, n);
    Arrays.fill(nameId, old, n, -1);
    Arrays.fill(typeId, old, n, -1);
    cache = Arrays.copyOf(cache, n);
  }

  /** True when the layer's name and type are both known from the rows (nothing left to record). */
  boolean complete(int layer) {
    return layer < dataLayers && nameId[layer] >= 0 && typeId[layer] >= 0;
  }

  /** Records the name and type ids of a row of layer {@code layer} (>= 0). */
  void observe(int layer, int layerNameId, int layerTypeId) {
    if (layer >= dataLayers) {
      ensure(layer + 1);
      dataLayers = layer + 1;
    }
    if (nameId[layer] < 0) {
      nameId[layer] = layerNameId;
      cache[layer] = null;
      LayerInfo info = layer < metadataLayers.length ? metadataLayers[layer] : null;
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
    if (typeId[layer] < 0 && layerTypeId >= 0) {
      typeId[layer] = layerTypeId;
      cache[layer] = null;
    }
  }

  /** One more than the largest layer index in the rows or the metadata. */
  int count() {
    return Math.max(dataLayers, metadataLayers.length);
  }

  Layer layer(int index) {
    if (index < 0) {
      return MODEL;
    }
    if (index >= nameId.length) {
      return Layer.unknown(index);
    }
    Layer layer = cache[index];
    if (layer == null) {
      layer = build(index);
      cache[index] = layer;
    }
    return layer;
  }

  private Layer build(int index) {
    LayerInfo info = index < metadataLayers.length ? metadataLayers[index] : null;
    String name =
        nameId[index] >= 0
            ? dictionary.layerName(nameId[index])
            : info != null ? info.name() : null;
    if (name == null) {
      return Layer.unknown(index);
    }
    String type =
        typeId[index] >= 0
            ? dictionary.layerType(typeId[index])
            : info != null ? info.type() : null;
    String activation = info != null ? info.activation() : null;
    boolean trainable = info == null || info.trainable();
    return new Layer(index, name, type, activation, trainable);
  }

  /** Every layer, by index. */
  List<Layer> all() {
    List<Layer> layers = new ArrayList<>();
    for (int i = 0; i < count(); i++) {
      layers.add(layer(i));
    }
    return layers;
  }
}
