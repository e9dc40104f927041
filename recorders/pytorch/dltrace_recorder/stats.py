"""Per-tensor statistics of trace format v1, computed in float64."""

import math

import torch

# Order of the statistic columns in a trace row, after the key columns.
STAT_COLUMNS = ("mean", "std", "min", "max", "l2_norm", "zero_fraction",
                "nan_count", "inf_count", "numel")


def tensor_stats(tensor):
    """Statistics of ``tensor`` as a tuple in STAT_COLUMNS order.

    The tensor is copied to float64 first. NaN and Inf propagate the way torch propagates
    them: ``mean`` and ``std`` are NaN when an element is NaN, ``mean`` is +-Inf when the
    tensor holds an Inf of one sign, ``std`` is NaN when it holds any Inf, ``min``/``max``
    are NaN when an element is NaN (torch's min/max propagate NaN). ``std`` is the
    population standard deviation. An empty tensor gives mean NaN and null statistics.
    """
    t = tensor.detach()
    if t.dtype != torch.float64:
        t = t.to(torch.float64)
    t = t.reshape(-1)
    n = t.numel()
    if n == 0:
        return (math.nan, None, None, None, None, None, 0, 0, 0)
    total = float(t.sum())
    mean = total / n
    l2 = math.sqrt(float(torch.dot(t, t)))
    if math.isfinite(total):
        # Every element is finite: a float32 or float64 tensor cannot overflow these sums.
        centered = t - mean
        std = math.sqrt(float(torch.dot(centered, centered)) / n)
        nans = infs = 0
    else:
        std = math.nan
        nans = int(torch.count_nonzero(torch.isnan(t)))
        infs = int(torch.count_nonzero(torch.isinf(t)))
    low, high = torch.aminmax(t)
    zeros = int(torch.count_nonzero(t == 0))
    return (mean, std, float(low), float(high), l2, zeros / n, nans, infs, n)


def scalar_stats(value):
    """Statistics of one number (a loss, an accuracy, a learning rate)."""
    if isinstance(value, torch.Tensor):
        return tensor_stats(value)
    v = float(value)
    if math.isnan(v):
        return (v, math.nan, v, v, v, 0.0, 1, 0, 1)
    if math.isinf(v):
        return (v, math.nan, v, v, math.inf, 0.0, 0, 1, 1)
    return (v, 0.0, v, v, abs(v), 1.0 if v == 0.0 else 0.0, 0, 0, 1)
