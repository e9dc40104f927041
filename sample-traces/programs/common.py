"""Shared pieces of the sample programs: determinism, data, the training loop with the recorder.

Every program defines ``CASES`` (the ground truth of its buggy and fixed runs, collected into
manifest.json by ../regenerate.py) and ``build(fixed)`` returning a :class:`Setup`; running
``python3 PROGRAM.py [--fixed] --out TRACE.csv`` trains it once and records the trace.
"""

import argparse
import os
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "recorders"))
import dltrace.pytorch as dltrace  # noqa: E402

SEED = 20210522


def deterministic(seed=SEED):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)


def tensor(x, dtype=torch.float32):
    return torch.as_tensor(np.asarray(x), dtype=dtype)


def standardize(x):
    x = np.asarray(x, dtype=np.float64)
    return (x - x.mean(0)) / np.where(x.std(0) == 0, 1.0, x.std(0))


def one_hot(y, k):
    return nn.functional.one_hot(torch.as_tensor(y, dtype=torch.long), k).float()


def keras_categorical_crossentropy(output, target):
    """Keras 2.2's categorical_crossentropy on probabilities: normalize, clip, -sum(t log p).

    An output row that sums to 0 (a ReLU output layer gone dark) gives 0/0 = NaN, as in Keras.
    """
    output = output / output.sum(dim=1, keepdim=True)
    output = output.clamp(1e-7, 1 - 1e-7)
    return -(target * torch.log(output)).sum(dim=1).mean()


def keras_binary_crossentropy(output, target):
    output = output.clamp(1e-7, 1 - 1e-7)
    return -(target * torch.log(output) + (1 - target) * torch.log(1 - output)).mean()


def argmax_accuracy(output, target):
    labels = target.argmax(1) if target.dim() > 1 else target
    return (output.argmax(1) == labels).float().mean()


def threshold_accuracy(output, target, threshold=0.5):
    return ((output > threshold).float() == target).float().mean()


class Setup:
    """One training run: model, data, loss, optimizer, schedule and how the trace names things."""

    def __init__(self, model, x, y, loss_fn, optimizer, *, epochs, batch_size, task, loss_name,
                 accuracy=None, num_classes=None, shuffle=True, accuracy_target=None):
        self.model = model
        self.x = x
        self.y = y
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.epochs = epochs
        self.batch_size = batch_size
        self.task = task
        self.loss_name = loss_name
        self.accuracy = accuracy
        self.num_classes = num_classes
        self.shuffle = shuffle
        # Labels the accuracy is measured against, when they differ from the training targets.
        self.accuracy_target = accuracy_target


def train(setup, out, model_name):
    n = setup.x.shape[0]
    steps_per_epoch = (n + setup.batch_size - 1) // setup.batch_size
    rec = dltrace.attach(setup.model, out, optimizer=setup.optimizer, task=setup.task,
                         loss_name=setup.loss_name, model_name=model_name,
                         batch_size=setup.batch_size, steps_per_epoch=steps_per_epoch,
                         num_classes=setup.num_classes)
    generator = torch.Generator().manual_seed(SEED)
    acc_target = setup.accuracy_target if setup.accuracy_target is not None else setup.y
    last = []
    with rec:
        for epoch in range(setup.epochs):
            order = torch.randperm(n, generator=generator) if setup.shuffle else torch.arange(n)
            for b in range(steps_per_epoch):
                idx = order[b * setup.batch_size:(b + 1) * setup.batch_size]
                xb, yb = setup.x[idx], setup.y[idx]
                setup.optimizer.zero_grad()
                output = setup.model(xb)
                loss = setup.loss_fn(output, yb)
                loss.backward()
                setup.optimizer.step()
                acc = None
                if setup.accuracy is not None:
                    with torch.no_grad():
                        acc = setup.accuracy(output.detach(), acc_target[idx])
                rec.step(loss, accuracy=acc, inputs=xb, targets=yb, epoch=epoch, batch=b)
                last.append((float(loss), None if acc is None else float(acc)))
    tail = last[-steps_per_epoch:]
    losses = [l for l, _ in tail]
    accs = [a for _, a in tail if a is not None]
    summary = "steps=%d final-epoch loss=%.6g" % (len(last), float(np.mean(losses)))
    if accs:
        summary += " accuracy=%.4f" % float(np.mean(accs))
    return summary


def main(build, model_name):
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixed", action="store_true", help="run the fixed twin")
    parser.add_argument("--out", required=True, help="trace path (.csv)")
    args = parser.parse_args()
    deterministic()
    setup = build(args.fixed)
    summary = train(setup, args.out, model_name)
    print("%s %s: %s" % (model_name, "fixed" if args.fixed else "buggy", summary))


def digits_images(scale=16.0):
    """scikit-learn's 8x8 digits as (N, 1, 8, 8) images divided by ``scale``, and labels."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = tensor(digits.images / scale).unsqueeze(1)
    return images, torch.as_tensor(digits.target, dtype=torch.long)


def small_cnn(output_activation, classes=10):
    """A LeNet-like CNN for 8x8 images: conv-relu-pool, conv-relu-pool, dense, output."""
    from collections import OrderedDict
    layers = [
        ("conv1", nn.Conv2d(1, 8, 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(8, 16, 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("dense1", nn.Linear(16 * 2 * 2, 32)), ("relu3", nn.ReLU()),
        ("dense2", nn.Linear(32, classes))]
    if output_activation is not None:
        layers.append(output_activation)
    return nn.Sequential(OrderedDict(layers))
