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


def reduce(tensor):
    """Raw reductions of ``tensor``: its element count, and a float64 tensor of the other
    RAW_WIDTH - 1 numbers on its device."""
    t = tensor.detach()
    if not t.is_floating_point():
        t = t.to(_F64)
    elif t.dtype in (torch.float16, torch.bfloat16):
        t = t.float()
    n = t.numel()
    if n == 0:
        return 0, torch.zeros(RAW_WIDTH - 1, dtype=_F64, device=t.device)
    rows = t.shape[0] if t.dim() >= 2 else 1
    x = t.reshape(-1)
    s = _row_sum(x, rows)
    on_cpu = x.device.type == "cpu"
    finite = True
    if on_cpu:
        finite = math.isfinite(s.item())
    c = (s / n).to(x.dtype)
    if finite:
        d = torch.sub(x, c, out=_buffer(x, n))
        s2 = _row_sum(d.square_(), rows)
    else:
        s2 = torch.zeros((), dtype=_F64, device=x.device)
    lo = torch.amin(x)
    hi = torch.amax(x)
    nonzero = torch.count_nonzero(x)
    if on_cpu and finite:
        nans = infs = torch.zeros((), dtype=_F64)
    else:
        nans = torch.isnan(x).sum()
        infs = torch.isinf(x).sum()
    return n, torch.stack([s, c.to(_F64), s2, lo.to(_F64), hi.to(_F64), nonzero.to(_F64),
                           nans.to(_F64), infs.to(_F64)])


def tensor_stats(tensor):
    """Statistics of ``tensor`` as a tuple in STAT_COLUMNS order (mean, std, min, max,
    l2_norm, zero_fraction, nan_count, inf_count, numel); None for the null ones of an empty
    tensor. NaN and Inf propagate as in torch (see ``dltrace._core.stats.finalize``)."""
    n, vec = reduce(tensor)
    return as_tuple(*finalize([[n] + vec.cpu().tolist()]))


def scalar_stats(value):
    """Statistics of one number or one-element tensor (a loss, an accuracy, a learning rate)."""
    if isinstance(value, torch.Tensor):
        return tensor_stats(value)
    return as_tuple(*finalize([scalar_raw(value)]))
