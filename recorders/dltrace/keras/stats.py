"""Per-tensor reductions inside the compiled train step (TensorFlow backend).

:func:`reduce` adds a few ops to the graph that reduce a tensor to RAW_WIDTH float64 numbers
(see ``dltrace._core.stats``): the sum, the shift (the sum over n, rounded to the tensor's
dtype), the sum of squared deviations from it (the two-pass variance), min, max, the count of
non-zeros, and the NaN and Inf counts, which are computed (in a ``tf.cond``) only when the
sum is not finite. Sums use TensorFlow's own float32 tree reduction per row of the tensor (its
first dimension, when the rest of the shape is static) and add the rows in float64; float64
tensors reduce in float64.
"""

import numpy as np
import tensorflow as tf

from .._core.stats import RAW_WIDTH

_F64 = tf.float64


def _row_sum(x, inner):
    """Float64 sum of the flat ``x``: per row of ``inner`` elements in x's dtype, then the
    rows in float64 (``inner`` None: one row)."""
    if inner is not None and inner > 1:
        partial = tf.reduce_sum(tf.reshape(x, [-1, inner]), axis=1)
        return tf.reduce_sum(tf.cast(partial, _F64))
    return tf.cast(tf.reduce_sum(x), _F64)


def reduce(tensor):
    """A float64 tensor [RAW_WIDTH] of the raw reductions of ``tensor`` (graph ops)."""
    t = tf.convert_to_tensor(tensor)
    if not t.dtype.is_floating:
        t = tf.cast(t, _F64)
    elif t.dtype in (tf.float16, tf.bfloat16):
        t = tf.cast(t, tf.float32)
    inner = None
    if t.shape.rank is not None and t.shape.rank >= 2:
        rest = t.shape[1:]
        if rest.is_fully_defined():
            inner = int(np.prod(rest.as_list()))
    x = tf.reshape(t, [-1])
    n = tf.cast(tf.size(x), _F64)
    s = _row_sum(x, inner)
    shift = tf.cast(s / tf.maximum(n, 1.0), x.dtype)
    s2 = _row_sum(tf.square(x - shift), inner)
    nonzero = tf.cast(tf.math.count_nonzero(x), _F64)
    lo = tf.cast(tf.reduce_min(x), _F64)
    hi = tf.cast(tf.reduce_max(x), _F64)
    counts = tf.cond(
        tf.math.is_finite(s),
        lambda: tf.zeros([2], _F64),
        lambda: tf.stack([tf.reduce_sum(tf.cast(tf.math.is_nan(x), _F64)),
                          tf.reduce_sum(tf.cast(tf.math.is_inf(x), _F64))]))
    raw = tf.concat([tf.stack([n, s, tf.cast(shift, _F64), s2, lo, hi, nonzero]), counts], 0)
    raw.set_shape([RAW_WIDTH])
    return raw


def flat_concat(tensors):
    """The tensors flattened into one (a layer's kernels, e.g. an LSTM's two matrices)."""
    flat = [tf.reshape(tf.convert_to_tensor(t), [-1]) for t in tensors]
    return flat[0] if len(flat) == 1 else tf.concat(flat, 0)
