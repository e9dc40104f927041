"""Trace writers: Arrow IPC stream and CSV (numpy only), Arrow IPC file and Parquet (pyarrow).

Every writer takes blocks of rows in columnar form (see :class:`Block`), buffers them, and
writes them to disk on :meth:`flush` with one ``write`` call (one record batch, one row group
or one run of whole CSV lines), so a process that dies leaves a file of whole rows.
"""

import json
import math
import os

import numpy as np

from . import arrow_ipc
from .schema import COLUMNS

_FLOATS = ("mean", "std", "min", "max", "l2_norm", "zero_fraction")


class Block:
    """Rows in columnar form: key columns, the six float statistics and the three counts.

    ``floats`` is a float64 array [n, 6] (mean..zero_fraction), ``valid`` a bool array [n]
    (False: std..zero_fraction are null, an empty tensor), ``counts`` an int64 array [n, 3]
    (nan_count, inf_count, numel).
    """

    __slots__ = ("epoch", "batch", "step", "layer_index", "layer_name", "layer_type", "phase",
                 "floats", "valid", "counts")

    def __init__(self, epoch, batch, step, layer_index, layer_name, layer_type, phase,
                 floats, valid, counts):
        self.epoch = epoch
        self.batch = batch
        self.step = step
        self.layer_index = layer_index
        self.layer_name = layer_name
        self.layer_type = layer_type
        self.phase = phase
        self.floats = floats
        self.valid = valid
        self.counts = counts

    def __len__(self):
        return len(self.phase)

    @staticmethod
    def concat(blocks):
        if len(blocks) == 1:
            return blocks[0]

        def cat(name):
            return np.concatenate([getattr(b, name) for b in blocks])

        def join(name):
            out = []
            for b in blocks:
                out.extend(getattr(b, name))
            return out

        return Block(cat("epoch"), cat("batch"), cat("step"), cat("layer_index"),
                     join("layer_name"), join("layer_type"), join("phase"),
                     cat("floats"), cat("valid"), cat("counts"))

    def rows(self):
        """The rows as tuples in COLUMNS order (None = null)."""
        for i in range(len(self)):
            keys = (int(self.epoch[i]), int(self.batch[i]), int(self.step[i]),
                    int(self.layer_index[i]), self.layer_name[i], self.layer_type[i],
                    self.phase[i])
            if self.valid[i]:
                stats = tuple(float(v) for v in self.floats[i]) + tuple(
                    int(v) for v in self.counts[i])
            else:
                stats = (float(self.floats[i, 0]), None, None, None, None, None, 0, 0, 0)
            yield keys + stats


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


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _format_float(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)


def _format_string(value):
    if value is None:
        return ""
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


class CsvTraceWriter:
    """Trace format v1 CSV: a header line, one row per line, metadata in ``<trace>.meta.json``.

    The sidecar is written (atomically) before the first row.
    """

    def __init__(self, path, metadata):
        self.path = str(path)
        self._metadata = dict(metadata)
        _write_atomically(sidecar_path(self.path),
                          (json.dumps(metadata, indent=2) + "\n").encode("utf-8"))
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._pending = [",".join(COLUMNS)]

    def write(self, block):
        floats, counts = block.floats.tolist(), block.counts.tolist()
        for i in range(len(block)):
            keys = "%d,%d,%d,%d,%s,%s,%s" % (
                block.epoch[i], block.batch[i], block.step[i], block.layer_index[i],
                _format_string(block.layer_name[i]), _format_string(block.layer_type[i]),
                _format_string(block.phase[i]))
            if block.valid[i]:
                stats = ",".join(_format_float(v) for v in floats[i]) + ",%d,%d,%d" % tuple(counts[i])
            else:
                stats = _format_float(floats[i][0]) + ",,,,,,0,0,0"
            self._pending.append(keys + "," + stats)

    def flush(self):
        if self._fd is None or not self._pending:
            return
        data = ("\n".join(self._pending) + "\n").encode("utf-8")
        self._pending = []
        _write_all(self._fd, data)

    def close(self, extra_metadata=None):
        if self._fd is None:
            return
        self.flush()
        os.close(self._fd)
        self._fd = None
        if extra_metadata:
            self._metadata.update(extra_metadata)
            _write_atomically(sidecar_path(self.path),
                              (json.dumps(self._metadata, indent=2) + "\n").encode("utf-8"))


_REQUIRED = ("epoch", "batch", "step", "layer_index", "layer_name", "phase", "mean")


class IpcStreamTraceWriter:
    """Arrow IPC stream (.arrows) without pyarrow: metadata in the schema, one record batch per
    flush, so a crash leaves every flushed batch readable."""

    def __init__(self, path, metadata):
        types = {"epoch": arrow_ipc.INT32, "batch": arrow_ipc.INT32, "step": arrow_ipc.INT64,
                 "layer_index": arrow_ipc.INT32, "layer_name": arrow_ipc.UTF8,
                 "layer_type": arrow_ipc.UTF8, "phase": arrow_ipc.UTF8,
                 "nan_count": arrow_ipc.INT64, "inf_count": arrow_ipc.INT64,
                 "numel": arrow_ipc.INT64}
        columns = [(c, types.get(c, arrow_ipc.FLOAT64), c not in _REQUIRED) for c in COLUMNS]
        self.path = str(path)
        self._writer = arrow_ipc.ArrowStreamWriter(self.path, columns, metadata)
        self._pending = []

    def write(self, block):
        self._pending.append(block)

    def flush(self):
        if self._writer is None or not self._pending:
            return
        block = Block.concat(self._pending)
        self._pending = []
        valid = None if block.valid.all() else block.valid
        types = block.layer_type
        type_valid = None
        if any(t is None for t in types):
            type_valid = np.array([t is not None for t in types])
        columns = [(block.epoch, None), (block.batch, None), (block.step, None),
                   (block.layer_index, None), (block.layer_name, None), (types, type_valid),
                   (block.phase, None), (block.floats[:, 0], None)]
        columns += [(block.floats[:, i], valid) for i in range(1, 6)]
        columns += [(block.counts[:, i], None) for i in range(3)]
        self._writer.write_batch(columns, len(block))

    def close(self, extra_metadata=None):
        if self._writer is None:
            return
        self.flush()
        self._writer.close(extra_metadata)
        self._writer = None


class ArrowTraceWriter:
    """Arrow IPC file (.arrow) or Parquet (.parquet) through pyarrow.

    Metadata goes into the schema (Arrow) or the footer (Parquet). One record batch (or row
    group) per flush. A Parquet file is unreadable until its footer is written on close, so
    record to .arrows and convert afterwards when a run may crash.
    """

    def __init__(self, path, metadata):
        import pyarrow as pa  # imported here: the other formats work without pyarrow
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
            elif column in _FLOATS:
                fields.append(pa.field(column, pa.float64(), nullable=True))
            else:
                fields.append(pa.field(column, pa.int64(), nullable=True))
        self._schema = pa.schema(fields, metadata={k: str(v) for k, v in metadata.items()})
        if self.path.endswith(".parquet"):
            import pyarrow.parquet as pq
            self._writer = pq.ParquetWriter(self.path, self._schema, compression="zstd")
            self._parquet = True
        else:
            self._sink = pa.OSFile(self.path, "wb")
            self._writer = pa.ipc.new_file(self._sink, self._schema)
            self._parquet = False
        self._pending = []

    def write(self, block):
        self._pending.append(block)

    def _batch(self, block):
        pa = self._pa
        mask = None if block.valid.all() else ~block.valid

        def strings(values):
            return pa.array(values, type=pa.utf8()).dictionary_encode()

        arrays = [pa.array(block.epoch, pa.int32()), pa.array(block.batch, pa.int32()),
                  pa.array(block.step, pa.int64()), pa.array(block.layer_index, pa.int32()),
                  strings(block.layer_name), strings(block.layer_type), strings(block.phase),
                  pa.array(block.floats[:, 0], pa.float64())]
        arrays += [pa.array(block.floats[:, i], pa.float64(), mask=mask) for i in range(1, 6)]
        arrays += [pa.array(block.counts[:, i], pa.int64()) for i in range(3)]
        return pa.record_batch(arrays, schema=self._schema)

    def flush(self):
        if self._writer is None or not self._pending:
            return
        batch = self._batch(Block.concat(self._pending))
        self._pending = []
        if self._parquet:
            self._writer.write_table(self._pa.Table.from_batches([batch]))
        else:
            self._writer.write_batch(batch)
            self._sink.flush()

    def close(self, extra_metadata=None):
        if self._writer is None:
            return
        self.flush()
        if extra_metadata and self._parquet and hasattr(self._writer, "add_key_value_metadata"):
            self._writer.add_key_value_metadata({k: str(v) for k, v in extra_metadata.items()})
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


EXTENSIONS = (".arrows", ".csv", ".arrow", ".parquet")


def resolve_path(path, warn):
    """The path the trace goes to: ``path``, or for .arrow/.parquet without pyarrow an .arrows
    stream beside it (``warn`` is called with the message)."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1]
    if ext not in EXTENSIONS:
        raise ValueError("cannot tell the trace format from %r: use .arrows, .arrow, .parquet"
                         " or .csv" % path)
    if ext in (".arrow", ".parquet") and not pyarrow_available():
        stream_path = os.path.splitext(path)[0] + ".arrows"
        warn("pyarrow is not installed: writing an Arrow IPC stream to %s instead of %s"
             " (convert it with: dl-analyze convert %s %s)" % (stream_path, path, stream_path,
                                                               path))
        return stream_path
    return path


def open_writer(path, metadata):
    if path.endswith(".csv"):
        return CsvTraceWriter(path, metadata)
    if path.endswith(".arrows"):
        return IpcStreamTraceWriter(path, metadata)
    return ArrowTraceWriter(path, metadata)
