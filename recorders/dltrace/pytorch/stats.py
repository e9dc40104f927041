"""Per-tensor reductions on the tensor's own device and dtype, for trace format v1.

:func:`reduce` reduces one tensor to the RAW_WIDTH numbers of ``dltrace._core.stats``.

On the CPU, which runs synchronously (reading a result costs nothing), it reads the sum at
once and lets it decide the rest. A finite tensor takes five passes and writes one buffer: its
sum; the Euclidean norms of rows of NORM_ROW elements (the sum of squares, no temporary);
min; max; its signs into a reused scratch buffer, whose dot product with itself is the count
of non-zeros. The sum of squares stands for the centered one (shift 0) when the mean is at most
RAW_MOMENT_RATIO standard deviations; otherwise the deviations from the mean are written into
the buffer and their norms taken too (the two-pass variance). NaN and Inf are counted only
when the sum is not finite.

A sparse tensor (COO, CSR, CSC, BSR, BSC) is reduced from the values it stores, the elements
it does not store counting as zeros (:func:`reduce_parts`): its statistics are those of its dense
equivalent, without a dense copy.

On another device nothing is read back until the step's end: the two-pass variance always,
and the NaN and Inf counts always.

Sums of up to SMALL elements accumulate in float64; larger ones use torch's float32 cascade
summation per row of the tensor (its first dimension) and add the rows in float64.

Tensors of up to BATCH_MAX elements are not reduced one by one (a dozen torch calls each,
which cost more than the work on a small tensor) but all those of a step together, by
:func:`reduce_many`: one float64 buffer, reduced per tensor with numpy's ``reduceat`` on the
CPU, or with segment sums and ``torch._foreach_max`` on another device.

Why these ops (torch 2.13 CPU, one thread, AVX-512, a 200,704-element float32 tensor in
cache): ``torch.var_mean`` (one Welford pass) takes about 1 ms, ``torch.count_nonzero`` about
1 ms and ``torch.linalg.vector_norm(x, 0)`` 1.7 ms, against 30 us for sign and dot and about
130 us for the whole of :func:`reduce`; ``torch.dot(x, x)`` and a norm over the whole tensor
are as fast as a sum but accumulate sequentially per vector lane (relative errors up to 7e-4
on 4M elements), hence the norms of short rows.
"""

import math

import numpy as np
import torch

from .._core.stats import RAW_WIDTH, as_tuple, finalize, scalar_raw

_F64 = torch.float64
_scratch = {}


def _buffer(like, n):
    key = (like.dtype, like.device)
    buf = _scratch.get(key)
    if buf is None or buf.numel() < n:
        buf = torch.empty(max(n, 1024), dtype=like.dtype, device=like.device)
        _scratch[key] = buf
    return buf[:n]


# Up to this many elements sums accumulate in float64 (the recorder reduces tensors this small
# together, in float64, in reduce_many; this path sees them only from tensor_stats).
SMALL = 4096


def _row_sum(x, rows):
    """A float64 sum: accumulated in float64 for a small tensor; for a large one, summed in
    its own dtype per row (torch's vectorized cascade summation) and the rows in float64."""
    n = x.numel()
    if n <= SMALL:
        return x.sum(dtype=_F64)
    if rows > 1:
        return x.view(rows, -1).sum(1).sum(dtype=_F64)
    return x.sum().to(_F64)


# Sums of squares take the Euclidean norm of rows of this many elements (the last row may be
# shorter) in the tensor's dtype and add the rows' squares in float64. One pass, no temporary;
# torch's norm kernel accumulates each row sequentially in its vector lanes, so its error grows
# with the row: measured on 4M-element float32 tensors (normal, ReLU of normal, uniform,
# log-normal, mean 1 and std 0.1) at most 5e-8 of the sum for rows of 256, 7.7e-8 for 512,
# 1.6e-7 for 1,024, 1.1e-5 for 65,536 (squares summed by torch.sum's cascade: 3e-8).
NORM_ROW = 512


def _sum_squares(x, n, buf):
    """The sum of squares of the flat tensor ``x`` (``n`` elements) as a Python float: up to
    SMALL elements, the squares (into ``buf``) summed in float64; beyond, by rows of norms."""
    if n <= SMALL:
        return torch.mul(x, x, out=buf).sum(dtype=_F64).item()
    m = n // NORM_ROW
    main = x.view(m, NORM_ROW) if m * NORM_ROW == n else x[:m * NORM_ROW].view(m, NORM_ROW)
    rows = torch.linalg.vector_norm(main, dim=1)
    total = torch.linalg.vector_norm(rows, dtype=_F64).item() ** 2
    if m * NORM_ROW < n:
        total += torch.linalg.vector_norm(x[m * NORM_ROW:], dtype=_F64).item() ** 2
    return total


class Reduced:
    """The raw reductions of one tensor: ``n`` (a Python int) and either ``host``, the
    RAW_WIDTH numbers already on the host (a list: the CPU path, which synchronizes anyway),
    or, still on the tensor's device, ``wide`` = float64 [sum, centered sum of squares, zero
    count], ``narrow`` = [shift, min, max] in the tensor's dtype, ``counts`` = float64 [NaN
    count, Inf count] or None (none)."""

    __slots__ = ("n", "wide", "narrow", "counts", "host")

    def __init__(self, n, wide=None, narrow=None, counts=None, host=None):
        self.n = n
        self.wide = wide
        self.narrow = narrow
        self.counts = counts
        self.host = host

    def raw(self):
        """The RAW_WIDTH numbers on the host (one synchronization: for tests and one-offs)."""
        if self.n == 0:
            return [0.0] * RAW_WIDTH
        if self.host is not None:
            return list(self.host)
        s, s2, zeros = self.wide.tolist()
        c, lo, hi = self.narrow.tolist()
        nans, infs = self.counts.tolist() if self.counts is not None else (0.0, 0.0)
        return [float(self.n), s, c, s2, lo, hi, self.n - zeros, nans, infs]


# The raw second moment sum(x^2) stands for the centered one (shift 0) when the mean is at
# most this many times the standard deviation: then the variance sum(x^2)/n - mean^2 loses
# at most a factor 1 + RAW_MOMENT_RATIO^2 of the float32 sum's relative precision (about
# 1e-7: within the documented tolerance); beyond it the deviations are summed (two-pass).
RAW_MOMENT_RATIO = 1.0


def reduce(tensor):
    """Raw reductions of ``tensor`` (a :class:`Reduced`), computed on its device. A sparse
    tensor (any layout but ``torch.strided``) is reduced as its dense equivalent, from its
    stored values: see :func:`reduce_parts`."""
    t = tensor.detach()
    if t.layout != torch.strided:
        return reduce_parts([t])
    return _reduce_stored(_as_float(t), 0)


def _real(t):
    """A complex tensor as its real and imaginary parts (``torch.view_as_real``, a view: two
    real numbers per element, so its L2 norm is the complex norm); any other tensor as it is.
    Casting to a real dtype instead would drop the imaginary parts."""
    if t.is_complex():
        return torch.view_as_real(t.resolve_conj())
    return t


def _as_float(t):
    """``t`` in the dtype its statistics are computed in (a complex tensor: its parts)."""
    t = _real(t)
    if not t.is_floating_point():
        return t.to(_F64)
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.float()
    return t


def stored_values(tensor):
    """The values a tensor stores and the number of its elements it does not store (the
    zeros of a sparse tensor): ``(values, zeros)``. A strided tensor stores all of its
    elements. The values of a sparse COO tensor with duplicate indices are summed per index
    first (as its dense equivalent has them), so that they are at most as many as its
    elements; CSR, CSC, BSR and BSC tensors are converted to COO for that; any other layout is
    made dense (the size of the tensor itself). All on the tensor's device."""
    t = tensor.detach()
    if t.layout == torch.strided:
        return t, 0
    if t.layout != torch.sparse_coo:
        try:
            t = t.to_sparse_coo()
        except (RuntimeError, NotImplementedError):
            return t.to_dense(), 0
    if t.is_coalesced() or t.sparse_dim() == 0:
        values = t.coalesce().values()
    else:
        values = _summed_values(t)
    return values, t.numel() - values.numel()


def _summed_values(t):
    """The values of the uncoalesced COO tensor ``t`` with those of equal indices summed, in
    the order they are stored, with ``index_add_``: the sums ``to_dense()`` makes (coalesce()
    may add them in another order, which can differ in the last bit)."""
    indices = t._indices()
    linear = indices[0]
    for d in range(1, t.sparse_dim()):
        linear = linear * t.shape[d] + indices[d]
    unique, inverse = torch.unique(linear, return_inverse=True)
    values = t._values()
    out = values.new_zeros((unique.numel(),) + tuple(values.shape[1:]))
    return out.index_add_(0, inverse, values)


def reduce_parts(tensors):
    """Raw reductions (a :class:`Reduced`) of the tensors flattened and concatenated, any of
    them sparse, as if each were dense: the stored values are reduced, and the elements not
    stored count as zeros (in the mean, the sum of squares, min, max and the zero count).
    Nothing larger than the tensors' own stored values is allocated."""
    parts = [stored_values(t) for t in tensors]
    # an element a complex tensor does not store is two zeros, its real and imaginary parts
    zeros = sum(z * (2 if v.is_complex() else 1) for v, z in parts)
    if len(parts) == 1:
        values = parts[0][0]
    else:
        values = torch.cat([_real(v).reshape(-1) for v, _ in parts])
    return _reduce_stored(_as_float(values), zeros)


def _reduce_stored(t, zeros):
    """:func:`reduce` of a float strided tensor ``t`` and ``zeros`` more elements that are 0."""
    n = t.numel()
    if n == 0:
        if zeros == 0:
            return Reduced(0)
        return Reduced(zeros, host=[float(zeros)] + [0.0] * (RAW_WIDTH - 1))
    rows = t.shape[0] if t.dim() >= 2 else 1
    x = t.reshape(-1)
    if x.device.type == "cpu":
        return Reduced(n + zeros, host=_reduce_cpu(x, n, rows, zeros))
    return _reduce_device(x, n, rows, zeros)


def _reduce_cpu(x, n, rows, zeros=0):
    """The RAW_WIDTH numbers (a list) of the flat CPU tensor ``x`` (``n`` elements) followed
    by ``zeros`` zeros that it does not hold, ``rows`` rows for its sum; the module docstring
    lists the passes. The non-zero count is the dot product of the signs with themselves:
    exact, since the products are 0 or 1, summed in float32 below 2^24 elements."""
    total = _row_sum(x, rows).item()
    size = n + zeros
    if not math.isfinite(total):
        return _nonfinite_cpu(x, n, total, zeros)
    buf = _buffer(x, n)
    squares = _sum_squares(x, n, buf)
    mean = total / size
    c, s2 = 0.0, squares
    if not math.isfinite(squares) or mean * mean > RAW_MOMENT_RATIO ** 2 * max(
            squares / size - mean * mean, 0.0):
        shift = torch.tensor(mean, dtype=x.dtype)
        c = shift.item()  # the mean rounded to x's dtype, subtracted exactly
        s2 = _sum_squares(torch.sub(x, shift, out=buf), n, buf) + zeros * c * c
    lo = x.amin().item()  # two passes on cached data beat aminmax's one
    hi = x.amax().item()
    if zeros:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    torch.sign(x, out=buf)
    if n < 2 ** 24:
        nonzero = torch.dot(buf, buf).item()
    elif n // rows < 2 ** 24:
        nonzero = _row_sum(buf.abs_(), rows).item()
    else:
        nonzero = float(torch.count_nonzero(x))
    return [float(size), total, c, s2, lo, hi, nonzero, 0.0, 0.0]


def _nonfinite_cpu(x, n, total, zeros=0):
    """A tensor whose sum is NaN or +-Inf: NaN/Inf counts, min, max and the non-zero count;
    the sum of squares does not matter (finalize reports std NaN and l2_norm NaN or Inf)."""
    lo, hi = torch.aminmax(x)
    lo, hi = lo.item(), hi.item()
    if zeros:  # a NaN stays (finalize reports NaN for it anyway)
        lo, hi = (0.0 if lo > 0.0 else lo), (0.0 if hi < 0.0 else hi)
    nonzero = float(torch.count_nonzero(x))
    nans = float(torch.isnan(x).sum())
    infs = float(torch.isinf(x).sum())
    # The shift is the sum's NaN or +-Inf over n, as on the two-pass path: a sum that
    # overflowed without a NaN or Inf element gives std NaN, not 0.
    size = n + zeros
    return [float(size), total, total / size, 0.0, lo, hi, nonzero, nans, infs]


def _reduce_device(x, n, rows, zeros=0):
    """The raw reductions of a flat tensor on an accelerator (followed by ``zeros`` zeros it
    does not hold), left on it (no synchronization): the two-pass variance, and NaN/Inf
    counts always."""
    size = n + zeros
    s = _row_sum(x, rows)
    c = (s / size).to(x.dtype)
    buf = _buffer(x, n)
    s2 = _row_sum(torch.sub(x, c, out=buf).square_(), rows)
    if zeros:
        s2 = s2 + zeros * c.to(_F64).square()
    zero_count = size - torch.count_nonzero(x).to(_F64)
    counts = torch.stack([torch.isnan(x).sum(), torch.isinf(x).sum()]).to(_F64)
    lo, hi = torch.aminmax(x)
    if zeros:
        lo, hi = lo.clamp(max=0.0), hi.clamp(min=0.0)
    narrow = torch.stack([c, lo, hi])
    return Reduced(size, torch.stack([s, s2, zero_count]), narrow, counts)


# Tensors of up to this many elements are reduced together at the end of the step.
BATCH_MAX = 4096


class Small:
    """A tensor of up to BATCH_MAX elements kept, flat and in a float dtype, for
    :func:`reduce_many` at the end of the step (``copy``: a copy of it, for a tensor that the
    step may still change in place, such as a layer output that an in-place ReLU overwrites)."""

    __slots__ = ("n", "flat")

    def __init__(self, flat):
        self.n = flat.numel()
        self.flat = flat


def _float_flat(tensor):
    """The tensor flat in the dtype its statistics are computed in, and whether that is a new
    tensor (a conversion) rather than a view of it."""
    t = tensor.detach()
    if t.is_complex():
        return _float_flat(_real(t))
    if not t.is_floating_point():
        return t.reshape(-1).to(_F64), True
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.reshape(-1).float(), True
    return t.reshape(-1), False


def keep(tensor, copy):
    """A :class:`Small` for a small non-empty tensor, else its :class:`Reduced` now (a sparse
    tensor: always its :class:`Reduced`, see :func:`reduce_parts`)."""
    n = tensor.numel()
    if n == 0 or n > BATCH_MAX or tensor.layout != torch.strided:
        return reduce(tensor)
    flat, new = _float_flat(tensor)
    if copy and not new:
        flat = flat.clone()
    return Small(flat)


def keep_flat(tensors):
    """:func:`keep` of the tensors flattened and concatenated (a layer's weights or their
    gradients); sparse ones among them are reduced as dense, by :func:`reduce_parts`."""
    if any(t.layout != torch.strided for t in tensors):
        return reduce_parts(tensors)
    if len(tensors) == 1:
        return keep(tensors[0].detach(), False)
    # complex tensors as their parts before the concatenation, which would otherwise make a
    # real bias complex (zero imaginary parts counted as zeros)
    return keep(torch.cat([_real(t.detach()).reshape(-1) for t in tensors]), False)


_SEGMENTS = {}


def _segments(device, sizes):
    key = (device, sizes)
    found = _SEGMENTS.get(key)
    if found is None:
        if len(_SEGMENTS) > 64:
            _SEGMENTS.clear()
        found = _SEGMENTS[key] = (torch.tensor(sizes, dtype=torch.int64, device=device),
                                  torch.tensor(sizes, dtype=_F64, device=device), sum(sizes))
    return found


_HOST_SEGMENTS = {}


def _host_segments(sizes):
    found = _HOST_SEGMENTS.get(sizes)
    if found is None:
        if len(_HOST_SEGMENTS) > 64:
            _HOST_SEGMENTS.clear()
        counts = np.array(sizes, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        found = _HOST_SEGMENTS[sizes] = (starts, counts, counts.astype(np.float64))
    return found


def reduce_many(flats):
    """Raw reductions [K, RAW_WIDTH] (a float64 tensor on their device) of K non-empty flat
    float tensors of one device (their dtypes may differ), all in one float64 buffer: the sum,
    the centered sum of squares (centered on each tensor's float64 mean), min, max and the
    non-zero count of each; NaN and Inf counts computed only when a sum is not finite on the
    CPU, always on other devices. On the CPU the buffer is a numpy array reduced per segment
    with ``ufunc.reduceat`` (about a dozen calls that cost less than torch's); on another
    device it stays there (segment sums and ``torch._foreach_max``, no synchronization)."""
    sizes = tuple(f.numel() for f in flats)
    if flats[0].device.type == "cpu":
        return torch.from_numpy(_reduce_many_host(flats, sizes))
    return _reduce_many_device(flats, sizes)


def _reduce_many_device(flats, sizes):
    """:func:`reduce_many` with torch ops on the tensors' device, without synchronizing."""
    lengths, sizes, total = _segments(flats[0].device, sizes)
    x = torch.cat(flats)  # promoted to the widest dtype among them
    if x.dtype != _F64:
        x = x.to(_F64)
    s = torch.segment_reduce(x, "sum", lengths=lengths)
    sign = torch.sign(x).abs_()
    nan = torch.isnan(x)
    nans = torch.segment_reduce(nan.to(_F64), "sum", lengths=lengths)
    infs = torch.segment_reduce(torch.isinf(x).to(_F64), "sum", lengths=lengths)
    sign.masked_fill_(nan, 1.0)  # a NaN is not zero (its sign may be 0 or NaN)
    nonzero = torch.segment_reduce(sign, "sum", lengths=lengths)
    hi = torch.stack(torch._foreach_max(flats)).to(_F64)
    lo = torch.stack(torch._foreach_max(torch._foreach_neg(flats))).neg_().to(_F64)
    c = (s / sizes).nan_to_num_(0.0, 0.0, 0.0)  # the shift only has to be finite
    x.sub_(c.repeat_interleave(lengths, output_size=total)).square_()
    s2 = torch.segment_reduce(x, "sum", lengths=lengths)
    return torch.stack([sizes, s, c, s2, lo, hi, nonzero, nans, infs], 1)


def _reduce_many_host(flats, sizes):
    """:func:`reduce_many` of CPU tensors, with numpy: a [K, RAW_WIDTH] float64 array."""
    starts, counts, n = _host_segments(sizes)
    x = torch.cat(flats).numpy().astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        s = np.add.reduceat(x, starts)
        finite = math.isfinite(s.sum())
        nans = infs = np.zeros_like(s)
        if not finite:
            nans = np.add.reduceat(np.isnan(x), starts, dtype=np.float64)
            infs = np.add.reduceat(np.isinf(x), starts, dtype=np.float64)
        nonzero = np.add.reduceat(x != 0, starts, dtype=np.float64)  # a NaN is not zero
        lo = np.minimum.reduceat(x, starts)
        hi = np.maximum.reduceat(x, starts)
        c = s / n
        if not finite:  # the shift only has to be finite
            c = np.nan_to_num(c, nan=0.0, posinf=0.0, neginf=0.0)
        d = x - np.repeat(c, counts)
        d *= d
        s2 = np.add.reduceat(d, starts)
    return np.column_stack([n, s, c, s2, lo, hi, nonzero, nans, infs])


def tensor_stats(tensor):
    """Statistics of ``tensor`` as a tuple in STAT_COLUMNS order (mean, std, min, max,
    l2_norm, zero_fraction, nan_count, inf_count, numel); None for the null ones of an empty
    tensor. NaN and Inf propagate as in torch (see ``dltrace._core.stats.finalize``)."""
    return as_tuple(*finalize([reduce(tensor).raw()]))


def scalar_stats(value):
    """Statistics of one number or one-element tensor (a loss, an accuracy, a learning rate)."""
    if isinstance(value, torch.Tensor):
        return tensor_stats(value)
    return as_tuple(*finalize([scalar_raw(value)]))
