"""Records a trace of a PyTorch training loop: forward/backward hooks plus one call per step."""

import atexit
import dataclasses
import json
import math
import os
import warnings
import weakref
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn
from torch.nn.utils import parametrize

from .._core.options import STEPS_AFTER_NONFINITE, Selection, objective_metadata
from .._core.schema import FORMAT_VERSION, MODEL
from .._core.stop import StopFile, TrainingStopped, announce
from .._core.stop import metadata as stop_metadata
from .._core.sink import StepRows, TraceSink
from .._core.stats import RAW_WIDTH, as_returns, scalar_raw, values_raw
from .._core.writers import resolve_path
from . import graph
from .resets import Resets
from .stats import Reduced, Small, keep, keep_flat, reduce_many

# Activation modules, by class name, and the name the layers metadata gives them.
ACTIVATIONS = {
    "ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "PReLU": "prelu",
    "RReLU": "rrelu", "ELU": "elu", "CELU": "celu", "SELU": "selu", "GELU": "gelu",
    "SiLU": "silu", "Mish": "mish", "Sigmoid": "sigmoid", "LogSigmoid": "log_sigmoid",
    "Hardsigmoid": "hard_sigmoid", "Hardswish": "hard_swish", "Tanh": "tanh",
    "Hardtanh": "hard_tanh", "Softplus": "softplus", "Softsign": "softsign",
    "Tanhshrink": "tanhshrink", "Softmax": "softmax", "LogSoftmax": "log_softmax",
    "Softmin": "softmin", "Threshold": "threshold",
}

_F64 = torch.float64


def _is_activation(module):
    return type(module).__name__ in ACTIVATIONS


#: the activation a fused module applies inside its own forward, by a word of its class name
_FUSED_ACTIVATIONS = (("LeakyReLU", "leaky_relu"), ("ReLU", "relu"), ("Tanh", "tanh"))


def _fused_activation(module):
    """The activation a fused module of ``torch.ao.nn.intrinsic`` applies inside its forward
    (quantization-aware training's ``ConvBnReLU2d``, ``ConvReLU2d``, ``LinearReLU`` and their
    quantized forms): it owns the weights and returns the activation's output, with no
    activation module or function for the hooks to see. None for any other module."""
    cls = type(module)
    if not cls.__module__.startswith(("torch.ao.nn.intrinsic", "torch.nn.intrinsic")):
        return None
    for word, activation in _FUSED_ACTIVATIONS:
        if word in cls.__name__:
            return activation
    return None


def _own_named_parameters(module):
    """The module's own parameters, by name. A parametrized module (``weight_norm``,
    ``spectral_norm``, ``orthogonal`` from ``torch.nn.utils.parametrizations``) keeps the
    tensors it computes its weight from in ``module.parametrizations.weight``, a child
    module: they belong to the layer the user wrote, named ``weight.original`` (or
    ``weight.original0``, ``weight.original1``)."""
    named = list(module.named_parameters(recurse=False))
    parametrizations = getattr(module, "parametrizations", None)
    if isinstance(parametrizations, torch.nn.ModuleDict) and parametrize.is_parametrized(module):
        for tensor, plist in parametrizations.items():
            named += [("%s.%s" % (tensor, name), p)
                      for name, p in plist.named_parameters(recurse=False)]
    return named


def _is_layer(module):
    """A parametric module: it owns parameters itself (Linear, Conv*, BatchNorm*, LSTM...).
    The parametrization holders of a parametrized layer are part of that layer, not layers."""
    if _is_activation(module) or isinstance(module, parametrize.ParametrizationList):
        return False
    return bool(_own_named_parameters(module))


def _tensors(output):
    """The tensors of a module's output, in order: a tensor, a tuple or list (an RNN's
    ``(output, h_n)``, a NamedTuple), a dict (a HuggingFace ``ModelOutput`` is one) or a
    dataclass of them, a PackedSequence's data."""
    if isinstance(output, torch.Tensor):
        yield output
    elif isinstance(output, (tuple, list)):
        for item in output:
            yield from _tensors(item)
    elif isinstance(output, Mapping):
        for item in output.values():
            yield from _tensors(item)
    elif dataclasses.is_dataclass(output) and not isinstance(output, type):
        for field in dataclasses.fields(output):
            yield from _tensors(getattr(output, field.name, None))
    elif isinstance(getattr(output, "data", None), torch.Tensor):
        yield output.data  # PackedSequence


def _first_tensor(output):
    return next(_tensors(output), None)


def _batch_tensor(value, what):
    """``value`` as the one tensor of the ``input`` or ``target`` row: a tensor, an array or a
    list of numbers as it is; the inputs of a model that takes several (a tuple, list or dict of
    tensors or arrays, as ``model(categorical, numeric)`` does) by the first of them, as the
    Keras recorder takes a model's first numeric input. Anything else raises TypeError naming
    ``what``."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        if isinstance(value, (tuple, list, Mapping)):
            items = value.values() if isinstance(value, Mapping) else value
            for item in items:
                if isinstance(item, (torch.Tensor, np.ndarray, tuple, list, Mapping)):
                    try:
                        return _batch_tensor(item, what)
                    except TypeError:
                        continue
        raise TypeError("%s must be a tensor, an array, or a tuple, list or dict of them;"
                        " got %s (%s)" % (what, type(value).__name__, error)) from None


def _weight_params(module):
    """The parameters whose statistics make the layer's weight and gradient rows.

    The parameters named ``weight*`` (Linear/Conv kernel, BatchNorm gamma, LSTM weight_ih/hh
    of every layer); biases are left out, as DeepLocalize does. A module without such a
    parameter uses all of its own parameters.
    """
    named = _own_named_parameters(module)
    weights = [p for name, p in named if name.startswith("weight")]
    return weights if weights else [p for _, p in named]


def _as_computed(module, weights):
    """The weights as the layer computes with them. A weight pruned with
    ``torch.nn.utils.prune`` is kept as the parameter ``<name>_orig`` beside a ``<name>_mask``
    buffer, and the layer uses their product (the pruned entries are zeros); the mask is
    looked up at every step, since each pruning call replaces it."""
    masks = {}
    for name, p in module._parameters.items():
        if p is not None and name.endswith("_orig"):
            mask = module._buffers.get(name[:-len("_orig")] + "_mask")
            if mask is not None:
                masks[id(p)] = mask
    if not masks:
        return weights
    return [p.detach() * masks[id(p)] if id(p) in masks else p for p in weights]


def _optimizers(optimizer):
    """``optimizer=`` as a list: None, one optimizer, or a list or tuple of them."""
    if optimizer is None:
        return []
    if isinstance(optimizer, (list, tuple)):
        found = [o for o in optimizer if o is not None]
        for o in found:
            if not hasattr(o, "param_groups"):
                raise TypeError("optimizer must be a torch optimizer or a list of them, got a "
                                "list holding %s" % type(o).__name__)
        return found
    return [optimizer]


def _main_group(optimizer):
    """The param group whose rate, weight decay and momentum describe the optimizer: the only
    one, or of several (AdamW with a no-decay group for biases and norms, as transformer
    recipes build it) the one holding the most parameter elements (the first of equals)."""
    groups = optimizer.param_groups
    if len(groups) == 1:
        return groups[0]
    return max(groups, key=lambda g: sum(p.numel() for p in g["params"]))


def _unwrapped(model):
    """The user's model inside the wrappers that only run it: ``nn.DataParallel`` and
    ``DistributedDataParallel`` (``.module``), ``torch.compile``'s ``OptimizedModule``
    (``._orig_mod``). Layers are named within it, without the ``module.`` / ``_orig_mod.``
    prefix, and the model is named after it."""
    while True:
        cls = type(model).__name__
        if cls in ("DataParallel", "DistributedDataParallel") and isinstance(
                getattr(model, "module", None), nn.Module):
            model = model.module
        elif cls == "OptimizedModule" and isinstance(getattr(model, "_orig_mod", None),
                                                     nn.Module):
            model = model._orig_mod
        else:
            return model


def layer_name(qualified, model):
    """A readable layer name: the qualified module name (``net.0``, ``encoder.fc1``); the
    children of a top-level container, whose names are bare numbers, get the container's
    class name in lower case before them (``sequential.0``)."""
    if not qualified:
        return type(model).__name__.lower()
    if qualified.split(".")[0].isdigit():
        return "%s.%s" % (type(model).__name__.lower(), qualified)
    return qualified


class _Layer:
    __slots__ = ("index", "name", "module", "type", "activation", "params", "trainable",
                 "weights", "selected", "keys", "training", "in_optimizer", "fans")

    def __init__(self, index, name, module, selected):
        self.index = index
        self.name = name
        self.module = module
        # a parametrized module's class is a subclass made on the fly (ParametrizedLinear)
        cls = type(module).__mro__[1] if parametrize.is_parametrized(module) else type(module)
        self.type = cls.__name__
        self.activation = "linear"
        own = [p for _, p in _own_named_parameters(module)]
        self.params = sum(p.numel() for p in own)
        self.trainable = any(p.requires_grad for p in own)
        self.weights = _weight_params(module)
        self.selected = selected
        self.keys = {}
        self.training = True        # the module's mode in the recorded forward of step 0
        self.in_optimizer = None    # whether the optimizer updates any of its parameters
        self.fans = graph.fan_in_out(self.weights[0]) if self.weights else None

    def describe(self):
        """The layer's entry in the ``dltrace.layers`` metadata."""
        entry = {"index": self.index, "name": self.name, "type": self.type,
                 "activation": self.activation, "params": self.params,
                 "trainable": self.trainable}
        if not self.training:
            entry["training"] = False
        if self.in_optimizer is False:
            entry["in_optimizer"] = False
        if self.fans is not None:
            entry["fan_in"], entry["fan_out"] = self.fans
        return entry

    def key(self, phase):
        k = self.keys.get(phase)
        if k is None:
            k = self.keys[phase] = (self.index, self.name, self.type, phase)
        return k


_MODEL_KEYS = {}


def _model_key(phase):
    k = _MODEL_KEYS.get(phase)
    if k is None:
        k = _MODEL_KEYS[phase] = (-1, MODEL, None, phase)
    return k


class _StepData:
    """What one step records: row keys, and per row a :class:`Reduced`, a :class:`Small`
    (reduced with the step's other small tensors in :func:`_gather`) or a scalar."""

    __slots__ = ("keys", "rows")

    def __init__(self):
        self.keys = []
        self.rows = []            # per row: a Reduced, a scalar tensor or a float

    def vector(self, key, reduced):
        self.keys.append(key)
        self.rows.append(reduced)

    def scalar(self, key, value):
        self.keys.append(key)
        if isinstance(value, torch.Tensor):
            self.rows.append(value.detach().reshape(-1)[0])
        else:
            self.rows.append(float(value))


def _gather(rows):
    """Every device number of a step's rows in one float64 tensor, plus a function that
    builds the [rows, RAW_WIDTH] array from its values on the host."""
    wide, counts, scalars = [], [], []
    narrow = {}
    small = {}  # device -> flat tensors, reduced together by reduce_many
    plan = []  # per row: (kind, ...) with positions into the groups
    for r in rows:
        if isinstance(r, Small):
            group = small.setdefault(r.flat.device, [])
            plan.append(("b", r.flat.device, len(group)))
            group.append(r.flat)
        elif isinstance(r, Reduced):
            if r.n == 0:
                plan.append(("empty",))
                continue
            if r.host is not None:
                plan.append(("h", r.host))
                continue
            group = narrow.setdefault(r.narrow.dtype, [])
            plan.append(("v", r.n, len(wide), r.narrow.dtype, len(group),
                         len(counts) if r.counts is not None else -1))
            wide.append(r.wide)
            group.append(r.narrow)
            if r.counts is not None:
                counts.append(r.counts)
        elif isinstance(r, torch.Tensor):
            plan.append(("t", len(scalars)))
            scalars.append(r)
        else:
            plan.append(("f", r))
    parts, offsets, at = [], {}, 0
    for name, group in [("wide", wide), ("counts", counts)] + [
            (dtype, group) for dtype, group in narrow.items()]:
        if group:
            stacked = torch.stack(group)
            if stacked.dtype != _F64:
                stacked = stacked.to(_F64)
            offsets[name] = at
            at += stacked.numel()
            parts.append(stacked.reshape(-1))
    for group_key, group in small.items():
        offsets[group_key] = at
        at += len(group) * RAW_WIDTH
        parts.append(reduce_many(group).reshape(-1))
    if scalars:
        stacked = torch.stack([t.to(_F64) if t.dtype != _F64 else t for t in scalars]) \
            if len({t.dtype for t in scalars}) > 1 else torch.stack(scalars).to(_F64)
        offsets["scalars"] = at
        parts.append(stacked)
    flat = None
    if parts:
        flat = parts[0] if len(parts) == 1 else torch.cat(parts)

    def build(values):
        values = values.tolist() if values is not None else []
        out = []
        for p in plan:
            kind = p[0]
            if kind == "v":
                _, n, w, dtype, k, c = p
                w = offsets["wide"] + 3 * w
                k = offsets[dtype] + 3 * k
                row = [n, values[w], values[k], values[w + 1], values[k + 1], values[k + 2],
                       n - values[w + 2], 0.0, 0.0]
                if c >= 0:
                    c = offsets["counts"] + 2 * c
                    row[7:] = values[c:c + 2]
                out.append(row)
            elif kind == "h":
                out.append(p[1])
            elif kind == "b":
                at = offsets[p[1]] + RAW_WIDTH * p[2]
                out.append(values[at:at + RAW_WIDTH])
            elif kind == "t":
                out.append(scalar_raw(values[offsets["scalars"] + p[1]]))
            elif kind == "f":
                out.append(scalar_raw(p[1]))
            else:
                out.append((0.0,) * RAW_WIDTH)
        return out

    return flat, build


def _in_func_transform():
    """True inside a torch.func transform (vmap, grad, jacrev...)."""
    level = getattr(getattr(torch._C, "_functorch", None), "maybe_current_level", None)
    return level is not None and level() is not None


class Recorder:
    """Records one training run. Create it with :func:`attach`.

    ``optimizer`` is the optimizer the loop steps, or a list or tuple of them (sparse and
    dense parameters apart, a GAN's generator and discriminator): a layer is in the optimizer
    when any of them updates one of its parameters, ``dltrace.optimizer`` names them all
    joined by ``+`` (``"SparseAdam+Adam"``), and the learning rate (metadata and per-step
    rows), weight decay and momentum are those of the first one's param group holding the
    most parameter elements (its only group, usually; see :func:`_main_group`).

    Call :meth:`step` once per training step, after ``optimizer.step()`` and before the next
    ``optimizer.zero_grad()``. Use it as a context manager or call :meth:`close`; an
    ``atexit`` hook closes it if the program ends first.

    ``scaler`` is the ``torch.amp.GradScaler`` (or ``torch.cuda.amp.GradScaler``) of a
    mixed-precision loop that calls ``scaler.scale(loss).backward()``. The output gradients
    that the backward hooks see are scaled by it: each is divided by the scale in effect for
    that backward, read once per step with ``scaler.get_scale()`` at the step's first hook,
    before ``scaler.update()`` changes it. The weight gradients need nothing: ``step()`` runs
    after ``scaler.step(optimizer)``, which unscales ``p.grad`` in place (``unscale_``), also
    on a step it skips. Gradients that overflowed stay Inf/NaN; the trace's
    ``dltrace.loss_scaling`` is ``dynamic``.

    ``objective`` says what training does with the recorded loss: ``"minimize"`` (the
    default), ``"adversarial"`` (one player's loss of a GAN: it stays level or rises while
    both players improve), ``"policy_gradient"`` (a surrogate such as REINFORCE's
    ``-log_prob * advantage``), ``"temporal_difference"`` (a value function's bootstrapped
    error) or ``"self_training"`` (a loss against targets the model derives from its own
    predictions and refreshes, as Deep Embedded Clustering's target distribution). It is
    written as ``dltrace.objective``; the analyzer does not judge the trend of a loss that is
    not minimized.

    ``loss_added=True`` says the recorded loss holds terms beside ``loss_name``'s function: a
    VAE's KL term, an auxiliary or regularization loss, or several terms of the function added
    up (a recommender's ``bce(positives) + bce(negatives)``, a semi-supervised loss's labelled
    and pseudo-labelled parts). Such a loss neither starts at nor falls toward a uniform guess's
    loss; it is written as ``dltrace.loss_added`` and the analyzer measures progress from the
    run's own start (Keras's recorder finds ``add_loss`` terms itself; a PyTorch loop's sum
    is plain arithmetic, so it is declared here).
    """

    def __init__(self, model, path, optimizer=None, task=None, loss_name=None, *,
                 run_id=None, model_name=None, batch_size=None, steps_per_epoch=None,
                 num_classes=None, flush_every=50, record_inputs=True, activations=None,
                 every=1, phases=None, layers=None, stop_file=None, on_stop="exit",
                 scaler=None, learning_rate=None, objective=None, loss_added=False):
        if not isinstance(model, nn.Module):
            raise TypeError("model must be a torch.nn.Module, got %s" % type(model).__name__)
        if flush_every < 1:
            raise ValueError("flush_every must be positive: %s" % flush_every)
        if task not in (None, "classification", "regression"):
            raise ValueError("task must be 'classification' or 'regression': %s" % task)
        if on_stop not in ("exit", "flag"):
            raise ValueError("on_stop must be 'exit' or 'flag': %s" % on_stop)
        if scaler is not None and not callable(getattr(scaler, "get_scale", None)):
            raise TypeError("scaler must be a torch.amp.GradScaler, got %s"
                            % type(scaler).__name__)
        if not isinstance(loss_added, bool):
            raise TypeError("loss_added must be True or False, got %r" % (loss_added,))
        self._objective = objective_metadata(objective)
        self._loss_added = loss_added
        self.scaler = scaler
        self._grad_scale = None     # the scale of this step's backward, read at its first hook
        self._stop = StopFile(stop_file)
        self.on_stop = on_stop
        self.stop_reason = None     # set when the stop file ended the training
        self.selection = Selection(every, phases, layers, record_inputs)
        self.path = resolve_path(path, lambda m: warnings.warn(m, stacklevel=4))
        self.model = model
        self.optimizers = _optimizers(optimizer)
        self._resets = Resets(self.optimizers)  # whether the loop resets gradients between updates
        # The first optimizer: its largest group's learning rate, weight decay and momentum
        # are recorded.
        self.optimizer = self.optimizers[0] if self.optimizers else None
        # A loop without an optimizer (``p -= lr * p.grad``) states its learning rate here;
        # an optimizer's own rate wins. Set the attribute to record a changed rate.
        if learning_rate is not None and self.optimizer is not None:
            raise ValueError("learning_rate is for a loop without an optimizer; the "
                             "optimizer's param_groups give it otherwise")
        self.learning_rate = None if learning_rate is None else float(learning_rate)
        self.task = task
        self.loss_name = loss_name
        self.run_id = run_id if run_id is not None else os.path.splitext(
            os.path.basename(self.path))[0]
        inner = _unwrapped(model)
        self.model_name = model_name if model_name is not None else type(inner).__name__
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.num_classes = num_classes
        self.flush_every = flush_every
        self.record_inputs = record_inputs
        self.activation_overrides = dict(activations or {})

        self.layers = None          # list of _Layer in execution order, set by the first forward
        self._first_pass = []       # layer modules in the order of the first training forward
        self._seen = set()
        # layer modules that had a parameter requiring gradients in some training forward
        # before the first step: a GAN's critic, switched off for the generator's update only
        self._trained = set()
        self._activation_of = {}    # id(layer module) -> activation name seen in the first pass
        self._pass_activation = {}  # id(layer module) -> activation name seen in this pass
        self._out_nodes = {}        # id(grad_fn of a layer's output) -> id(layer module), this pass
        self._latest_out = {}       # id(layer module) -> id(grad_fn of its last call's output)
        # the grad_fns themselves, held for the pass: a node's Python object can be freed and its
        # id reused by another pass's node (a model whose methods run several passes a step)
        self._out_fns = []
        self._modes = {}            # id(layer module) -> module.training in this pass
        self._loss_info = None      # (loss name, output activation) read from step 0's graph
        self._loss_weighted = None  # True when step 0's loss node had a class/element weight
        self._loss_layer = None     # index of the layer whose output step 0's loss was computed from
        self._eval_warned = False
        self._output_width = None   # the width of the model's output (its first tensor's)
        self._output_widths = {}    # id(grad_fn of an output tensor) -> its width, first step
        # several output tensors (a model returning its attention weights or masks beside what
        # the loss takes): at the first step, id(grad_fn) -> position, the layers each named,
        # and from then on the positions the loss does not use, which name nothing
        self._output_positions = {}
        self._named_by_output = {}
        self._unused_outputs = set()
        self._ignore_pass = False   # this model pass is not recorded (see _on_model_forward)
        self._pass_training = True  # the model's mode in this step's recorded pass
        self._layer_of = {}         # id(layer module) -> _Layer, after the first pass
        self._forward = {}          # id(layer module) -> reduced forward output
        self._activation = {}       # id(layer module) -> reduced output of its activation
        self._backward = {}         # id(layer module) -> reduced gradient w.r.t. its output
        self._graph_backward = set()  # keys of _backward from a pass that built a graph
        self._calls = {}            # per layer: its calls in this pass with a gradient hook
        self._last_layer = None
        self._last_has_activation = False
        self._active = False        # this step's passes are being recorded
        self._started = False       # a training pass of this step has begun
        self._pass = 0              # counts the passes; output gradients of older ones are stale
        self._step = 0
        self._force_until = -1      # steps up to this one are recorded whatever `every` says
        self._pending_finite = None  # (step, host flag, event) of a loss on an accelerator
        self._epoch = None
        self._batch = 0
        self._last_position = None
        self._pending_returns = []  # arrays of episode returns given to add_return since step()
        self._sink = None
        self._closed = False
        self._hooks = []            # the model's own hooks, kept until close()
        self._layer_hooks = []      # the layers' and activations' hooks: see _arm()
        self._hooked = []           # (module, is_layer) of every module _arm() hooks

        self._candidates = {}
        for name, module in inner.named_modules():
            if _is_layer(module):
                self._candidates[id(module)] = (layer_name(name, inner), module)
                self._hooked.append((module, True))
            elif _is_activation(module):
                self._hooked.append((module, False))
        if not self._candidates:
            raise ValueError("the model has no module with parameters to record")
        self.selection.check_layers([name for name, _ in self._candidates.values()])
        self._selected = {key: self.selection.layer_selected(name)
                          for key, (name, _) in self._candidates.items()}
        self._hooks.append(model.register_forward_pre_hook(self._on_model_forward))
        self._hooks.append(model.register_forward_hook(self._on_model_output))
        self._arm()

        self_ref = weakref.ref(self)

        def _close_at_exit():
            rec = self_ref()
            if rec is not None:
                rec.close()
        self._atexit = _close_at_exit
        atexit.register(_close_at_exit)

    # ------------------------------------------------------------------ hooks

    def _arm(self):
        """Hooks the layers and activation modules: during the first step (to find the
        layers) and the recorded steps only. On the other steps of ``every=N`` they are
        removed, so that those steps run PyTorch's hook-free module call; the model's own
        forward hooks stay and re-arm them when a recorded step begins."""
        if self._layer_hooks or self._closed:
            return
        hooks = self._layer_hooks
        for module, is_layer in self._hooked:
            if is_layer:
                hooks.append(module.register_forward_pre_hook(self._on_layer_input))
                hooks.append(module.register_forward_hook(self._on_layer_forward))
            else:
                hooks.append(module.register_forward_hook(self._on_activation_forward))

    def _disarm(self):
        for hook in self._layer_hooks:
            hook.remove()
        self._layer_hooks = []

    def _recording(self):
        # A pass with gradients enabled is a training pass, whatever the modules' train/eval
        # mode says: a model left in eval mode (model.eval() without model.train()) still
        # trains, and its trace must show it. Validation passes run under torch.no_grad().
        # A pass inside a torch.func transform (vmap(grad(...)) of functional_call, as
        # per-sample gradients are computed) sees wrapped tensors whose values cannot leave
        # the transform: it is not recorded; the step's gradients are read from p.grad.
        return (torch.is_grad_enabled() and not self._closed and not self._ignore_pass
                and not _in_func_transform())

    def _on_model_forward(self, module, inputs):
        self._ignore_pass = False
        if not self._recording():
            return
        if self._started and self._pass_training and not module.training:
            # An eval-mode pass with gradients on after this step's training pass (a
            # validation pass without torch.no_grad()): it must not replace the training pass.
            self._ignore_pass = True
            return
        self._begin_step()
        self._pass_training = module.training

    def _begin_step(self):
        """At the model's forward (or, when the model itself is not called, as in a
        LightningModule's training_step, at the first layer's): a new pass of this step."""
        self._started = True
        self._pass += 1
        self._resolve_pending_finite(wait=True)
        self._forward.clear()
        self._activation.clear()
        self._backward.clear()
        self._graph_backward.clear()
        self._calls.clear()
        self._grad_scale = None
        self._last_layer = None
        self._last_has_activation = False
        self._pass_activation.clear()
        self._out_nodes.clear()
        self._latest_out.clear()
        self._out_fns.clear()
        self._modes.clear()
        self._active = self.selection.sampled(self._step) or self._step <= self._force_until
        if self._active:
            self._arm()

    def _on_layer_forward(self, module, inputs, output):
        if not self._recording():
            return
        out = _first_tensor(output)
        if out is None:
            return
        if not self._started:
            self._begin_step()
        key = id(module)
        if self.layers is None:
            if key not in self._seen:
                self._seen.add(key)
                self._first_pass.append(module)
            if key not in self._trained and any(
                    p.requires_grad for _, p in _own_named_parameters(module)):
                self._trained.add(key)
        elif key not in self._layer_of:
            return
        self._last_layer = module
        self._last_has_activation = False
        self._modes[key] = module.training
        if out.grad_fn is not None:
            self._out_nodes[id(out.grad_fn)] = key
            self._latest_out[key] = id(out.grad_fn)
            self._out_fns.append(out.grad_fn)
        if not self._active or not self._selected[key]:
            return
        wants = self.selection.wants
        if wants("forward") or wants("activation"):
            self._forward[key] = keep(out, copy=True)
        if wants("backward") and out.requires_grad:
            # A layer called several times in one pass (an RNN cell or a read-out applied at
            # every time step): its forward row is the last call's, and so must its output
            # gradient be; backward reaches the calls in reverse, the last call's first.
            call = self._calls[key] = self._calls.get(key, 0) + 1
            out.register_hook(
                lambda grad, key=key, n=self._pass, call=call:
                self._on_output_grad(key, grad, n, call))

    def _on_layer_input(self, module, inputs):
        """Before a layer runs: an activation applied as a function to an earlier layer's
        output (F.relu(self.fc1(x))) shows in the graph of this layer's input."""
        if not self._recording() or not self._out_nodes:
            return
        x = _first_tensor(inputs)
        if x is not None:
            self._functional_activation(x.grad_fn, x)

    def _on_model_output(self, module, inputs, output):
        """After the model's forward: a functional activation on the last layer's output."""
        if self._ignore_pass:
            self._ignore_pass = False
            return
        if not self._recording() or not self._out_nodes:
            return
        if self.layers is None:  # the output's width is read at the first step
            self._output_widths.clear()
            self._output_positions.clear()
            self._named_by_output.clear()
        for i, out in enumerate(_tensors(output)):
            if self.layers is None and out.dim() >= 2:
                width = int(out.shape[-1]) if out.dim() == 2 else int(out.shape[1])
                if i == 0:
                    self._output_width = width
                if out.grad_fn is not None:
                    self._output_widths[id(out.grad_fn)] = width
            if i in self._unused_outputs:
                continue
            if self.layers is None and out.grad_fn is not None:
                self._output_positions[id(out.grad_fn)] = i
                named = set(self._pass_activation)
                self._functional_activation(out.grad_fn, out)
                self._named_by_output[i] = set(self._pass_activation) - named
            else:
                self._functional_activation(out.grad_fn, out)

    def _drop_unused_outputs(self, grad_fn):
        """At the first step, for a model that returned several tensors: the activation a tensor
        the loss does not use went through (Slot Attention's masks, softmaxed over the slots and
        returned beside the reconstruction for display) is not its layer's, and names nothing
        from then on. A tensor is used when the loss's graph reaches it."""
        if grad_fn is None or len(self._output_positions) < 2:
            return
        used = set()
        for found in graph.outputs_reached(grad_fn, self._output_positions):
            if found is None:
                return  # the walk stopped early: keep every name
            used.add(found[0])
        if not used:
            return
        for position in set(self._output_positions.values()) - used:
            self._unused_outputs.add(position)
            for owner in self._named_by_output.get(position, ()):
                self._activation_of.pop(owner, None)
                self._pass_activation.pop(owner, None)
                self._activation.pop(owner, None)

    def _functional_activation(self, node, tensor=None):
        if self.layers is not None and not self._active:
            return  # the layers' activations are known; this step's values are not recorded
        owner, path = graph.walk_back(node, self._out_nodes)
        if owner is None:
            return
        again = owner in self._pass_activation
        if again and not self._reached_last_call(owner, node, path):
            # A layer called several times in one pass (an RNN cell, a read-out at every time
            # step): its forward row is the last call's, and so must its activation be; an
            # earlier call's, found first, is replaced when the last call's is found.
            return
        found = graph.first_activation(path, tensor)
        gated = graph.gated_unit(path, self._out_nodes)
        if gated is not None:  # a gated unit (GLU, SwiGLU...): the product's output if at hand
            gate_owner, _ = graph.walk_back(gated[2], self._out_nodes)
            if gate_owner is not None and gate_owner != owner:
                # the gate's own layer: its activation (both halves of WaveNet's: gated_tanh)
                gate = graph.activation_of(gated[2])
                if gated[0] == "gated_tanh":
                    gate = (gated[0], gate[1])
                self._name_activation(gate_owner, gate)
            product = tensor if tensor is not None and tensor.grad_fn is gated[1] else None
            found = (gated[0], product if product is not None or found is None else found[1])
        if found is not None:
            self._name_activation(owner, found, again)

    def _reached_last_call(self, owner, start, path):
        """Whether a walk from ``start`` along ``path`` (``graph.walk_back``'s) ended at the
        output of ``owner``'s last call so far in this pass."""
        last = self._latest_out.get(owner)
        if not path:
            return id(start) == last
        return any(id(parent) == last for parent in graph.parents(path[-1]))

    def _name_activation(self, owner, found, again=False):
        """Names ``owner``'s activation in this pass and keeps its value; ``again``: the
        activation of a later call of a layer already named in this pass, whose value replaces
        the earlier call's under the same name."""
        name, value = found
        if owner in self._pass_activation and (not again or self._pass_activation[owner] != name):
            return
        self._pass_activation[owner] = name
        if self.layers is None:
            self._activation_of.setdefault(owner, name)
        if (value is not None and self._active and self._selected.get(owner)
                and self.selection.wants("activation")):
            self._activation[owner] = keep(value, copy=True)

    def _on_activation_forward(self, module, inputs, output):
        """The first activation module run after a layer (and before the next) is its activation."""
        if not self._recording() or self._last_layer is None or self._last_has_activation:
            return
        out = _first_tensor(output)
        if out is None:
            return
        key = id(self._last_layer)
        self._last_has_activation = True
        self._pass_activation[key] = ACTIVATIONS[type(module).__name__]
        if self.layers is None and key not in self._activation_of:
            self._activation_of[key] = ACTIVATIONS[type(module).__name__]
        if self._active and self._selected.get(key) and self.selection.wants("activation"):
            self._activation[key] = keep(out, copy=True)

    def _on_output_grad(self, key, grad, pass_number, call):
        # A model called twice before one backward (a siamese pair): the last pass's forward
        # is recorded, and so must its output gradient be, whichever the backward reaches last.
        # Of several backward passes over one forward, the last that builds no graph of its own
        # wins: one that does (grad mode on inside it, create_graph=True) computes a term from
        # gradients (a gradient penalty, GradNorm's gradient norms, MAML's inner step), not the
        # gradients the optimizer steps with, whether it runs before loss.backward() or after.
        if call != self._calls.get(key):
            return
        graph = torch.is_grad_enabled()
        if graph and key in self._backward and key not in self._graph_backward:
            return
        if not self._closed and self._active and pass_number == self._pass:
            if graph:
                self._graph_backward.add(key)
            else:
                self._graph_backward.discard(key)
            if self._scaling():
                if self._grad_scale is None:
                    self._grad_scale = float(self.scaler.get_scale())
                # In float32 at least: a float16 gradient divided by 2^16 would underflow.
                wide = grad.detach().float() if grad.element_size() < 4 else grad.detach()
                self._backward[key] = keep(wide / self._grad_scale, copy=False)
            else:
                self._backward[key] = keep(grad, copy=True)

    def _scaling(self):
        """Whether a loss scaler scales the backward passes (a GradScaler built with
        ``enabled=False`` does not)."""
        if self.scaler is None:
            return False
        enabled = getattr(self.scaler, "is_enabled", None)
        return bool(enabled()) if callable(enabled) else True

    def _add_unhooked(self, layers, optimized):
        """Modules with parameters whose forward never ran but whose parameters got gradients
        in the first step: their parameters are used by another module's code, as
        ``nn.MultiheadAttention`` calls its ``out_proj`` with ``F.linear``, or are held in an
        ``nn.ParameterList``/``ParameterDict``. They become layers with weight and gradient
        rows only (no hook sees their output), placed after their nearest ancestor layer, or
        last."""
        ran = {id(layer.module) for layer in layers}
        for key, (name, module) in self._candidates.items():
            if key in ran or not any(p.grad is not None
                                     for _, p in _own_named_parameters(module)):
                continue
            at = len(layers)
            for i, other in enumerate(layers):
                if name.startswith(other.name + "."):
                    at = i + 1
                    while at < len(layers) and layers[at].name.startswith(other.name + "."):
                        at += 1
            layer = _Layer(at, name, module, self._selected[key])
            layer.training = module.training
            if optimized is not None and layer.trainable:
                layer.in_optimizer = any(id(p) in optimized
                                         for _, p in _own_named_parameters(module))
            layers.insert(at, layer)
            for i, other in enumerate(layers):
                other.index = i
                other.keys.clear()

    def _freeze_layers(self, loss):
        """At the first step: number the layers in execution order, name their activations,
        and read from the step's graph what the hooks could not see (the loss function, an
        activation applied to the output outside the model)."""
        optimized = None
        if self.optimizers:
            optimized = {id(p) for optimizer in self.optimizers
                         for group in optimizer.param_groups for p in group["params"]}
        self._drop_unused_outputs(loss.grad_fn if isinstance(loss, torch.Tensor) else None)
        layers = []
        for module in self._first_pass:
            name, _ = self._candidates[id(module)]
            layer = _Layer(len(layers), name, module, self._selected[id(module)])
            layer.activation = (_fused_activation(module)
                                or self._activation_of.get(id(module), "linear"))
            layer.training = self._modes.get(id(module), module.training)
            layer.trainable = layer.trainable or id(module) in self._trained
            if optimized is not None and layer.trainable:
                layer.in_optimizer = any(id(p) in optimized
                                         for _, p in _own_named_parameters(module))
            layers.append(layer)
        self._add_unhooked(layers, optimized)
        self._layer_of = {id(layer.module): layer for layer in layers}
        self.layers = layers
        grad_fn = loss.grad_fn if isinstance(loss, torch.Tensor) else None
        loss_kind = graph.loss_name(grad_fn)
        if grad_fn is not None and len(self._output_widths) > 1:
            # The model returned several tensors (a dict of logits and hidden states): the
            # width is that of the one the loss was computed from.
            width, _ = graph.walk_back(graph.loss_input(grad_fn, self.loss_name),
                                       self._output_widths)
            if width is not None:
                self._output_width = width
        out_activation = None
        if grad_fn is not None and self._out_nodes:
            start = graph.loss_input(grad_fn, self.loss_name)
            if start is not None:
                owner, path = graph.walk_back(start, self._out_nodes)
            else:  # a loss written out by hand: the one layer its graph leads back to
                owner, path = graph.sole_owner(grad_fn, self._out_nodes)
            if owner is not None and graph.data_product(path) is not None:
                # a loss over similarities between the layer's outputs (a matching network, a
                # contrastive loss): no layer's output is what the loss takes
                owner, path = None, []
                self._loss_layer = "none"
            found = graph.first_activation(path) if owner is not None else None
            if found is not None:
                out_activation = (owner, found[0])
            if owner is not None and owner in self._layer_of:
                self._loss_layer = self._layer_of[owner].index
        if out_activation is not None:
            layer = self._layer_of.get(out_activation[0])
            if layer is not None and layer.activation == "linear":
                layer.activation = out_activation[1]
        for layer in layers:
            if layer.name in self.activation_overrides:
                layer.activation = self.activation_overrides[layer.name]
        self._loss_info = loss_kind
        self._loss_weighted = graph.loss_weighted(grad_fn)
        if not any(layer.training for layer in layers) and not self._eval_warned:
            self._eval_warned = True
            warnings.warn("dltrace: the model trains in eval mode (model.eval() without "
                          "model.train()): BatchNorm and Dropout behave as at inference",
                          stacklevel=3)

    # ------------------------------------------------------------------ metadata

    def metadata(self):
        """The trace's key-value metadata (all values are strings), in contract order."""
        meta = {"dltrace.version": FORMAT_VERSION, "dltrace.run_id": self.run_id,
                "dltrace.model": self.model_name, "dltrace.framework": "pytorch"}
        if self.optimizer is not None:
            meta["dltrace.optimizer"] = "+".join(type(o).__name__ for o in self.optimizers)
            meta["dltrace.learning_rate"] = repr(float(_main_group(self.optimizer)["lr"]))
        elif self.learning_rate is not None:
            meta["dltrace.learning_rate"] = repr(float(self.learning_rate))
        if self.batch_size is not None:
            meta["dltrace.batch_size"] = str(int(self.batch_size))
        if self.task is not None:
            meta["dltrace.task"] = self.task
        loss = self.loss_name if self.loss_name is not None else self._loss_info
        if loss is not None:
            meta["dltrace.loss"] = loss
        if self.optimizer is not None:
            group = _main_group(self.optimizer)
            if "weight_decay" in group:
                meta["dltrace.weight_decay"] = repr(float(group["weight_decay"]))
            if "momentum" in group:
                meta["dltrace.momentum"] = repr(float(group["momentum"]))
        meta["dltrace.layers"] = json.dumps([l.describe() for l in self.layers])
        if self.steps_per_epoch is not None:
            meta["dltrace.steps_per_epoch"] = str(int(self.steps_per_epoch))
        if self.num_classes is not None:
            meta["dltrace.num_classes"] = str(int(self.num_classes))
        if self._scaling():
            meta["dltrace.loss_scaling"] = "dynamic"
        if self._loss_weighted:
            meta["dltrace.loss_weighted"] = "true"
        if self._loss_added:
            meta["dltrace.loss_added"] = "true"
        if self._loss_layer is not None:
            meta["dltrace.output_layer"] = str(self._loss_layer)
        meta.update(self._objective)
        meta.update(self.selection.metadata())
        return meta

    # ------------------------------------------------------------------ per step

    def step(self, loss, accuracy=None, inputs=None, targets=None, *, epoch=None, batch=None,
             val_loss=None, val_accuracy=None, episode_return=None):
        """Records one training step. Call after ``optimizer.step()``.

        ``loss`` is the batch loss (tensor or number); ``accuracy`` the batch accuracy in
        [0, 1] (leave it out for regression); ``inputs``/``targets`` the batch tensors
        (optional: their statistics become the ``input``/``target`` rows; a model of several
        inputs may pass them as a tuple, list or dict, whose first tensor makes the row).
        ``epoch`` and ``batch`` are counted for you when left out (from ``steps_per_epoch``
        when given).
        ``val_loss``/``val_accuracy``: pass them on the epoch's last step.
        ``episode_return``: the returns (undiscounted sums of rewards) of the episodes that
        ended since the previous ``step()`` (a number, a sequence of numbers, a numpy array or
        a tensor; a one-step task's rewards), written with those :meth:`add_return` kept as
        one ``episode_return`` row; a step with none has no such row.
        """
        returns = as_returns(episode_return) if episode_return is not None else None
        if self._closed:
            if self.stop_reason is not None:
                return True  # on_stop="flag": the loop goes on, nothing is recorded
            raise RuntimeError("the recorder is closed")
        if self.layers is None:
            if not self._first_pass:
                raise RuntimeError("step() called before any training forward pass of the model"
                                   " (a forward with gradients enabled)")
            self._freeze_layers(loss)
            self._infer_task(targets)
            self._resets.start(_unwrapped(self.model))
        else:
            self._resets.step()
        if self.batch_size is None and inputs is not None:
            first = _batch_tensor(inputs, "inputs")
            if first.dim() > 0:
                self.batch_size = first.shape[0]
        if self._sink is None:
            self._sink = TraceSink(self.path, self.metadata(), self.flush_every)
        epoch, batch = self._position(epoch, batch)
        step = self._step
        self._resolve_pending_finite(wait=True)
        forced = step <= self._force_until
        finite = self._loss_finite(step, loss)
        if not finite:
            self._force_until = step + STEPS_AFTER_NONFINITE
        # A step whose passes were not recorded (sampling, or its hooks were not armed because
        # the model itself was not called) but whose loss is not finite, or that follows one,
        # gets everything still at hand: inputs, gradients, weights.
        full = self._active or not finite or forced
        self._active = False
        self._started = False
        sel = self.selection
        data = _StepData()
        if full and sel.record_inputs:
            if inputs is not None and sel.wants("input"):
                data.vector(_model_key("input"), keep(_batch_tensor(inputs, "inputs"), False))
            if targets is not None and sel.wants("target"):
                data.vector(_model_key("target"), keep(_batch_tensor(targets, "targets"), False))
        for layer in self.layers:
            fwd = self._forward.get(id(layer.module))
            if fwd is None:
                continue
            if sel.wants("forward"):
                data.vector(layer.key("forward"), fwd)
            if sel.wants("activation"):
                data.vector(layer.key("activation"), self._activation.get(id(layer.module), fwd))
        data.scalar(_model_key("loss"), loss)
        if accuracy is not None and sel.wants("accuracy"):
            data.scalar(_model_key("accuracy"), accuracy)
        for layer in reversed(self.layers):
            grad = self._backward.get(id(layer.module))
            if grad is not None:
                data.vector(layer.key("backward"), grad)
        if full:
            if sel.wants("gradient"):
                for layer in self.layers:
                    if layer.selected:
                        grads = [p.grad for p in layer.weights if p.grad is not None]
                        if grads:
                            data.vector(layer.key("gradient"), keep_flat(grads))
            if sel.wants("weight"):
                for layer in self.layers:
                    if layer.selected:
                        data.vector(layer.key("weight"),
                                    keep_flat(_as_computed(layer.module, layer.weights)))
        if self.optimizer is not None and sel.wants("learning_rate"):
            data.scalar(_model_key("learning_rate"), float(_main_group(self.optimizer)["lr"]))
        elif self.learning_rate is not None and sel.wants("learning_rate"):
            data.scalar(_model_key("learning_rate"), float(self.learning_rate))
        if returns is not None and returns.size:
            self._pending_returns.append(returns)
        self._returns_row(data)
        if val_loss is not None and sel.wants("val_loss"):
            data.scalar(_model_key("val_loss"), val_loss)
        if val_accuracy is not None and sel.wants("val_accuracy"):
            data.scalar(_model_key("val_accuracy"), val_accuracy)

        self._send(epoch, batch, step, data)
        self._forward.clear()
        self._activation.clear()
        self._backward.clear()
        self._graph_backward.clear()
        self._grad_scale = None
        self._last_position = (epoch, batch, step)
        self._step += 1
        if self.selection.sampled(self._step) or self._step <= self._force_until:
            self._arm()
        else:
            self._disarm()
        reason = self._stop.reason()
        if reason is not None:
            self.stop_reason = reason
            self.close(_metadata=stop_metadata(reason, step))
            message = announce(reason, step, self.path, self._stop.path)
            if self.on_stop == "exit":
                raise TrainingStopped(message, reason, step)
            return True
        return False

    def _infer_task(self, targets):
        """Task and classes the caller did not give, from the loss read off the graph and the
        output width: class-index targets under a cross-entropy mean classification."""
        loss = self.loss_name if self.loss_name is not None else self._loss_info
        if self.task is None and loss is not None:
            if loss in ("CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss",
                        "MultiMarginLoss", "SoftMarginLoss"):
                self.task = "classification"
            elif loss in ("MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"):
                self.task = "regression"
        if self.num_classes is None and self.task == "classification" and self.layers:
            width = self._output_width
            if loss in ("CrossEntropyLoss", "NLLLoss") and width and width > 1:
                self.num_classes = width
            elif loss in ("BCELoss", "BCEWithLogitsLoss") and width == 1:
                self.num_classes = 2

    def add_return(self, value):
        """Keeps the return (the undiscounted sum of rewards) of an episode that just ended, or
        of several (a number, a sequence of numbers, a numpy array or a tensor), for loops
        where episodes end between updates (a DQN acting between them, a PPO rollout): they
        are written with the next :meth:`step`'s rows, in its ``episode_return`` row (with
        that call's own ``episode_return=``); those still kept at :meth:`close` go into a row
        at the last recorded step. NaN and Inf are kept and counted; anything that is not a
        number raises TypeError."""
        returns = as_returns(value, "add_return")
        if self._closed:
            if self.stop_reason is not None:
                return  # on_stop="flag": the loop goes on, nothing is recorded
            raise RuntimeError("the recorder is closed")
        if returns.size and self.selection.wants("episode_return"):
            self._pending_returns.append(returns)

    def _returns_row(self, data):
        """The ``episode_return`` row of the returns kept since the previous step, if any."""
        pending, self._pending_returns = self._pending_returns, []
        if pending and self.selection.wants("episode_return"):
            values = np.concatenate(pending) if len(pending) > 1 else pending[0]
            data.vector(_model_key("episode_return"),
                        Reduced(int(values.size), host=values_raw(values)))

    def add_validation(self, val_loss=None, val_accuracy=None):
        """Records ``val_loss``/``val_accuracy`` at the last recorded step (for callers that
        learn them after that step's :meth:`step`, such as the Lightning callback)."""
        if self._closed:
            raise RuntimeError("the recorder is closed")
        if self._last_position is None:
            return
        data = _StepData()
        if val_loss is not None and self.selection.wants("val_loss"):
            data.scalar(_model_key("val_loss"), val_loss)
        if val_accuracy is not None and self.selection.wants("val_accuracy"):
            data.scalar(_model_key("val_accuracy"), val_accuracy)
        if data.keys:
            self._send(*self._last_position, data)

    def _send(self, epoch, batch, step, data):
        flat, build = _gather(data.rows)
        host = ready = None
        if flat is not None:
            if flat.device.type == "cuda":
                host = flat.to("cpu", non_blocking=True)
                ready = torch.cuda.Event()
                ready.record()
            else:
                host = flat.cpu()

        def raw():
            if ready is not None:
                ready.synchronize()
            return build(host.numpy() if host is not None else None)

        self._sink.put(StepRows(epoch, batch, step, tuple(data.keys), raw))

    def _loss_finite(self, step, loss):
        """Whether the loss is finite; for a loss on an accelerator the answer comes a step
        later (no synchronization now), and this returns True."""
        if isinstance(loss, torch.Tensor):
            if loss.device.type == "cpu":
                return math.isfinite(loss.detach().reshape(-1)[0].item())
            flag = torch.isfinite(loss.detach()).all().to("cpu", non_blocking=True)
            event = torch.cuda.Event() if loss.device.type == "cuda" else None
            if event is not None:
                event.record()
            self._pending_finite = (step, flag, event)
            return True
        return math.isfinite(float(loss))

    def _resolve_pending_finite(self, wait):
        if self._pending_finite is None:
            return
        step, flag, event = self._pending_finite
        if event is not None:
            if not wait and not event.query():
                return
            event.synchronize()
        self._pending_finite = None
        if not bool(flag):
            self._force_until = max(self._force_until, step + 1 + STEPS_AFTER_NONFINITE)

    def _position(self, epoch, batch):
        if epoch is None and self.steps_per_epoch:
            epoch, counted = divmod(self._step, int(self.steps_per_epoch))
            return epoch, counted if batch is None else batch
        if epoch is None:
            epoch = self._epoch if self._epoch is not None else 0
        if batch is None:
            batch = self._batch + 1 if epoch == self._epoch else 0
        self._epoch, self._batch = epoch, batch
        return epoch, batch

    @property
    def steps(self):
        """Number of steps recorded so far."""
        return self._step

    def flush(self):
        """Writes every recorded step to disk now (waits for the writer thread)."""
        if self._sink is not None:
            self._sink.flush(wait=True)

    def close(self, _metadata=None):
        """Writes every recorded step, closes the trace and removes the hooks. Safe to call twice."""
        if self._closed:
            return
        if (self._pending_returns and self._sink is not None
                and self._last_position is not None):
            # returns of episodes that ended after the last step: at that step, as
            # add_validation does
            data = _StepData()
            self._returns_row(data)
            self._send(*self._last_position, data)
        self._pending_returns = []
        self._closed = True
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        self._disarm()
        self._resets.close()
        try:
            if self._sink is not None:
                extra = self._resets.metadata()
                if _metadata:
                    extra.update(_metadata)
                self._sink.close(extra or None)
        finally:
            atexit.unregister(self._atexit)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


def attach(model, path, optimizer=None, task=None, loss_name=None, **options):
    """Instruments ``model`` and returns a :class:`Recorder` writing the trace to ``path``.

    ``path`` ends in .arrows (Arrow IPC stream, crash-tolerant, needs only numpy), .csv (CSV
    + ``<path>.meta.json``), .arrow (IPC file) or .parquet; the last two need pyarrow and
    fall back to an .arrows stream beside the requested path, with a warning, without it.

    ``optimizer``: the optimizer, or a list or tuple of optimizers, that the loop steps
    (see :class:`Recorder`; the first one gives the learning rate).

    Options: run_id, model_name, batch_size, steps_per_epoch, num_classes, flush_every
    (default 50 steps), record_inputs (default True), activations (layer name -> activation
    name, for activations applied with torch.nn.functional), every (record every N-th step;
    default 1), phases (the phases to record; default all), layers (layer names or glob
    patterns; default all), stop_file (a path, default ``$DLTRACE_STOP_FILE``: when that file
    appears, ``step()`` closes the trace with the reason in its metadata and ends training,
    see ``on_stop``), on_stop ("exit", the default: ``step()`` raises
    :class:`dltrace.TrainingStopped`, a ``SystemExit`` with status 0; "flag": ``step()``
    returns True and records nothing more, the loop decides), scaler (the
    ``torch.amp.GradScaler`` of a mixed-precision loop: the output gradients are recorded
    unscaled, see :class:`Recorder`), learning_rate (the rate of a loop without an optimizer,
    ``p -= lr * p.grad``: the ``dltrace.learning_rate`` metadata and per-step rows; set
    ``rec.learning_rate`` when it changes), objective (what training does with the loss,
    see :class:`Recorder`), loss_added (True when the loss holds terms beside ``loss_name``'s
    function, see :class:`Recorder`).
    """
    return Recorder(model, path, optimizer=optimizer, task=task, loss_name=loss_name, **options)
