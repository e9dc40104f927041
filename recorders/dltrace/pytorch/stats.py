"""Per-tensor reductions on the tensor's own device and dtype, for trace format v1.

:func:`reduce` returns a float64 tensor of RAW_WIDTH numbers on the tensor's device (see
``dltrace._core.stats``) without synchronizing with the device, except on the CPU, where a
non-finite sum is checked at once (the CPU runs synchronously, so this costs nothing) and
the NaN/Inf counts are computed only then; on other devices they are always computed.

Passes over the tensor: the sum, the deviations from the mean (written into a reused scratch
buffer and squared in place), their sum, min, max and the count of non-zeros. The variance is
the two-pass (centered) one. Sums of up to SMALL elements accumulate in float64; larger ones
use torch's float32 cascade summation per row of the tensor (its first dimension) and add the
rows in float64.

Tensors of up to BATCH_MAX elements are not reduced one by one (about ten torch calls each,
which cost more than the work on a small tensor) but all those of a step together, by
:func:`reduce_many`: one float64 buffer, segment sums, and the per-tensor max of the
``torch._foreach`` ops, about fifteen calls for the whole step.
"""

import math

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


# Up to this many elements a sum accumulates in float64 (cheap: the call overhead dominates).
SMALL = 65536


def _row_sum(x, rows):
    """A float64 sum: accumulated in float64 for a small tensor; for a large one, summed in
    its own dtype per row (torch's vectorized cascade summation) and the rows in float64."""
    n = x.numel()
    if n <= SMALL:
        return x.sum(dtype=_F64)
    if rows > 1:
        return x.view(rows, -1).sum(1).sum(dtype=_F64)
    return x.sum().to(_F64)


class Reduced:
    """The raw reductions of one tensor, still on its device: ``n`` (a Python int),
    ``wide`` = float64 [sum, centered sum of squares, zero count], ``narrow`` = [shift, min,
    max] in the tensor's dtype, ``counts`` = float64 [NaN count, Inf count] or None (none)."""

    __slots__ = ("n", "wide", "narrow", "counts")

    def __init__(self, n, wide, narrow, counts):
        self.n = n
        self.wide = wide
        self.narrow = narrow
        self.counts = counts

    def raw(self):
        """The RAW_WIDTH numbers on the host (one synchronization: for tests and one-offs)."""
        if self.n == 0:
            return [0.0] * RAW_WIDTH
        s, s2, zeros = self.wide.tolist()
        c, lo, hi = self.narrow.tolist()
        nans, infs = self.counts.tolist() if self.counts is not None else (0.0, 0.0)
        return [float(self.n), s, c, s2, lo, hi, self.n - zeros, nans, infs]


def reduce(tensor):
    """Raw reductions of ``tensor`` (a :class:`Reduced`), computed on its device."""
    t = tensor.detach()
    if not t.is_floating_point():
        t = t.to(_F64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    n = t.numel()
    if n == 0:
        return Reduced(0, None, None, None)
    rows = t.shape[0] if t.dim() >= 2 else 1
    x = t.reshape(-1)
    s = _row_sum(x, rows)
    on_cpu = x.device.type == "cpu"
    finite = math.isfinite(s.item()) if on_cpu else True
    c = (s / n).to(x.dtype)
    counts = None
    if finite:
        buf = _buffer(x, n)
        s2 = _row_sum(torch.sub(x, c, out=buf).square_(), rows)
    else:
        s2 = s.new_zeros(())
    if on_cpu and finite and n // rows < 2 ** 24:
        # 1 for a non-zero element, 0 for a zero: vectorized, unlike count_nonzero on the CPU.
        zeros = n - _row_sum(torch.sign(x, out=buf).abs_(), rows)
    else:
        zeros = n - torch.count_nonzero(x).to(_F64)
        counts = torch.stack([torch.isnan(x).sum(), torch.isinf(x).sum()]).to(_F64)
    lo, hi = torch.aminmax(x)
    narrow = torch.stack([c, lo, hi])
    return Reduced(n, torch.stack([s, s2, zeros]), narrow, counts)


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
    if not t.is_floating_point():
        return t.reshape(-1).to(_F64), True
    if t.dtype in (torch.float16, torch.bfloat16):
        return t.reshape(-1).float(), True
    return t.reshape(-1), False


def keep(tensor, copy):
    """A :class:`Small` for a small non-empty tensor, else its :class:`Reduced` now."""
    n = tensor.numel()
    if n == 0 or n > BATCH_MAX:
        return reduce(tensor)
    flat, new = _float_flat(tensor)
    if copy and not new:
        flat = flat.clone()
    return Small(flat)


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


def reduce_many(flats):
    """Raw reductions [K, RAW_WIDTH] (float64, on their device) of K non-empty flat float
    tensors of one device (their dtypes may differ), in one float64 buffer: segment sums for the sum, the centered sum of
    squares (centered on each tensor's float64 mean) and the non-zero count, ``_foreach_max``
    for the max and (of the negated tensors) the min; NaN and Inf counts computed only when a
    sum is not finite on the CPU, always on other devices. No synchronization except that
    check on the CPU."""
    lengths, sizes, total = _segments(flats[0].device, tuple(f.numel() for f in flats))
    x = torch.cat(flats)  # promoted to the widest dtype among them
    if x.dtype != _F64:
        x = x.to(_F64)
    s = torch.segment_reduce(x, "sum", lengths=lengths)
    nans = infs = torch.zeros_like(s)
    finite = x.device.type == "cpu" and math.isfinite(s.sum().item())
    sign = torch.sign(x).abs_()
    if not finite:
        nan = torch.isnan(x)
        nans = torch.segment_reduce(nan.to(_F64), "sum", lengths=lengths)
        infs = torch.segment_reduce(torch.isinf(x).to(_F64), "sum", lengths=lengths)
        sign.masked_fill_(nan, 1.0)  # a NaN is not zero (its sign may be 0 or NaN)
    nonzero = torch.segment_reduce(sign, "sum", lengths=lengths)
    hi = torch.stack(torch._foreach_max(flats)).to(_F64)
    lo = torch.stack(torch._foreach_max(torch._foreach_neg(flats))).neg_().to(_F64)
    c = s / sizes
    if not finite:
        c = c.nan_to_num_(0.0, 0.0, 0.0)  # the shift only has to be finite
    x.sub_(c.repeat_interleave(lengths, output_size=total)).square_()
    s2 = torch.segment_reduce(x, "sum", lengths=lengths)
    return torch.stack([sizes, s, c, s2, lo, hi, nonzero, nans, infs], 1)


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
