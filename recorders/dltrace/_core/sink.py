"""The writer thread: turns each recorded step's raw reductions into rows and writes them.

The training thread collects the steps (per step: keys of the rows and one array of raw
reductions, already on the host or on its way there) and hands them over every
``flush_every`` steps, in one message, so that the writer thread wakes once per write rather
than once per step (each wake-up takes the interpreter lock from the training thread); this
thread waits for the data, computes the statistics in float64, formats and writes. The queue is bounded, so a
writer that falls behind slows the training down instead of growing without limit.
"""

import queue
import threading

import numpy as np

from .schema import MODEL
from .stats import finalize
from .writers import Block, open_writer


class StepRows:
    """The rows of one step: ``keys`` is a tuple of (layer_index, layer_name, layer_type,
    phase), one per row, reused from step to step when the structure does not change;
    ``raw`` an array [len(keys), RAW_WIDTH], or a callable returning it (called on the
    writer thread, e.g. to wait for a device-to-host copy)."""

    __slots__ = ("epoch", "batch", "step", "keys", "raw")

    def __init__(self, epoch, batch, step, keys, raw):
        self.epoch = epoch
        self.batch = batch
        self.step = step
        self.keys = keys
        self.raw = raw


class _KeyColumns:
    __slots__ = ("keys", "index", "names", "types", "phases")

    def __init__(self, keys):
        self.keys = keys  # kept alive: the cache is by id()
        self.index = np.array([k[0] for k in keys], dtype=np.int32)
        self.names = [k[1] for k in keys]
        self.types = [k[2] for k in keys]
        self.phases = [k[3] for k in keys]


class TraceSink:
    """Owns the trace writer and the thread that feeds it."""

    def __init__(self, path, metadata, flush_every, max_queued=8):
        self.path = path
        self.flush_every = flush_every
        self._writer = open_writer(path, metadata)
        self._queue = queue.Queue(maxsize=max_queued)
        self._error = None
        self._key_cache = {}
        self._batch = []  # steps not yet handed to the writer thread
        self._thread = threading.Thread(target=self._run, name="dltrace-writer", daemon=True)
        self._thread.start()

    # -------------------------------------------------------------- training thread

    def put(self, rows):
        """Queues the rows of one step (a :class:`StepRows`)."""
        self._batch.append(rows)
        if len(self._batch) >= self.flush_every:
            self._hand_over()

    def _hand_over(self):
        self._check()
        if self._batch:
            self._queue.put(("rows", self._batch))
            self._batch = []

    def flush(self, wait=False):
        """Writes every queued step to disk; with ``wait``, returns when that is done."""
        self._hand_over()
        done = threading.Event() if wait else None
        self._queue.put(("flush", done))
        if done is not None:
            done.wait()
            self._check()

    def close(self, extra_metadata=None):
        """Writes everything queued, closes the file and ends the thread; ``extra_metadata`` is
        added to the trace's metadata where the format allows it after the start (.arrows: on
        a last empty record batch; .csv: the sidecar; .parquet: the footer)."""
        if self._thread is None:
            return
        if self._error is None and self._batch:
            self._queue.put(("rows", self._batch))
        self._batch = []
        self._queue.put(("close", extra_metadata))
        self._thread.join()
        self._thread = None
        self._check()

    def _check(self):
        if self._error is not None:
            error, self._error = self._error, None
            raise RuntimeError("the trace writer failed: %s" % error) from error

    # -------------------------------------------------------------- writer thread

    def _run(self):
        writer = self._writer
        pending = []
        while True:
            kind, item = self._queue.get()
            try:
                if kind == "rows":
                    pending.extend(item)
                    if len(pending) >= self.flush_every:
                        self._write(writer, pending)
                        writer.flush()
                        pending = []
                elif kind == "flush":
                    self._write(writer, pending)
                    pending = []
                    if self._error is None:
                        writer.flush()
                elif kind == "close":
                    self._write(writer, pending)
                    pending = []
                    if self._error is None:
                        if item:
                            writer.close(item)
                        else:
                            writer.close()
                    return
            except BaseException as e:  # reported to the training thread at its next call
                self._error = e
            finally:
                if kind == "flush" and item is not None:
                    item.set()

    def _write(self, writer, pending):
        """Statistics of all pending steps at once (one vectorized pass), then one block."""
        if not pending or self._error is not None:
            return
        raws, index, names, types, phases, steps = [], [], [], [], [], []
        for rows in pending:
            raw = rows.raw() if callable(rows.raw) else rows.raw
            raws.extend(raw.tolist() if isinstance(raw, np.ndarray) else raw)
            cols = self._key_cache.get(id(rows.keys))
            if cols is None or cols.keys is not rows.keys:
                cols = _KeyColumns(rows.keys)
                if len(self._key_cache) > 256:
                    self._key_cache.clear()
                self._key_cache[id(rows.keys)] = cols
            index.append(cols.index)
            names.extend(cols.names)
            types.extend(cols.types)
            phases.extend(cols.phases)
            steps.append((rows.epoch, rows.batch, rows.step, len(rows.keys)))
        floats, valid, counts = finalize(np.array(raws, dtype=np.float64))
        sizes = [k for _, _, _, k in steps]
        block = Block(np.repeat(np.array([e for e, _, _, _ in steps], dtype=np.int32), sizes),
                      np.repeat(np.array([b for _, b, _, _ in steps], dtype=np.int32), sizes),
                      np.repeat(np.array([s for _, _, s, _ in steps], dtype=np.int64), sizes),
                      np.concatenate(index), names, types, phases, floats, valid, counts)
        writer.write(block)


def model_key(phase):
    return (-1, MODEL, None, phase)
