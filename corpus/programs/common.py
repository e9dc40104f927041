"""Plumbing shared by the corpus programs: command line, determinism, data, the result line.

Nothing here trains a model: every program has its own model, loss, optimizer and training
loop (PyTorch) or ``model.fit`` call (Keras), written the way such scripts usually are.

Every program takes ``--out TRACE.arrows`` (record the run there; leave it out to train
without recording), ``--record-every N`` (the recorder's ``every=N``), ``--seed N`` and
``--fixed`` where it has a buggy/fixed pair, and ends by printing one line ``RESULT {json}`` with the final-epoch loss and accuracy that
``corpus/regenerate.py`` copies into the manifest's ``final`` field.
"""

import argparse
import json
import math
import os
import random
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import recording  # noqa: E402  (re-exported for the programs)


class _Parser(argparse.ArgumentParser):
    def parse_args(self, *a, **kw):
        args = super().parse_args(*a, **kw)
        recording.every = args.record_every
        return args


def parser(doc):
    p = _Parser(description=(doc or "").strip().splitlines()[0])
    p.add_argument("--out", help="record the trace to this .arrows file")
    p.add_argument("--record-every", type=int, default=1, metavar="N",
                   help="record the per-layer rows of every N-th step (the recorder's every=N)")
    p.add_argument("--seed", type=int, default=0)
    return p


def floats(text):
    return [float(v) for v in text.split(",") if v]


def ints(text):
    return [int(v) for v in text.split(",") if v]


# ---------------------------------------------------------------- determinism

def torch_setup(seed):
    """Seeds Python, numpy and torch; one thread; deterministic algorithms."""
    import torch
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    return torch


def keras_setup(seed):
    """Seeds Python, numpy and TensorFlow; one thread; op determinism. Returns ``keras``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    return keras


# ---------------------------------------------------------------- data

def load(name, seed=0):
    """A local data set: (x, y) as numpy arrays, nothing downloaded.

    Bundled with scikit-learn: digits (8x8 images, pixels 0..16, flattened), iris, wine,
    breast_cancer, diabetes (targets 25..346). Generated: moons, circles, blobs (4 classes),
    classification (3 classes, 20 features), imbalanced (binary, 9:1), noisy (3 classes, 25%
    of the labels flipped), friedman (make_friedman1), waves (4 features in [-1, 1], target
    sin(pi x0) cos(pi x1) + x2^2 / 2: no linear part), regression (make_regression, targets of
    a few hundred).
    """
    from sklearn import datasets as ds
    if name == "digits":
        d = ds.load_digits()
        return d.data.astype(np.float64), d.target
    if name in ("iris", "wine", "breast_cancer"):
        d = getattr(ds, "load_" + name)()
        return d.data.astype(np.float64), d.target
    if name == "diabetes":
        d = ds.load_diabetes(scaled=False)
        return d.data.astype(np.float64), d.target.astype(np.float64)
    if name == "xor":
        return np.array([[1, 1], [1, 0], [0, 0], [0, 1]], dtype=np.float64), np.array([0, 1, 0, 1])
    if name == "moons":
        return ds.make_moons(n_samples=800, noise=0.2, random_state=seed)
    if name == "circles":
        return ds.make_circles(n_samples=800, noise=0.08, factor=0.5, random_state=seed)
    if name == "blobs":
        return ds.make_blobs(n_samples=800, centers=4, n_features=8, cluster_std=2.5,
                             random_state=seed)
    if name == "classification":
        return ds.make_classification(n_samples=1000, n_features=20, n_informative=8,
                                      n_redundant=4, n_classes=3, n_clusters_per_class=2,
                                      random_state=seed)
    if name == "imbalanced":
        return ds.make_classification(n_samples=1200, n_features=12, n_informative=6,
                                      weights=[0.9, 0.1], random_state=seed)
    if name == "noisy":
        return ds.make_classification(n_samples=1000, n_features=10, n_informative=6,
                                      n_classes=3, flip_y=0.25, random_state=seed)
    if name == "friedman":
        return ds.make_friedman1(n_samples=1000, noise=0.5, random_state=seed)
    if name == "waves":
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1, 1, size=(1000, 4))
        y = np.sin(np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1]) + 0.5 * x[:, 2] ** 2 \
            + 0.05 * rng.standard_normal(1000)
        return x, y
    if name == "regression":
        return ds.make_regression(n_samples=800, n_features=10, n_informative=8, noise=10.0,
                                  random_state=seed)
    raise SystemExit("unknown data set: %s" % name)


def split(x, y, val=0.2, seed=0, stratify=True):
    from sklearn.model_selection import train_test_split
    strat = y if stratify and np.issubdtype(np.asarray(y).dtype, np.integer) else None
    return train_test_split(x, y, test_size=val, random_state=seed, stratify=strat)


def standardize(train, *others):
    mean, std = train.mean(0), train.std(0)
    std = np.where(std == 0, 1.0, std)
    return [(a - mean) / std for a in (train,) + others]


def sine_windows(n, length, seed=0, noise=0.05):
    """Windows of noisy sines with random frequency and phase; target = the next value."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.1, 0.4, size=(n, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(n, 1))
    t = np.arange(length + 1)[None, :]
    s = np.sin(freq * t + phase) + noise * rng.standard_normal((n, length + 1))
    return s[:, :length, None].astype(np.float32), s[:, length].astype(np.float32)


def sequence_classes(n, length, seed=0, classes=3):
    """Sequences of 2 channels: class 0 a rising ramp, 1 a sine, 2 a square wave, plus noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    t = np.linspace(0, 1, length)
    x = np.empty((n, length, 2), dtype=np.float32)
    for i in range(n):
        f = rng.uniform(1.5, 3.0)
        shapes = [2 * t - 1, np.sin(2 * math.pi * f * t), np.sign(np.sin(2 * math.pi * f * t))]
        x[i, :, 0] = shapes[y[i] % 3] + 0.3 * rng.standard_normal(length)
        x[i, :, 1] = rng.standard_normal(length) * 0.5
    return x, y


def token_task(n, length, vocab, seed=0, classes=2):
    """Token sequences labelled by which marker token (1..classes) occurs most often.

    Tokens classes+1..vocab-1 are filler; 0 is never used (padding id). The markers are a
    few tokens among many: the model has to find and count them, which self-attention and
    recurrent models do.
    """
    rng = np.random.default_rng(seed)
    x = rng.integers(classes + 1, vocab, size=(n, length))
    y = rng.integers(0, classes, size=n)
    for i in range(n):
        k_major = int(rng.integers(3, 7))
        others = [c for c in range(classes) if c != y[i]]
        counts = {c: int(rng.integers(0, min(k_major, 3))) for c in others}
        total = k_major + sum(counts.values())
        pos = rng.choice(length, size=total, replace=False)
        x[i, pos[:k_major]] = y[i] + 1
        at = k_major
        for c in others:
            x[i, pos[at:at + counts[c]]] = c + 1
            at += counts[c]
    return x.astype(np.int64), y.astype(np.int64)


# ---------------------------------------------------------------- results

def _finite(v):
    return None if v is None or not math.isfinite(v) else v


class History:
    """Per-step loss/accuracy and per-epoch validation of a PyTorch loop, for the result line."""

    def __init__(self):
        self.steps = 0
        self.epochs = []       # [(losses, accuracies, val_loss, val_accuracy)]
        self._loss, self._acc = [], []

    def step(self, loss, accuracy=None):
        self.steps += 1
        self._loss.append(float(loss))
        if accuracy is not None:
            self._acc.append(float(accuracy))

    def epoch(self, val_loss=None, val_accuracy=None):
        self.epochs.append((self._loss, self._acc, val_loss, val_accuracy))
        self._loss, self._acc = [], []

    def result(self, **extra):
        if self._loss:
            self.epoch()
        first, last = self.epochs[0], self.epochs[-1]
        out = {"steps": self.steps, "epochs": len(self.epochs),
               "first_loss": float(np.mean(first[0])), "loss": float(np.mean(last[0]))}
        if last[1]:
            out["first_accuracy"] = float(np.mean(first[1]))
            out["accuracy"] = float(np.mean(last[1]))
        if last[2] is not None:
            out["val_loss"] = float(last[2])
        if last[3] is not None:
            out["val_accuracy"] = float(last[3])
        out["nan"] = any(not math.isfinite(v) for e in self.epochs for v in e[0])
        out.update(extra)
        return out


def keras_result(history, steps, **extra):
    h = history.history
    out = {"steps": steps, "epochs": len(h["loss"]), "first_loss": h["loss"][0],
           "loss": h["loss"][-1]}
    for key, name in (("accuracy", "accuracy"), ("binary_accuracy", "accuracy"),
                      ("val_loss", "val_loss"), ("val_accuracy", "val_accuracy"),
                      ("val_binary_accuracy", "val_accuracy")):
        if key in h and name not in out:
            if name == "accuracy":
                out["first_accuracy"] = float(h[key][0])
            out[name] = float(h[key][-1])
    out["nan"] = any(not math.isfinite(v) for v in h["loss"])
    out.update(extra)
    return out


def keras_layers(model):
    """Names of the layers that own weights, in model order (the recorder's layers)."""
    return [layer.name for layer in model.layers if layer.weights]


def report(result):
    clean = {k: (_finite(v) if isinstance(v, float) else v) for k, v in result.items()}
    for k, v in result.items():
        if isinstance(v, float) and not math.isfinite(v):
            clean[k] = repr(v)
    clean["recorder"] = recording.used
    print("RESULT " + json.dumps(clean, sort_keys=True), flush=True)
