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
    narrow = torch.stack([c, torch.amin(x), torch.amax(x)])
    return Reduced(n, torch.stack([s, s2, zeros]), narrow, counts)


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
