"""Records a trace of ``model.fit`` (Keras 3, TensorFlow backend) with one callback.

The callback replaces the model's train step, for the duration of ``fit``, with one that does
what Keras' own step does (forward pass under a gradient tape, loss, gradients, optimizer
update, metrics) and, in the same compiled graph, reduces the recorded tensors: each trace
layer's pre-activation output and activation output (captured while the step is traced, by
wrapping the layer's ``call`` and its ``activation``), the gradients of the loss with respect
to those outputs (asked of the same ``tape.gradient`` call as the weights' gradients), the
kernels' gradients and the kernels after the update. The reductions are stored in a variable
and fetched once per recorded step; on the steps that ``every`` skips, a ``tf.cond`` skips
them, unless the step's loss is not finite.

A model that overrides ``train_step`` keeps its own step (callback mode). The callback wraps
it, and while it is traced (at every trace: the first, the one TensorFlow makes again after a
first trace that made variables, one for another input shape or another ``fit``) watches the
layers' calls: at the first trace to number the layers in the order they run and to name their
activations; at every trace to add to the step's graph, after the model's own computation, the
reductions of each trace layer's pre-activation output and activation output (``forward`` and
``activation`` rows, split as the recorder's own step splits them: a fused activation, an
activation layer, an activation op between two layers or on the model's output), stored in a
variable and fetched at the batch end. A layer called several times in one step (a GAN's
discriminator on the real and on the generated batch, a shared encoder) gives the tensors of
its last call in the step, as the PyTorch recorder does; a layer the step does not call (or
calls only inside a ``tf.cond`` or loop body of its own) gives no row that step. A ``tf.cond``
skips the reductions on the steps that ``every`` skips, unless a loss the step returns (the
logged ``loss_key``, else any scalar whose name contains ``loss``) is not finite. At the end of
each recorded batch it reduces the layers' kernels (the same reductions, in one compiled
function) and reads the loss, the accuracy and the learning rate from the logs, the metrics
and the optimizer. The kernels' gradients are reduced where the step hands them to an
optimizer (each optimizer of the model has its ``apply`` wrapped while ``fit`` runs; a GAN's
two included): the last gradient a step applies to a layer is its row. Output gradients,
inputs and targets are not recorded, and the metadata says so. The reductions added to the
step change what the model learns by float32 rounding only (TensorFlow no longer fuses a
Dense's matmul, bias and activation), as in the recorder's own step.
"""

import json
import math
import os
import sys
import warnings

import keras
import numpy as np
import tensorflow as tf

from .._core.options import STEPS_AFTER_NONFINITE, Selection, objective_metadata
from .._core.schema import FORMAT_VERSION, MODEL, PHASES
from .._core.sink import StepRows, TraceSink
from .._core.stop import StopFile, announce
from .._core.stop import metadata as stop_metadata
from .._core.stats import RAW_WIDTH, as_returns, scalar_raw, values_raw
from .._core.writers import resolve_path
from .stats import flat_concat, reduce

_F64 = tf.float64

# Standalone activation layers: the first one after a trace layer is its activation.
ACTIVATION_LAYERS = {"Activation": None, "ReLU": "relu", "Softmax": "softmax",
                     "LeakyReLU": "leaky_relu", "ELU": "elu", "PReLU": "prelu"}

_CLASSIFICATION = ("crossentropy", "hinge", "focal", "kl_divergence", "kldivergence")
_REGRESSION = ("squared", "absolute", "mse", "mae", "mape", "msle", "huber", "log_cosh",
               "logcosh", "poisson", "cosine")

# Layers whose ``activation`` attribute is applied to their output (not internally, as in RNNs).
_NO_FUSED = (keras.layers.RNN, keras.layers.Wrapper)

MODES = ("auto", "step", "callback")

# What callback mode can record: the layers' outputs and activations (reduced in the model's
# step), the weights, the gradients applied, and the scalars of the logs and the optimizer.
CALLBACK_PHASES = ("forward", "activation", "loss", "accuracy", "weight", "gradient",
                   "learning_rate", "episode_return", "val_loss", "val_accuracy")

# The logged name of the returns of the episodes that ended (batch and epoch logs).
RETURN_KEY = "episode_return"
_RETURN_KEY = (-1, MODEL, None, "episode_return")

# The logged names of an accuracy, in the order they are looked for.
ACCURACY_KEYS = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy",
                 "binary_accuracy")


def _activation_name(fn):
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return name.lower()


def _own_variables(layer):
    return list(layer._trainable_variables) + list(layer._non_trainable_variables)


def _kernels(variables):
    """The variables whose statistics make the weight and gradient rows: kernels, embeddings,
    recurrent kernels, BatchNormalization/LayerNormalization gamma; no biases (beta is
    BatchNormalization's bias), no moving statistics. When some of them are trainable and others
    not, the trainable ones: a random-features layer's fixed random projection beside its
    trainable scale is a constant by design, and pooled with the scale it would hide every
    update. A layer none of whose kernels is trainable keeps them all (a kernel frozen while the
    bias trains is what its weight rows then show)."""
    def short(v):
        return v.name.split("/")[-1]
    # Integer state (an adapted Normalization layer's sample count) has no float statistics.
    state = [v for v in variables
             if not short(v).startswith("moving_") and "float" in str(v.dtype)]
    kernels = [v for v in state if not (short(v).endswith("bias") or short(v) == "beta")]
    trained = [v for v in kernels if v.trainable]
    if trained and len(trained) < len(kernels):
        return trained
    return kernels or state


def _fans(variable):
    """(fan_in, fan_out) of a Keras kernel (..., in, out), as keras' initializers compute them."""
    shape = [int(d) for d in variable.shape]
    if len(shape) < 2:
        return None
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive, shape[-1] * receptive


def _regularizer(layer):
    """The L1/L2 factors of the penalties the layer adds to the loss, or None: its kernel
    regularizer's as {"l2": 0.01}, its activity regularizer's as {"activity_l1": 1.0}."""
    factors = {}
    found = False
    for attribute, prefix in (("kernel_regularizer", ""), ("activity_regularizer", "activity_")):
        reg = getattr(layer, attribute, None)
        if reg is None:
            continue
        found = True
        named = False
        for key in ("l1", "l2"):
            value = getattr(reg, key, None)
            if value is not None and float(value) != 0.0:
                factors[prefix + key] = float(value)
                named = True
        if not named:
            factors[prefix + "type"] = type(reg).__name__
    return factors if found else None


class _TraceLayer:
    __slots__ = ("index", "name", "layer", "type", "activation", "fused", "params",
                 "trainable", "constant", "kernels", "selected", "keys", "fans", "regularizer",
                 "declared", "in_optimizer")

    def __init__(self, name, layer, variables):
        self.index = -1
        self.name = name
        self.layer = layer
        self.type = type(layer).__name__
        self.fused = (callable(getattr(layer, "activation", None))
                      and not isinstance(layer, _NO_FUSED)
                      and _activation_name(layer.activation) != "linear")
        self.activation = _activation_name(layer.activation) if self.fused else "linear"
        # A wrapper applying one layer at every time step (TimeDistributed(Dense(12,
        # activation="softmax"))) outputs what the wrapped layer outputs, activation included;
        # a wrapped RNN (Bidirectional(LSTM)) applies its activations inside.
        inner = getattr(layer, "layer", None) if isinstance(layer, keras.layers.Wrapper) else None
        if (inner is not None and not isinstance(inner, keras.layers.RNN)
                and callable(getattr(inner, "activation", None))):
            self.activation = _activation_name(inner.activation)
        self.declared = self.activation  # before the first trace names what ops apply
        self.params = int(sum(int(np.prod(v.shape)) for v in variables))
        self.trainable = bool(layer.trainable) and any(v.trainable for v in variables)
        # A layer that is left trainable but has no trainable variable holds constants by
        # design (an adapted Normalization layer's mean and variance), not weights: it has no
        # weight rows, and is not a BatchNormalization layer frozen into inference mode.
        self.constant = bool(layer.trainable) and bool(variables) and not self.trainable
        self.kernels = [] if self.constant else _kernels(variables)
        self.selected = True
        self.keys = {}
        self.fans = _fans(self.kernels[0]) if self.kernels else None
        self.regularizer = _regularizer(layer)
        self.in_optimizer = None  # False: no optimizer applied a gradient to its kernels

    def describe(self):
        """The layer's entry in the ``dltrace.layers`` metadata."""
        entry = {"index": self.index, "name": self.name, "type": self.type,
                 "activation": self.activation, "params": self.params,
                 "trainable": self.trainable}
        if self.constant:
            entry["constant"] = True
        elif not self.trainable and "Normalization" in self.type:
            # Keras 3 runs a BatchNormalization layer with trainable=False in inference mode.
            entry["training"] = False
        if self.in_optimizer is False and self.trainable:
            entry["in_optimizer"] = False
        if self.fans is not None:
            entry["fan_in"], entry["fan_out"] = self.fans
        if self.regularizer is not None:
            entry["regularizer"] = self.regularizer
        return entry

    def key(self, phase):
        k = self.keys.get(phase)
        if k is None:
            k = self.keys[phase] = (self.index, self.name, self.type, phase)
        return k


def _walk(layer, prefix, trace_layers, activations, seen=None):
    """Finds the trace layers (own weights; an RNN or a wrapper as a whole) and the
    model-level activation layers, qualifying nested names with '/'. A layer or model reached
    by two paths (a backbone kept as an attribute and nested in an encoder as well) is one
    layer, named by the first path."""
    seen = set() if seen is None else seen
    for sub in layer._flatten_layers(include_self=False, recursive=False):
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        name = prefix + sub.name
        if isinstance(sub, keras.Model):
            _walk(sub, name + "/", trace_layers, activations, seen)
        elif type(sub).__name__ in ACTIVATION_LAYERS:
            if prefix_is_model(layer):
                activations.append(sub)
        elif isinstance(sub, _NO_FUSED):
            trace_layers.append(_TraceLayer(name, sub, list(sub.weights)))
        else:
            own = _own_variables(sub)
            if own:
                trace_layers.append(_TraceLayer(name, sub, own))
            _walk(sub, name + "/", trace_layers, activations, seen)


def _built(model):
    """True when every layer of the model has its weights (a subclassed model that was never
    called has none before fit traces its first step)."""
    return all(layer.built for layer in model._flatten_layers())


# Graph ops that apply an activation, by the name dltrace.layers gives it.
_GRAPH_ACTIVATIONS = {"Softmax": "softmax", "Sigmoid": "sigmoid", "LogSoftmax": "log_softmax",
                      "Relu": "relu", "Tanh": "tanh"}


# Ops that apply an activation element by element, by the name dltrace.layers gives it. GELU is
# no single op: an Erf or Erfc (``ops.gelu(x, approximate=False)``), or a Tanh with a Pow (the tanh
# approximation), among the ops on the way is a gelu (see _Region.activation).
_ELEMENTWISE_ACTIVATIONS = {
    "Relu": "relu", "Relu6": "relu6", "Elu": "elu", "Selu": "selu", "LeakyRelu": "leaky_relu",
    "Sigmoid": "sigmoid", "Tanh": "tanh", "Softplus": "softplus", "Softsign": "softsign",
    "Softmax": "softmax", "LogSoftmax": "log_softmax", "Sin": "sin", "Cos": "cos"}

# Ops whose output is a linear function of each floating input that depends on the data
# (reshaping, slicing, joining, sums and means, pooling, the identities of a custom gradient).
_LINEAR_OPS = frozenset((
    "Identity", "IdentityN", "Cast", "Reshape", "Squeeze", "ExpandDims", "Transpose",
    "ConcatV2", "Concat", "Pack", "Unpack", "Split", "SplitV", "Slice", "StridedSlice",
    "GatherV2", "Tile", "BroadcastTo", "Pad", "PadV2", "MirrorPad", "ReverseV2", "Roll",
    "AddV2", "Add", "AddN", "Sub", "Neg", "BiasAdd", "Sum", "Mean", "StopGradient",
    "EnsureShape", "CheckNumerics", "PreventGradient", "MaxPool", "MaxPoolV2", "MaxPool3D",
    "AvgPool", "AvgPool3D", "Max", "ResizeBilinear", "ResizeNearestNeighbor", "DepthToSpace",
    "SpaceToDepth"))

# Ops that are linear in one data operand when their other operands are constants, variables or
# random masks (a scale, a dropout mask, a projection), and not linear when two depend on the data.
_PRODUCT_OPS = frozenset((
    "Mul", "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "Einsum", "Conv2D",
    "Conv3D", "DepthwiseConv2dNative", "Conv2DBackpropInput"))

# Ops that compare two tensors: a difference, or a product of two operands (similarities).
_COMPARISON_OPS = frozenset((
    "Sub", "SquaredDifference", "MatMul", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3",
    "Einsum"))

# Ops that squash a comparison into a bounded score (``exp(-distance)``, a sigmoid of a similarity).
_SQUASHING_OPS = frozenset(("Exp", "Sigmoid", "Softmax", "Tanh"))

# Ops whose output does not depend on the values of their input (its shape, a tensor of ones).
_SHAPE_OPS = frozenset(("Shape", "ShapeN", "Size", "Rank", "ZerosLike", "OnesLike"))

# At most this many ops are walked back from a layer's input (as the PyTorch recorder's walk).
_MAX_OPS = 48

_NONE, _LINEAR, _NONLINEAR = 0, 1, 2


def _through_identity(tensor):
    """The tensor an Identity or Cast chain copies (a custom gradient's IdentityN), or itself."""
    for _ in range(4):
        op = tensor.op
        if op.type in ("Identity", "Cast") or (op.type == "IdentityN"
                                                and len(op.inputs) == len(op.outputs)):
            tensor = op.inputs[tensor.value_index if op.type == "IdentityN" else 0]
        else:
            break
    return tensor


class _Region:
    """The ops between earlier trace layers' outputs (``sources``: tensor name -> layer key) and
    a layer's input, found by walking back from the input through ``op.inputs``, breadth first,
    at most ``_MAX_OPS`` ops, stopping at the sources."""

    def __init__(self, starts, sources):
        self.sources = sources
        self.starts = list(starts)
        self.tensors = {}   # name -> tensor, for every tensor reached
        self.hits = []      # layer keys reached, nearest first
        queue, ops = list(starts), set()
        while queue:
            t = queue.pop(0)
            if t.name in self.tensors:
                continue
            self.tensors[t.name] = t
            key = sources.get(t.name)
            if key is not None:
                if key not in self.hits:
                    self.hits.append(key)
                continue
            op = t.op
            if op.type in _SHAPE_OPS or op.name in ops:
                continue
            if len(ops) >= _MAX_OPS:
                break
            ops.add(op.name)
            queue.extend(op.inputs)
        self._data = {}

    def data(self, t):
        """True when ``t`` depends, within the walked ops, on an earlier layer's output."""
        name = t.name
        if name in self.sources:
            return True
        if name not in self.tensors or t.op.type in _SHAPE_OPS:
            return False
        if t.op.type == "Placeholder":
            return t.dtype.is_floating  # the model's input
        if name not in self._data:
            self._data[name] = False  # a cycle (none in a FuncGraph) would read False
            self._data[name] = any(self.data(i) for i in t.op.inputs)
        return self._data[name]

    def _scaled_copy(self, t, other):
        """True when ``t`` is ``other``, or ``other`` through copies and scalings (SiLU's
        sigmoid input, ``beta * x``)."""
        for _ in range(4):
            if t.name == other.name:
                return True
            if t.name in self.sources:
                return False
            op = t.op
            if op.type in ("Identity", "Cast"):
                t = op.inputs[0]
            elif op.type == "Mul" and sum(1 for i in op.inputs if self.data(i)) == 1:
                t = next(i for i in op.inputs if self.data(i))
            else:
                return False
        return False

    def activation(self, key):
        """What the walked ops do to layer ``key``'s output on its way to the layer's input:
        (name, tensor or None) of an activation applied to a linear function of it, or
        (None, None) when something not linear and not named acts on it, or None when every
        op on the way is linear in it."""
        state, found, unknown, types = {}, [], [False], set()

        def visit(t):
            name = t.name
            if self.sources.get(name) == key:
                return _LINEAR
            if name in self.sources or name not in self.tensors or t.op.type in _SHAPE_OPS:
                return _NONE
            if name in state:
                return state[name]
            state[name] = _NONE
            op = t.op
            ins = [visit(i) for i in op.inputs]
            if all(s == _NONE for s in ins):
                return _NONE
            types.add(op.type)
            result = _NONLINEAR
            data = [i for i in op.inputs if self.data(i)]
            if op.type in _ELEMENTWISE_ACTIVATIONS:
                if _NONLINEAR not in ins:
                    found.append((_ELEMENTWISE_ACTIVATIONS[op.type], op.outputs[0]))
            elif op.type == "Mul" and len(data) == 2 and _gate(op, ins):
                gate, other = _gate(op, ins)
                entry = ("silu" if self._scaled_copy(gate.op.inputs[0], other) else "glu",
                         op.outputs[0])
                # the sigmoid is the gate's, not an activation of its own
                at = [i for i, (_, t) in enumerate(found) if t.name == gate.name]
                if at:
                    found[at[0]] = entry
                else:
                    found.append(entry)
            elif op.type in _LINEAR_OPS or (op.type in ("Select", "SelectV2")
                                             and not self.data(op.inputs[0])):
                result = max(ins)
            elif op.type in _PRODUCT_OPS or op.type in ("RealDiv", "Div", "DivNoNan"):
                divisor = op.type not in _PRODUCT_OPS and ins[1] != _NONE
                if len(data) > 1 or divisor:
                    unknown[0] = True
                else:
                    result = max(ins)
            else:
                unknown[0] = True
            state[name] = result
            return result

        for start in self.starts:
            visit(start)
        if types & {"Erf", "Erfc"} or {"Tanh", "Pow"} <= types:
            return "gelu", None
        if found:
            return found[0]
        return (None, None) if unknown[0] else None


def _gate(op, ins):
    """(the sigmoid's output, the other operand) when a Mul multiplies a tensor that is linear in
    the layer's output by a sigmoid (a gated linear unit, or SiLU's x * sigmoid(x)), else None."""
    a, b = op.inputs[0], op.inputs[1]
    for gate, other, s in ((a, b, ins[1]), (b, a, ins[0])):
        if _through_identity(gate).op.type == "Sigmoid" and s == _LINEAR:
            return _through_identity(gate), other
    return None


def _loss_scale(optimizer):
    """The factor ``optimizer.scale_loss`` multiplies the loss by (a float32 tensor read now),
    or None without loss scaling: a ``LossScaleOptimizer``'s dynamic scale (the
    ``mixed_float16`` policy wraps the optimizer in one at ``compile``), or an optimizer's
    static ``loss_scale_factor``. Read before ``apply_gradients``, which may change it."""
    if optimizer is None:
        return None
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        value = optimizer.dynamic_scale if optimizer.built else optimizer.initial_scale
    else:
        value = getattr(optimizer, "loss_scale_factor", None)
        if value is None:
            return None
    return tf.identity(tf.cast(tf.convert_to_tensor(value), tf.float32))


def _loss_scaling(optimizer):
    """``dltrace.loss_scaling`` of an optimizer: ``dynamic``, ``static`` or None."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return "dynamic"
    if getattr(optimizer, "loss_scale_factor", None) is not None:
        return "static"
    return None


def _examples_tensor(inputs, y):
    """The tensor whose leading dimension counts the batch's examples: the first target with a
    leading dimension (the loss averages over the targets), else the first input. The two differ
    when a batch packs several examples into one input, as a batch of graphs merged into one
    disjoint graph does (its first input holds the atoms of every graph, the targets one row per
    graph)."""
    from keras.src import tree

    if y is not None:
        for t in tree.flatten(y):
            if t is not None and getattr(t, "shape", None) is not None and t.shape.rank:
                return t
    return inputs[0] if inputs else None


def _numeric(tensor):
    """True for a tensor of numbers or booleans, False for strings (and other non-numbers)."""
    dtype = tf.as_dtype(tensor.dtype)
    return dtype.is_floating or dtype.is_integer or dtype.is_bool


def _first_rate(optimizer, steps):
    """The learning rate of the first step, for ``dltrace.learning_rate``: it is written at the
    end of the first batch, after ``steps`` updates, when a schedule's
    ``optimizer.learning_rate`` is already that of the step after them."""
    inner = getattr(optimizer, "inner_optimizer", None) or optimizer
    rate = getattr(inner, "_learning_rate", None)
    if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
        step = max(int(_number(inner.iterations)) - steps, 0)
        return float(np.asarray(rate(step)))
    return float(np.asarray(optimizer.learning_rate))


def _unscaled(grad, scale):
    """A gradient of the scaled loss divided by the scale, in float32 at least (a float16
    gradient divided by 2^15 would underflow); Inf and NaN stay what they are."""
    if grad is None or scale is None:
        return grad
    if isinstance(grad, tf.IndexedSlices):
        return tf.IndexedSlices(_unscaled(grad.values, scale), grad.indices, grad.dense_shape)
    if grad.dtype.size < 4:
        grad = tf.cast(grad, tf.float32)
    return grad / tf.cast(scale, grad.dtype)


def _output_activation(capture, y_pred):
    """A model that applies its output activation with an op in call() (``ops.softmax(x)``)
    rather than a layer: at the first trace, when the model's output is that op applied to the
    last layer's output, the layer is described with it and its activation is recorded, as
    for an activation layer. So is a last layer whose own call ends in the op (a custom layer
    without an ``activation`` attribute returning ``tf.sigmoid(x + self.bias)``, as DeepCTR's
    ``PredictionLayer``): its output is the model's, and the op names its activation."""
    if not capture.order:
        return
    last = capture.order[-1]
    key = id(last.layer)
    if last.fused or key in capture.activation_name or key not in capture.forward:
        return
    outputs = tf.nest.flatten(y_pred)
    op = getattr(outputs[0], "op", None) if len(outputs) == 1 else None
    name = _GRAPH_ACTIVATIONS.get(getattr(op, "type", None))
    if name is None:
        return
    source = capture.forward[key]
    own = getattr(source, "name", None) == getattr(outputs[0], "name", None)
    if not own and not any(getattr(i, "name", None) == source.name for i in op.inputs):
        return
    capture.activation[key] = outputs[0]
    capture.activation_name[key] = name


def _output_compares(capture, y_pred):
    """True when ops after the model's layers compute its output by squashing a comparison of two
    layer outputs: a difference (a siamese network's ``exp(-|h1 - h2|)`` over a shared layer's two
    calls) or a product (``sigmoid(a . b)``, a matrix product or an elementwise product summed)
    whose operands depend on different layer outputs,
    then an exp, sigmoid, softmax or tanh. No layer's output, nor its activation, then describes
    what the loss takes (``dltrace.output_layer`` ``none``). A comparison left as it is (a dot
    product of two embeddings as logits) is an unbounded score, as a linear last layer's output
    is, and is left to the last layer. ``x - mean(x)``, whose operands depend on the same output,
    is no comparison."""
    outputs = tf.nest.flatten(y_pred)
    if len(outputs) != 1 or not isinstance(outputs[0], tf.Tensor) or not hasattr(
            outputs[0], "op"):
        return False
    out = outputs[0]
    sources = {name: key for (g, name), key in capture.sources.items() if g is out.graph}
    if not sources or out.name in sources:
        return False
    region = _Region([out], sources)
    origins = {}

    def reached(t):
        """The layer outputs (tensor names) ``t`` depends on within the walked ops."""
        if t.name in sources:
            return frozenset((t.name,))
        if t.name not in region.tensors or t.op.type in _SHAPE_OPS:
            return frozenset()
        if t.name not in origins:
            origins[t.name] = frozenset()
            origins[t.name] = frozenset().union(*(reached(i) for i in t.op.inputs))
        return origins[t.name]

    compared = {}

    def compares(t):
        """True when ``t`` is, or depends within the walked ops on, a comparison."""
        if t.name in sources or t.name not in region.tensors or t.op.type in _SHAPE_OPS:
            return False
        if t.name not in compared:
            compared[t.name] = False
            op = t.op
            found = False
            if op.type in _COMPARISON_OPS and len(op.inputs) >= 2:
                left, right = reached(op.inputs[0]), reached(op.inputs[1])
                found = bool(left and right and left != right)
            elif (op.type == "Sum" and op.inputs[0].op.type == "Mul"
                    and len(op.inputs[0].op.inputs) >= 2):
                # a dot product written out, ``sum(a * b, axis=1)``: the product is reduced, so
                # it compares its operands, where a product left as it is gates one by the other
                product = op.inputs[0].op
                left, right = reached(product.inputs[0]), reached(product.inputs[1])
                found = bool(left and right and left != right)
            compared[t.name] = found or any(compares(i) for i in op.inputs)
        return compared[t.name]

    return any(t.name not in sources and t.op.type in _SQUASHING_OPS and compares(t.op.inputs[0])
               for t in list(region.tensors.values()))


def _keras_loss(loss):
    """True for a loss whose ``from_logits`` the recorder can read: a string naming Keras' own, a
    Keras loss object or function, or a loss object of the program's own that says it (a
    ``from_logits`` attribute, or a wrapped function given ``from_logits=``). A function of the
    program's own (``def loss(y, p): return bce(y, p)`` around a ``BinaryCrossentropy(from_logits=
    True)``), or a ``keras.losses.Loss`` subclass of its own whose ``call`` does the same, hides
    it."""
    if isinstance(loss, str):
        return True
    if _from_keras(type(loss) if isinstance(loss, keras.losses.Loss) else loss):
        return True
    if isinstance(loss, keras.losses.Loss):
        kwargs = getattr(loss, "_fn_kwargs", None) or {}
        return hasattr(loss, "from_logits") or "from_logits" in kwargs
    return False


def _from_keras(obj):
    module = getattr(obj, "__module__", "") or ""
    return module.split(".")[0] in ("keras", "tensorflow", "tf_keras")


def prefix_is_model(layer):
    return isinstance(layer, keras.Model)


def _mean_metrics(model, name):
    """The model's Mean metrics (Keras' loss tracker, compiled metrics such as accuracy, the
    metrics a custom train step keeps) called ``name``."""
    found = []
    for metric in list(getattr(model, "metrics", None) or []):
        inner = getattr(metric, "metrics", None)
        for m in ([metric] + list(inner) if isinstance(inner, (list, tuple)) else [metric]):
            if (isinstance(m, keras.metrics.Mean) and m.name == name
                    and hasattr(m, "total") and hasattr(m, "count")):
                found.append(m)
    return found


_INTERNAL = tuple(os.path.dirname(m.__file__) + os.sep for m in (keras, tf)) + (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep,)


def _user_stacklevel():
    """The ``stacklevel`` that makes a warning point at the first caller outside Keras,
    TensorFlow and dltrace (the program's ``fit`` call), for the caller of this function."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_INTERNAL):
        frame = frame.f_back
        level += 1
    return level


def _unscaled_optimizer(optimizer):
    """A loss-scaling optimizer's inner one, which gets the unscaled gradients; else the
    optimizer itself."""
    inner = getattr(optimizer, "inner_optimizer", None)
    return inner if isinstance(inner, keras.optimizers.Optimizer) else optimizer


def _number(value):
    """A Keras variable, a tensor or a number as a Python float."""
    return float(value.numpy()) if hasattr(value, "numpy") else float(value)


def _same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b)) + 1e-12


class _Logged:
    """One value the train step logs (the loss, an accuracy), per batch.

    Keras logs a Mean metric's result, the mean of the epoch so far, not the batch's own
    value. When the logged value is the result of such a metric of the model (same name, same
    value), the batch's value is the change of the metric's total over the change of its
    count since the previous batch (the weighted mean of what the step added to it; the total
    is float32, so late in a long epoch the difference carries its rounding, about 6e-8 times
    the number of batches so far, relative). Otherwise the logged value is taken as it is."""

    def __init__(self, key):
        self.key = key
        self.metric = None   # None: not looked for yet; False: the value is not a metric's
        self.state = None    # the metric's (total, count) after the previous batch

    def _read(self):
        return _number(self.metric.total), _number(self.metric.count)

    def epoch_begin(self):
        """fit resets the model's metrics before each epoch: the state to count from."""
        if self.metric:
            self.state = self._read()

    def value(self, model, logs):
        """The batch's value, or None when the step does not log ``key``."""
        logged = logs.get(self.key)
        if logged is None:
            return None
        try:
            logged = float(np.asarray(logged))
        except (TypeError, ValueError):
            return None
        if self.metric is None:
            self.metric = False
            for metric in _mean_metrics(model, self.key):
                self.metric = metric
                total, count = self._read()
                if count > 0 and _same(total / count, logged):
                    break
                self.metric = False
        if not self.metric:
            return logged
        total, count = self._read()
        previous, self.state = self.state, (total, count)
        if count <= 0 or not _same(total / count, logged):
            self.metric = False  # the step logs something else under this name
            return logged
        if previous is None or count <= previous[1]:
            return logged        # the metric's first batch (since it was reset)
        return (total - previous[0]) / (count - previous[1])


class _Capture:
    """Collects, while the train step is traced, each trace layer's forward (pre-activation)
    and activation tensors in execution order.

    Without a tape (callback mode) it only watches: the wrappers return what the wrapped
    calls return and add no op to the graph (the recorder reduces the tensors kept after the
    step); with ``model``, the model's own output is kept too (``model_output``, and the last
    one, ``last_output``), for :func:`_output_activation`.

    A layer called several times keeps the tensors of its last call (forward and activation
    alike, with ``last_call``: an activation applied by ops between layers too, which otherwise
    stays the first call's)."""

    def __init__(self, tape, trace_layers, activation_layers, model=None, last_call=False):
        self.tape = tape
        self.trace_layers = trace_layers
        self.activation_layers = activation_layers
        self.model = model
        self.last_call = last_call
        self.model_output = None  # the first output of the model's call, when watched
        self.last_output = None   # the last one
        self.order = []           # trace layers in the order their call ended
        self.forward = {}         # id(layer) -> tensor
        self.activation = {}      # id(layer) -> tensor
        self.activation_name = {}
        self.last = None          # the trace layer whose call ended last, if no activation yet
        self.sources = {}         # (graph, name) of a trace layer's output tensor -> id(layer)
        self.functional = {}      # id(layer) -> activation applied by ops on the way to another
        self.unknown = set()      # id(layer): not-linear ops that name no activation on the way
        self._by_key = {id(tl.layer): tl for tl in trace_layers}
        self._saved = []

    def install(self):
        if self.model is not None:
            self._patch(self.model, "call", self._wrap_model_call(self.model.call))
        for tl in self.trace_layers:
            layer = tl.layer
            self._patch(layer, "call", self._wrap_call(tl, layer.call))
            if tl.fused:
                self._patch(layer, "activation", self._wrap_activation(tl, layer.activation))
        for layer in self.activation_layers:
            self._patch(layer, "call", self._wrap_activation_layer(layer, layer.call))

    def uninstall(self):
        for layer, attr, had, old in reversed(self._saved):
            if had:
                object.__setattr__(layer, attr, old)
            else:
                layer.__dict__.pop(attr, None)
        self._saved = []

    def _patch(self, layer, attr, fn):
        had = attr in layer.__dict__
        self._saved.append((layer, attr, had, layer.__dict__.get(attr)))
        object.__setattr__(layer, attr, fn)

    def _watch(self, tensor):
        if self.tape is None:
            return tensor
        tensor = tf.convert_to_tensor(tensor)
        if tensor.dtype.is_floating:
            self.tape.watch(tensor)
        return tensor

    def _wrap_model_call(self, call):
        def wrapped(*args, **kwargs):
            out = call(*args, **kwargs)
            if self.model_output is None:
                self.model_output = out
            self.last_output = out
            return out
        return wrapped

    def _between(self, args, kwargs):
        """Before a trace layer's call, while the step is traced: the activations that ops
        (``ops.elu(self.fc1(x))``, ``a * ops.sigmoid(b)``) apply to earlier trace layers'
        outputs on their way to its inputs. A layer keeps the first one found; one whose output
        reaches the input only through ops that are not linear and name no activation is
        noted as unknown. Layers with an activation of their own are left as they are."""
        if not self.sources or tf.executing_eagerly():
            return
        starts = [t for t in tf.nest.flatten((args, kwargs))
                  if isinstance(t, tf.Tensor) and hasattr(t, "op") and t.dtype.is_floating]
        if not starts:
            return
        graph = starts[0].graph  # a name is a tensor's in one graph (a loop body has its own)
        starts = [t for t in starts if t.graph is graph]
        region = _Region(starts, {name: key for (g, name), key in self.sources.items()
                                  if g is graph})
        for key in region.hits:
            tl = self._by_key[key]
            if (tl.fused or tl.declared != "linear" or key in self.activation_name
                    or (key in self.functional
                        and (not self.last_call or key in self.activation))):
                continue
            found = region.activation(key)
            if found is None:
                continue
            name, tensor = found
            if name is None:
                self.unknown.add(key)
                continue
            self.functional.setdefault(key, name)
            self.unknown.discard(key)
            if tensor is not None and key not in self.activation:
                self.activation[key] = tensor

    def _source(self, key, out):
        for t in tf.nest.flatten(out):
            if isinstance(t, tf.Tensor) and hasattr(t, "op"):
                self.sources[(t.graph, t.name)] = key

    def _wrap_call(self, tl, call):
        def wrapped(*args, **kwargs):
            try:
                self._between(args, kwargs)
            except Exception:  # noqa: BLE001 - an op the walk cannot read: nothing is named
                pass
            if self.last_call and not tl.fused and id(tl.layer) in self.forward:
                # called again: its activation is this call's, found after it
                self.activation.pop(id(tl.layer), None)
            out = call(*args, **kwargs)
            if not tf.executing_eagerly():
                self._source(id(tl.layer), out)
            first = tf.nest.flatten(out)[0] if tf.nest.flatten(out) else None
            if first is not None:
                key = id(tl.layer)
                if not tl.fused or key not in self.forward:
                    self.forward[key] = self._watch(first)
                if tl.fused and key not in self.activation:
                    self.activation[key] = first
                if key in [id(t.layer) for t in self.order]:
                    self.order = [t for t in self.order if t is not tl]
                self.order.append(tl)
                self.last = None if tl.fused else tl
            return out
        return wrapped

    def _wrap_activation(self, tl, activation):
        def wrapped(x, *args, **kwargs):
            self.forward[id(tl.layer)] = self._watch(x)
            y = activation(x, *args, **kwargs)
            self.activation[id(tl.layer)] = y
            return y
        wrapped.__name__ = getattr(activation, "__name__", "activation")
        return wrapped

    def _fed_by(self, args):
        """The trace layer whose output is an activation layer's input, read off the traced
        graph: (True, the layer) when the input is a trace layer's output, (True, None) when it
        is a fused layer's (its activation is its own), (False, None) when the graph does not
        tell (eager execution, an input that ops made from one or more outputs)."""
        if tf.executing_eagerly():
            return False, None
        for t in tf.nest.flatten(args):
            if isinstance(t, tf.Tensor) and hasattr(t, "op") and t.dtype.is_floating:
                key = self.sources.get((t.graph, t.name))
                tl = self._by_key.get(key) if key is not None else None
                if tl is None:
                    return False, None
                return True, (None if tl.fused else tl)
        return False, None

    def _wrap_activation_layer(self, layer, call):
        def wrapped(*args, **kwargs):
            out = call(*args, **kwargs)
            # The layer whose output it takes, when the graph says: in a functional model whose
            # branches are called in turn (a multi-scale discriminator), the last layer called
            # may be another branch's. Else the last trace layer called.
            known, tl = self._fed_by(args)
            if not known:
                tl = self.last
            if tl is self.last:
                self.last = None
            if tl is not None:
                key = id(tl.layer)
                self.activation[key] = tf.nest.flatten(out)[0]
                if not tf.executing_eagerly():
                    self._source(key, out)
                name = ACTIVATION_LAYERS[type(layer).__name__]
                if name is None:
                    name = _activation_name(layer.activation)
                self.activation_name[key] = name
            return out
        return wrapped


def _check_backend():
    """Keras on another backend (KERAS_BACKEND=torch or jax) runs no TensorFlow graph to record:
    refused when the recorder is made, in one line."""
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("dltrace.keras records Keras 3 on the TensorFlow backend only; this"
                           " Keras runs on %s (KERAS_BACKEND): set KERAS_BACKEND=tensorflow, or"
                           " record a PyTorch model with dltrace.pytorch" % keras.backend.backend())


class Recorder(keras.callbacks.Callback):
    """A Keras callback that records a dl-analyze trace of ``model.fit``:

        model.fit(x, y, callbacks=[Recorder("run.arrows")])

    ``path`` ends in .arrows (recommended: crash-tolerant), .csv, .arrow or .parquet (the
    last two need pyarrow). The task, the loss name and the number of classes are read from
    the compiled model; ``task=``, ``loss_name=`` and ``num_classes=`` override them.
    Options as for the PyTorch recorder: ``every`` (record every N-th step), ``phases``,
    ``layers`` (names or glob patterns), ``record_inputs``, ``flush_every``, ``run_id``,
    ``model_name``.

    ``mode``: ``"auto"`` (default) records every phase with the recorder's own train step,
    unless the model overrides ``train_step``: then, with a warning, in callback mode;
    ``"step"`` always uses the recorder's step (a model that overrides ``train_step`` is an
    error); ``"callback"`` keeps the model's own step and records the layers' outputs and
    activations (reduced in that step, of each layer's last call in it), what a callback can
    read at the end of a batch, and the gradients the step hands to its optimizers: the
    kernels of every layer and their gradients, the loss and accuracy the step logs and the
    optimizer's learning rate (``CALLBACK_PHASES``); not the output gradients, the inputs and
    the targets. ``loss_key`` names the
    logged value that is the loss in callback mode (``"loss"``; e.g. ``"g_loss"`` for a GAN).

    The end of ``fit`` closes the trace. ``close_at_train_end=False`` keeps it open so that
    several ``fit`` calls with the same recorder (e.g. a frozen-base phase and a fine-tuning
    phase) go into one trace, their steps numbered on; call ``close()`` after the last one.
    A closed recorder refuses to start another ``fit``.

    ``objective`` says what training does with the recorded loss: ``"minimize"`` (the
    default), ``"adversarial"`` (a GAN player's loss, e.g. with ``loss_key="g_loss"``),
    ``"policy_gradient"`` (a REINFORCE-style surrogate), ``"temporal_difference"`` (a value
    function's bootstrapped error) or ``"self_training"`` (a loss against targets the model
    derives from its own predictions and refreshes); written as ``dltrace.objective``.

    ``loss_added=True`` says the recorded loss holds terms beside ``loss_name``'s function: a
    custom ``train_step`` that sums a labelled and a pseudo-labelled cross-entropy, or adds a
    consistency term; written as ``dltrace.loss_added``. Terms that layers add with
    ``add_loss`` are found without it.

    A trainable layer whose kernels no optimizer updated in the first step (a teacher that only
    predicts) is marked ``in_optimizer: false``. The optimizers watched are ``optimizer=`` and
    every one the model or one of its layers holds (as an attribute, or in a list, tuple or
    dict attribute); a step that applies none of them marks no layer.

    Episode returns: an ``episode_return`` (a number or a list) in the logs of
    ``on_train_batch_end`` becomes that step's ``episode_return`` row, one in the logs of
    ``on_epoch_end`` a row at the epoch's last step (not when it repeats the last batch's);
    :meth:`add_return` keeps returns for the next step's row.
    """

    def __init__(self, path, *, task=None, loss_name=None, num_classes=None, run_id=None,
                 model_name=None, flush_every=50, record_inputs=True, every=1, phases=None,
                 layers=None, stop_file=None, mode="auto", loss_key="loss", optimizer=None,
                 batch_size=None, close_at_train_end=True, objective=None, loss_added=False):
        super().__init__()
        _check_backend()
        if not isinstance(loss_added, bool):
            raise TypeError("loss_added must be True or False, got %r" % (loss_added,))
        self._objective = objective_metadata(objective)
        if optimizer is not None and not isinstance(optimizer, keras.optimizers.Optimizer):
            raise ValueError("optimizer must be a keras.optimizers.Optimizer: %r" % (optimizer,))
        if batch_size is not None and int(batch_size) < 1:
            raise ValueError("batch_size must be positive: %s" % batch_size)
        if task not in (None, "classification", "regression"):
            raise ValueError("task must be 'classification' or 'regression': %s" % task)
        if flush_every < 1:
            raise ValueError("flush_every must be positive: %s" % flush_every)
        if mode not in MODES:
            raise ValueError("mode must be one of %s: %r" % (", ".join(MODES), mode))
        if not isinstance(loss_key, str) or not loss_key:
            raise ValueError("loss_key must be a non-empty string: %r" % (loss_key,))
        self.mode = mode
        self.loss_key = loss_key
        self.close_at_train_end = bool(close_at_train_end)
        self.callback_mode = None  # decided at the start of fit
        self._logged = []          # values the step logs, read per batch (_Logged)
        self.selection = Selection(every, phases, layers, record_inputs)
        self.path = resolve_path(path, lambda m: warnings.warn(m, stacklevel=4))
        self.task = task
        self.loss_name = loss_name
        self.num_classes = num_classes
        self.run_id = run_id if run_id is not None else os.path.splitext(
            os.path.basename(self.path))[0]
        self.model_name = model_name
        self.flush_every = flush_every
        self.layers = None
        self._trace_layers = None
        self._activation_layers = None
        self._output_units = None  # the model output's last dimension, seen at the first trace
        # ops after the layers compare two layer outputs into the model's output (first trace)
        self._output_none = None
        self._plan = None         # per trace: row keys and where each row's numbers are
        self._loss_weighted = False  # the batches carry sample weights (seen at the first trace)
        # the loss holds terms beside loss_name's function: said by the user (a custom
        # train_step's sum), or found at the first trace (layers' add_loss terms)
        self._loss_added = loss_added
        # ids of the variables an optimizer applied a gradient to, over every fit
        # (_mark_in_optimizer)
        self._applied = set()
        self._sink = None
        self._step = 0
        self._epoch = 0
        self._batch = 0
        self._force_until = -1
        self._flag_value = None
        self._first_steps = 1     # the steps of the first call of the train function
        self._steps_per_epoch = None
        self._batch_size = int(batch_size) if batch_size is not None else None
        self._given_optimizer = optimizer
        self._saved = None
        self._last_position = None
        self._pending_returns = []     # arrays of returns given to add_return or logged
        self._last_logged_returns = None  # the episode_return of the last batch's logs
        self._closed = False
        self._stop = StopFile(stop_file)
        self.stop_reason = None   # set when the stop file ended the training

    # ------------------------------------------------------------------ fit

    def on_train_begin(self, logs=None):
        if self._closed:
            raise RuntimeError("dltrace.keras: this recorder's trace %s is closed (the end of"
                               " an earlier fit closes it); create the recorder with"
                               " close_at_train_end=False to record several fits into one"
                               " trace" % self.path)
        model = self.model
        _check_backend()
        from keras.src.backend.tensorflow.trainer import TensorFlowTrainer
        overridden = (type(model).train_step is not TensorFlowTrainer.train_step
                      or "train_step" in model.__dict__)
        if overridden and self.mode == "step":
            raise RuntimeError("dltrace.keras replaces Keras' own train step; %s overrides"
                               " train_step, which it cannot record in mode='step' (mode="
                               "'callback' records its weights and logged scalars)"
                               % type(model).__name__)
        self.callback_mode = self.mode == "callback" or (self.mode == "auto" and overridden)
        if self.callback_mode and getattr(model, "steps_per_execution", 1) != 1:
            raise RuntimeError("dltrace.keras records every step: compile the model with"
                               " steps_per_execution=1 (it is %s)" % model.steps_per_execution)
        if self.callback_mode and self.mode == "auto":
            warnings.warn("dltrace.keras: %s overrides train_step: recording in callback mode"
                          " (layer outputs and activations, weights, the gradients its"
                          " optimizers apply, loss, accuracy, learning rate); its output"
                          " gradients, inputs and targets are not recorded"
                          % type(model).__name__,
                          stacklevel=_user_stacklevel())
        if self._trace_layers is None and _built(model):
            self._find_layers()
        if self.callback_mode:
            self._begin_callback_mode()
            return
        # else: a subclassed model that was never called has no weights yet; Keras builds it
        # when the train step is first traced, and so does _train_step (_build_from).
        self._steps_per_epoch = (self.params or {}).get("steps")
        # With steps_per_execution=k, Keras runs k steps per call of its train function and
        # calls the batch hooks once per call: each step writes its scalars and statistics at
        # its slot, and the batch end reads the k steps (_slot counts them; the last call of an
        # epoch may run fewer).
        self._per_call = int(getattr(model, "steps_per_execution", 1) or 1)
        # A model fitted without targets (its loss computed inside, by an endpoint layer's
        # add_loss) gives the step no y to compute an accuracy from: the accuracy it logs then
        # makes the accuracy rows (_logged_accuracy_row).
        self._accuracy_from_logs = False
        self._logged = []
        self._logged_accuracy = None
        with tf.init_scope():
            self._flag = tf.Variable([True] * self._per_call, trainable=False,
                                     name="dltrace_record")
            self._scalars = tf.Variable(tf.zeros([0, 5], _F64), trainable=False,
                                        shape=tf.TensorShape([None, 5]), name="dltrace_scalars")
            self._stats = tf.Variable(tf.zeros([0, RAW_WIDTH], _F64), trainable=False,
                                      shape=tf.TensorShape([None, RAW_WIDTH]),
                                      name="dltrace_stats")
            if self._per_call > 1:
                self._slot = tf.Variable(0, trainable=False, name="dltrace_slot")
                # steps still to record after a non-finite loss within one call
                self._forced = tf.Variable(0, trainable=False, name="dltrace_forced")
        self._flag_value = [True] * self._per_call
        self._first_batch = 0
        self._saved = {"train_step": model.__dict__.get("train_step"),
                       "jit_compile": model.jit_compile}
        if model.jit_compile:
            warnings.warn("dltrace.keras: jit_compile is off while recording",
                          stacklevel=_user_stacklevel())
            model.jit_compile = False
        object.__setattr__(model, "train_step", self._train_step)
        model.make_train_function(force=True)

    def _find_layers(self):
        trace_layers, activations = [], []
        _walk(self.model, "", trace_layers, activations)
        if not trace_layers:
            raise ValueError("the model has no layer with weights to record")
        self.selection.check_layers([t.name for t in trace_layers])
        for tl in trace_layers:
            tl.selected = self.selection.layer_selected(tl.name)
        self._trace_layers, self._activation_layers = trace_layers, activations

    def _build_from(self, x):
        """Builds an unbuilt model's weights from the shapes of the first batch, as Keras' own
        symbolic build does (outside the traced step, so no forward pass is added to it)."""
        from keras.src import backend, tree
        spec = tree.map_structure(
            lambda v: backend.KerasTensor(v.shape, backend.standardize_dtype(v.dtype)), x)
        with tf.init_scope():
            backend.compute_output_spec(self.model, spec, training=False)

    def on_train_end(self, logs=None):
        self._restore()
        if self.close_at_train_end:
            self.close()

    def _restore(self):
        model = self.model
        if self._saved is None or model is None:
            return
        model.__dict__.pop("train_step", None)
        for optimizer in self._saved.get("optimizers", ()):
            optimizer.__dict__.pop("apply", None)
        if self._saved["train_step"] is not None:
            object.__setattr__(model, "train_step", self._saved["train_step"])
        if "jit_compile" in self._saved:
            model.jit_compile = self._saved["jit_compile"]
        model.train_function = None  # the next fit builds Keras' own step again
        self._saved = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._last_logged_returns = None
        for logged in self._logged:
            logged.epoch_begin()

    def on_train_batch_begin(self, batch, logs=None):
        if self.callback_mode:
            self._callback_batch_begin()
            return
        want = [self.selection.sampled(step) or step <= self._force_until
                for step in range(self._step, self._step + self._per_call)]
        if want != self._flag_value:
            self._flag.assign(want)
            self._flag_value = want
        if self._per_call > 1:
            self._slot.assign(0)
        self._first_batch = batch

    def on_train_batch_end(self, batch, logs=None):
        if self._closed:
            return
        if self.callback_mode:
            self._callback_batch_end(batch, logs or {})
            return
        scalars = self._scalars.numpy()
        if self._batch_size is None:
            self._batch_size = int(scalars[0][4])
        if self._sink is None:
            self._first_steps = len(scalars)
            self._sink = TraceSink(self.path, self.metadata(), self.flush_every)
        stats = self._stats.numpy() if scalars[:, 3].any() else None
        self._logged_returns(logs)
        for slot, (loss, accuracy, lr, recorded, _) in enumerate(scalars.tolist()):
            step, batch = self._step, self._first_batch + slot
            if not np.isfinite(loss):
                self._force_until = step + STEPS_AFTER_NONFINITE
            at = slot * self._rows_per_step
            keys, raw = [], []
            for key, source in self._plan:
                if source == "loss":
                    keys.append(key)
                    raw.append(scalar_raw(loss))
                elif source == "accuracy":
                    keys.append(key)
                    raw.append(scalar_raw(accuracy))
                elif source == "learning_rate":
                    keys.append(key)
                    raw.append(scalar_raw(lr))
                elif recorded:
                    keys.append(key)
                    raw.append(stats[at + source])
            if slot == len(scalars) - 1:
                # the returns logged at the call's end, and those add_return kept: its last step
                self._returns_row(keys, raw)
                if len(scalars) == 1:
                    self._logged_accuracy_row(keys, raw, logs or {})
            self._sink.put(StepRows(self._epoch, batch, step, self._keys(keys), raw))
            # a stop file is looked for after the call's last step: its steps have all run
            self._end_step(batch, step, check_stop=slot == len(scalars) - 1)

    def _logged_accuracy_value(self, logs):
        """The batch's accuracy as the step logs it (the first of ACCURACY_KEYS found at the
        first batch end), per batch, not the epoch's running mean (_Logged); None when the step
        logs none."""
        if self._logged_accuracy is None:
            key = next((k for k in ACCURACY_KEYS if logs.get(k) is not None), None)
            self._logged_accuracy = _Logged(key) if key is not None else False
            if self._logged_accuracy:
                self._logged.append(self._logged_accuracy)
        if not self._logged_accuracy:
            return None
        return self._logged_accuracy.value(self.model, logs)

    def _logged_accuracy_row(self, keys, raw, logs):
        """The accuracy row of a model fitted without targets, from the accuracy its step logs
        (an endpoint layer's metric), as callback mode reads it. Only for one step per call:
        with several, the logs hold only the last."""
        if not self._accuracy_from_logs:
            return
        accuracy = self._logged_accuracy_value(logs)
        if accuracy is not None:
            keys.append((-1, MODEL, None, "accuracy"))
            raw.append(scalar_raw(accuracy))

    def _end_step(self, batch, step, check_stop=True):
        self._last_position = (self._epoch, batch, step)
        self._step += 1
        reason = self._stop.reason() if check_stop else None
        if reason is not None:
            # fit ends after this batch and calls on_train_end, which closes the trace
            self.stop_reason = reason
            self._stop_metadata = stop_metadata(reason, step)
            self.model.stop_training = True
            announce(reason, step, self.path, self._stop.path)

    def add_return(self, value):
        """Keeps the return (the undiscounted sum of rewards) of an episode that just ended, or
        of several (a number, a sequence of numbers, a numpy array or a tensor), for loops
        where episodes end between updates: they are written with the next step's rows, in its
        ``episode_return`` row (with the ``episode_return`` its batch logs carry); those still
        kept when the trace is closed go into a row at the last recorded step. NaN and Inf are
        kept and counted; anything that is not a number raises TypeError."""
        returns = as_returns(value, "add_return")
        if self._closed:
            if self.stop_reason is not None:
                return
            raise RuntimeError("dltrace.keras: the recorder is closed")
        if returns.size and self.selection.wants("episode_return"):
            self._pending_returns.append(returns)

    def _logged_returns(self, logs):
        """Keeps the ``episode_return`` of a batch's logs (a number or a list)."""
        value = (logs or {}).get(RETURN_KEY)
        self._last_logged_returns = None
        if value is None:
            return
        returns = self._last_logged_returns = as_returns(value, "the logged %r" % RETURN_KEY)
        if returns.size and self.selection.wants("episode_return"):
            self._pending_returns.append(returns)

    def _returns_row(self, keys, raw):
        """Appends the ``episode_return`` row of the returns kept, if any."""
        pending, self._pending_returns = self._pending_returns, []
        if pending and self.selection.wants("episode_return"):
            keys.append(_RETURN_KEY)
            raw.append(values_raw(np.concatenate(pending)))

    def _keys(self, keys):
        """The same tuple object for the same rows, so the writer reuses its key columns."""
        keys = tuple(keys)
        cache = self.__dict__.setdefault("_key_tuples", {})
        return cache.setdefault(keys, keys)

    def on_epoch_end(self, epoch, logs=None):
        if self._closed or self._sink is None or not logs:
            return
        keys, raw = [], []
        # the returns of the episodes the epoch ended with (one episode per epoch); not those
        # the epoch's last batch logged, repeated: fit's epoch logs repeat the last batch's logs
        # when the train step returns more than the model's metrics
        value = logs.get(RETURN_KEY)
        if value is not None:
            returns = as_returns(value, "the logged %r" % RETURN_KEY)
            last = self._last_logged_returns
            if last is not None and np.array_equal(returns, last, equal_nan=True):
                returns = returns[:0]
            if returns.size and self.selection.wants("episode_return"):
                keys.append(_RETURN_KEY)
                raw.append(values_raw(returns))
        # the validation value of the quantity the loss rows hold: val_<loss_key> (a model whose
        # own steps log "n_loss" logs its validation as "val_n_loss")
        val_loss = logs.get("val_" + self.loss_key)
        if val_loss is not None and self.selection.wants("val_loss"):
            keys.append((-1, MODEL, None, "val_loss"))
            raw.append(scalar_raw(val_loss))
        val_accuracy = None
        first = self._first_output()
        # a model of several outputs logs its first output's as val_<output>_accuracy
        for name in ["val_" + k for k in ACCURACY_KEYS] + (
                ["val_%s_%s" % (first, k) for k in ACCURACY_KEYS] if first else []):
            if logs.get(name) is not None:
                val_accuracy = logs[name]
                break
        if val_accuracy is not None and self.selection.wants("val_accuracy"):
            keys.append((-1, MODEL, None, "val_accuracy"))
            raw.append(scalar_raw(val_accuracy))
        if keys:
            epoch_, batch, step = self._last_position
            self._sink.put(StepRows(epoch_, batch, step, self._keys(keys), raw))

    def close(self):
        """Writes every recorded step and closes the trace (fit's end does this)."""
        if self._closed:
            return
        if self._pending_returns and self._sink is not None and self._last_position is not None:
            # returns kept after the last step: at that step
            keys, raw = [], []
            self._returns_row(keys, raw)
            self._sink.put(StepRows(*self._last_position, self._keys(keys), raw))
        self._pending_returns = []
        self._closed = True
        if self._sink is not None:
            self._sink.close(getattr(self, "_stop_metadata", None))

    # ------------------------------------------------------------------ callback mode

    def _begin_callback_mode(self):
        """Keeps the model's own train step, wrapped to watch its traces (which adds to it one
        op that keeps the batch size, and the forward and activation reductions after the
        model's own computation)."""
        model = self.model
        self._steps_per_epoch = (self.params or {}).get("steps")
        self._logged = [_Logged(self.loss_key)]
        self._logged_accuracy = None  # the _Logged accuracy, found at the first batch end
        self._weight_layers = None   # the layers of the weight rows, and their reductions
        self._weight_stats = None
        self._warned_no_loss = False
        self._step_optimizer = None  # found at the first batch end
        # a trace of the model's step was watched (not in a loop of one's own, which calls
        # the hooks without fit): forward and activation rows
        self._watched = getattr(self, "_watched", False)
        with tf.init_scope():
            self._batch_var = tf.Variable(0, dtype=tf.int64, trainable=False,
                                          name="dltrace_batch_size")
        own = model.train_step
        self._saved = {"train_step": model.__dict__.get("train_step"), "optimizers": []}
        with tf.init_scope():
            # on the recorded steps: the gradients and the forward and activation rows
            self._grad_flag = tf.Variable(True, trainable=False, name="dltrace_record")
        self._grad_flag_value = True
        self._grad_layers = None   # the layers of the gradient rows, at the first apply
        self._grad_index = None    # id of a kernel -> (position, its place in the layer)
        self._grad_stats = None    # [layers, RAW_WIDTH] of the last gradient applied
        self._grad_seen = None     # [layers]: 1 where this step applied a gradient
        self._act_layers = None    # the layers of the forward and activation rows
        self._act_stats = None     # [2 x layers, RAW_WIDTH]: forward, activation of each
        self._act_seen = None      # [2 x layers]: 1 where this step wrote the row
        with tf.init_scope():
            # sized once the layers are known (_gradient_buffers, _activation_buffers)
            for name in ("grad", "act"):
                setattr(self, "_%s_stats" % name, tf.Variable(
                    tf.zeros([0, RAW_WIDTH], _F64), trainable=False,
                    shape=tf.TensorShape([None, RAW_WIDTH]), name="dltrace_%s_stats" % name))
                setattr(self, "_%s_seen" % name, tf.Variable(
                    tf.zeros([0], tf.int32), trainable=False, shape=tf.TensorShape([None]),
                    name="dltrace_%s_seen" % name))
        self._activation_buffers()
        gradients = self.selection.wants("gradient")
        if gradients:
            self._gradient_buffers()
        recorded = self._model_optimizers()
        for optimizer in recorded:
            self._watch_optimizer(optimizer, gradients)
        for optimizer in self._reachable_optimizers():
            if not any(optimizer is r for r in recorded):
                self._watch_optimizer(optimizer, False)

        def train_step(data):
            return self._watched_step(own, data)

        object.__setattr__(model, "train_step", train_step)
        model.make_train_function(force=True)

    def _watched_step(self, own, data):
        """The model's own step, its layers' calls watched at every trace (the first, a retrace
        for a last partial batch, any other): at the first, to number the layers in the order
        they run and name their activations; at each, to reduce the forward and activation
        tensors of each layer's last call in the step (:meth:`_note_activations`)."""
        from keras.src import tree
        from keras.src.trainers.data_adapters import data_adapter_utils

        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        self._note_sample_weight(sample_weight)
        inputs = [t for t in tree.flatten(x) if t is not None] if x is not None else []
        counted = _examples_tensor(inputs, y)
        if counted is not None:
            self._batch_var.assign(tf.cast(tf.shape(counted)[0], tf.int64))
        if self._trace_layers is None and inputs:
            try:
                self._build_from(x)
            except Exception:  # noqa: BLE001 - the step's own call builds it; see below
                pass
            if _built(self.model):
                self._find_layers()
        if self._trace_layers is None:
            # the layers are found after the first batch, in the model's order
            return own(data)
        self._watched = True
        capture = _Capture(None, self._trace_layers, self._activation_layers, self.model,
                           last_call=True)
        capture.install()
        try:
            result = own(data)
            self._note_added_losses()
        finally:
            capture.uninstall()
        for output in (capture.model_output, capture.last_output):
            if output is not None:
                _output_activation(capture, output)
        if self.layers is None:
            if capture.model_output is not None:
                outputs = tf.nest.flatten(capture.model_output)
                if len(outputs) == 1 and getattr(outputs[0].shape, "rank", None):
                    self._output_units = outputs[0].shape[-1]
                self._output_none = _output_compares(capture, capture.model_output)
            if capture.order:
                self._freeze(capture)
        self._note_activations(capture, result)
        return result

    def _activation_buffers(self):
        """Sizes the variables the step reduces the forward and activation rows into (as
        :meth:`_gradient_buffers`): two rows per selected trace layer (forward, activation) and
        which of them this step wrote."""
        if self._act_layers is not None or self._trace_layers is None:
            return
        if not (self.selection.wants("forward") or self.selection.wants("activation")):
            self._act_layers = []
            return
        self._act_layers = [tl for tl in self._trace_layers if tl.selected]
        with tf.init_scope():
            self._act_stats.assign(tf.zeros([2 * len(self._act_layers), RAW_WIDTH], _F64))
            self._act_seen.assign(tf.zeros([2 * len(self._act_layers)], tf.int32))

    def _logged_nonfinite(self, result):
        """In the step: True when a loss it returns is not finite (the logged ``loss_key``,
        else every scalar whose name contains ``loss``, as the batch end's rule reads them), or
        None when it returns none."""
        if not isinstance(result, dict):
            return None
        if self.loss_key in result:
            values = [result[self.loss_key]]
        else:
            values = [v for k, v in result.items() if "loss" in str(k)]
        finite = []
        for value in values:
            try:
                t = tf.convert_to_tensor(value)
            except (TypeError, ValueError):
                continue
            if t.dtype.is_floating and t.shape.rank == 0:
                finite.append(tf.math.is_finite(t))
        if not finite:
            return None
        return tf.logical_not(tf.reduce_all(tf.stack(finite)))

    def _note_activations(self, capture, result):
        """At each trace of the model's own step, after it: reduces each selected layer's
        forward (pre-activation) and activation tensors of its last call in the step, split as
        the recorder's own step splits them, into the activation buffer, on the recorded steps
        and on a step whose logged loss is not finite. A layer the step did not call, or called
        only inside a ``tf.cond`` or loop body of its own (tensors of another graph), gets no
        row."""
        self._activation_buffers()
        if not self._act_layers:
            return
        eager = tf.executing_eagerly()
        graph = None if eager else tf.compat.v1.get_default_graph()

        def usable(t):
            if not isinstance(t, tf.Tensor):
                return False
            return eager or getattr(t, "graph", None) is graph

        tensors, at = [], []
        sel = self.selection
        for position, tl in enumerate(self._act_layers):
            key = id(tl.layer)
            forward = capture.forward.get(key)
            if forward is None:
                continue
            activation = capture.activation.get(key, forward)
            for offset, phase, tensor in ((0, "forward", forward),
                                          (1, "activation", activation)):
                if sel.wants(phase) and usable(tensor):
                    tensors.append(tensor)
                    at.append(2 * position + offset)
        size = 2 * len(self._act_layers)
        if not tensors:
            self._act_seen.assign(tf.zeros([size], tf.int32))
            return
        record = tf.convert_to_tensor(self._grad_flag)
        nonfinite = self._logged_nonfinite(result)
        if nonfinite is not None:
            record = tf.logical_or(record, nonfinite)
        written = np.zeros([size], np.int32)
        written[at] = 1

        def do_record():
            rows = tf.stack([reduce(t) for t in tensors])
            self._act_stats.scatter_nd_update(tf.constant([[i] for i in at], tf.int32), rows)
            return tf.constant(written)

        self._act_seen.assign(tf.cond(record, do_record,
                                      lambda: tf.zeros([size], tf.int32)))

    def _held_optimizers(self):
        """The model's optimizer and every optimizer the model holds as an attribute (a GAN's
        ``d_optimizer`` and ``g_optimizer``), each once, in that order."""
        model = self.model
        held = []
        for optimizer in [getattr(model, "optimizer", None)] + [
                v for v in vars(model).values() if isinstance(v, keras.optimizers.Optimizer)]:
            if optimizer is not None and not any(optimizer is h for h in held):
                held.append(optimizer)
        return held

    def _model_optimizers(self):
        """The optimizers the model's own step may apply: the one given to the recorder and
        those the model holds, loss-scaling ones through their inner one (_unscaled_optimizer)."""
        found = []
        for optimizer in [self._given_optimizer] + self._held_optimizers():
            if optimizer is None:
                continue
            optimizer = _unscaled_optimizer(optimizer)
            if not any(optimizer is f for f in found):
                found.append(optimizer)
        return found

    def _reachable_optimizers(self):
        """Every optimizer the model or one of its layers holds, as an attribute or in a list,
        tuple or dict attribute (a forward-forward layer's own optimizer, a teacher model's
        compiled one), each once, loss-scaling ones through their inner optimizer."""
        found = []
        try:
            holders = [self.model] + list(self.model._flatten_layers(include_self=False))
        except (AttributeError, TypeError):
            holders = [self.model]
        for holder in holders:
            values = []
            for value in vars(holder).values():
                if isinstance(value, dict):
                    values.extend(value.values())
                elif isinstance(value, (list, tuple)):
                    values.extend(value)
                else:
                    values.append(value)
            for value in values:
                if not isinstance(value, keras.optimizers.Optimizer):
                    continue
                value = _unscaled_optimizer(value)
                if not any(value is f for f in found):
                    found.append(value)
        return found

    def _watch_optimizer(self, optimizer, gradients=True):
        """Wraps ``optimizer.apply`` (which ``apply_gradients`` calls) on the instance for the
        duration of ``fit``: the variables it updates are noted (for ``in_optimizer``, see
        :meth:`_mark_in_optimizer`), and with ``gradients`` the gradients are reduced as they
        are applied."""
        original = optimizer.apply

        def apply(grads, trainable_variables=None):
            variables = list(trainable_variables if trainable_variables is not None
                             else optimizer._trainable_variables)
            grads = list(grads)
            self._applied.update(id(v) for g, v in zip(grads, variables) if g is not None)
            if gradients:
                self._note_gradients(grads, variables)
            return original(grads, trainable_variables)

        object.__setattr__(optimizer, "apply", apply)
        self._saved["optimizers"].append(optimizer)

    def _gradient_buffers(self):
        """Sizes the variables the optimizers' wrappers reduce the gradients into (made empty at
        the start of ``fit``: TensorFlow refuses a variable made while it traces the step anew
        for the variables its first trace made, and a model whose step builds a layer is only
        known then): once the layers are known, from the trace if need be (an assignment
        lifted out of it, run at once)."""
        if self._grad_index is not None or self._trace_layers is None:
            return
        self._grad_layers = [tl for tl in self._trace_layers if tl.selected and tl.kernels]
        self._grad_index = {}
        for position, tl in enumerate(self._grad_layers):
            for place, kernel in enumerate(tl.kernels):
                self._grad_index[id(kernel)] = (position, place)
        with tf.init_scope():
            self._grad_stats.assign(tf.zeros([len(self._grad_layers), RAW_WIDTH], _F64))
            self._grad_seen.assign(tf.zeros([len(self._grad_layers)], tf.int32))

    def _note_gradients(self, grads, variables):
        """In the model's step (its graph): reduces the gradients of the selected layers whose
        every kernel has one here, into the gradient buffer, on the steps that are recorded."""
        if self._trace_layers is None:
            return
        self._gradient_buffers()
        given = {}
        for grad, variable in zip(grads, variables):
            where = self._grad_index.get(id(variable))
            if grad is not None and where is not None:
                given.setdefault(where[0], {})[where[1]] = grad
        layers = [(position, [parts[i] for i in range(len(self._grad_layers[position].kernels))])
                  for position, parts in sorted(given.items())
                  if len(parts) == len(self._grad_layers[position].kernels)]
        if not layers:
            return

        def record():
            rows = tf.stack([reduce(flat_concat([tf.convert_to_tensor(g) for g in parts]))
                             for _, parts in layers])
            at = tf.constant([[position] for position, _ in layers], tf.int32)
            self._grad_stats.scatter_nd_update(at, rows)
            self._grad_seen.scatter_nd_update(at, tf.ones([len(layers)], tf.int32))
            return tf.constant(True)

        tf.cond(self._grad_flag, record, lambda: tf.constant(False))

    def _callback_batch_begin(self):
        """Arms the gradient buffer for the step about to run: cleared, and filled only on a
        recorded step."""
        if getattr(self, "_grad_flag", None) is None:
            return
        want = self.selection.sampled(self._step) or self._step <= self._force_until
        if want != self._grad_flag_value:
            self._grad_flag.assign(want)
            self._grad_flag_value = want
        if self._grad_seen is not None and want:
            self._grad_seen.assign(tf.zeros_like(self._grad_seen))

    def _freeze_unwatched(self):
        """The layers in the model's own order, when its first trace could not be watched (a
        subclassed model that its own step builds)."""
        if self._trace_layers is None:
            self._find_layers()
        for i, tl in enumerate(self._trace_layers):
            tl.index = i
        self.layers = list(self._trace_layers)

    def _weights_function(self):
        """The selected layers' kernels reduced as the recorder's own step reduces them, in one
        compiled function."""
        layers = [tl for tl in self.layers if tl.selected and tl.kernels]
        if not layers or not self.selection.wants("weight"):
            return [], None

        def stats():
            return tf.stack([reduce(flat_concat([v.value for v in tl.kernels]))
                             for tl in layers])

        return layers, tf.function(stats)

    def _find_step_optimizer(self):
        """The optimizer the model's own step updates with, after its first batch: the model's
        optimizer if its iterations advanced, else the one other optimizer of the model that
        did (a step that keeps its own); None with none or several (a GAN's two). An optimizer
        given to the recorder (a loop of one's own) is that one."""
        if self._given_optimizer is not None:
            return self._given_optimizer
        used = []
        for optimizer in self._held_optimizers():
            try:
                if _number(optimizer.iterations) > 0:
                    used.append(optimizer)
            except (AttributeError, TypeError, ValueError):
                continue
        return used[0] if len(used) == 1 else None

    def _optimizer(self):
        """The optimizer the metadata and the learning_rate rows describe."""
        if self._given_optimizer is not None:
            return self._given_optimizer
        if self.callback_mode:
            return self._step_optimizer
        return getattr(self.model, "optimizer", None)

    def _learning_rate_now(self):
        """The optimizer's learning rate of the step that just ended, or None."""
        optimizer = self._step_optimizer
        if optimizer is None:
            return None
        inner = getattr(optimizer, "inner_optimizer", None) or optimizer
        rate = getattr(inner, "_learning_rate", None)
        try:
            if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
                # the iterations already count this step's update
                step = max(int(_number(inner.iterations)) - 1, 0)
                return _number(rate(step))
            return _number(optimizer.learning_rate)
        except (TypeError, ValueError, AttributeError):
            return None

    def _callback_batch_end(self, batch, logs):
        sel = self.selection
        if self.layers is None:
            self._freeze_unwatched()
        if self._weight_stats is None and self._weight_layers is None:
            self._weight_layers, self._weight_stats = self._weights_function()
        if self._batch_size is None:
            size = int(self._batch_var.numpy())
            self._batch_size = size if size > 0 else None
        if self._sink is None:
            self._step_optimizer = self._find_step_optimizer()
            self._sink = TraceSink(self.path, self.metadata(), self.flush_every)
        step = self._step
        loss = self._logged[0].value(self.model, logs)
        if loss is None:
            if not self._warned_no_loss:
                self._warned_no_loss = True
                warnings.warn("dltrace.keras: the train step logs no %r (it logs %s): the trace"
                              " has no loss rows; name the logged loss with loss_key="
                              % (self.loss_key, ", ".join(sorted(logs)) or "nothing"),
                              stacklevel=_user_stacklevel())
            # the non-finite rule reads every logged loss (a GAN's d_loss and g_loss)
            losses = [v for k, v in logs.items() if "loss" in k]
            nonfinite = any(not math.isfinite(float(np.asarray(v))) for v in losses
                            if np.ndim(v) == 0)
        else:
            nonfinite = not math.isfinite(loss)
        if nonfinite:
            self._force_until = step + STEPS_AFTER_NONFINITE
        keys, raw = [], []
        if loss is not None:
            keys.append((-1, MODEL, None, "loss"))
            raw.append(scalar_raw(loss))
        accuracy = self._logged_accuracy_value(logs)
        if accuracy is not None and sel.wants("accuracy"):
            keys.append((-1, MODEL, None, "accuracy"))
            raw.append(scalar_raw(accuracy))
        if self._act_layers:
            seen = self._act_seen.numpy()
            if seen.any():
                stats = self._act_stats.numpy()
                for position, tl in sorted(enumerate(self._act_layers),
                                           key=lambda p: p[1].index):
                    for offset, phase in ((0, "forward"), (1, "activation")):
                        if seen[2 * position + offset] and tl.index >= 0:
                            keys.append(tl.key(phase))
                            raw.append(stats[2 * position + offset])
        if self._weight_stats is not None and (sel.sampled(step) or step <= self._force_until):
            stats = self._weight_stats().numpy()
            for tl, row in zip(self._weight_layers, stats):
                keys.append(tl.key("weight"))
                raw.append(row)
        if self._grad_seen is not None and self._grad_flag_value:
            seen = self._grad_seen.numpy()
            if seen.any():
                stats = self._grad_stats.numpy()
                for position, tl in enumerate(self._grad_layers):
                    if seen[position] and tl.index >= 0:
                        keys.append(tl.key("gradient"))
                        raw.append(stats[position])
        if sel.wants("learning_rate"):
            lr = self._learning_rate_now()
            if lr is not None:
                keys.append((-1, MODEL, None, "learning_rate"))
                raw.append(scalar_raw(lr))
        self._logged_returns(logs)
        self._returns_row(keys, raw)
        self._sink.put(StepRows(self._epoch, batch, step, self._keys(keys), raw))
        self._end_step(batch, step)

    # ------------------------------------------------------------------ the train step

    def _train_step(self, data):
        from keras.src import tree
        from keras.src.losses import loss as loss_module
        from keras.src.trainers.data_adapters import data_adapter_utils

        model = self.model
        sel = self.selection
        x, y, sample_weight = data_adapter_utils.unpack_x_y_sample_weight(data)
        self._note_sample_weight(sample_weight)
        if self._trace_layers is None:
            self._build_from(x)
            self._find_layers()
        with tf.GradientTape() as tape:
            capture = _Capture(tape, self._trace_layers, self._activation_layers)
            capture.install()
            try:
                if model._call_has_training_arg:
                    y_pred = model(x, training=True)
                else:
                    y_pred = model(x)
            finally:
                capture.uninstall()
            self._note_added_losses()
            loss = model._compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                       training=True)
            model._loss_tracker.update_state(
                loss_module.unscale_loss_for_distribution(loss),
                sample_weight=tf.shape(next(i for i in tree.flatten(x) if i is not None))[0])
            batch_loss = loss
            scale = None
            if model.optimizer is not None:
                loss = model.optimizer.scale_loss(loss)
                # The gradients of the scaled loss are recorded divided by the scale in effect
                # for this step; apply_gradients unscales its own copy and may change the scale.
                scale = _loss_scale(model.optimizer)

        _output_activation(capture, y_pred)
        outputs = tf.nest.flatten(y_pred)
        if self._output_units is None and len(outputs) == 1 and outputs[0].shape.rank:
            self._output_units = outputs[0].shape[-1]
        if self._output_none is None:
            self._output_none = _output_compares(capture, y_pred)
        self._freeze(capture)
        layers = [tl for tl in self.layers if tl.selected]
        watched = []
        if sel.wants("backward"):
            watched = [tl for tl in layers if id(tl.layer) in capture.forward]
        trainable = model.trainable_weights
        lr = tf.cast(tf.convert_to_tensor(model.optimizer.learning_rate), _F64)
        grads_of = {}
        output_grads = []
        if trainable:
            sources = list(trainable) + [capture.forward[id(tl.layer)] for tl in watched]
            grads = tape.gradient(loss, sources)
            weight_grads = grads[:len(trainable)]
            output_grads = grads[len(trainable):]
            grads_of = {id(v): _unscaled(g, scale) for v, g in zip(trainable, weight_grads)}
            output_grads = [_unscaled(g, scale) for g in output_grads]
            model.optimizer.apply_gradients(zip(weight_grads, trainable))
        else:
            warnings.warn("The model does not have any trainable weights.")
        metrics = model.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

        inputs = [i for i in tree.flatten(x) if i is not None]
        first_x = inputs[0]
        # the input rows come from the first numeric input: ids fed as strings (StringLookup) have
        # no statistics, and a string tensor cannot be cast to float
        numeric_x = next((i for i in inputs if _numeric(i)), None)
        first_y = self._first_target(y) if y is not None else None
        if first_y is not None and not _numeric(first_y):
            first_y = None
        first_pred = tree.flatten(y_pred)[0]
        accuracy = self._accuracy(first_pred, first_y)
        if y is None and sel.wants("accuracy"):
            self._accuracy_from_logs = True

        plan, tensors = [], []

        def add(key, make):
            """``make`` builds the tensor inside the recording branch only."""
            plan.append((key, len(tensors)))
            tensors.append(make)

        if sel.wants("input") and numeric_x is not None:
            add((-1, MODEL, None, "input"), lambda: numeric_x)
        if sel.wants("target") and first_y is not None:
            add((-1, MODEL, None, "target"), lambda: first_y)
        for tl in layers:
            key = id(tl.layer)
            if key not in capture.forward:
                continue
            forward = capture.forward[key]
            if sel.wants("forward"):
                add(tl.key("forward"), lambda t=forward: t)
            if sel.wants("activation"):
                activation = capture.activation.get(key, forward)
                add(tl.key("activation"), lambda t=activation: t)
        plan.append(((-1, MODEL, None, "loss"), "loss"))
        if accuracy is not None and sel.wants("accuracy"):
            plan.append(((-1, MODEL, None, "accuracy"), "accuracy"))
        for tl, grad in reversed(list(zip(watched, output_grads))):
            if grad is not None:
                add(tl.key("backward"), lambda t=grad: t)
        if sel.wants("gradient"):
            for tl in layers:
                grads = [grads_of.get(id(v)) for v in tl.kernels]
                grads = [g for g in grads if g is not None]
                if grads:
                    add(tl.key("gradient"), lambda g=grads: flat_concat(g))
        if sel.wants("weight"):
            for tl in layers:
                if tl.kernels:
                    add(tl.key("weight"),
                        lambda k=tl.kernels: flat_concat([v.value for v in k]))
        if model.optimizer is not None and sel.wants("learning_rate"):
            plan.append(((-1, MODEL, None, "learning_rate"), "learning_rate"))
        self._plan = plan

        self._rows_per_step = len(tensors)
        nonfinite = tf.logical_not(tf.math.is_finite(batch_loss))
        if self._per_call == 1:
            slot = 0
            record = tf.logical_or(self._flag[0], nonfinite)
        else:
            # several steps per call: step `slot` of the call appends its rows (zeros when it
            # records nothing) and its scalars to those of the steps before it in the call
            slot = self._slot.read_value()
            record = tf.logical_or(tf.logical_or(self._flag[slot], nonfinite),
                                   self._forced > 0)
            self._forced.assign(tf.where(nonfinite, STEPS_AFTER_NONFINITE,
                                         tf.maximum(self._forced - 1, 0)))

        def put(rows):
            if self._per_call > 1:
                rows = tf.concat([self._stats[:slot * len(tensors)], rows], 0)
            self._stats.assign(rows)

        def do_record():
            put(tf.stack([reduce(make()) for make in tensors]) if tensors
                else tf.zeros([0, RAW_WIDTH], _F64))
            return tf.constant(True)

        def skip():
            if self._per_call > 1:
                put(tf.zeros([len(tensors), RAW_WIDTH], _F64))
            return tf.constant(False)

        recorded = tf.cond(record, do_record, skip)
        scalars = tf.stack([
            tf.cast(batch_loss, _F64),
            tf.cast(accuracy, _F64) if accuracy is not None else tf.constant(np.nan, _F64),
            lr, tf.cast(recorded, _F64),
            tf.cast(tf.shape(_examples_tensor(inputs, y))[0], _F64)])[None]
        if self._per_call > 1:
            scalars = tf.concat([self._scalars[:slot], scalars], 0)
            self._slot.assign_add(1)
        self._scalars.assign(scalars)
        return metrics

    def _note_sample_weight(self, sample_weight):
        """At the step's trace: batches that carry sample weights (``model.fit(class_weight=...)``
        turns the class weights into them; ``sample_weight=``, or a dataset or generator that
        yields ``(x, y, w)``) weight the loss: ``dltrace.loss_weighted``. The first trace runs
        before the first batch ends, when the metadata is written."""
        if sample_weight is not None and any(
                w is not None for w in tf.nest.flatten(sample_weight)):
            self._loss_weighted = True

    def _note_added_losses(self):
        """At the step's trace, after the forward pass: layers that called ``add_loss`` (a KL
        term, an activity penalty, a mixture of experts' load-balancing loss) put terms into the
        loss beside the compiled loss function: ``dltrace.loss_added``. Weight regularizers are
        not counted: their penalty falls with the weights."""
        try:
            added = any(layer._get_own_losses() for layer in self.model._flatten_layers())
        except (AttributeError, TypeError):
            added = False
        if added:
            self._loss_added = True

    def _freeze(self, capture):
        """At the first trace: number the layers in the order they ran, name activations."""
        if self.layers is not None:
            return
        layers = []
        for tl in capture.order:
            tl.index = len(layers)
            key = id(tl.layer)
            if not tl.fused and key in capture.activation_name:
                tl.activation = capture.activation_name[key]
            elif tl.declared == "linear" and key in capture.functional:
                tl.activation = capture.functional[key]
            elif tl.declared == "linear" and key in capture.unknown:
                tl.activation = None  # not linear, and no activation this recorder can name
            layers.append(tl)
        self.layers = layers

    def _accuracy(self, y_pred, y):
        """The batch accuracy (graph ops), or None for regression or when it cannot tell."""
        if y is None or self._task() != "classification":
            return None
        y_pred = tf.convert_to_tensor(y_pred)
        y = tf.convert_to_tensor(y)
        units = y_pred.shape[-1] if y_pred.shape.rank else None
        if units is None:
            return None
        same_shape = y.shape.rank == y_pred.shape.rank and y.shape[-1] == units
        if units == 1 or (self._binary_loss() and same_shape):
            # one unit, or a binary loss over several with a target each (multi-label tags, a
            # reconstruction's pixels): each output is its own yes/no, as Keras' "accuracy"
            # resolves to binary_accuracy for a binary loss; an argmax would compare the first
            # tag only
            threshold = 0.0 if self._from_logits() else 0.5
            predicted = tf.cast(tf.reshape(y_pred, [-1]) > threshold, _F64)
            truth = tf.cast(tf.reshape(tf.cast(y, _F64), [-1]) > 0.5, _F64)
        else:
            predicted = tf.cast(tf.argmax(y_pred, axis=-1), _F64)
            if same_shape:
                truth = tf.cast(tf.argmax(y, axis=-1), _F64)
            else:
                truth = tf.cast(tf.reshape(y, tf.shape(predicted)), _F64)
        return tf.reduce_mean(tf.cast(tf.equal(predicted, truth), _F64))

    def _first_target(self, y):
        """The targets of the first output (``_first_output``): targets keyed by output names are
        matched to the outputs by name, as Keras matches them, whatever the order of their keys
        (a list of outputs trained on a dict of targets); otherwise the first in flattened
        order."""
        if isinstance(y, dict):
            first = self._first_output()
            if first in y:
                return y[first]
        return keras.tree.flatten(y)[0]

    def _binary_loss(self):
        """True for a binary cross-entropy (plain or focal), whose outputs are each a yes/no."""
        return "binary" in (self._loss() or "").lower().replace("_", "")

    # ------------------------------------------------------------------ metadata

    def _first_output(self):
        """The name of the model's first output, in the order the recorder's step flattens its
        outputs (the accuracy and target rows are that output's): a dict of outputs by its keys
        sorted, a list of outputs by its first layer's name; None when it has none."""
        struct = getattr(self.model, "_outputs_struct", None)
        if isinstance(struct, dict) and struct:
            return keras.tree.flatten({k: k for k in struct})[0]
        names = getattr(self.model, "output_names", None)
        return names[0] if names else None

    def _loss_object(self):
        loss = getattr(self.model, "loss", None)
        if isinstance(loss, (list, tuple)) and loss:
            loss = loss[0]
        if isinstance(loss, dict) and loss:
            # keyed by output names, in any order: the first output's (its accuracy is recorded)
            first = self._first_output()
            loss = loss[first] if first in loss else next(iter(loss.values()))
        return loss

    def _loss(self):
        if self.loss_name is not None:
            return self.loss_name
        loss = self._loss_object()
        if loss is None:
            return None
        if isinstance(loss, str):
            return loss
        name = getattr(loss, "name", None)
        if isinstance(name, str) and name:
            return name
        return getattr(loss, "__name__", type(loss).__name__)

    def _from_logits(self):
        loss = self._loss_object()
        kwargs = getattr(loss, "_fn_kwargs", None) or {}
        return bool(getattr(loss, "from_logits", kwargs.get("from_logits", False)))

    def _mark_in_optimizer(self):
        """``in_optimizer: false`` for each trainable layer none of whose kernels an optimizer
        applied a gradient to in the steps run so far (the first, when the metadata is
        written): a teacher that only predicts, a frozen copy. The optimizers watched are the
        one given to the recorder and every one the model or a layer of it holds; a step that
        applies none of them (it assigns the variables itself, or applies an optimizer held
        elsewhere) leaves every layer unmarked."""
        if not self._applied:
            return
        for tl in self.layers:
            if tl.trainable and tl.kernels:
                tl.in_optimizer = any(id(k) in self._applied for k in tl.kernels)

    def _task(self):
        if self.task is not None:
            return self.task
        name = (self._loss() or "").lower().replace("_", "")
        if any(k.replace("_", "") in name for k in _CLASSIFICATION):
            return "classification"
        if any(k.replace("_", "") in name for k in _REGRESSION):
            return "regression"
        return None

    def _classes(self):
        if self.num_classes is not None:
            return int(self.num_classes)
        if self._task() != "classification":
            return None
        # a subclassed model has no symbolic outputs: the output seen when the step was traced
        outputs = getattr(self.model, "outputs", None)
        units = outputs[0].shape[-1] if outputs else self._output_units
        if units is None:
            return None
        return 2 if units == 1 else int(units)

    def metadata(self):
        """The trace's key-value metadata (all values are strings), in contract order."""
        model = self.model
        meta = {"dltrace.version": FORMAT_VERSION, "dltrace.run_id": self.run_id,
                "dltrace.model": self.model_name if self.model_name is not None else model.name,
                "dltrace.framework": "keras"}
        optimizer = self._optimizer()
        if optimizer is not None:
            inner = getattr(optimizer, "inner_optimizer", None) or optimizer
            meta["dltrace.optimizer"] = type(inner).__name__
            meta["dltrace.learning_rate"] = repr(_first_rate(optimizer, self._first_steps))
        if self._batch_size is not None:
            meta["dltrace.batch_size"] = str(self._batch_size)
        task = self._task()
        if task is not None:
            meta["dltrace.task"] = task
        loss = self._loss()
        if loss is not None:
            meta["dltrace.loss"] = loss
        loss_object = self._loss_object()
        if loss_object is not None and _keras_loss(loss_object):
            # a string loss is Keras' function of that name, which takes probabilities: written
            # out, since a trace without the key leaves the analyzer to judge from the run; a
            # function of the program's own may wrap a loss object built with from_logits=True,
            # which this recorder cannot see: the key is left out
            meta["dltrace.loss_from_logits"] = "true" if self._from_logits() else "false"
        if optimizer is not None:
            inner = getattr(optimizer, "inner_optimizer", None) or optimizer
            decay = getattr(inner, "weight_decay", None)
            if decay is not None:
                meta["dltrace.weight_decay"] = repr(float(np.asarray(decay)))
            momentum = getattr(inner, "momentum", None)
            if isinstance(momentum, (int, float)):
                meta["dltrace.momentum"] = repr(float(momentum))
        scaling = _loss_scaling(optimizer) if not self.callback_mode else None
        if scaling is not None:
            meta["dltrace.loss_scaling"] = scaling
        if self._loss_weighted:
            meta["dltrace.loss_weighted"] = "true"
        if self._loss_added:
            meta["dltrace.loss_added"] = "true"
        meta.update(self._objective)
        self._mark_in_optimizer()
        meta["dltrace.layers"] = json.dumps([l.describe() for l in self.layers])
        if self._steps_per_epoch:
            meta["dltrace.steps_per_epoch"] = str(int(self._steps_per_epoch))
        classes = self._classes()
        if classes is not None:
            meta["dltrace.num_classes"] = str(classes)
        if self._output_none:
            meta["dltrace.output_layer"] = "none"
        meta.update(self.selection.metadata())
        if self.callback_mode:
            meta["dltrace.record_mode"] = "callback"
            meta["dltrace.record_phases"] = ",".join(
                p for p in PHASES if p in CALLBACK_PHASES and self.selection.wants(p)
                and (self._watched or p not in ("forward", "activation")))
        return meta
