"""Host side of the statistics: turns the few raw reductions a framework computed on its
device into the nine statistics of a trace row, in float64 with numpy.

A framework reduces each tensor ``x`` (of ``n`` elements) to one row of RAW_WIDTH numbers:

    n, s = sum(x), c = the shift (s / n rounded to x's dtype), s2 = sum((x - c)^2),
    min(x), max(x), nonzero = count of x != 0, nan = count of NaN, inf = count of +-Inf

``s2`` is the two-pass (centered) sum of squares, so the variance ``s2/n - (s/n - c)^2`` does
not suffer the cancellation of ``sum(x^2)/n - mean^2``; ``sum(x^2)`` for the L2 norm is
recovered as ``s2 + 2c(s - nc) + nc^2`` with only positive large terms.
"""

import math
import numbers

import numpy as np

RAW_WIDTH = 9
N, SUM, SHIFT, SQ, MIN, MAX, NONZERO, NAN, INF = range(RAW_WIDTH)


def finalize(raw):
    """Raw reductions (array [K, RAW_WIDTH], float64) to trace statistics.

    Returns ``(floats, valid, counts)``: ``floats`` [K, 6] = mean, std, min, max, l2_norm,
    zero_fraction; ``valid`` [K] bool, False for an empty tensor (its std..zero_fraction are
    null, its mean NaN); ``counts`` [K, 3] int64 = nan_count, inf_count, numel.

    NaN and Inf propagate as in the frameworks: with a NaN element, mean, std, min, max and
    l2_norm are NaN; with an Inf (and no NaN), mean is the sum's +-Inf (NaN for both signs),
    std is NaN and l2_norm is Inf.
    """
    raw = np.asarray(raw, dtype=np.float64).reshape(-1, RAW_WIDTH)
    n = raw[:, N]
    valid = n > 0
    safe_n = np.where(valid, n, 1.0)
    s, c, s2 = raw[:, SUM], raw[:, SHIFT], raw[:, SQ]
    nans, infs = raw[:, NAN], raw[:, INF]
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mean = s / safe_n
        var = np.maximum(s2 / safe_n - (mean - c) ** 2, 0.0)
        sq = np.maximum(s2 + 2.0 * c * (s - n * c) + n * c * c, 0.0)
        floats = np.column_stack([mean, np.sqrt(var), raw[:, MIN], raw[:, MAX], np.sqrt(sq),
                                  (n - raw[:, NONZERO]) / safe_n])
    bad_nan = nans > 0
    bad_inf = (infs > 0) & ~bad_nan
    floats[bad_nan, 0:5] = np.nan
    floats[bad_inf, 1] = np.nan
    floats[bad_inf, 4] = np.inf
    floats[~valid, 0] = np.nan
    counts = np.column_stack([nans, infs, n]).astype(np.int64)
    return floats, valid, counts


def scalar_raw(value):
    """The raw reductions of one number (a loss, an accuracy, a learning rate)."""
    v = float(value)
    if math.isnan(v):
        return (1.0, v, 0.0, 0.0, v, v, 1.0, 1.0, 0.0)
    if math.isinf(v):
        return (1.0, v, 0.0, 0.0, v, v, 1.0, 0.0, 1.0)
    return (1.0, v, v, 0.0, v, v, 0.0 if v == 0.0 else 1.0, 0.0, 0.0)


def values_raw(values):
    """The raw reductions of a few numbers on the host (episode returns): ``values`` is a 1-D
    float64 numpy array of at least one element; NaN and Inf are counted as in any row."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    n = x.size
    nans = int(np.isnan(x).sum())
    infs = int(np.isinf(x).sum())
    nonzero = float(np.count_nonzero(x))
    with np.errstate(invalid="ignore", over="ignore"):
        s = float(x.sum())
        lo, hi = float(x.min()), float(x.max())
        if nans or infs:
            # finalize makes mean, std and l2_norm NaN/Inf from the counts
            return (float(n), s, 0.0, 0.0, lo, hi, nonzero, float(nans), float(infs))
        c = s / n
        s2 = float(((x - c) ** 2).sum())
    return (float(n), s, c, s2, lo, hi, nonzero, 0.0, 0.0)


def as_returns(value, what="episode_return"):
    """``value`` (a number, a sequence of numbers, a numpy array or a tensor, with a
    ``numpy()`` method) as a 1-D float64 numpy array of returns; TypeError for anything
    else. NaN and Inf are kept."""
    if isinstance(value, (str, bytes)) or isinstance(value, bool):
        raise TypeError("%s must be a number, a sequence of numbers, a numpy array or a "
                        "tensor, got %s %r" % (what, type(value).__name__, value))
    if isinstance(value, numbers.Real):
        return np.array([float(value)])
    if hasattr(value, "detach") and hasattr(value, "cpu"):   # a torch tensor
        value = value.detach().cpu()
        if value.is_complex():
            raise TypeError("%s must hold real numbers, got a complex tensor" % what)
        value = value.double().numpy()
    elif hasattr(value, "numpy") and not isinstance(value, np.ndarray):  # a TF/Keras tensor
        value = np.asarray(value.numpy())
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError("%s must hold real numbers, got a numpy array of dtype %s"
                            % (what, value.dtype))
        return value.astype(np.float64).reshape(-1)
    if isinstance(value, (list, tuple)):
        parts = [as_returns(v, what) for v in value]
        return np.concatenate(parts) if parts else np.zeros(0)
    raise TypeError("%s must be a number, a sequence of numbers, a numpy array or a tensor, "
                    "got %s" % (what, type(value).__name__))


def as_tuple(floats, valid, counts, i=0):
    """Row ``i`` of :func:`finalize`'s result as a tuple in STAT_COLUMNS order (None = null)."""
    if not valid[i]:
        return (float(floats[i, 0]), None, None, None, None, None, 0, 0, 0)
    return tuple(float(v) for v in floats[i]) + tuple(int(v) for v in counts[i])


def scalar_stats(value):
    """Statistics of one number, as a tuple in STAT_COLUMNS order."""
    return as_tuple(*finalize([scalar_raw(value)]))
