package io.dlanalyze.trace;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The strings of one trace, interned once: layer names, layer types and phase names that this
 * version does not know. Batches hold integer ids into it, so the hot path never touches a String.
 * Ids are stable for the life of a reader and grow append-only; a reader that meets a per-file or
 * per-row-group dictionary maps its local ids to these global ids once per page.
 */
public final class TraceDictionary {
  private final Strings layerNames = new Strings();
  private final Strings layerTypes = new Strings();
  private final Strings unknownPhases = new Strings();

  /**
   * The id of a layer name, adding it on first use. Readers check names against {@link
   * Limits#MAX_NAME_CHARS} before they get here.
   */
  public int layerNameId(String name) {
    return layerNames.idOf(name);
  }

  public String layerName(int id) {
    return layerNames.get(id);
  }

  /** How many distinct layer names the dictionary holds (ids run from 0 to this count - 1). */
  public int layerNameCount() {
    return layerNames.size();
  }

  /** How many distinct layer types the dictionary holds (ids run from 0 to this count - 1). */
  public int layerTypeCount() {
    return layerTypes.size();
  }

  /** The id of a layer type, adding it on first use; {@code null} maps to -1. */
  public int layerTypeId(@Nullable String type) {
    return type == null ? -1 : layerTypes.idOf(type);
  }

  /** The layer type of an id, or {@code null} for -1. */
  public @Nullable String layerType(int id) {
    return id < 0 ? null : layerTypes.get(id);
  }

  /**
   * The phase code of a phase name: the {@link Phase#code()} of a known phase, or a code of {@link
   * Phase#COUNT} or more for a name this version does not know.
   */
  public int phaseCode(String name) {
    var known = Phase.fromWireName(name);
    if (known.isPresent()) {
      return known.get().code();
    }
    return Phase.COUNT + unknownPhases.idOf(name);
  }

  /** The wire name of any phase code, known or not. */
  public String phaseName(int code) {
    return Phase.isKnown(code)
        ? Phase.ofCode(code).wireName()
        : unknownPhases.get(code - Phase.COUNT);
  }

  /** Phase names seen in the trace that this version does not know, in order of appearance. */
  public List<String> unknownPhaseNames() {
    return unknownPhases.all();
  }

  /**
   * One string table. Synchronized so that a reader thread may add strings while an analysis thread
   * looks up the ids of earlier batches (see TraceBatch#swapContents); calls come once per
   * dictionary page or layer, never once per row.
   */
  private static final class Strings {
    private final Map<String, Integer> ids = new HashMap<>();
    private final List<String> values = new ArrayList<>();

    synchronized int idOf(String value) {
      Integer id = ids.get(value);
      if (id == null) {
        id = values.size();
        values.add(value);
        ids.put(value, id);
      }
      return id;
    }

    synchronized String get(int id) {
      return values.get(id);
    }

    synchronized int size() {
      return values.size();
    }

    synchronized List<String> all() {
      return List.copyOf(values);
    }
  }
}
