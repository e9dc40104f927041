"""Records a trace of a PyTorch training loop: forward/backward hooks plus one call per step."""

import atexit
import json
import os
import warnings
import weakref

import torch
from torch import nn

from .stats import scalar_stats, tensor_stats
from .writers import ArrowTraceWriter, CsvTraceWriter, IpcStreamTraceWriter, pyarrow_available

FORMAT_VERSION = "1"

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

_PHASES = ("input", "target", "forward", "activation", "loss", "accuracy", "backward",
           "gradient", "weight", "learning_rate", "val_loss", "val_accuracy")


def _is_activation(module):
    return type(module).__name__ in ACTIVATIONS


def _is_layer(module):
    """A parametric module: it owns parameters itself (Linear, Conv*, BatchNorm*, LSTM...)."""
    if _is_activation(module):
        return False
    return any(True for _ in module.parameters(recurse=False))


def _first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _first_tensor(item)
            if found is not None:
                return found
    if hasattr(output, "data") and isinstance(getattr(output, "data"), torch.Tensor):
        return output.data  # PackedSequence
    return None


def _weight_params(module):
    """The parameters whose statistics make the layer's weight and gradient rows.

    The parameters named ``weight*`` (Linear/Conv kernel, BatchNorm gamma, LSTM weight_ih/hh
    of every layer); biases are left out, as DeepLocalize does. A module without such a
    parameter uses all of its own parameters.
    """
    named = list(module.named_parameters(recurse=False))
    weights = [p for name, p in named if name.startswith("weight")]
    return weights if weights else [p for _, p in named]


def _flat(tensors):
    if len(tensors) == 1:
        return tensors[0].detach()
    return torch.cat([t.detach().reshape(-1) for t in tensors])


class _Layer:
    __slots__ = ("index", "name", "module", "type", "activation", "activation_module",
                 "params", "trainable", "weights")

    def __init__(self, index, name, module):
        self.index = index
        self.name = name
        self.module = module
        self.type = type(module).__name__
        self.activation = "linear"
        self.activation_module = None
        self.params = sum(p.numel() for p in module.parameters(recurse=False))
        self.trainable = any(p.requires_grad for p in module.parameters(recurse=False))
        self.weights = _weight_params(module)


class Recorder:
    """Records one training run. Create it with :func:`attach`.

    Call :meth:`step` once per training step, after ``optimizer.step()`` and before the next
    ``optimizer.zero_grad()``. Use it as a context manager or call :meth:`close`; an
    ``atexit`` hook closes it if the program ends first.
    """

    def __init__(self, model, path, optimizer=None, task=None, loss_name=None, *,
                 run_id=None, model_name=None, batch_size=None, steps_per_epoch=None,
                 num_classes=None, flush_every=50, record_inputs=True, activations=None):
        if not isinstance(model, nn.Module):
            raise TypeError("model must be a torch.nn.Module, got %s" % type(model).__name__)
        if flush_every < 1:
            raise ValueError("flush_every must be positive: %s" % flush_every)
        if task not in (None, "classification", "regression"):
            raise ValueError("task must be 'classification' or 'regression': %s" % task)
        path = os.fspath(path)
        ext = os.path.splitext(path)[1]
        if ext not in (".csv", ".arrows", ".arrow", ".parquet"):
            raise ValueError("cannot tell the trace format from %r: use .arrows, .arrow,"
                             " .parquet or .csv" % path)
        if ext in (".arrow", ".parquet") and not pyarrow_available():
            stream_path = os.path.splitext(path)[0] + ".arrows"
            warnings.warn("pyarrow is not installed: writing an Arrow IPC stream to %s instead of"
                          " %s (convert it with: dl-analyze convert %s %s)"
                          % (stream_path, path, stream_path, path), stacklevel=3)
            path = stream_path
        self.path = path
        self.model = model
        self.optimizer = optimizer
        self.task = task
        self.loss_name = loss_name
        self.run_id = run_id if run_id is not None else os.path.splitext(os.path.basename(path))[0]
        self.model_name = model_name if model_name is not None else type(model).__name__
        self.batch_size = batch_size
        self.steps_per_epoch = steps_per_epoch
        self.num_classes = num_classes
        self.flush_every = flush_every
        self.record_inputs = record_inputs
        self.activation_overrides = dict(activations or {})

        self.layers = None          # list of _Layer in execution order, set by the first forward
        self._first_pass = []       # layer modules in the order of the first training forward
        self._seen = set()
        self._activation_of = {}    # id(layer module) -> activation name seen in the first pass
        self._layer_of = {}         # id(layer module) -> _Layer, after the first pass
        self._forward = {}          # id(layer module) -> stats of this step's forward output
        self._activation = {}       # id(layer module) -> stats of its activation's output
        self._backward = {}         # id(layer module) -> stats of the gradient w.r.t. its output
        self._last_layer = None
        self._last_has_activation = False
        self._step = 0
        self._epoch = None
        self._batch = 0
        self._writer = None
        self._closed = False
        self._steps_since_flush = 0
        self._hooks = []

        self._candidates = {}
        for name, module in model.named_modules():
            if _is_layer(module):
                self._candidates[id(module)] = (name or type(module).__name__, module)
                self._hooks.append(module.register_forward_hook(self._on_layer_forward))
            elif _is_activation(module):
                self._hooks.append(module.register_forward_hook(self._on_activation_forward))
        if not self._candidates:
            raise ValueError("the model has no module with parameters to record")
        self._hooks.append(model.register_forward_pre_hook(self._on_model_forward))

        self_ref = weakref.ref(self)

        def _close_at_exit():
            rec = self_ref()
            if rec is not None:
                rec.close()
        self._atexit = _close_at_exit
        atexit.register(_close_at_exit)

    # ------------------------------------------------------------------ hooks

    def _recording(self):
        return self.model.training and torch.is_grad_enabled() and not self._closed

    def _on_model_forward(self, module, inputs):
        if not self._recording():
            return
        self._forward.clear()
        self._activation.clear()
        self._backward.clear()
        self._last_layer = None
        self._last_has_activation = False

    def _on_layer_forward(self, module, inputs, output):
        if not self._recording():
            return
        out = _first_tensor(output)
        if out is None:
            return
        key = id(module)
        if self.layers is None:
            if key not in self._seen:
                self._seen.add(key)
                self._first_pass.append(module)
        elif key not in self._layer_of:
            return
        self._forward[key] = tensor_stats(out)
        self._last_layer = module
        self._last_has_activation = False
        if out.requires_grad:
            out.register_hook(lambda grad, key=key: self._on_output_grad(key, grad))

    def _on_activation_forward(self, module, inputs, output):
        """The first activation module run after a layer (and before the next) is its activation."""
        if not self._recording() or self._last_layer is None or self._last_has_activation:
            return
        out = _first_tensor(output)
        if out is None:
            return
        key = id(self._last_layer)
        self._activation[key] = tensor_stats(out)
        self._last_has_activation = True
        if self.layers is None and key not in self._activation_of:
            self._activation_of[key] = ACTIVATIONS[type(module).__name__]

    def _on_output_grad(self, key, grad):
        if not self._closed:
            self._backward[key] = tensor_stats(grad)

    def _freeze_layers(self):
        """After the first pass: number the layers in execution order, name their activations."""
        layers = []
        for module in self._first_pass:
            name, _ = self._candidates[id(module)]
            layer = _Layer(len(layers), name, module)
            layer.activation = self._activation_of.get(id(module), "linear")
            if layer.name in self.activation_overrides:
                layer.activation = self.activation_overrides[layer.name]
            layers.append(layer)
        self._layer_of = {id(layer.module): layer for layer in layers}
        self.layers = layers

    # ------------------------------------------------------------------ metadata

    def metadata(self):
        """The trace's key-value metadata (all values are strings), in contract order."""
        meta = {"dltrace.version": FORMAT_VERSION, "dltrace.run_id": self.run_id,
                "dltrace.model": self.model_name, "dltrace.framework": "pytorch"}
        if self.optimizer is not None:
            meta["dltrace.optimizer"] = type(self.optimizer).__name__
            meta["dltrace.learning_rate"] = repr(float(self.optimizer.param_groups[0]["lr"]))
        if self.batch_size is not None:
            meta["dltrace.batch_size"] = str(int(self.batch_size))
        if self.task is not None:
            meta["dltrace.task"] = self.task
        if self.loss_name is not None:
            meta["dltrace.loss"] = self.loss_name
        meta["dltrace.layers"] = json.dumps([
            {"index": l.index, "name": l.name, "type": l.type, "activation": l.activation,
             "params": l.params, "trainable": l.trainable} for l in self.layers])
        if self.steps_per_epoch is not None:
            meta["dltrace.steps_per_epoch"] = str(int(self.steps_per_epoch))
        if self.num_classes is not None:
            meta["dltrace.num_classes"] = str(int(self.num_classes))
        return meta

    def _open_writer(self):
        meta = self.metadata()
        if self.path.endswith(".csv"):
            self._writer = CsvTraceWriter(self.path, meta)
        elif self.path.endswith(".arrows"):
            self._writer = IpcStreamTraceWriter(self.path, meta)
        else:
            self._writer = ArrowTraceWriter(self.path, meta, [l.name for l in self.layers],
                                            [l.type for l in self.layers], _PHASES)

    # ------------------------------------------------------------------ per step

    def step(self, loss, accuracy=None, inputs=None, targets=None, *, epoch=None, batch=None,
             val_loss=None, val_accuracy=None):
        """Records one training step. Call after ``optimizer.step()``.

        ``loss`` is the batch loss (tensor or number); ``accuracy`` the batch accuracy in
        [0, 1] (leave it out for regression); ``inputs``/``targets`` the batch tensors
        (optional: their statistics become the ``input``/``target`` rows). ``epoch`` and
        ``batch`` are counted for you when left out (from ``steps_per_epoch`` when given).
        ``val_loss``/``val_accuracy``: pass them on the epoch's last step.
        """
        if self._closed:
            raise RuntimeError("the recorder is closed")
        if self.layers is None:
            if not self._first_pass:
                raise RuntimeError("step() called before any training forward pass of the model")
            self._freeze_layers()
        if self.batch_size is None and inputs is not None and isinstance(inputs, torch.Tensor) \
                and inputs.dim() > 0:
            self.batch_size = inputs.shape[0]
        if self._writer is None:
            self._open_writer()
        epoch, batch = self._position(epoch, batch)
        step = self._step
        rows = []

        def add(layer, phase, stats):
            if layer is None:
                rows.append((epoch, batch, step, -1, "model", None, phase) + tuple(stats))
            else:
                rows.append((epoch, batch, step, layer.index, layer.name, layer.type, phase)
                            + tuple(stats))

        if self.record_inputs and inputs is not None:
            add(None, "input", tensor_stats(torch.as_tensor(inputs)))
        if self.record_inputs and targets is not None:
            add(None, "target", tensor_stats(torch.as_tensor(targets)))
        for layer in self.layers:
            fwd = self._forward.get(id(layer.module))
            if fwd is None:
                continue
            add(layer, "forward", fwd)
            add(layer, "activation", self._activation.get(id(layer.module), fwd))
        add(None, "loss", scalar_stats(loss))
        if accuracy is not None:
            add(None, "accuracy", scalar_stats(accuracy))
        for layer in reversed(self.layers):
            grad = self._backward.get(id(layer.module))
            if grad is not None:
                add(layer, "backward", grad)
        for layer in self.layers:
            grads = [p.grad for p in layer.weights if p.grad is not None]
            if grads:
                add(layer, "gradient", tensor_stats(_flat(grads)))
        for layer in self.layers:
            add(layer, "weight", tensor_stats(_flat(layer.weights)))
        if self.optimizer is not None:
            add(None, "learning_rate", scalar_stats(float(self.optimizer.param_groups[0]["lr"])))
        if val_loss is not None:
            add(None, "val_loss", scalar_stats(val_loss))
        if val_accuracy is not None:
            add(None, "val_accuracy", scalar_stats(val_accuracy))

        self._writer.write_rows(rows)
        self._forward.clear()
        self._activation.clear()
        self._backward.clear()
        self._step += 1
        self._steps_since_flush += 1
        if self._steps_since_flush >= self.flush_every:
            self.flush()

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
        """Writes the buffered rows to disk now."""
        if self._writer is not None:
            self._writer.flush()
        self._steps_since_flush = 0

    def close(self):
        """Flushes, closes the trace and removes the hooks. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        try:
            if self._writer is not None:
                self._writer.close()
        finally:
            atexit.unregister(self._atexit)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close()
        return False


def attach(model, path, optimizer=None, task=None, loss_name=None, **options):
    """Instruments ``model`` and returns a :class:`Recorder` writing the trace to ``path``.

    ``path`` ends in .arrows (Arrow IPC stream, crash-tolerant, no dependency), .csv (CSV +
    ``<path>.meta.json``), .arrow (IPC file) or .parquet; the last two need pyarrow and fall
    back to an .arrows stream beside the requested path, with a warning, without it. Options: run_id, model_name, batch_size, steps_per_epoch,
    num_classes, flush_every (default 50 steps), record_inputs (default True), activations
    (layer name -> activation name, for activations applied with torch.nn.functional).
    """
    return Recorder(model, path, optimizer=optimizer, task=task, loss_name=loss_name, **options)
