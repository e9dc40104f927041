"""Shared helpers of the recorder tests: the float64 numpy reference and the tolerance.

The tolerance is the one recorders/README.md documents: with x the tensor in float64 and
rms = sqrt(mean(x^2)), |mean - ref| <= 1e-6 * rms, |std - ref| <= 1e-6 * (std + 1e-3 * rms),
|l2_norm - ref| <= 1e-6 * l2_norm; min, max, zero_fraction and the counts exactly.
"""

import csv
import json
import math
import os
import sys

import numpy as np

RECORDERS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if RECORDERS not in sys.path:
    sys.path.insert(0, RECORDERS)

STATS = ("mean", "std", "min", "max", "l2_norm", "zero_fraction", "nan_count", "inf_count", "numel")
RELATIVE = 1e-6


def numpy_stats(array):
    """The v1 statistics computed independently with numpy in float64."""
    a = np.asarray(array, dtype=np.float64).reshape(-1)
    with np.errstate(invalid="ignore", over="ignore"):
        return {
            "mean": float(np.mean(a)),
            "std": float(np.std(a)),
            "min": float(np.min(a)),
            "max": float(np.max(a)),
            "l2_norm": float(np.sqrt(np.sum(a * a))),
            "zero_fraction": float(np.count_nonzero(a == 0.0)) / a.size,
            "nan_count": int(np.count_nonzero(np.isnan(a))),
            "inf_count": int(np.count_nonzero(np.isinf(a))),
            "numel": int(a.size),
        }


def assert_stats_close(actual, expected, msg=None, rederived=False):
    """``actual`` within the documented tolerance of the float64 reference ``expected``.

    ``rederived``: ``expected`` comes from the same values computed again by an independent
    float32 computation (the model's ops, not the very tensor), which differ in the last bits:
    then every float statistic is compared within 1e-5 of the tensor's rms.
    """
    if rederived:
        rms = expected["l2_norm"] / math.sqrt(expected["numel"]) if expected["numel"] else 0.0
        for key in STATS:
            a, e = actual[key], expected[key]
            where = "%s: %s is %r, expected %r" % (msg, key, a, e)
            if isinstance(e, float) and not math.isfinite(e):
                assert a == e or (math.isnan(a) and math.isnan(e)), where
            elif key in ("nan_count", "inf_count", "numel"):
                assert a == e, where
            elif key == "zero_fraction":
                assert abs(a - e) <= 0.01, where
            else:
                assert abs(a - e) <= 1e-5 * max(rms, abs(e)) + 1e-300, where
        return
    rms = expected["l2_norm"] / math.sqrt(expected["numel"]) if expected["numel"] else 0.0
    finite = math.isfinite(rms)
    for key in STATS:
        a, e = actual[key], expected[key]
        where = "%s: %s is %r, expected %r" % (msg, key, a, e)
        if isinstance(e, float) and math.isnan(e):
            assert math.isnan(a), where
        elif isinstance(e, float) and math.isinf(e):
            assert a == e, where
        elif key == "mean" and finite:
            assert abs(a - e) <= RELATIVE * rms + 1e-300, where
        elif key == "std" and finite:
            assert abs(a - e) <= RELATIVE * (e + 1e-3 * rms) + 1e-300, where
        elif key == "l2_norm":
            assert abs(a - e) <= RELATIVE * e + 1e-300, where
        else:
            assert a == e, where


def row_stats(row):
    out = {}
    for key in STATS:
        value = row[key]
        if key in ("nan_count", "inf_count", "numel"):
            out[key] = int(value)
        else:
            out[key] = float(value)
    return out


def read_csv_trace(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(str(path) + ".meta.json") as f:
        meta = json.load(f)
    return rows, meta


def read_arrow_trace(path):
    """Rows (dicts, strings for the key columns as in CSV) and metadata, read with pyarrow. An
    .arrows stream's metadata includes the keys the recorder writes at the end, on its last
    record batch (as dl-analyze reads them)."""
    import pyarrow as pa
    import pyarrow.ipc

    with pa.memory_map(str(path)) as source:
        if str(path).endswith(".arrows"):
            reader = pa.ipc.open_stream(source)
            batches, trailing = [], {}
            while True:
                try:
                    batch = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    break
                batches.append(batch.batch)
                trailing.update(batch.custom_metadata or {})
            table = pa.Table.from_batches(batches, schema=reader.schema)
        elif str(path).endswith(".arrow"):
            table = pa.ipc.open_file(source).read_all()
            trailing = {}
        else:
            raise ValueError(path)
    return _table_rows(table, trailing)


def read_parquet_trace(path):
    """As read_arrow_trace; the metadata includes the keys the recorder adds to the footer at
    the end."""
    import pyarrow.parquet as pq
    footer = pq.ParquetFile(str(path)).metadata.metadata or {}
    return _table_rows(pq.read_table(str(path)),
                       {k: v for k, v in footer.items() if not k.startswith(b"ARROW:")})


def _table_rows(table, trailing=None):
    meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
    meta.update({k.decode(): v.decode() for k, v in (trailing or {}).items()})
    columns = table.to_pydict()
    rows = []
    for i in range(table.num_rows):
        row = {}
        for name, values in columns.items():
            v = values[i]
            if name in ("epoch", "batch", "step", "layer_index"):
                v = str(v)
            elif name == "layer_type":
                v = "" if v is None else v
            row[name] = v
        rows.append(row)
    return rows, meta


def find(rows, step, layer, phase):
    hits = [r for r in rows if int(r["step"]) == step and r["layer_name"] == layer
            and r["phase"] == phase]
    if len(hits) != 1:
        raise AssertionError("expected one row for step %d %s %s, got %d"
                             % (step, layer, phase, len(hits)))
    return hits[0]
