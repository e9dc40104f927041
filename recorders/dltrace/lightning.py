"""Record a dl-analyze trace from a PyTorch Lightning ``Trainer``:

    from dltrace.lightning import DltraceCallback
    trainer = Trainer(callbacks=[DltraceCallback("run.arrows", task="classification")])

The callback attaches the PyTorch recorder (:mod:`dltrace.pytorch`) to the LightningModule
when training starts and records one step per optimizer step, after it (``on_train_batch_end``
of the batch on which ``trainer.global_step`` moved): with ``accumulate_grad_batches=k`` the k
micro-batches of an update make one recorded step, whose loss and accuracy are their means and
whose gradients are the accumulated ones the optimizer used, so that every recorded step has a
weight update, as in a plain training loop. The loss is what ``training_step`` returned (the
tensor, or the ``"loss"`` entry of its dict); the accuracy is the returned dict's
``"accuracy"``/``"acc"`` entry or, failing that, the metric logged under ``accuracy_key``
(default ``train_acc``, then ``train_accuracy``, ``acc``, ``accuracy``). At the end of each training epoch the logged
``val_loss`` and ``val_acc``/``val_accuracy`` become the epoch's validation rows.

Episode returns (``episode_return`` rows, for a reinforcement-learning objective) are not read
from ``self.log("episode_return", x)``: ``trainer.callback_metrics`` keeps a logged value on the
later steps that did not log it, so the callback cannot tell which step an episode ended at.
Pass them with :meth:`DltraceCallback.add_return` instead (the PyTorch recorder's
``add_return``: written with the next recorded step).
"""

import math

import lightning.pytorch as pl
import torch

from .pytorch.recorder import Recorder

_ACCURACY_KEYS = ("train_acc", "train_accuracy", "acc", "accuracy")
_VAL_ACCURACY_KEYS = ("val_acc", "val_accuracy")


def _value(x):
    if isinstance(x, torch.Tensor):
        return x.detach()
    return x


def _accumulation(trainer):
    """How many micro-batches make one optimizer step (``accumulate_grad_batches``, at least 1)."""
    return max(1, int(getattr(trainer, "accumulate_grad_batches", 1) or 1))


def _mean(values):
    """The mean of the micro-batches' losses or accuracies (tensors or numbers), or None."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return sum(float(v) for v in values) / len(values)


class DltraceCallback(pl.Callback):
    """Records the training run into ``path`` (.arrows recommended; .csv, .arrow, .parquet).

    Keyword options are those of :func:`dltrace.pytorch.attach` (task, loss_name,
    num_classes, every, phases, layers, record_inputs, flush_every, run_id, model_name...),
    plus ``accuracy_key`` (the logged metric to use as the batch accuracy) and
    ``input_key``/``target_key`` (how to find the inputs and targets in a batch: an index
    into a tuple/list batch, default 0 and 1, or a key of a dict batch).
    """

    def __init__(self, path, accuracy_key=None, input_key=0, target_key=1, **options):
        super().__init__()
        self.path = path
        self.options = options
        self.accuracy_key = accuracy_key
        self.input_key = input_key
        self.target_key = target_key
        self.recorder = None
        self._global_step = 0
        self._losses = []
        self._accuracies = []
        self._epoch = None
        self._batch = 0
        self._returns = []   # add_return before the recorder exists

    def on_train_start(self, trainer, pl_module):
        if self.recorder is not None:
            return
        # Every optimizer of the trainer (a GAN's two, sparse and dense parameters apart):
        # a layer is in_optimizer when any of them updates it; the first one gives the
        # learning rate (see dltrace.pytorch.attach).
        optimizer = list(trainer.optimizers) or None
        options = dict(self.options)
        if "steps_per_epoch" not in options:
            batches = trainer.num_training_batches
            if isinstance(batches, int) and batches > 0:
                # one recorded step per optimizer step: k micro-batches make one
                options["steps_per_epoch"] = math.ceil(batches / _accumulation(trainer))
        options.setdefault("model_name", type(pl_module).__name__)
        options.setdefault("on_stop", "flag")  # the Trainer stops itself (should_stop)
        self.recorder = Recorder(pl_module, self.path, optimizer=optimizer, **options)
        self._global_step = trainer.global_step
        for value in self._returns:
            self.recorder.add_return(value)
        self._returns = []

    def add_return(self, value):
        """The return of an episode that just ended, or several: written with the next
        recorded step's rows as its ``episode_return`` row (:meth:`dltrace.pytorch.Recorder.add_return`).
        Call it from the LightningModule, e.g. ``self.trainer.callbacks``' DltraceCallback."""
        if self.recorder is None:
            from ._core.stats import as_returns
            as_returns(value, "add_return")  # the TypeError now, not at the start of training
            self._returns.append(value)
        else:
            self.recorder.add_return(value)

    def _part(self, batch, key):
        try:
            return batch[key]
        except (KeyError, IndexError, TypeError):
            return None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.recorder is None:
            return
        loss = outputs
        accuracy = None
        if isinstance(outputs, dict):
            loss = outputs.get("loss")
            accuracy = outputs.get("accuracy", outputs.get("acc"))
        if loss is None:
            return  # training_step returned nothing: no optimizer step was taken
        if accuracy is None:
            metrics = trainer.callback_metrics
            keys = (self.accuracy_key,) if self.accuracy_key else _ACCURACY_KEYS
            for key in keys:
                if key in metrics:
                    accuracy = metrics[key]
                    break
        if pl_module.automatic_optimization:
            # Lightning hands on the loss divided by accumulate_grad_batches (what backward saw)
            loss = _value(loss) * _accumulation(trainer)
        self._losses.append(_value(loss))
        if accuracy is not None:
            self._accuracies.append(_value(accuracy))
        if trainer.global_step == self._global_step:
            return  # a micro-batch of gradient accumulation: the update comes later
        self._global_step = trainer.global_step
        if self._epoch != trainer.current_epoch:
            self._epoch = trainer.current_epoch
            self._batch = 0
        loss, accuracy = _mean(self._losses), _mean(self._accuracies)
        self._losses, self._accuracies = [], []
        inputs = self._part(batch, self.input_key)
        targets = self._part(batch, self.target_key)
        stop = self.recorder.step(loss, accuracy=accuracy,
                                  inputs=inputs if isinstance(inputs, torch.Tensor) else None,
                                  targets=targets if isinstance(targets, torch.Tensor) else None,
                                  epoch=self._epoch, batch=self._batch)
        self._batch += 1
        if stop:
            trainer.should_stop = True  # the stop file appeared: the trace is closed

    def on_train_epoch_end(self, trainer, pl_module):
        if self.recorder is None:
            return
        metrics = trainer.callback_metrics
        val_loss = metrics.get("val_loss")
        val_accuracy = None
        for key in _VAL_ACCURACY_KEYS:
            if key in metrics:
                val_accuracy = metrics[key]
                break
        if val_loss is not None or val_accuracy is not None:
            self.recorder.add_validation(_value(val_loss), _value(val_accuracy))

    def on_train_end(self, trainer, pl_module):
        self.close()

    def on_exception(self, trainer, pl_module, exception):
        self.close()

    def close(self):
        """Writes every recorded step and closes the trace (the end of fit does this)."""
        if self.recorder is not None:
            self.recorder.close()
