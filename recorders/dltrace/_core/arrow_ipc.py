"""A pyarrow-free Arrow IPC stream writer for trace rows (needs only numpy).

Writes the Arrow columnar IPC streaming format (format version V5, little endian): a Schema
message carrying the trace metadata as custom_metadata, one RecordBatch message per flush,
and the end-of-stream marker on close. String columns are plain (non-dictionary) utf8, which
every Arrow reader accepts. Only what a trace needs is implemented: int32, int64, float64
and utf8 columns, with validity bitmaps for nulls. Column buffers are built with numpy.

The flatbuffers of the metadata are laid out front to back: a table is written after its
vtable and before the objects it points to, so every uoffset points forward as the format
requires.
"""

import os
import struct

import numpy as np

_CONTINUATION = b"\xff\xff\xff\xff"
_METADATA_V5 = 4
_HEADER_SCHEMA = 1
_HEADER_RECORD_BATCH = 3
_TYPE_INT = 2
_TYPE_FLOAT = 3
_TYPE_UTF8 = 5
_PRECISION_DOUBLE = 2


# ----------------------------------------------------------------------------- flatbuffers

class _Table:
    """A flatbuffers table: slots of scalars (fmt, value) or references to other objects."""

    def __init__(self, slots):
        self.slots = slots  # list indexed by field id: None | ("scalar", fmt, value) | ("ref", obj)


class _String:
    def __init__(self, text):
        self.data = text.encode("utf-8")


class _RefVector:
    def __init__(self, items):
        self.items = items


class _StructVector:
    def __init__(self, packed_items, item_size):
        self.data = b"".join(packed_items)
        self.count = len(packed_items)
        self.item_size = item_size


def _scalar(fmt, value):
    return ("scalar", fmt, value)


def _ref(obj):
    return ("ref", obj)


class _Builder:
    def __init__(self):
        self.buf = bytearray()
        self.patches = []  # (position of a uoffset, object it must point to)
        self.placed = {}   # id(object) -> position

    def _align(self, n, remainder=0):
        while len(self.buf) % n != remainder:
            self.buf.append(0)

    def finish(self, root):
        self.buf += b"\0\0\0\0"          # root uoffset, patched below
        self.patches.append((0, root))
        queue = [root]
        while queue:
            obj = queue.pop(0)
            if id(obj) in self.placed:
                continue
            queue.extend(self._place(obj))
        for pos, obj in self.patches:
            struct.pack_into("<I", self.buf, pos, self.placed[id(obj)] - pos)
        self._align(8)
        return bytes(self.buf)

    def _place(self, obj):
        children = []
        if isinstance(obj, _Table):
            sizes = {"B": 1, "?": 1, "h": 2, "i": 4, "q": 8}
            # vtable: [vtable size][table size][one uint16 per slot]
            layout = []
            offset = 4  # after the soffset to the vtable
            for slot in obj.slots:
                if slot is None:
                    layout.append(None)
                    continue
                size = sizes[slot[1]] if slot[0] == "scalar" else 4
                while offset % size:
                    offset += 1
                layout.append(offset)
                offset += size
            table_size = offset
            self._align(2)
            vtable_pos = len(self.buf)
            self.buf += struct.pack("<HH", 4 + 2 * len(obj.slots), table_size)
            for field_offset in layout:
                self.buf += struct.pack("<H", field_offset or 0)
            self._align(8)
            table_pos = len(self.buf)
            self.buf += bytes(table_size)
            struct.pack_into("<i", self.buf, table_pos, table_pos - vtable_pos)
            for slot, field_offset in zip(obj.slots, layout):
                if slot is None:
                    continue
                if slot[0] == "scalar":
                    struct.pack_into("<" + slot[1], self.buf, table_pos + field_offset, slot[2])
                else:
                    self.patches.append((table_pos + field_offset, slot[1]))
                    children.append(slot[1])
        elif isinstance(obj, _String):
            self._align(4)
            self.placed[id(obj)] = len(self.buf)
            self.buf += struct.pack("<I", len(obj.data)) + obj.data + b"\0"
            return children
        elif isinstance(obj, _RefVector):
            self._align(4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(obj.items))
            for i, item in enumerate(obj.items):
                self.patches.append((pos + 4 + 4 * i, item))
                self.buf += b"\0\0\0\0"
                children.append(item)
            self.placed[id(obj)] = pos
            return children
        elif isinstance(obj, _StructVector):
            self._align(8, 4)  # elements (with int64 members) start 8-aligned
            self.placed[id(obj)] = len(self.buf)
            self.buf += struct.pack("<I", obj.count) + obj.data
            return children
        else:
            raise TypeError(type(obj))
        self.placed[id(obj)] = table_pos
        return children


def _message(header_type, header, body_length, custom_metadata=None):
    slots = [_scalar("h", _METADATA_V5), _scalar("B", header_type), _ref(header),
             _scalar("q", body_length)]
    if custom_metadata:
        # Message.custom_metadata: [KeyValue], read back as trace metadata (docs/trace-format.md)
        slots.append(_ref(_RefVector([_Table([_ref(_String(str(k))), _ref(_String(str(v)))])
                                      for k, v in custom_metadata.items()])))
    return _Table(slots)


def _frame(message):
    metadata = _Builder().finish(message)
    # 8-byte prefix + metadata must end 8-aligned; finish() already padded to 8.
    return _CONTINUATION + struct.pack("<i", len(metadata)) + metadata


# ----------------------------------------------------------------------------- columns

INT32, INT64, FLOAT64, UTF8 = "int32", "int64", "float64", "utf8"


def _field(name, kind, nullable):
    if kind == INT32:
        type_type, type_table = _TYPE_INT, _Table([_scalar("i", 32), _scalar("?", True)])
    elif kind == INT64:
        type_type, type_table = _TYPE_INT, _Table([_scalar("i", 64), _scalar("?", True)])
    elif kind == FLOAT64:
        type_type, type_table = _TYPE_FLOAT, _Table([_scalar("h", _PRECISION_DOUBLE)])
    elif kind == UTF8:
        type_type, type_table = _TYPE_UTF8, _Table([])
    else:
        raise ValueError(kind)
    # Field: name, nullable, type_type, type, dictionary, children
    return _Table([_ref(_String(name)), _scalar("?", nullable), _scalar("B", type_type),
                   _ref(type_table), None, _ref(_RefVector([]))])


def _pad8(data):
    return data + bytes((-len(data)) % 8)


class ArrowStreamWriter:
    """Writes record batches of rows to an Arrow IPC stream file.

    ``columns`` is a list of (name, kind, nullable) with kind one of INT32, INT64, FLOAT64,
    UTF8; ``metadata`` a dict of str -> str stored as the schema's custom metadata. Each
    ``write_batch`` call appends one complete message with a single ``write``, so a process
    that dies leaves a stream of whole batches.
    """

    def __init__(self, path, columns, metadata):
        self.columns = list(columns)
        fields = [_field(name, kind, nullable) for name, kind, nullable in self.columns]
        pairs = [_Table([_ref(_String(str(k))), _ref(_String(str(v)))]) for k, v in metadata.items()]
        # Schema: endianness, fields, custom_metadata
        schema = _Table([_scalar("h", 0), _ref(_RefVector(fields)), _ref(_RefVector(pairs))])
        self._fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self._write(_frame(_message(_HEADER_SCHEMA, schema, 0)))

    def _write(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def write_batch(self, columns, n, custom_metadata=None):
        """Appends one record batch of ``n`` rows, written with one ``write`` call.

        ``columns`` holds one entry per column, in the order given at construction: a pair
        ``(values, valid)`` where ``values`` is a numpy array (INT32, INT64, FLOAT64) or a list
        of str (UTF8), and ``valid`` is None (no nulls) or a numpy bool array.
        """
        if n == 0 and not custom_metadata:
            return
        nodes, buffers, body = [], [], bytearray()

        def add_buffer(data):
            buffers.append(struct.pack("<qq", len(body), len(data)))
            body.extend(_pad8(data))

        for (name, kind, nullable), (values, valid) in zip(self.columns, columns):
            nulls = 0 if valid is None else int(n - np.count_nonzero(valid))
            if nulls and not nullable:
                raise ValueError("column %s is not nullable but got a null" % name)
            nodes.append(struct.pack("<qq", n, nulls))
            add_buffer(np.packbits(valid, bitorder="little").tobytes() if nulls else b"")
            if kind == UTF8:
                encoded = [b"" if v is None else v.encode("utf-8") for v in values]
                offsets = np.zeros(n + 1, dtype="<i4")
                np.cumsum([len(e) for e in encoded], out=offsets[1:])
                add_buffer(offsets.tobytes())
                add_buffer(b"".join(encoded))
            else:
                dtype = {INT32: "<i4", INT64: "<i8", FLOAT64: "<f8"}[kind]
                array = np.asarray(values, dtype=dtype)
                if nulls:
                    array = np.where(valid, array, 0).astype(dtype)
                add_buffer(array.tobytes())
        # RecordBatch: length, nodes, buffers
        batch = _Table([_scalar("q", n), _ref(_StructVector(nodes, 16)),
                        _ref(_StructVector(buffers, 16))])
        self._write(_frame(_message(_HEADER_RECORD_BATCH, batch, len(body), custom_metadata))
                    + bytes(body))

    def close(self, custom_metadata=None):
        """Ends the stream; ``custom_metadata`` (a dict) goes on a last, empty record batch."""
        if self._fd is None:
            return
        if custom_metadata:
            empty = [([] if kind == UTF8 else np.zeros(0), None) for _, kind, _ in self.columns]
            self.write_batch(empty, 0, custom_metadata)
        self._write(_CONTINUATION + b"\0\0\0\0")
        os.close(self._fd)
        self._fd = None
