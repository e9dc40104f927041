"""Trace writers: CSV with a sidecar JSON (no dependency), Arrow IPC / Parquet (pyarrow)."""

import json
import math
import os

COLUMNS = ("epoch", "batch", "step", "layer_index", "layer_name", "layer_type", "phase",
           "mean", "std", "min", "max", "l2_norm", "zero_fraction",
           "nan_count", "inf_count", "numel")

_FLOAT_COLUMNS = frozenset(("mean", "std", "min", "max", "l2_norm", "zero_fraction"))


def sidecar_path(path):
    """The metadata file of a CSV trace: ``<trace>.meta.json`` (run.csv -> run.csv.meta.json)."""
    return str(path) + ".meta.json"


def _write_atomically(path, data):
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _format_float(value):
    if value is None:
        return ""
    v = float(value)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def _format_row(row):
    out = []
    for column, value in zip(COLUMNS, row):
        if value is None:
            out.append("")
        elif column in _FLOAT_COLUMNS:
            out.append(_format_float(value))
        elif isinstance(value, str):
            if any(c in value for c in ',"\n\r'):
                value = '"' + value.replace('"', '""') + '"'
            out.append(value)
        else:
            out.append(str(int(value)))
    return ",".join(out)


class CsvTraceWriter:
    """Trace format v1 CSV: a header line, one row per line, metadata in ``<trace>.meta.json``.

    Rows are written straight into the target file, one ``write`` call per flush, so a run
    that dies leaves a file of whole rows that every reader accepts. The sidecar is written
    (atomically) before the first row.
    """

    def __init__(self, path, metadata):
        self.path = str(path)
        _write_atomically(sidecar_path(self.path),
                          (json.dumps(metadata, indent=2) + "\n").encode("utf-8"))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._pending = [",".join(COLUMNS)]

    def write_rows(self, rows):
        for row in rows:
            self._pending.append(_format_row(row))

    def flush(self):
        if self._fd is None or not self._pending:
            return
        data = ("\n".join(self._pending) + "\n").encode("utf-8")
        self._pending = []
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self):
        if self._fd is None:
            return
        self.flush()
        os.close(self._fd)
        self._fd = None


class IpcStreamTraceWriter:
    """Arrow IPC stream (.arrows) without pyarrow: metadata in the schema, one record batch per
    flush, written with one ``write`` call each, so a crash leaves every flushed batch readable."""

    def __init__(self, path, metadata):
        from . import arrow_ipc
        types = {"epoch": arrow_ipc.INT32, "batch": arrow_ipc.INT32, "step": arrow_ipc.INT64,
                 "layer_index": arrow_ipc.INT32, "layer_name": arrow_ipc.UTF8,
                 "layer_type": arrow_ipc.UTF8, "phase": arrow_ipc.UTF8,
                 "nan_count": arrow_ipc.INT64, "inf_count": arrow_ipc.INT64,
                 "numel": arrow_ipc.INT64}
        required = ("epoch", "batch", "step", "layer_index", "layer_name", "phase", "mean")
        columns = [(c, types.get(c, arrow_ipc.FLOAT64), c not in required) for c in COLUMNS]
        self.path = str(path)
        self._writer = arrow_ipc.ArrowStreamWriter(self.path, columns, metadata)
        self._pending = []

    def write_rows(self, rows):
        self._pending.extend(rows)

    def flush(self):
        if self._writer is None or not self._pending:
            return
        rows, self._pending = self._pending, []
        self._writer.write_batch([_typed(row) for row in rows])

    def close(self):
        if self._writer is None:
            return
        self.flush()
        self._writer.close()
        self._writer = None


def _typed(row):
    out = list(row)
    for i, column in enumerate(COLUMNS):
        v = out[i]
        if v is None:
            continue
        if column in _FLOAT_COLUMNS:
            out[i] = float(v)
        elif column not in ("layer_name", "layer_type", "phase"):
            out[i] = int(v)
    return out


class ArrowTraceWriter:
    """Arrow IPC file (.arrow) or Parquet (.parquet) through pyarrow (also .arrows if asked).

    Metadata goes into the schema (Arrow) or the footer (Parquet). One record batch (or row
    group) per flush. Only the IPC stream survives a crash: a Parquet file is unreadable
    until its footer is written on close, so record to .arrows and convert afterwards.
    """

    def __init__(self, path, metadata, layer_names, layer_types, phases):
        import pyarrow as pa  # imported here: the CSV path must work without pyarrow
        self._pa = pa
        self.path = str(path)
        dict_type = pa.dictionary(pa.int32(), pa.utf8())
        fields = []
        for column in COLUMNS:
            if column in ("epoch", "batch", "layer_index"):
                fields.append(pa.field(column, pa.int32(), nullable=False))
            elif column == "step":
                fields.append(pa.field(column, pa.int64(), nullable=False))
            elif column in ("layer_name", "phase"):
                fields.append(pa.field(column, dict_type, nullable=False))
            elif column == "layer_type":
                fields.append(pa.field(column, dict_type, nullable=True))
            elif column == "mean":
                fields.append(pa.field(column, pa.float64(), nullable=False))
            elif column in _FLOAT_COLUMNS:
                fields.append(pa.field(column, pa.float64(), nullable=True))
            else:
                fields.append(pa.field(column, pa.int64(), nullable=True))
        self._schema = pa.schema(fields, metadata={k: str(v) for k, v in metadata.items()})
        # Fixed dictionaries, identical in every batch, so IPC needs no dictionary deltas.
        self._dicts = {
            "layer_name": list(dict.fromkeys(list(layer_names) + ["model"])),
            "layer_type": list(dict.fromkeys(t for t in layer_types if t is not None)),
            "phase": list(dict.fromkeys(phases)),
        }
        self._codes = {k: {v: i for i, v in enumerate(vs)} for k, vs in self._dicts.items()}
        if self.path.endswith(".parquet"):
            import pyarrow.parquet as pq
            self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")
            self._parquet = True
        else:
            self._sink = pa.OSFile(self.path, "wb")
            if self.path.endswith(".arrows"):
                self._writer = pa.ipc.new_stream(self._sink, self._schema)
            else:
                self._writer = pa.ipc.new_file(self._sink, self._schema)
            self._parquet = False
        self._pending = []

    def write_rows(self, rows):
        self._pending.extend(rows)

    def _batch(self, rows):
        pa = self._pa
        arrays = []
        for i, column in enumerate(COLUMNS):
            field = self._schema.field(column)
            values = [row[i] for row in rows]
            if column in self._dicts:
                codes = self._codes[column]
                for v in values:
                    if v is not None and v not in codes:
                        codes[v] = len(self._dicts[column])
                        self._dicts[column].append(v)
                indices = pa.array([None if v is None else codes[v] for v in values],
                                   type=pa.int32())
                arrays.append(pa.DictionaryArray.from_arrays(
                    indices, pa.array(self._dicts[column], type=pa.utf8())))
            else:
                arrays.append(pa.array(values, type=field.type))
        return pa.record_batch(arrays, schema=self._schema)

    def flush(self):
        if self._writer is None or not self._pending:
            return
        batch = self._batch(self._pending)
        self._pending = []
        if self._parquet:
            self._writer.write_table(self._pa.Table.from_batches([batch]))
        else:
            self._writer.write_batch(batch)
            self._sink.flush()

    def close(self):
        if self._writer is None:
            return
        self.flush()
        self._writer.close()
        if not self._parquet:
            self._sink.close()
        self._writer = None


def pyarrow_available():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True
