#!/usr/bin/env python3
"""Calibration sweep: many healthy training runs of the dev programs, sampled, not hand-picked.

    python3 corpus/calibration.py -j 2                 # sample, record, filter, write the manifest
    python3 corpus/calibration.py --list               # the sampled commands, nothing run
    python3 corpus/calibration.py --no-record          # train only: outcomes and the filter
    python3 corpus/calibration.py --per-program 3 --program pt_mlp

For every program in programs/dev/ (never programs/test/: the test split is not tuned on) this
script defines a space of healthy settings, read from the program's options and from the
healthy runs in its CASES: optimizers and each one's sensible learning-rate range (log-uniform),
batch sizes 8 to 128, sensible initializations (the framework's default, He with ReLU-like
activations, Xavier/Glorot), activations, widths and depths, BatchNorm and dropout on or off,
the data sets the program supports, a number of training steps like the healthy cases' (epochs
derived from it), schedules where the program has them, and seeds. From each space it draws
``--per-program`` configurations with Python's ``random`` seeded by the program's name
(``random.Random("calibration:" + name)``, the same on every machine and Python 3), without
repeating a command. The k-th configuration of a program does not depend on N, so a smaller N
gives a prefix of the full sweep.

Each run is recorded the way regenerate.py records the corpus (its functions are reused: one
process per run, one thread, PYTHONHASHSEED=0, the seed on the command line, the recorder's
Arrow IPC stream converted to zstd Parquet) into calibration/traces/<id>.parquet. The traces
are not committed (.gitignore): this script regenerates them deterministically.
calibration/manifest.json (committed) is in the corpus manifest's format (paths relative to
its folder), every case healthy, split "calibration", family "calibration-<program>".

Outcome filter, decided from the program's own printed result only (never from dl-analyze):

* every run: the program exits normally and no training loss is NaN or infinite;
* classification: the final accuracy (the last validation accuracy; the final-epoch training
  accuracy when there is no validation) is at least chance + 0.6 x (1 - chance), with chance =
  1 / number of classes (0.64 for 10 classes, 0.733 for 3, 0.8 for 2), or the majority class's
  share for a program whose classes are imbalanced by construction (keras_weighted_tabular:
  0.8, a bar of 0.92);
* regression and autoencoders: the final-epoch mean training loss is below the first epoch's
  (the run learned), and the last validation loss removes at least 30% of the loss of
  predicting the training set's mean: (B - v) / (B - F) >= 0.3, where v is the validation loss,
  B the validation loss of the training mean (the mean target; the mean image for an
  autoencoder) and F the loss floor (0 for MSE; for binary cross-entropy on pixels in [0, 1],
  the pixels' own entropy); for MSE this is R^2 >= 0.3 on the validation set. B and F are
  computed here from the same data, split and scaling as the program (for pt_vae_digits, whose
  losses are sums over an image's 64 pixels, 64 times the per-pixel values; the VAE's KL term
  and the denoising autoencoder's L2 term, both in its validation loss and both >= 0, are in
  neither, which makes its bar stricter). The bar is lower than
  the classification bar because of what the data allow: the healthy corpus runs of the
  autoencoder (a code of 4 to 8 units) and of the diabetes regression remove 0.23 to 0.46 of
  it (the sine, signal, Friedman and make_regression runs 0.80 to 0.98).

A run that fails the filter is not scored: it is listed under the manifest's top-level key
"rejected" with its outcome and the reason, so the counts stay honest. Data sets that cannot
pass the filter by construction are left out of the spaces: ``noisy`` (25% of the labels
flipped, accuracy capped near 0.8 against a bar of 0.733; healthy corpus runs reach 0.6) and
``imbalanced`` (chance is the majority class's 0.9, the bar 0.96; healthy runs reach 0.93).
"""

import argparse
import concurrent.futures
import json
import math
import os
import random
import shlex
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import regenerate  # noqa: E402  (run_case, format_final, manifest_entry: one way to record)

DEV = os.path.join(regenerate.PROGRAMS, "dev")
CALIBRATION = os.path.join(HERE, "calibration")
MANIFEST = os.path.join(CALIBRATION, "manifest.json")
SPLIT = "calibration"
DEFAULT_PER_PROGRAM = 11      # 11 dev programs: 121 runs
DESCRIPTION = ("Calibration sweep: healthy runs of the dev programs with sampled settings, kept"
               " when their own outcome shows they trained well (corpus/README.md, 'Calibration"
               " sweep'); regenerate with: python3 corpus/calibration.py")
# Accuracy bar: chance + BAR x (1 - chance); regression: fraction of the mean predictor's
# excess loss removed.
ACCURACY_BAR = 0.6
LOSS_BAR = 0.3

# Learning-rate ranges (log-uniform) per optimizer; a program overrides those its healthy runs
# show to be different (CNNs and recurrent networks train little in a few hundred steps at the
# bottom of the default ranges).
LR = {"sgd": (0.01, 0.2), "momentum": (0.005, 0.05), "nesterov": (0.005, 0.05),
      "adam": (3e-4, 3e-3), "adamw": (3e-4, 3e-3), "rmsprop": (3e-4, 3e-3),
      "adagrad": (0.01, 0.1)}

# Training-set sizes (80% of the data), to turn a number of steps into epochs.
TRAIN_ROWS = {"iris": 120, "wine": 142, "breast_cancer": 455, "digits": 1437,
              "classification": 800, "blobs": 640, "moons": 640, "circles": 640,
              "diabetes": 353, "friedman": 800, "regression": 640}
CLASSES = {"iris": 3, "wine": 3, "breast_cancer": 2, "digits": 10, "classification": 3,
           "blobs": 4, "moons": 2, "circles": 2}
REGRESSION_DATA = ("diabetes", "friedman", "regression")


# ------------------------------------------------------------------ sampling helpers


def log_uniform(rng, lo, hi):
    """A value between lo and hi, uniform in log space, to two significant digits."""
    return float("%.2g" % math.exp(rng.uniform(math.log(lo), math.log(hi))))


def pick_lr(rng, opt, overrides=None):
    lo, hi = (overrides or {}).get(opt, LR[opt])
    return log_uniform(rng, lo, hi)


def epochs_for(rng, rows, bs, steps=(150, 600), lo=2, hi=40):
    """Epochs giving about a log-uniform number of steps in ``steps`` (at least ``lo``)."""
    per_epoch = -(-rows // bs)
    target = math.exp(rng.uniform(math.log(steps[0]), math.log(steps[1])))
    return max(lo, min(hi, int(round(target / per_epoch))))


def pick_bs(rng, rows):
    """A batch size of 8 to 128, at most a quarter of the training rows (4+ steps an epoch)."""
    return rng.choice([b for b in (8, 16, 32, 64, 128) if b <= rows / 4])


def fmt(value):
    return "%g" % value


class Config:
    """One sampled run: its argument list, and what the outcome filter needs to know."""

    def __init__(self, args, task, architecture, classes=None, baseline=None, chance=None,
                 accuracy_key=None):
        self.args = args                  # list of command-line arguments (with --seed)
        self.task = task                  # "classification" or "regression"
        self.architecture = architecture
        self.classes = classes            # number of classes (classification)
        self.baseline = baseline          # (function name, keyword arguments) for B and F
        # the accuracy of a run that learned nothing: 1 / classes, unless the classes are
        # imbalanced (then the majority class's share)
        self.chance = chance if chance is not None else (1.0 / classes if classes else None)
        # the result line's accuracy to judge, when not val_accuracy (a model of several heads)
        self.accuracy_key = accuracy_key


# ------------------------------------------------------------------ the spaces, one per program


def space_pt_mlp(rng):
    data = rng.choice(["iris", "wine", "breast_cancer", "digits", "classification", "blobs",
                       "moons", "circles", "iris", "wine", "breast_cancer", "digits",
                       "classification", "blobs", "moons", "circles", "diabetes", "friedman",
                       "regression"])
    opt = rng.choice(["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"])
    act = rng.choice(["relu", "tanh", "gelu", "leaky", "elu"])
    init = rng.choice(["default", "xavier"] + (["he"] if act in ("relu", "leaky") else []))
    bs = pick_bs(rng, TRAIN_ROWS[data])
    hidden = rng.choice(["32,16", "64,32", "64", "32", "128,64", "32,32,32", "64,64,32"])
    args = ["--data", data, "--hidden", hidden, "--act", act, "--opt", opt,
            "--lr", fmt(pick_lr(rng, opt)), "--bs", str(bs)]
    if opt == "adamw":
        args += ["--wd", "0.01"]
    if init != "default":
        args += ["--init", init]
    if data == "digits":
        args += ["--scale", rng.choice(["pixels", "standard"])]
    if rng.random() < 0.25:
        args += ["--bn"]
    if rng.random() < 0.25:
        args += ["--dropout", rng.choice(["0.1", "0.2", "0.3"])]
    if rng.random() < 0.2:
        args += ["--schedule", rng.choice(["cosine", "step:3,0.5", "warmup:50"])]
    binary = CLASSES.get(data) == 2
    if binary and rng.random() < 0.3:
        args += ["--outputs", "1", "--loss", "bce_logits"]
    args += ["--epochs", str(epochs_for(rng, TRAIN_ROWS[data], bs)), "--seed", str(rng.randrange(10))]
    if data in REGRESSION_DATA:
        return Config(args, "regression", "regression",
                      baseline=("tabular", {"data": data, "seed": int(args[-1])}))
    return Config(args, "classification", "mlp", classes=CLASSES[data])


def space_keras_mlp(rng):
    data = rng.choice(["iris", "wine", "breast_cancer", "digits", "classification", "blobs",
                       "moons", "circles", "iris", "wine", "breast_cancer", "digits",
                       "classification", "blobs", "moons", "circles", "diabetes", "friedman",
                       "regression"])
    opt = rng.choice(["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"])
    act = rng.choice(["relu", "tanh", "gelu", "leaky_relu", "elu"])
    init = rng.choice(["glorot_uniform", "glorot_normal"]
                      + (["he_normal", "he_uniform"] if act in ("relu", "leaky_relu") else []))
    bs = pick_bs(rng, TRAIN_ROWS[data])
    hidden = rng.choice(["32,16", "64,32", "64", "32", "128,64", "32,32,32", "64,64,32"])
    args = ["--data", data, "--hidden", hidden, "--act", act, "--opt", opt,
            "--lr", fmt(pick_lr(rng, opt)), "--bs", str(bs)]
    if init != "glorot_uniform":
        args += ["--init", init]
    if data == "digits":
        args += ["--scale", rng.choice(["pixels", "standard"])]
    if rng.random() < 0.25:
        args += ["--bn"]
    if rng.random() < 0.25:
        args += ["--dropout", rng.choice(["0.1", "0.2", "0.3"])]
    if data not in REGRESSION_DATA and rng.random() < 0.2:
        args += ["--l2", "1e-4"]      # kept off regressions: Keras adds it to val_loss
    if rng.random() < 0.2:
        args += ["--schedule", rng.choice(["cosine", "step:3,0.5", "exp:50,0.8"])]
    args += ["--epochs", str(epochs_for(rng, TRAIN_ROWS[data], bs)), "--seed", str(rng.randrange(10))]
    if data in REGRESSION_DATA:
        return Config(args, "regression", "regression",
                      baseline=("tabular", {"data": data, "seed": int(args[-1])}))
    return Config(args, "classification", "mlp", classes=CLASSES[data])


CNN_LR = {"sgd": (0.05, 0.2), "momentum": (0.01, 0.05), "adam": (1e-3, 4e-3),
          "adamw": (1e-3, 4e-3), "rmsprop": (7e-4, 3e-3)}


def space_pt_cnn(rng):
    finetune = rng.random() < 0.1
    opt = rng.choice(["sgd", "momentum", "adam", "adamw", "rmsprop"])
    act = rng.choice(["relu", "relu", "tanh"])
    bs = rng.choice([8, 16, 32, 64, 128])
    args = ["--act", act, "--opt", opt, "--lr", fmt(pick_lr(rng, opt, CNN_LR)), "--bs", str(bs)]
    if opt == "adamw":
        args += ["--wd", rng.choice(["0.01", "0.05"])]
    if finetune:
        args += ["--finetune"]
        rows = 720
    else:
        rows = 1437
        args += ["--scale", rng.choice(["pixels", "standard"])]
        depth = rng.choice([0, 0, 1, 2])
        if depth:
            args += ["--depth", str(depth)]
        if act == "relu" and (depth or rng.random() < 0.3):
            args += ["--init", "he"]
        if rng.random() < 0.3:
            args += ["--bn"]
        if rng.random() < 0.25:
            args += ["--dropout", rng.choice(["0.2", "0.3"])]
        if rng.random() < 0.2:
            args += ["--schedule", rng.choice(["cosine", "step:2,0.5"])]
    args += ["--epochs", str(epochs_for(rng, rows, bs, steps=(150, 500))),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5 if finetune else 10)


def space_keras_cnn(rng):
    finetune = rng.random() < 0.1
    opt = rng.choice(["sgd", "momentum", "adam", "rmsprop"])
    act = rng.choice(["relu", "relu", "tanh"])
    bs = rng.choice([8, 16, 32, 64, 128])
    args = ["--act", act, "--opt", opt, "--lr", fmt(pick_lr(rng, opt, CNN_LR)), "--bs", str(bs)]
    if finetune:
        args += ["--finetune"]
        rows = 720
    else:
        rows = 1437
        args += ["--scale", rng.choice(["pixels", "standard"])]
        depth = rng.choice([0, 0, 1, 2])
        if depth:
            args += ["--depth", str(depth)]
        if act == "relu" and (depth or rng.random() < 0.3):
            args += ["--init", "he_normal"]
        if rng.random() < 0.3:
            args += ["--bn"]
        if rng.random() < 0.25:
            args += ["--dropout", rng.choice(["0.2", "0.3"])]
        if rng.random() < 0.2:
            args += ["--l2", "1e-4"]
        if rng.random() < 0.15:
            args += ["--input-bn", "train"]
    args += ["--epochs", str(epochs_for(rng, rows, bs, steps=(150, 500))),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5 if finetune else 10)


RNN_LR = {"sgd": (0.05, 0.5), "momentum": (0.01, 0.05), "adam": (1e-3, 5e-3),
          "rmsprop": (1e-3, 3e-3)}


def space_pt_rnn(rng):
    task = rng.choice(["forecast", "classify"])
    cell = rng.choice(["lstm", "gru", "rnn"])
    opt = rng.choice(["sgd", "momentum", "adam", "adam", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    args = ["--task", task, "--cell", cell, "--hidden", str(rng.choice([16, 32, 64])),
            "--opt", opt, "--lr", fmt(pick_lr(rng, opt, RNN_LR)), "--bs", str(bs)]
    if cell != "rnn" and rng.random() < 0.25:
        args += ["--layers", "2"]
    if opt in ("sgd", "momentum") or cell == "rnn" or rng.random() < 0.3:
        args += ["--clip", "1"]
    if rng.random() < 0.25:
        args += ["--schedule", rng.choice(["cosine", "warmup:60"])]
    args += ["--epochs", str(epochs_for(rng, 960, bs, steps=(150, 400), hi=12)),
             "--seed", str(rng.randrange(10))]
    arch = {"lstm": "lstm", "gru": "gru", "rnn": "rnn"}[cell]
    if task == "forecast":
        return Config(args, "regression", arch,
                      baseline=("sine", {"samples": 1200, "length": 30, "seed": int(args[-1])}))
    return Config(args, "classification", arch, classes=3)


def space_keras_rnn(rng):
    task = rng.choice(["forecast", "classify"])
    cell = rng.choice(["lstm", "gru", "simple"])
    opt = rng.choice(["sgd", "momentum", "adam", "adam", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    args = ["--task", task, "--cell", cell, "--units", str(rng.choice([16, 32, 64])),
            "--opt", opt, "--lr", fmt(pick_lr(rng, opt, RNN_LR)), "--bs", str(bs)]
    if opt in ("sgd", "momentum") or cell == "simple" or rng.random() < 0.3:
        args += ["--clipnorm", "1"]
    if rng.random() < 0.25:
        args += ["--schedule", rng.choice(["exp:60,0.7", "warmup:2"])]
    args += ["--epochs", str(epochs_for(rng, 960, bs, steps=(150, 400), hi=12)),
             "--seed", str(rng.randrange(10))]
    arch = {"lstm": "lstm", "gru": "gru", "simple": "rnn"}[cell]
    if task == "forecast":
        return Config(args, "regression", arch,
                      baseline=("sine", {"samples": 1200, "length": 30, "seed": int(args[-1])}))
    return Config(args, "classification", arch, classes=3)


def space_pt_autoencoder(rng):
    opt = rng.choice(["adam", "adam", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    variant = rng.choice(["mse", "mse", "bce", "standard"])
    args = ["--act", rng.choice(["relu", "tanh", "elu"]), "--code", str(rng.choice([4, 8, 12, 16])),
            "--opt", opt,
            "--lr", fmt(pick_lr(rng, opt, {"adam": (2e-3, 6e-3), "rmsprop": (1e-3, 4e-3)})),
            "--bs", str(bs)]
    if variant == "bce":
        args += ["--loss", "bce"]
    elif variant == "standard":
        args += ["--scale", "standard", "--out-act", "none"]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(150, 400))),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder",
                  baseline=("digits_autoencoder", {"variant": variant, "seed": int(args[-1])}))


def space_pt_transformer(rng):
    opt = rng.choice(["adamw", "adamw", "adam", "rmsprop"])
    dim = rng.choice([16, 32, 64])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adamw": (5e-4, 3e-3), "adam": (5e-4, 3e-3),
                            "rmsprop": (3e-4, 2e-3)})
    args = ["--opt", opt, "--lr", fmt(lr), "--dim", str(dim),
            "--heads", str(rng.choice([2, 4])), "--ff", str(dim * rng.choice([2, 4])),
            "--dropout", rng.choice(["0", "0.1"]), "--bs", str(bs),
            "--schedule", rng.choice(["warmup:40", "none", "cosine"])]
    if rng.random() < 0.3:
        args += ["--clip", "0"]
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(100, 300), hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=2)


def space_pt_resmlp(rng):
    data = rng.choice(["quantiles", "hastie"])
    opt = rng.choice(["sgd", "momentum", "adam", "adamw"])
    bs = rng.choice([16, 32, 64, 128])
    lr = pick_lr(rng, opt, {"sgd": (0.05, 0.2), "adam": (1e-3, 4e-3), "adamw": (1e-3, 4e-3)})
    args = ["--data", data, "--dim", str(rng.choice([16, 32, 48, 64])),
            "--blocks", str(rng.choice([1, 2, 3])), "--optimizer", opt, "--lr", fmt(lr),
            "--batch-size", str(bs),
            "--epochs", str(epochs_for(rng, 960, bs, steps=(150, 500))),
            "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3 if data == "quantiles" else 2)


def space_keras_functional_gru(rng):
    opt = rng.choice(["adam", "rmsprop", "momentum"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (2e-3, 1e-2), "rmsprop": (1e-3, 5e-3),
                            "momentum": (0.02, 0.1)})
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--units", str(rng.choice([16, 24, 32, 48])), "--embed", str(rng.choice([8, 16, 32])),
            "--length", str(rng.choice([20, 25, 30]))]
    if opt == "momentum" or rng.random() < 0.2:
        args += ["--clipnorm", rng.choice(["1", "5"])]
    if rng.random() < 0.3:
        args += ["--dropout", "0.2"]
    if rng.random() < 0.25:
        args += ["--cosine"]
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(150, 350), hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=3)


def space_pt_signal_regression(rng):
    opt = rng.choice(["sgd", "momentum", "adam", "adam", "rmsprop"])
    act = rng.choice(["relu", "relu", "tanh"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"sgd": (0.02, 0.1), "momentum": (0.005, 0.02),
                            "adam": (1e-3, 5e-3), "rmsprop": (5e-4, 3e-3)})
    args = ["--optimizer", opt, "--lr", fmt(lr), "--act", act, "--batch-size", str(bs),
            "--channels", str(rng.choice([8, 16, 32])), "--convs", str(rng.choice([2, 3, 4]))]
    if act == "relu" and rng.random() < 0.5:
        args += ["--init", "he"]
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(150, 400), hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn",
                  baseline=("signal", {"samples": 1000, "length": 64, "seed": int(args[-1])}))


def space_keras_subclassed_cnn(rng):
    opt = rng.choice(["adam", "momentum", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (1e-3, 5e-3), "momentum": (0.02, 0.08),
                            "rmsprop": (5e-4, 3e-3)})
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 16, 32])), "--hidden", str(rng.choice([32, 64, 128]))]
    if rng.random() < 0.3:
        args += ["--scale", "raw", "--input-bn"]
    if rng.random() < 0.3:
        args += ["--dropout", "0.2"]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(150, 400), hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_tabular_modules(rng):
    data = rng.choice(["wine", "breast_cancer", "classification"])
    opt = rng.choice(["sgd", "momentum", "adam", "rmsprop"])
    bs = pick_bs(rng, TRAIN_ROWS[data])
    lr = pick_lr(rng, opt, {"sgd": (0.02, 0.1), "momentum": (0.005, 0.03),
                            "adam": (1e-3, 5e-3), "rmsprop": (5e-4, 3e-3)})
    args = ["--data", data, "--act", rng.choice(["relu", "relu", "tanh"]),
            "--width", str(rng.choice([16, 32, 64])), "--depth", str(rng.choice([1, 2, 3])),
            "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--epochs", str(epochs_for(rng, TRAIN_ROWS[data], bs, steps=(90, 500))),
            "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=CLASSES[data])


def space_keras_lstm_text(rng):
    opt = rng.choice(["adam", "adam", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (4e-3, 1.5e-2), "rmsprop": (5e-3, 1.5e-2)})
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--units", str(rng.choice([32, 48, 64])), "--embed", str(rng.choice([16, 24])),
            "--epochs", str(epochs_for(rng, 1600, bs, steps=(300, 800), lo=6, hi=12)),
            "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=3)


def space_pt_seq_accum(rng):
    opt = rng.choice(["adamw", "adamw", "momentum", "sgd"])
    accum = rng.choice([1, 2, 4, 8])
    micro = rng.choice([b for b in (8, 16, 32) if b * accum <= 128])
    schedule = rng.choice(["none", "warmup-cosine:%d" % rng.choice([10, 20, 30]), "onecycle",
                           "step:%d,%s" % (rng.choice([2, 3]), rng.choice(["0.3", "0.5"]))])
    lr = pick_lr(rng, opt, {"adamw": (2e-3, 1e-2), "momentum": (0.02, 0.2),
                            "sgd": (0.05, 0.2)})
    args = ["--optimizer", opt, "--lr", fmt(lr), "--schedule", schedule,
            "--micro-batch", str(micro), "--accum", str(accum),
            "--channels", str(rng.choice([16, 24, 32])), "--act", rng.choice(["relu", "gelu"]),
            "--dropout", rng.choice(["0", "0.2", "0.5"]),
            "--label-smoothing", rng.choice(["0", "0.1"]), "--clip", rng.choice(["0", "1"]),
            "--noise", rng.choice(["0", "0.1"])]
    if opt == "adamw":
        args += ["--wd", rng.choice(["0.01", "0.05"])]
    if rng.random() < 0.3:
        args += ["--flip"]
    args += ["--epochs", str(epochs_for(rng, 1280, micro * accum, steps=(120, 300), lo=4,
                                        hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_keras_pretrained_multitask(rng):
    opt = rng.choice(["adam", "rmsprop", "momentum"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (1e-3, 5e-3), "rmsprop": (1e-3, 1e-2),
                            "momentum": (0.02, 0.08)})
    neck = rng.choice([0, 32, 64])
    args = ["--scale", rng.choice(["raw", "unit"]), "--embed", str(rng.choice([24, 32])),
            "--neck", str(neck), "--label-smoothing", rng.choice(["0", "0.1"]),
            "--odd-weight", rng.choice(["0.5", "1.0"]), "--optimizer", opt, "--lr", fmt(lr),
            "--batch-size", str(bs)]
    if neck:
        args += ["--dropout", rng.choice(["0", "0.3", "0.5"]),
                 "--activity-l1", rng.choice(["0", "1e-4", "1e-3"])]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(200, 500), lo=4, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_weighted_tabular(rng):
    opt = rng.choice(["adamw", "adamw", "adam", "momentum"])
    bs = rng.choice([32, 64, 128])
    lr = pick_lr(rng, opt, {"adamw": (1e-3, 5e-3), "adam": (5e-4, 3e-3),
                            "momentum": (0.01, 0.05)})
    args = ["--weighting", rng.choice(["class", "sample", "none"]),
            "--noise", rng.choice(["0", "0.1", "0.3"]),
            "--dropout", rng.choice(["0.2", "0.3", "0.5"]),
            "--width", str(rng.choice([32, 64, 128])), "--optimizer", opt, "--lr", fmt(lr),
            "--schedule", rng.choice(["none", "warmup-cosine", "step:4,7"]),
            "--batch-size", str(bs)]
    if opt == "adamw":
        args += ["--wd", rng.choice(["0.001", "0.004", "0.01"])]
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(250, 600), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    # 80 / 15 / 5 classes: predicting the majority class is right 80% of the time
    return Config(args, "classification", "mlp", classes=3, chance=0.8)


def space_pt_lightning_cnn(rng):
    opt = rng.choice(["adam", "adam", "sgd", "momentum", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (1e-3, 4e-3), "sgd": (0.05, 0.15),
                            "momentum": (0.01, 0.05), "rmsprop": (5e-4, 2e-3)})
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--channels", str(rng.choice([8, 16])), "--hidden", str(rng.choice([64, 128])),
            "--act", rng.choice(["relu", "relu", "tanh"]),
            "--schedule", rng.choice(["none", "cosine", "step:3,0.5"]),
            "--scale", rng.choice(["unit", "standard"])]
    if rng.random() < 0.3:
        args += ["--bn"]
    if rng.random() < 0.3:
        args += ["--dropout", "0.3"]
    if rng.random() < 0.3:
        args += ["--manual"]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(150, 400), lo=4, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_conv1d_text(rng):
    opt = rng.choice(["rmsprop", "nadam", "adam", "adagrad"])
    bs = rng.choice([16, 32, 64])
    # (log_uniform, not pick_lr: LR has no range for nadam)
    lr = log_uniform(rng, *{"rmsprop": (5e-4, 3e-3), "nadam": (1e-3, 4e-3),
                            "adam": (1e-3, 4e-3), "adagrad": (0.03, 0.1)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--embed", str(rng.choice([16, 32])), "--filters", str(rng.choice([32, 64])),
            "--dropout", rng.choice(["0", "0.2", "0.4"])]
    if rng.random() < 0.4:
        args += ["--plateau", rng.choice(["0.5,1", "0.3,0"])]
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(250, 600), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_pt_config_mlp(rng):
    opt = rng.choice(["adam", "adamw", "momentum", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (5e-4, 3e-3), "adamw": (5e-4, 3e-3),
                            "momentum": (0.005, 0.03), "sgd": (0.03, 0.1)})
    act = rng.choice(["relu", "relu", "tanh", "gelu"])
    width = rng.choice([32, 64, 128])
    layers = ["%d:%s" % (width, act)] * rng.choice([1, 2, 3])
    if rng.random() < 0.3:
        layers.insert(1, "bn")
    if rng.random() < 0.3:
        layers.append("drop:0.2")
    args = ["--layers", ",".join(layers), "--optimizer", opt, "--lr", fmt(lr),
            "--batch-size", str(bs),
            "--init", rng.choice(["default", "xavier"] + (["he"] if act == "relu" else []))]
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(250, 600), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=5)


def space_pt_gru_forecast(rng):
    opt = rng.choice(["Adam", "Adam", "RMSprop", "AdamW", "SGD"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"Adam": (1e-3, 5e-3), "RMSprop": (5e-4, 3e-3),
                            "AdamW": (1e-3, 5e-3), "SGD": (0.005, 0.02)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--cell", rng.choice(["gru", "gru", "lstm"]), "--hidden", str(rng.choice([16, 32])),
            "--layers", str(rng.choice([1, 1, 2])),
            "--scheduler", rng.choice(["none", "cosine", "decay"])]
    if opt == "SGD":
        args += ["--optim-kwargs", '{"momentum": 0.9}']
    args += ["--epochs", str(epochs_for(rng, 2350, bs, steps=(150, 400), lo=2, hi=6)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gru", baseline=("gruload", {"seed": int(args[-1])}))


def space_keras_so_tabular(rng):
    opt = rng.choice(["adam", "rmsprop", "nadam", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (5e-4, 3e-3), "rmsprop": (5e-4, 3e-3),
                            "nadam": (5e-4, 3e-3), "sgd": (0.02, 0.1)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", rng.choice(["32,16", "64,32", "64,32,16", "16"])]
    args += ["--epochs", str(epochs_for(rng, 390, bs, steps=(150, 400), lo=10, hi=30)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_keras_tfdata_sepcnn(rng):
    opt = rng.choice(["adam", "momentum", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 4e-3), "momentum": (0.02, 0.06),
                            "rmsprop": (1e-3, 3e-3), "sgd": (0.05, 0.15)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([16, 24, 32])), "--blocks", str(rng.choice([1, 2]))]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(200, 500), lo=5, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_sig1d_resnet(rng):
    opt = rng.choice(["adam", "adamw", "momentum", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (1e-3, 4e-3), "adamw": (1e-3, 4e-3),
                            "momentum": (0.01, 0.04), "sgd": (0.05, 0.15)})
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--channels", str(rng.choice([16, 24])),
            "--scheduler", rng.choice(["step", "cosine"]),
            "--init", rng.choice(["default", "kaiming"])]
    if rng.random() < 0.2:
        args += ["--no-bn"]
    args += ["--epochs", str(epochs_for(rng, 960, bs, steps=(200, 500), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_pt_vae_digits(rng):
    model = rng.choice(["vae", "vae", "dae"])
    opt = rng.choice(["adam", "adam", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (1e-3, 4e-3), "rmsprop": (5e-4, 2e-3)})
    args = ["--model", model, "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([64, 128]))]
    if model == "vae":
        args += ["--latent", str(rng.choice([2, 4, 8])), "--beta", rng.choice(["1", "0.5"])]
    else:
        args += ["--noise", rng.choice(["0.2", "0.4"]), "--l2", rng.choice(["0", "1e-4"])]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(300, 700), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder",
                  baseline=("digits_vae", {"model": model, "seed": int(args[-1])}))


def space_pt_tabtrain(rng):
    data = rng.choice(["classification", "wine"])
    rows = {"classification": 1200, "wine": 142}[data]
    opt = rng.choice(["adam", "adamw", "momentum", "sgd", "rmsprop"])
    bs = pick_bs(rng, rows) if data == "wine" else rng.choice([16, 32, 64])
    lr = pick_lr(rng, opt, {"adam": (1e-3, 4e-3), "adamw": (1e-3, 4e-3),
                            "momentum": (0.005, 0.03), "sgd": (0.03, 0.15),
                            "rmsprop": (5e-4, 2e-3)})
    act = rng.choice(["relu", "relu", "tanh", "elu"])
    args = ["--data", data, "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", rng.choice(["64,32", "128,64", "32", "128,128,64"]), "--act", act,
            "--init", rng.choice(["xavier"] + (["kaiming"] if act == "relu" else []))]
    if data == "wine" and rng.random() < 0.4:
        args += ["--scaling", "batchnorm"]
    if rng.random() < 0.3:
        args += ["--dropout", "0.2"]
    if rng.random() < 0.4:
        args += ["--clip", rng.choice(["1", "5"])]
    args += ["--epochs", str(epochs_for(rng, rows, bs, steps=(150, 500), lo=10, hi=40)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes={"classification": 5, "wine": 3}[data])


def space_keras_custom_train_step(rng):
    data = rng.choice(["moons", "circles", "digits"])
    opt = rng.choice(["adam", "momentum", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 1e-2), "momentum": (0.01, 0.05),
                            "rmsprop": (1e-3, 3e-3), "sgd": (0.1, 0.3)}[opt])
    args = ["--data", data, "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 64])), "--depth", str(rng.choice([2, 2, 3])),
            "--activation", rng.choice(["relu", "relu", "tanh", "elu"])]
    if rng.random() < 0.3:
        args += ["--clipnorm", "1.0"]
    if rng.random() < 0.3:
        args += ["--accum", "2"]
    rows = 1437 if data == "digits" else 1600
    args += ["--epochs", str(epochs_for(rng, rows, bs, steps=(250, 600), lo=6, hi=20)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10 if data == "digits" else 2)


def space_keras_two_tower_energy(rng):
    opt = rng.choice(["adam", "rmsprop", "nadam", "adamw", "momentum"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "rmsprop": (5e-4, 2e-3),
                            "nadam": (1e-3, 3e-3), "adamw": (1e-3, 3e-3),
                            "momentum": (0.005, 0.02)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--tower", str(rng.choice([16, 32])), "--width", str(rng.choice([32, 64, 128])),
            "--activation", rng.choice(["relu", "relu", "elu"])]
    if rng.random() < 0.4:
        args += ["--plateau", rng.choice(["0.5,2", "0.3,3"])]
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(300, 800), lo=12, hi=30)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression", baseline=("energy", {"seed": int(args[-1])}))


def space_keras_window_forecast(rng):
    model = rng.choice(["lstm", "lstm", "conv"])
    opt = rng.choice(["adam", "rmsprop", "nadam", "momentum"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "rmsprop": (5e-4, 2e-3),
                            "nadam": (1e-3, 3e-3), "momentum": (0.02, 0.05)}[opt])
    args = ["--model", model, "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--units", str(rng.choice([32, 64]))]
    if model == "conv":
        args += ["--filters", str(rng.choice([16, 32]))]
    if opt == "momentum":
        args += ["--clipnorm", "1.0"]
    args += ["--epochs", str(epochs_for(rng, 2442, bs, steps=(300, 700), lo=4, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn" if model == "conv" else "lstm",
                  baseline=("demand", {"seed": int(args[-1])}))


def space_pt_seqcls_collate(rng):
    arch = rng.choice(["lstm", "lstm", "transformer"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"lstm": (1e-3, 5e-3), "transformer": (1e-3, 3e-3)}[arch])
    args = ["--arch", arch, "--lr", fmt(lr), "--batch-size", str(bs),
            "--dim", str(rng.choice([16, 32, 64])),
            "--warmup", str(rng.choice([10, 30, 60])),
            "--wd", rng.choice(["0", "0.01", "0.1"])]
    if arch == "lstm":
        args += ["--hidden", str(rng.choice([32, 48, 64]))]
    else:
        args += ["--heads", str(rng.choice([2, 4])), "--layers", str(rng.choice([1, 2]))]
    if rng.random() < 0.3:
        args += ["--clip", "0"]
    args += ["--epochs", str(epochs_for(rng, 1280, bs, steps=(150, 480), lo=4, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", arch, classes=4)


def space_keras_aug_digits(rng):
    opt = rng.choice(["adam", "sgd", "rmsprop", "nadam"])
    bs = rng.choice([16, 32, 64])
    act = rng.choice(["relu", "relu", "elu", "tanh"])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "sgd": (0.02, 0.06),
                            "rmsprop": (1e-3, 2e-3), "nadam": (1e-3, 3e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 16, 32])), "--units", str(rng.choice([64, 128])),
            "--activation", act, "--noise", rng.choice(["0.05", "0.1", "0.2"]),
            "--dropout", rng.choice(["0.1", "0.25", "0.4"]),
            "--pipeline", rng.choice(["numpy", "tfdata"])]
    if rng.random() < 0.3:
        args += ["--l2", "1e-4"]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(300, 600), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_multilabel_tags(rng):
    bs = rng.choice([16, 32, 64])
    momentum = rng.random() < 0.3
    # RMSprop with momentum 0.9 takes steps about ten times as long: a lower range
    lr = log_uniform(rng, *((3e-4, 1e-3) if momentum else (5e-4, 3e-3)))
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", rng.choice(["64,64", "128,64", "32", "64,64,64"]),
            "--dropout", rng.choice(["0", "0.1", "0.2"]),
            "--alpha", rng.choice(["0.99", "0.9"])]
    if momentum:
        args += ["--momentum", "0.9"]
    if rng.random() < 0.3:
        args += ["--l2", "1e-4"]
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(250, 800), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    # the accuracy is the Hamming score of six tags: predicting no tag is right on the 62% of
    # (document, tag) decisions whose tag is absent, the chance level here
    return Config(args, "classification", "mlp", chance=0.62)


def space_pt_char_lm(rng):
    opt = rng.choice(["sgd", "sgd", "adam"])
    bs = rng.choice([16, 32])
    if opt == "sgd":
        args = ["--lr", fmt(log_uniform(rng, 10, 30)),
                "--clip", rng.choice(["0.25", "0.5"])]
    else:
        args = ["--optimizer", "adam", "--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--clip", "1"]
    args += ["--batch-size", str(bs), "--nhid", str(rng.choice([64, 96, 128])),
             "--emsize", str(rng.choice([16, 32])),
             "--dropout", rng.choice(["0", "0.1", "0.2"]),
             "--epochs", str(rng.choice([3, 4]) if bs == 32 else 3),
             "--seed", str(rng.randrange(10))]
    # next-character accuracy over 27 characters; a model that learned nothing predicts the
    # most frequent one, a space (0.15 of the characters)
    return Config(args, "classification", "lstm", classes=27, chance=0.15)


def space_pt_siamese_digits(rng):
    loss = rng.choice(["triplet", "triplet", "contrastive"])
    opt = rng.choice(["adam", "momentum", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (5e-4, 3e-3), "momentum": (0.005, 0.03),
                            "sgd": (0.02, 0.1)}[opt])
    args = ["--loss", loss, "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--dim", str(rng.choice([16, 32])), "--channels", str(rng.choice([8, 16]))]
    if loss == "triplet" and rng.random() < 0.3:
        args += ["--margin", "1.0"]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(250, 600), lo=5, hi=8)),
             "--seed", str(rng.randrange(10))]
    # the accuracy is that of triplets or pairs judged by their distances: chance 0.5
    return Config(args, "classification", "cnn", classes=2)


def space_pt_entity_embed(rng):
    opt = rng.choice(["adam", "adamw", "rmsprop", "sgd"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{"adam": (1e-3, 4e-3), "adamw": (1e-3, 4e-3),
                            "rmsprop": (5e-4, 2e-3), "sgd": (0.03, 0.1)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", rng.choice(["64,32", "128,64", "32,32"]),
            "--dropout", rng.choice(["0", "0.1", "0.2"])]
    # 3200 training records
    args += ["--epochs", str(epochs_for(rng, 3200, bs, steps=(150, 600), lo=5, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3)


def space_pt_distill(rng):
    opt = rng.choice(["sgd", "adam", "rmsprop"])
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{"sgd": (0.03, 0.1), "adam": (1e-3, 3e-3),
                            "rmsprop": (1e-3, 2e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 48, 64])),
            "--temperature", rng.choice(["2", "4"]), "--alpha", rng.choice(["0.5", "0.7"])]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(180, 400), lo=8, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_wave_bf16(rng):
    opt = rng.choice(["adamw", "adamw", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adamw": (3e-3, 2e-2), "sgd": (0.05, 0.1)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--channels", rng.choice(["16,32,32", "8,16,16", "32,64,64"])]
    # 1600 training waveforms
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(150, 600), lo=6, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5)


def space_pt_pointcloud_sets(rng):
    opt = rng.choice(["adam", "adamw", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (2e-3, 6e-3), "adamw": (2e-3, 6e-3),
                            "rmsprop": (1e-3, 3e-3), "sgd": (0.02, 0.05)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64])), "--pool", rng.choice(["mean", "attention"])]
    # 1200 training clouds
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(150, 450), lo=6, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_quantile_delivery(rng):
    opt = rng.choice(["adam", "adamw", "rmsprop", "sgd"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{"adam": (1e-3, 5e-3), "adamw": (1e-3, 5e-3),
                            "rmsprop": (5e-4, 2e-3), "sgd": (0.01, 0.02)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64, 128])), "--dropout", rng.choice(["0", "0.1", "0.3"]),
            "--slope", rng.choice(["0.01", "0.1", "0.2"])]
    # 3200 training deliveries
    args += ["--epochs", str(epochs_for(rng, 3200, bs, steps=(200, 600), lo=6, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression", baseline=("deliveries", {"seed": int(args[-1])}))


def space_pt_gcn_sbm(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "sgd"])
    lr = log_uniform(rng, *{"adam": (5e-3, 2e-2), "rmsprop": (5e-3, 1e-2),
                            "sgd": (0.05, 0.2)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--hidden", str(rng.choice([16, 32, 64])),
            "--dropout", rng.choice(["0.3", "0.5"]),
            "--weight-decay", rng.choice(["0", "5e-4", "1e-3"])]
    # full batch: one step per epoch
    args += ["--epochs", str(rng.choice([120, 150, 200])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=4)


def space_pt_seq2seq_reverse(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "sgd"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{"adam": (3e-3, 1e-2), "rmsprop": (1e-3, 2e-3),
                            "sgd": (0.05, 0.1)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([32, 64, 96])), "--clip", "1"]
    # 2550 training pairs; the accuracy is per target token (13 token classes)
    args += ["--epochs", str(epochs_for(rng, 2550, bs, steps=(240, 600), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=13)


def space_pt_hetero_gnll(rng):
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, 1e-3, 1e-2)
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([32, 64, 128])),
            "--depth", str(rng.choice([2, 3])), "--activation", rng.choice(["gelu", "silu"]),
            "--weight-decay", rng.choice(["0", "1e-2", "1e-4"])]
    # 2400 training readings
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(250, 600), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression", baseline=("turbine", {"seed": int(args[-1])}))


def space_pt_tcn_forecast(rng):
    opt = rng.choice(["adam", "adam", "adamw", "sgd", "rmsprop"])
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 5e-3), "adamw": (1e-3, 5e-3), "sgd": (5e-3, 3e-2),
                            "rmsprop": (3e-4, 1.5e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--channels", str(rng.choice([16, 24, 32])), "--levels", str(rng.choice([2, 3, 4])),
            "--kernel", str(rng.choice([3, 5])), "--clip", rng.choice(["0", "1"])]
    # 2032 training windows of 48 quarter-hours
    args += ["--epochs", str(epochs_for(rng, 2032, bs, steps=(150, 400), lo=3, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn", baseline=("tcnmeter", {"seed": int(args[-1])}))


def space_pt_bag_topics(rng):
    momentum = rng.choice(["0", "0", "0.9"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *((3.0, 6.0) if momentum == "0" else (0.3, 0.8)))
    args = ["--lr", fmt(lr), "--momentum", momentum, "--batch-size", str(bs),
            "--emsize", str(rng.choice([32, 64])), "--clip", rng.choice(["0.1", "0.5"]),
            "--hidden", rng.choice(["0", "0", "32"]) if momentum == "0.9" else "0"]
    # 3200 training snippets, 4 topics
    args += ["--epochs", str(epochs_for(rng, 3200, bs, steps=(200, 600), lo=5, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_moe_gate(rng):
    opt = rng.choice(["adam", "adam", "sgd", "rmsprop"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{"adam": (2e-3, 6e-3), "sgd": (1e-2, 5e-2),
                            "rmsprop": (5e-4, 2e-3)}[opt])
    classes = rng.choice([3, 4])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--classes", str(classes), "--experts", str(rng.choice([3, 4])),
            "--width", str(rng.choice([32, 64])), "--gamma", rng.choice(["0.9", "0.95"]),
            "--weight-decay", rng.choice(["0", "5e-4"])]
    # 2400 training samples
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(200, 500), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=classes)


def space_keras_matfact_recsys(rng):
    opt = rng.choice(["adam", "adam", "rmsprop"])
    bs = rng.choice([64, 128, 256])
    lr = log_uniform(rng, *{"adam": (5e-3, 2e-2), "rmsprop": (1e-2, 2e-2)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--factors", str(rng.choice([8, 16, 32])), "--l2", rng.choice(["1e-6", "1e-5"]),
            "--output", rng.choice(["sigmoid", "sigmoid", "linear"])]
    # about 11000 training ratings
    args += ["--epochs", str(epochs_for(rng, 11000, bs, steps=(250, 1000), lo=5, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression", baseline=("ratings", {"seed": int(args[-1])}))


def space_keras_custom_layers(rng):
    data = rng.choice(["quantiles", "quantiles", "wine"])
    opt = rng.choice(["adam", "rmsprop", "nadam", "momentum"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 4e-3), "rmsprop": (1e-3, 3e-3),
                            "nadam": (1e-3, 3e-3), "momentum": (0.02, 0.06)}[opt])
    args = ["--data", data, "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64, 128])), "--depth", str(rng.choice([2, 2, 3])),
            "--activation", rng.choice(["relu", "relu", "elu"]),
            "--smoothing", rng.choice(["0", "0.05", "0.1"])]
    if rng.random() < 0.3:
        args += ["--scale"]
    rows = 1200 if data == "quantiles" else 142
    args += ["--epochs", str(epochs_for(rng, rows, bs, steps=(150, 600), lo=12, hi=40)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3)


def space_keras_conv_dae(rng):
    loss = rng.choice(["binary_crossentropy", "mse"])
    opt = rng.choice(["adam", "rmsprop", "nadam", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 4e-3), "rmsprop": (1e-3, 3e-3),
                            "nadam": (1e-3, 3e-3), "sgd": (0.03, 0.1)}[opt])
    args = ["--loss", loss, "--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 16, 32])), "--noise", rng.choice(["0.1", "0.2", "0.3"]),
            "--patience", str(rng.choice([2, 3, 5]))]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(300, 700), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    variant = "bce" if loss == "binary_crossentropy" else "mse"
    return Config(args, "regression", "autoencoder",
                  baseline=("digits_autoencoder", {"variant": variant, "seed": int(args[-1])}))


def space_keras_masked_bilstm(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "nadam"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 4e-3), "rmsprop": (1e-3, 3e-3),
                            "nadam": (1e-3, 3e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--units", str(rng.choice([16, 32, 64])), "--hidden", str(rng.choice([16, 32])),
            "--dropout", rng.choice(["0", "0.2", "0.3"])]
    # 1280 training recordings
    args += ["--epochs", str(epochs_for(rng, 1280, bs, steps=(300, 800), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4)


def space_keras_two_head_cars(rng):
    opt = rng.choice(["adam", "rmsprop", "nadam", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "rmsprop": (5e-4, 2e-3),
                            "nadam": (1e-3, 3e-3), "sgd": (5e-3, 0.02)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64, 128])),
            "--price-weight", rng.choice(["0.2", "0.5", "1.0"])]
    if rng.random() < 0.3:
        args += ["--halve-every", str(rng.choice([4, 6]))]
    if rng.random() < 0.2:
        args += ["--l2", "1e-4"]
    # 2400 training listings; the accuracy is the condition grade's (four classes)
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(450, 1200), lo=8, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_keras_pydataset_transformer(rng):
    opt = rng.choice(["adam", "adamw", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "adamw": (1e-3, 3e-3),
                            "rmsprop": (5e-4, 1.5e-3)}[opt])
    dim = rng.choice([32, 64])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs), "--dim", str(dim),
            "--heads", str(rng.choice([2, 4])), "--ff", str(2 * dim)]
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(400, 900), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_gradtape_loop(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (5e-4, 2e-3), "rmsprop": (5e-4, 3e-3),
                            "sgd": (0.01, 0.05)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 16])), "--width", str(rng.choice([32, 64, 128]))]
    if opt == "sgd":
        args += ["--momentum", "0.9"]
    # 1437 training digits
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(250, 700), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_resnet_shapes(rng):
    opt = rng.choice(["sgd", "sgd", "rmsprop"])
    bs = rng.choice([16, 32])
    lr = log_uniform(rng, *{"sgd": (0.02, 0.08), "rmsprop": (5e-4, 1.5e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 12])), "--blocks", str(rng.choice([2, 3]))]
    if rng.random() < 0.2:
        args += ["--no-class-weight"]
    # 1200 training images; imbalanced: chance is the majority class's 0.55
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(300, 600), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4, chance=0.55)


def space_keras_norm_huber(rng):
    opt = rng.choice(["adam", "rmsprop", "nadam"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 4e-3), "rmsprop": (5e-4, 2e-3),
                            "nadam": (1e-3, 3e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64])), "--depth", str(rng.choice([2, 3])),
            "--activation", rng.choice(["relu", "relu", "tanh"])]
    # 800 training rows
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(300, 800), lo=10, hi=30)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression",
                  baseline=("friedman_units", {"seed": int(args[-1])}))


def space_keras_sensor_conv1d(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "nadam", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1.5e-3, 3e-3), "rmsprop": (1.5e-3, 3e-3),
                            "nadam": (1.5e-3, 3e-3), "sgd": (0.015, 0.04)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 16, 24])), "--keep", str(rng.choice([2, 4, 6]))]
    # 960 training windows (validation_split takes the last fifth of 1200)
    args += ["--epochs", str(epochs_for(rng, 960, bs, steps=(300, 700), lo=10, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_keras_sensor_ae(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "nadam", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1.5e-3, 4e-3), "rmsprop": (1e-3, 2e-3),
                            "nadam": (1.5e-3, 3e-3), "sgd": (0.03, 0.08)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 64])), "--code", str(rng.choice([4, 5, 6]))]
    if rng.random() < 0.3:
        args += ["--sparsity", "1e-5"]
    # 2100 normal training readings
    args += ["--epochs", str(epochs_for(rng, 2100, bs, steps=(600, 1200), lo=10, hi=20)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder",
                  baseline=("compressor", {"seed": int(args[-1])}))


def space_keras_wide_deep(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "nadam", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "rmsprop": (5e-4, 2e-3),
                            "nadam": (1e-3, 3e-3), "sgd": (0.03, 0.1)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64, 128]))]
    if rng.random() < 0.3:
        args += ["--l2", "1e-4"]
    # 2400 training policies; the largest risk class is 0.40 of them
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(450, 1200), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3, chance=0.40)


def space_keras_seq_augment(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "rmsprop": (1e-3, 2e-3),
                            "sgd": (0.02, 0.05)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 12, 16])), "--units", str(rng.choice([32, 48, 96])),
            "--dropout", rng.choice(["0.2", "0.3", "0.4"])]
    # 1437 training images; EarlyStopping(patience=3) may end a run early
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(300, 700), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_churn_embed(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (5e-4, 2e-3), "rmsprop": (5e-4, 2e-3),
                            "sgd": (0.03, 0.08)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 64])), "--embed-dim", str(rng.choice([4, 8]))]
    # 2400 training customers (validation_split takes the last fifth of 3000); 0.84 stay
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(450, 1200), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2, chance=0.84)


def space_pt_unet_blobs(rng):
    opt = rng.choice(["adam", "adam", "sgd", "rmsprop"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 5e-3), "sgd": (0.02, 0.05),
                            "rmsprop": (5e-4, 2e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([6, 8, 12]))]
    # 800 training tiles; the accuracy is per pixel, about 80% of the pixels are background
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(150, 400), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2, chance=0.8)


def space_pt_bilstm_tagger(rng):
    opt = rng.choice(["adam", "adam", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 5e-3), "sgd": (0.3, 0.8)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--embed", str(rng.choice([16, 32])), "--hidden", str(rng.choice([32, 48])),
            "--clip", "1" if opt == "sgd" else rng.choice(["0", "1"])]
    # 1200 training sentences, 7 tags; the most frequent tag (ADJ) is about a quarter of the
    # tokens
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(200, 500), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=7, chance=0.25)


def space_keras_mha_activity(rng):
    opt = rng.choice(["adam", "adamw", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (5e-4, 3e-3), "adamw": (5e-4, 3e-3),
                            "rmsprop": (5e-4, 2e-3), "sgd": (5e-3, 0.03)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--dim", str(rng.choice([16, 24, 32])), "--heads", str(rng.choice([2, 4]))]
    # 900 training windows of four balanced activities
    args += ["--epochs", str(epochs_for(rng, 900, bs, steps=(300, 700), lo=10, hi=25)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=4)


def space_keras_poisson_rentals(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "nadam"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{"adam": (1e-3, 1e-2), "rmsprop": (5e-4, 3e-3),
                            "nadam": (1e-3, 5e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 48])),
            "--decay-steps", str(rng.choice([200, 500, 1000]))]
    # 2000 training station-hours
    args += ["--epochs", str(epochs_for(rng, 2000, bs, steps=(300, 900), lo=10, hi=30)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_nesterov_generator(rng):
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, 0.01, 0.05)
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", rng.choice(["128,128,64,64", "256,128,64", "128,64,64"]),
            "--dropout", rng.choice(["0.1", "0.2", "0.3"])]
    # about 960 training images, the digits 0-4 three times as frequent as 5-9 (balanced by
    # the sample weights); the accuracy is unweighted, the largest class about 0.15
    args += ["--epochs", str(epochs_for(rng, 960, bs, steps=(200, 500), lo=8, hi=20)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10, chance=0.15)


def space_keras_td_video(rng):
    opt = rng.choice(["adam", "rmsprop", "sgd"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (1e-3, 5e-3), "rmsprop": (5e-4, 2e-3),
                            "sgd": (0.01, 0.03)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([6, 8, 12])), "--units", str(rng.choice([16, 32]))]
    # 1200 training clips of four balanced directions
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(200, 450), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4)


def space_keras_shape_seg(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "nadam"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (2e-3, 5e-3), "rmsprop": (1e-3, 3e-3),
                            "nadam": (2e-3, 5e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([6, 8, 12]))]
    # 1000 training tiles; the accuracy is per pixel, about 83% of the pixels are background
    args += ["--epochs", str(epochs_for(rng, 1000, bs, steps=(220, 500), lo=8, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2, chance=0.83)


def space_keras_ticket_bigru(rng):
    opt = rng.choice(["adam", "rmsprop", "nadam"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"adam": (3e-3, 1e-2), "rmsprop": (1e-3, 3e-3),
                            "nadam": (2e-3, 5e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--units", str(rng.choice([16, 24])), "--embed", str(rng.choice([16, 32]))]
    # 1600 training tickets, about 24% of them urgent (class weights balance them)
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(200, 450), lo=4, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=2, chance=0.76)


def space_keras_convlstm_dots(rng):
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, 1e-3, 4e-3)
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([6, 8, 12])), "--hidden", str(rng.choice([16, 24, 32]))]
    # 800 training clips of four directions (validation_split takes the last fifth of 1000)
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(150, 400), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4)


def space_keras_focal_fraud(rng):
    bs = rng.choice([32, 64, 128])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 6e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 24, 32, 64])),
            "--weight-decay", rng.choice(["4e-3", "0.01", "1e-3"]),
            "--loss", rng.choice(["focal", "focal", "weighted-bce"])]
    # 1600 training payments, about 0.9 of them legitimate
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(200, 500), lo=10, hi=16)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2, chance=0.9)


def space_keras_lion_resmlp(rng):
    opt = rng.choice(["lion", "lion", "adamax"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"lion": (3e-4, 1e-3), "adamax": (3e-3, 8e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 48])), "--blocks", str(rng.choice([2, 3])),
            "--activation", rng.choice(["swish", "gelu"])]
    # 1200 training rows
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(250, 600), lo=8, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression",
                  baseline=("friedman_first1200", {"seed": int(args[-1])}))


def space_keras_wavenet_seasonal(rng):
    bs = rng.choice([32, 64, 128])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 0.1)), "--momentum", rng.choice(["0.8", "0.9"]),
            "--batch-size", str(bs), "--filters", str(rng.choice([8, 16, 24])),
            "--depth", str(rng.choice([3, 4]))]
    # 12 series of 181 training windows each
    args += ["--epochs", str(epochs_for(rng, 2172, bs, steps=(300, 800), lo=6, hi=15)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn", baseline=("seasonal_sales", {"seed": int(args[-1])}))


def space_keras_adagrad_smooth(rng):
    data = rng.choice(["digits", "digits", "wine"])
    bs = rng.choice([16, 32, 64])
    args = ["--data", data, "--lr", fmt(log_uniform(rng, 0.02, 0.12)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([32, 64, 128])),
            "--dropout", rng.choice(["0.1", "0.2", "0.3"]),
            "--smoothing", rng.choice(["0.05", "0.1", "0.2"])]
    rows = 1438 if data == "digits" else 143
    args += ["--epochs", str(epochs_for(rng, rows, bs, steps=(150, 900), lo=10, hi=25)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10 if data == "digits" else 3,
                  chance=0.1 if data == "digits" else 0.4)


def space_keras_diabetes_logcosh(rng):
    bs = rng.choice([8, 16, 32])
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 0.02)), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 64]))]
    # 397 training patients, 338 of them fitted (validation_split=0.15)
    args += ["--epochs", str(epochs_for(rng, 338, bs, steps=(400, 1100), lo=20, hi=40)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_bilstm_attention(rng):
    bs = rng.choice([16, 32])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 0.01)), "--batch-size", str(bs),
            "--units", str(rng.choice([8, 12, 16])),
            "--clipnorm", rng.choice(["1.0", "5.0"])]
    # 320 training logs
    args += ["--epochs", str(epochs_for(rng, 320, bs, steps=(80, 160), lo=8, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=3)


def space_keras_conv1d_transpose_ae(rng):
    opt = rng.choice(["adadelta", "adadelta", "adamax"])
    bs = rng.choice([16, 32])
    lr = log_uniform(rng, *{"adadelta": (0.5, 1.5), "adamax": (5e-3, 0.02)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 12, 16]))]
    # 320 normal training windows
    args += ["--epochs", str(epochs_for(rng, 320, bs, steps=(100, 200), lo=10, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_keras_siamese_contrastive(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([24, 32, 48])), "--rho", rng.choice(["0.9", "0.95"])]
    # 800 training pairs
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(100, 200), lo=8, hi=10)),
             "--seed", str(rng.randrange(10))]
    # pairs judged by their distance: chance 0.5
    return Config(args, "classification", "mlp", classes=2, chance=0.5)


def space_keras_selu_snn(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.02, 0.06)), "--batch-size", str(bs),
            "--momentum", rng.choice(["0.9", "0.95"]),
            "--width", str(rng.choice([32, 48, 64])), "--dropout", rng.choice(["0.05", "0.1"]),
            "--restart-epochs", str(rng.choice([2, 3]))]
    # 800 training rows
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(150, 500), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_keras_vae_digits(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 4e-3, 0.015)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([32, 48, 64])), "--latent", str(rng.choice([2, 4, 6]))]
    # 600 training images
    args += ["--epochs", str(epochs_for(rng, 600, bs, steps=(120, 400), lo=10, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_keras_conv_lstm_batches(rng):
    bs = rng.choice([16, 32])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 6e-3)), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 12, 16])), "--units", str(rng.choice([12, 16, 24]))]
    # 480 training windows
    args += ["--epochs", str(epochs_for(rng, 480, bs, steps=(120, 240), lo=8, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4)


def space_keras_stateful_gru(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--units", str(rng.choice([12, 16, 24])),
            "--streams", str(rng.choice([8, 12])), "--window", str(rng.choice([24, 32]))]
    # 4800 training hours, the batch size is the number of streams
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gru")


def space_keras_avg_ensemble(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 1e-2)), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 24, 32]))]
    # 800 training rows
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(150, 600), lo=10, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_keras_gn_cosine_digits(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--peak", fmt(log_uniform(rng, 3e-3, 2e-2)), "--batch-size", str(bs),
            "--filters", str(rng.choice([6, 8, 12])), "--warmup", str(rng.choice([10, 20, 40]))]
    # 720 training images
    args += ["--epochs", str(epochs_for(rng, 720, bs, steps=(120, 300), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_addition_rnn(rng):
    opt = rng.choice(["adam", "rmsprop"])
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{"adam": (5e-3, 1.5e-2), "rmsprop": (3e-3, 8e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([48, 64]))]
    # 1350 training questions
    args += ["--epochs", str(epochs_for(rng, 1350, bs, steps=(250, 450), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=12)


def space_keras_distiller(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.02, 0.06)), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 24, 32])),
            "--alpha", str(rng.choice([0.3, 0.5])), "--temperature", str(rng.choice([2, 4]))]
    # 1120 training rows
    args += ["--epochs", str(epochs_for(rng, 1120, bs, steps=(200, 400), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_keras_msle_prices(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.05, 0.2)), "--batch-size", str(bs),
            "--momentum", rng.choice(["0.8", "0.9"]), "--width", str(rng.choice([16, 24, 32, 48])),
            "--decay", rng.choice(["0.8", "0.9"])]
    # 512 training listings (validation_split=0.2 of 640)
    args += ["--epochs", str(epochs_for(rng, 512, bs, steps=(120, 400), lo=12, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_multilabel_auc(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([24, 32, 48])), "--dropout", rng.choice(["0.1", "0.2"]),
            "--patience", rng.choice(["1", "2"])]
    # 640 training documents
    args += ["--epochs", str(epochs_for(rng, 640, bs, steps=(120, 400), lo=10, hi=12)),
             "--seed", str(rng.randrange(10))]
    # the accuracy is the binary accuracy over five tags: predicting no tag is right on about
    # 60% of the (document, tag) decisions, the chance level here
    return Config(args, "classification", "mlp", chance=0.6)


def space_keras_maxnorm_digits(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--set", "lr=" + fmt(log_uniform(rng, 5e-4, 2e-3)), "--set", "batch_size=%d" % bs,
            "--set", "filters=%d" % rng.choice([6, 8, 12]),
            "--set", "spatial_dropout=" + rng.choice(["0.1", "0.2"])]
    # 800 training images
    args += ["--set", "epochs=%d" % epochs_for(rng, 800, bs, steps=(150, 350), lo=7, hi=10),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_densenet_digits(rng):
    bs = rng.choice([48, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.03, 0.1)), "--batch-size", str(bs),
            "--growth", str(rng.choice([6, 8, 12])), "--accumulate", rng.choice(["1", "2"])]
    # 1437 training images
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(200, 300), lo=10, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10, chance=0.1)


def space_keras_fasttext_topics(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 4e-3, 0.02)), "--batch-size", str(bs),
            "--dim", str(rng.choice([8, 16, 32])), "--maxlen", str(rng.choice([12, 16]))]
    # 1920 training headlines, half of them sport
    args += ["--epochs", str(epochs_for(rng, 1920, bs, steps=(250, 700), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4, chance=0.5)


def space_keras_stacked_rnn_sensors(rng):
    bs = rng.choice([32, 48, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)), "--batch-size", str(bs),
            "--units", str(rng.choice([16, 24, 32]))]
    # 960 training recordings, four states
    args += ["--epochs", str(epochs_for(rng, 960, bs, steps=(150, 400), lo=8, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=4)


def space_keras_cancer_ae_nesterov(rng):
    bs = rng.choice([16, 32])
    args = ["--lr", fmt(log_uniform(rng, 0.02, 0.08)), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 24, 32])), "--code", str(rng.choice([5, 6, 8])),
            "--decay-rate", rng.choice(["0.5", "0.7", "0.8"])]
    # 286 benign training rows
    args += ["--epochs", str(epochs_for(rng, 286, bs, steps=(300, 700), lo=20, hi=40)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder",
                  baseline=("cancer_benign", {"seed": int(args[-1])}))


def space_keras_digits_functional_adamw(rng):
    bs = rng.choice([32, 48, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 16, 24])),
            "--weight-decay", rng.choice(["1e-4", "1e-3", "0.01"])]
    # 1437 training images, ten classes; EarlyStopping may end a run early
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(250, 600), lo=8, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_vit_digits(rng):
    bs = rng.choice([32, 64, 128])
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 8e-3)), "--batch-size", str(bs),
            "--patch", rng.choice(["2", "4"]), "--dim", str(rng.choice([32, 48])),
            "--depth", str(rng.choice([1, 2])), "--heads", str(rng.choice([2, 4])),
            "--warmup", str(rng.choice([20, 30, 40])),
            "--weight-decay", rng.choice(["0.05", "0.01", "0"])]
    # 1437 training images, ten classes
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(180, 300), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_pt_poisson_counts(rng):
    opt = rng.choice(["adam", "adam", "rmsprop", "sgd"])
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{"adam": (2e-3, 1e-2), "rmsprop": (5e-4, 2e-3),
                            "sgd": (5e-4, 1e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64])), "--depth", str(rng.choice([2, 3])),
            "--sampler", rng.choice(["shuffle", "shuffle", "station"])]
    # 3200 training hours
    args += ["--epochs", str(epochs_for(rng, 3200, bs, steps=(200, 400), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression",
                  baseline=("bikecounts", {"seed": int(args[-1])}))


def space_pt_lstm_seqae(rng):
    opt = rng.choice(["adam", "adam", "sgd"])
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{"adam": (5e-3, 1.2e-2), "sgd": (0.3, 0.5)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([32, 48])), "--latent", str(rng.choice([4, 8])),
            "--clip", "1"]
    # 640 training recordings
    args += ["--epochs", str(epochs_for(rng, 640, bs, steps=(160, 300), lo=12, hi=20)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder",
                  baseline=("pumpseq", {"seed": int(args[-1])}))


def space_pt_kim_textcnn(rng):
    opt = rng.choice(["adam", "adam", "sgd"])
    lr = log_uniform(rng, *{"adam": (2e-3, 5e-3), "sgd": (0.03, 0.08)}[opt])
    bs, accum = rng.choice([(16, 4), (16, 2), (32, 2), (8, 4)])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs), "--accum", str(accum),
            "--filters", str(rng.choice([16, 32])), "--dim", str(rng.choice([32, 48])),
            "--widths", rng.choice(["2,3,4", "3,4,5"]),
            "--dropout", rng.choice(["0.3", "0.5"])]
    # 960 training tickets, one update per accum x batch-size of them
    args += ["--epochs", str(epochs_for(rng, 960, bs * accum, steps=(100, 200), lo=7, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_pt_tiny_gpt(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (3e-3, 6e-3), 64: (5e-3, 8e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--d-model", str(rng.choice([32, 48])), "--layers", str(rng.choice([2, 2, 3])),
            "--dropout", rng.choice(["0", "0", "0.1"]),
            "--weight-decay", rng.choice(["0.1", "0.01"])]
    args += ["--epochs", str(rng.choice([8, 9, 10])), "--seed", str(rng.randrange(10))]
    # next-character accuracy over 13 symbols; a model that learned nothing predicts the most
    # frequent one, the digit 1 (0.12 of the characters)
    return Config(args, "classification", "transformer", classes=13, chance=0.12)


def space_pt_realnvp_moons(rng):
    opt = rng.choice(["adam", "adam", "adamw"])
    lr = log_uniform(rng, 5e-3, 1e-2)
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", "256",
            "--couplings", str(rng.choice([4, 4, 6])), "--hidden", str(rng.choice([32, 48])),
            "--noise", rng.choice(["0.03", "0.04"])]
    # 1600 training points, 7 batches an epoch
    args += ["--epochs", str(rng.choice([28, 30, 32])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp",
                  baseline=("moonsflow", {"noise": float(args[args.index("--noise") + 1]),
                                          "seed": int(args[-1])}))


def space_pt_coral_wine(rng):
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{32: (7e-4, 1.5e-3), 64: (1.5e-3, 3e-3), 128: (2e-3, 4e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--hidden", str(rng.choice([32, 64])),
            "--weight-decay", rng.choice(["0", "0", "1e-4"])]
    # 1200 training wines
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(150, 300), lo=10, hi=16)),
             "--seed", str(rng.randrange(10))]
    # the exact grade of five equally frequent ones
    return Config(args, "classification", "mlp", classes=5)


def space_pt_conv1d_ae_anomaly(rng):
    bs = rng.choice([16, 32])
    lr = log_uniform(rng, *{16: (0.01, 0.03), 32: (0.02, 0.05)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([16, 32])),
            "--code", str(rng.choice([4, 8])), "--restart", str(rng.choice([1, 2])),
            "--momentum", rng.choice(["0.9", "0.9", "0.95"])]
    # 640 normal training windows
    args += ["--epochs", str(epochs_for(rng, 640, bs, steps=(120, 240), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder",
                  baseline=("gearbox", {"seed": int(args[-1])}))


def space_pt_functional_wine(rng):
    data = rng.choice(["wine", "wine", "breast_cancer"])
    bs = rng.choice([16, 32])
    lr = log_uniform(rng, 0.03, 0.1)
    args = ["--data", data, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([16, 32, 64])),
            "--lr-decay", rng.choice(["0", "0", "1e-3"])]
    rows = {"wine": 142, "breast_cancer": 455}[data]
    args += ["--epochs", str(epochs_for(rng, rows, bs, steps=(75, 300), lo=10, hi=20)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes={"wine": 3, "breast_cancer": 2}[data])


def space_pt_motif_lstm(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (0.01, 0.03), 64: (0.015, 0.04)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--hidden", str(rng.choice([24, 32, 48])),
            "--warmup", str(rng.choice([20, 30, 60])),
            "--clip-value", rng.choice(["0.5", "1.0", "1.0"])]
    # 1200 training strings; early stopping may end a run sooner
    args += ["--epochs", str(rng.choice([16, 18, 20])), "--seed", str(rng.randrange(10))]
    # the motif of three equally frequent ones
    return Config(args, "classification", "lstm", classes=3)


def space_pt_multitask_sgd(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (0.02, 0.08), 64: (0.04, 0.12)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([32, 64, 128])),
            "--w-reg", rng.choice(["0.5", "0.5", "1.0"]),
            "--weight-decay", rng.choice(["0", "0", "3e-4"])]
    args += ["--epochs", "16", "--seed", str(rng.randrange(10))]
    # the tercile class of the classification head (the regression head is not filtered)
    return Config(args, "classification", "mlp", classes=3)


def space_pt_gn_digits_aug(rng):
    opt = rng.choice(["RAdam", "NAdam"])
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, 3e-3, 0.02)
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([8, 12])), "--gamma", rng.choice(["0.8", "0.9"])]
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_lstmcell_unroll(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([16, 24, 32]))]
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=3)


def space_pt_lbfgs_cancer(rng):
    args = ["--lr", rng.choice(["0.5", "1.0"]), "--max-iter", str(rng.choice([5, 8])),
            "--width", str(rng.choice([8, 16, 24])), "--act", rng.choice(["tanh", "relu"]),
            "--l2", rng.choice(["1e-4", "1e-3"])]
    args += ["--steps", str(rng.choice([12, 15])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2, chance=0.63)


def space_pt_tconv_ae_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1.5e-2)), "--batch-size", str(bs),
            "--width", str(rng.choice([8, 12])), "--gamma", rng.choice(["0.8", "0.9"])]
    args += ["--epochs", "6", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_ode_packed_gru(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (0.15, 0.3), 64: (0.2, 0.3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([24, 32, 48])), "--layers", str(rng.choice([1, 1, 2])),
            "--step-size", str(rng.choice([3, 4])), "--gamma", rng.choice(["0.5", "0.7"])]
    args += ["--epochs", str(rng.choice([8, 9, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gru", baseline=("odepack", {"seed": int(args[-1])}))


def space_pt_mixup_onecycle(rng):
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, 5e-3, 2e-2)
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([32, 64, 128])),
            "--alpha", rng.choice(["0.2", "0.4", "1.0"])]
    # 1600 training customers
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(120, 500), lo=10, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_swa_diabetes(rng):
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, 1e-3, 5e-3)
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([32, 64])),
            "--swa-start", rng.choice(["15", "22"]), "--swa-lr", rng.choice(["5e-4", "1e-3"]),
            "--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression",
                  baseline=("diabetes_huber", {"seed": int(args[-1])}))


def space_pt_mobilenet_digits(rng):
    bs = rng.choice([32, 64])
    per_epoch = -(-1437 // bs)   # 1437 training images
    args = ["--base-lr", "0.005", "--max-lr", fmt(log_uniform(rng, 0.05, 0.1)),
            "--step-size-up", str(2 * per_epoch), "--batch-size", str(bs),
            "--width", str(rng.choice([8, 12, 16])), "--blocks", str(rng.choice([3, 4])),
            "--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_ranknet_pairs(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)),
            "--batch-size", str(rng.choice([128, 256])),
            "--width", str(rng.choice([16, 32, 64])), "--step-size", str(rng.choice([2, 3])),
            "--queries", str(rng.choice([60, 80])), "--epochs", "8",
            "--seed", str(rng.randrange(10))]
    # the pairwise accuracy of document pairs presented in random order
    return Config(args, "classification", "mlp", classes=2)


def space_pt_prelu_digits(rng):
    opt = rng.choice(["sgd", "sgd", "adam"])
    lr = log_uniform(rng, *{"sgd": (0.01, 0.05), "adam": (1e-3, 4e-3)}[opt])
    bs = rng.choice([16, 32, 48, 64])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--channels", str(rng.choice([8, 12])), "--dropout", rng.choice(["0.1", "0.25"])]
    # 1437 training images, drop_last=True
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(200, 700), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_mdn_inverse(rng):
    opt = rng.choice(["adam", "adam", "rmsprop"])
    lr = log_uniform(rng, 2e-3, 5e-3)
    bs = rng.choice([32, 64])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 48])), "--components", str(rng.choice([3, 4, 5])),
            "--activation", rng.choice(["tanh", "tanh", "relu"])]
    # 1600 training readings
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(250, 600), lo=8, hi=16)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression", baseline=("mdninv", {"seed": int(args[-1])}))


def space_pt_dcn_ctr(rng):
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, 1e-3, 3e-3)
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--cross", str(rng.choice([1, 2])),
            "--width", str(rng.choice([24, 32])), "--emb", str(rng.choice([4, 6]))]
    # 2400 training impressions
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(150, 600), lo=5, hi=8)),
             "--seed", str(rng.randrange(10))]
    # pos_weight balances the two classes in the loss, so the accuracy of a model that
    # learned nothing is taken as 0.5, not the 0.83 of the all-negative guess
    return Config(args, "classification", "mlp", classes=2, chance=0.5)


def space_pt_wnorm_friedman(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 48, 64])), "--act", rng.choice(["relu", "gelu"])]
    # 480 training rows
    args += ["--epochs", str(epochs_for(rng, 480, bs, steps=(200, 600), lo=20, hi=30)),
             "--seed", str(rng.randrange(10))]
    # standardized target, L1 loss
    return Config(args, "regression", "regression")


def space_pt_handrolled_moons(rng):
    data = rng.choice(["moons", "circles"])
    act = rng.choice(["relu", "tanh"])
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{"relu": (0.05, 0.2), "tanh": (0.1, 0.4)}[act])
    args = ["--data", data, "--act", act, "--lr", fmt(lr), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32]))]
    # 640 training points; the update is written by hand (p -= lr * p.grad)
    args += ["--epochs", str(epochs_for(rng, 640, bs, steps=(150, 600), lo=12, hi=25)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_pt_ctc_digits_gru(rng):
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{16: (5e-3, 1e-2), 32: (8e-3, 2e-2), 64: (1e-2, 2e-2)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--hidden", str(rng.choice([32, 48])),
            "--clip", rng.choice(["1", "5"])]
    # 1000 training utterances
    args += ["--epochs", str(epochs_for(rng, 1000, bs, steps=(250, 600), lo=8, hi=10)),
             "--seed", str(rng.randrange(10))]
    # the accuracy is the exact transcription of a 2- to 4-digit string: chance about 0
    return Config(args, "classification", "gru", classes=11)


def space_pt_ddpm_swissroll(rng):
    bs = rng.choice([32, 64, 128])
    lr = log_uniform(rng, *{32: (1e-3, 2e-3), 64: (1.5e-3, 4e-3), 128: (2e-3, 4e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([32, 64])),
            "--timesteps", str(rng.choice([40, 50])),
            "--weight-decay", rng.choice(["1e-4", "1e-4", "0.01"])]
    # 1200 training points; the loss is the MSE of the predicted noise (1.0: predicting zero)
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(200, 600), lo=15, hi=25)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_prune_digits(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (0.03, 0.07), 64: (0.05, 0.1)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([64, 96])),
            "--prune-rate", rng.choice(["0.1", "0.15"]),
            "--milestones", rng.choice(["6,10", "4,8"]), "--gamma", rng.choice(["0.3", "0.5"])]
    # 1437 training digits, pruned after every epoch
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_keras_char_lm_rmsprop(rng):
    opt = rng.choice(["rmsprop", "rmsprop", "adam"])
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{"rmsprop": (4e-3, 1.2e-2), "adam": (4e-3, 1e-2)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([48, 64]))]
    # about 4200 training windows
    args += ["--epochs", str(epochs_for(rng, 4200, bs, steps=(300, 450), lo=5, hi=6)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=24)


def space_keras_date_attention(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 6e-3, 1.2e-2)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([32, 48, 64]))]
    # 1700 training dates
    args += ["--epochs", str(epochs_for(rng, 1700, bs, steps=(200, 350), lo=6, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=12)


def space_keras_unet1d_denoise(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--batch-size", str(bs),
            "--base", str(rng.choice([8, 12]))]
    # 800 training recordings
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(100, 300), lo=6, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_pinn_oscillator(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1e-2)), "--width", str(rng.choice([32, 48])),
            "--depth", str(rng.choice([3, 4])), "--points", str(rng.choice([32, 64])),
            "--ic-weight", rng.choice(["1", "10"])]
    # 50 steps an epoch, fresh collocation points every step; the validation loss is the MSE
    # against the exact solution (predicting zero: 0.149)
    args += ["--epochs", "16", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_ncf_implicit(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-2, 2e-2)), "--dim", str(rng.choice([8, 16])),
            "--hidden", str(rng.choice([32, 64])), "--negatives", rng.choice(["2", "4"])]
    # 6900 training interactions in batches of 128, each with its sampled negatives; the
    # validation accuracy is HR@10 among 100 items
    args += ["--epochs", rng.choice(["10", "12"]), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", chance=0.1)


def space_pt_erase_smooth_digits(rng):
    bs = rng.choice([32, 64, 128])
    args = ["--lr", fmt(log_uniform(rng, 0.02, 0.1)), "--batch-size", str(bs),
            "--width", str(rng.choice([8, 12])), "--t0", rng.choice(["2", "4"]),
            "--erase-p", rng.choice(["0.3", "0.5"])]
    # 900 training digits
    args += ["--epochs", {32: "8", 64: "8", 128: "12"}[bs], "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_mixed_precision_digits(rng):
    bs = rng.choice([16, 32, 64])
    momentum = rng.choice([0.5, 0.9, 0.9])
    lo, hi = (0.01, 0.04) if momentum == 0.9 else (0.04, 0.12)
    args = ["--lr", fmt(log_uniform(rng, lo, hi)), "--momentum", fmt(momentum),
            "--batch-size", str(bs), "--filters", str(rng.choice([8, 16])),
            "--hidden", str(rng.choice([32, 64]))]
    # 1437 training digits
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(250, 450), lo=5, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_ts_transformer_huber(rng):
    bs = rng.choice([32, 64, 128])
    d = rng.choice([16, 32])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)), "--batch-size", str(bs),
            "--d-model", str(d), "--heads", str(rng.choice([2, 4])),
            "--blocks", str(rng.choice([1, 1, 2])),
            "--weight-decay", fmt(rng.choice([0.004, 0.01, 0.05]))]
    # about 2380 training windows
    args += ["--epochs", str(epochs_for(rng, 2380, bs, steps=(200, 350), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "transformer")


def space_keras_se_mobile_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 4e-3, 1.2e-2)), "--batch-size", str(bs),
            "--filters", rng.choice(["16,24", "24,32"]), "--stem", str(rng.choice([8, 12])),
            "--decay-rate", fmt(rng.choice([0.8, 0.9]))]
    # 720 training digits
    args += ["--epochs", str(epochs_for(rng, 720, bs, steps=(150, 250), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_featurespace_churn(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.01, 0.05)),
            "--momentum", fmt(rng.choice([0.8, 0.9])), "--batch-size", str(bs),
            "--hidden", rng.choice(["16,8", "32,16", "64,32"])]
    # 1200 training customers
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(200, 400), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_keras_gc_sgd_diabetes(rng):
    bs = rng.choice([16, 32])
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 6e-3)),
            "--momentum", fmt(rng.choice([0.8, 0.9])), "--batch-size", str(bs),
            "--hidden", rng.choice(["16,8", "32,16", "64,32"]),
            "--activation", rng.choice(["relu", "relu", "tanh"])]
    # 353 training patients
    args += ["--epochs", str(epochs_for(rng, 353, bs, steps=(200, 450), lo=15, hi=25)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_mcdrop_gnll(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 64])),
            "--dropout", fmt(rng.choice([0.05, 0.1, 0.2]))]
    # 720 training readings
    args += ["--epochs", str(epochs_for(rng, 720, bs, steps=(240, 900), lo=15, hi=25)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression", baseline=("probe", {"seed": int(args[-1])}))


def space_keras_indrnn_cell(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--batch-size", str(bs),
            "--units", str(rng.choice([16, 24, 48])),
            "--u-init", rng.choice(["0,1", "0.5,1"])]
    # 1200 training sequences
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(240, 900), lo=10, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "rnn", classes=3)


def space_keras_mixup_restarts(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.02, 0.1)), "--batch-size", str(bs),
            "--momentum", fmt(rng.choice([0.8, 0.9])), "--filters", str(rng.choice([8, 16])),
            "--alpha", fmt(rng.choice([0.2, 0.4])), "--period", str(rng.choice([1, 2]))]
    # 1437 training digits
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(200, 700), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_grn_tabular(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 6e-3)), "--batch-size", str(bs),
            "--blocks", str(rng.choice([1, 2, 3])), "--width", str(rng.choice([16, 24, 32])),
            "--weight-decay", fmt(rng.choice([1e-4, 1e-3, 4e-3]))]
    # 960 training rows
    args += ["--epochs", str(epochs_for(rng, 960, bs, steps=(150, 300), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_keras_two_phase_finetune(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 1e-2)),
            "--batch-size", str(rng.choice([32, 64])), "--filters", str(rng.choice([16, 24])),
            "--head-epochs", str(rng.choice([3, 4])), "--tune-epochs", str(rng.choice([4, 5])),
            "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5)


def space_keras_quantile_pinball(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 1e-2)), "--batch-size", str(bs),
            "--width", str(rng.choice([16, 32, 64])),
            "--activation", rng.choice(["relu", "relu", "tanh"])]
    # 800 training rows
    args += ["--epochs", str(epochs_for(rng, 800, bs, steps=(150, 300), lo=8, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_friedman3_tfdata(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.01, 0.05)), "--momentum", fmt(rng.choice([0.5, 0.9])),
            "--batch-size", str(bs), "--clipvalue", fmt(rng.choice([0.5, 1.0])),
            "--hidden", rng.choice(["32,32", "64,32", "16,16,16"])]
    # 1200 training rows
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(300, 600), lo=8, hi=20)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_pt_simclr_digits(rng):
    bs = rng.choice([64, 128])
    lr = log_uniform(rng, 2e-3, 5e-3)
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([64, 96]))]
    # 1437 training digits, the last partial batch dropped
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    # the training accuracy is that of finding a view's partner among the 2 bs - 1 others
    return Config(args, "classification", "cnn", chance=1.0 / (2 * bs - 1))


def space_pt_pixshuf_sr(rng):
    opt = rng.choice(["adam", "adam", "sgd"])
    lr = log_uniform(rng, *{"adam": (1e-3, 3e-3), "sgd": (0.03, 0.06)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(rng.choice([16, 32, 64])),
            "--width", str(rng.choice([16, 32, 48]))]
    # 1437 training digits; the loss is the MSE of the 8x8 image restored from its 4x4 pool
    args += ["--epochs", str(rng.choice([6, 8])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn",
                  baseline=("digits_autoencoder", {"variant": "scaled", "seed": int(args[-1])}))


def space_pt_ckpt_resmlp(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (2e-3, 4e-3), 64: (3e-3, 5e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([24, 32, 48])),
            "--blocks", str(rng.choice([4, 6, 8])),
            "--weight-decay", rng.choice(["0.01", "0.05"])]
    # 960 training rows of make_classification, 4 classes
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_distmult_kg(rng):
    momentum = rng.choice(["0.9", "0.9", "0.5"])
    lr = log_uniform(rng, *{"0.9": (0.5, 1.0), "0.5": (1.0, 2.0)}[momentum])
    args = ["--lr", fmt(lr), "--momentum", momentum, "--batch-size", str(rng.choice([32, 64])),
            "--dim", str(rng.choice([24, 32]))]
    # 918 training triples among 120 entities
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    # the validation accuracy is filtered hits@10 over 120 entities
    return Config(args, "classification", "mlp", chance=10.0 / 120)


def space_pt_triplet_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.03, 0.1)), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64])), "--act", rng.choice(["relu", "elu"])]
    # 1437 training digits
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(120, 300), lo=5, hi=6)),
             "--seed", str(rng.randrange(10))]
    # the training accuracy is that of triplets judged by their distances: chance 0.5
    return Config(args, "classification", "mlp", classes=2)


def space_pt_digits_splitset(rng):
    bs = rng.choice([16, 32, 64])
    lr = log_uniform(rng, *{16: (0.015, 0.03), 32: (0.04, 0.1), 64: (0.08, 0.12)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--channels", str(rng.choice([8, 12])),
            "--hidden", str(rng.choice([32, 48]))]
    # 720 training images of the 900-image subset
    args += ["--epochs", str(epochs_for(rng, 720, bs, steps=(120, 450), lo=10, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_pretrain_finetune(rng):
    bs = rng.choice([16, 32])
    args = ["--backbone-lr", fmt(log_uniform(rng, 1e-4, 1e-3)),
            "--head-lr", fmt(log_uniform(rng, 5e-3, 1e-2)), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 48])), "--freeze-epochs", str(rng.choice([2, 3])),
            "--weight-decay", rng.choice(["0.01", "0.05"])]
    # 400 training rows of the target task, fine-tuning recorded
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3)


def space_pt_binarized_digits(rng):
    opt = rng.choice(["Adam", "Adam", "AdamW", "RMSprop"])
    lr = log_uniform(rng, *{"Adam": (1e-3, 1e-2), "AdamW": (1e-3, 1e-2),
                            "RMSprop": (1e-3, 3e-3)}[opt])
    bs = rng.choice([32, 64, 128])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([64, 128, 256]))]
    # 1437 training images
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(100, 400), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_reinforce_bandit(rng):
    opt = rng.choice(["Adam", "Adam", "RMSprop", "SGD"])
    lr = log_uniform(rng, *{"Adam": (2e-3, 5e-3), "RMSprop": (1e-3, 2e-3),
                            "SGD": (0.05, 0.1)}[opt])
    bs = rng.choice([32, 64])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--hidden", str(rng.choice([32, 64]))]
    if opt == "SGD":
        args += ["--momentum", "0.9"]
    # 4096 training visitors; the accuracy is the clicks a visit: a policy that learned
    # nothing shows one layout (0.35), the best policy earns 0.8
    args += ["--epochs", str(rng.choice([8, 9, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4, chance=0.35)


def space_pt_gan_ring(rng):
    lr_g = log_uniform(rng, 5e-4, 1e-3)
    lr_d = log_uniform(rng, lr_g, 2e-3)
    args = ["--lr-g", fmt(lr_g), "--lr-d", fmt(lr_d), "--batch-size", "64",
            "--hidden", str(rng.choice([96, 128]))]
    # 8192 points, 128 batches an epoch; the accuracy is the mode coverage, one mode of eight
    # for a collapsed generator
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=8, chance=0.125)


def space_pt_dpsgd_cancer(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (0.3, 0.8), 64: (0.5, 1.0)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--hidden", str(rng.choice([32, 48, 64])),
            "--noise", rng.choice(["0.8", "1.0", "1.2"])]
    # 455 training rows; per-sample gradients clipped to 1.0 and noised (DP-SGD by hand)
    args += ["--epochs", str(epochs_for(rng, 455, bs, steps=(60, 200), lo=6, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_pt_specnorm_plateau(rng):
    bs = rng.choice([16, 32, 48])
    lr = log_uniform(rng, 2e-3, 5e-3)
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--width", str(rng.choice([6, 8, 12])),
            "--weight-decay", rng.choice(["0.01", "0.05"])]
    # 1200 training images (16x16); ReduceLROnPlateau(mode='max') on the validation accuracy
    args += ["--epochs", str(epochs_for(rng, 1200, bs, steps=(150, 450), lo=5, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_mean_teacher_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--width", str(rng.choice([8, 12])),
            "--labelled", rng.choice(["200", "300"]), "--ema", rng.choice(["0.95", "0.99"]),
            "--batch-size", str(rng.choice([32, 48]))]
    # 23 steps an epoch (1497 images, unlabelled batches of 64); the loss includes the
    # ramped consistency term
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_mil_gated_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--attn", str(rng.choice([8, 16])),
            "--hidden", str(rng.choice([32, 48])),
            "--weight-decay", rng.choice(["0", "1e-4"])]
    # one bag of 5 to 15 images per step, 160 bags an epoch; the loss leaves its plateau
    # at chance in the second or third epoch
    args += ["--epochs", "5", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2)


def space_pt_gce_noisy_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--noise", rng.choice(["0.2", "0.3", "0.4"]), "--q", rng.choice(["0.5", "0.7"]),
            "--hidden", str(rng.choice([48, 64, 96])), "--batch-size", str(bs),
            "--lr", fmt(log_uniform(rng, 0.08, 0.12))]
    # 1437 training images with flipped labels; MultiStepLR at 60% and 85% of the epochs
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_inception_time(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 8e-3)), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 12])), "--blocks", str(rng.choice([2, 4])),
            "--warmup", str(rng.choice([25, 40]))]
    # 800 training series; LambdaLR warm-up then cosine decay to 0 over the run
    args += ["--epochs", "4", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5)


def space_pt_wrs_imbalanced(rng):
    bs = rng.choice([32, 64, 128])
    momentum = rng.choice([0.5, 0.9, 0.9])
    lo, hi = (0.02, 0.1) if momentum == 0.9 else (0.05, 0.15)
    args = ["--lr", fmt(log_uniform(rng, lo, hi)), "--momentum", str(momentum),
            "--weight-decay", rng.choice(["1e-4", "5e-4", "1e-3"]),
            "--batch-size", str(bs), "--width", str(rng.choice([32, 48, 64]))]
    # 1800 training rows drawn by a WeightedRandomSampler (one class six times rarer)
    args += ["--epochs", str(epochs_for(rng, 1800, bs, steps=(110, 450), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_nn_transformer_sort(rng):
    bs = rng.choice([32, 48, 64])
    args = ["--factor", fmt(log_uniform(rng, 0.5, 1.5)), "--warmup", str(rng.choice([60, 100])),
            "--batch-size", str(bs), "--d-model", str(rng.choice([32, 48]))]
    # 2400 training sequences; Adam under the Noam LambdaLR stepped per batch
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(180, 400), lo=4, hi=6)),
             "--seed", str(rng.randrange(10))]
    # token accuracy over 13 output tokens (digits, EOS)
    return Config(args, "classification", "transformer", classes=11)


def space_pt_lightning_gru_text(rng):
    bs = rng.choice([16, 32, 64])
    schedule = rng.choice(["onecycle", "onecycle", "step"])
    lo, hi = (5e-3, 1.5e-2) if schedule == "onecycle" else (2e-3, 5e-3)
    args = ["--schedule", schedule, "--lr", fmt(log_uniform(rng, lo, hi)),
            "--batch-size", str(bs), "--hidden", str(rng.choice([48, 64, 96])),
            "--embed", str(rng.choice([24, 32])), "--clip", rng.choice(["0.5", "1.0", "5.0"])]
    # 1500 training messages; the Trainer accumulates 2 batches per optimizer step, and the
    # recorder records every batch
    args += ["--epochs", str(epochs_for(rng, 1500, bs, steps=(250, 600), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=4)


def space_pt_stft_keywords(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)),
            "--weight-decay", rng.choice(["1e-2", "5e-2", "1e-4"]),
            "--batch-size", str(bs), "--channels", str(rng.choice([8, 12, 16]))]
    # 900 training clips of 4000 samples; the STFT runs inside forward()
    args += ["--epochs", str(epochs_for(rng, 900, bs, steps=(120, 350), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_pt_nbeats_forecast(rng):
    stacks = rng.choice(["generic", "generic", "interpretable"])
    bs = rng.choice([32, 64, 128])
    args = ["--stacks", stacks, "--blocks", str(rng.choice([2, 3])),
            "--width", str(rng.choice([48, 64, 96])), "--layers", str(rng.choice([2, 3])),
            "--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--batch-size", str(bs)]
    # windows sampled at random positions, 50 batches an epoch; L1 of the window-scaled
    # forecast of 7 days
    args += ["--epochs", str(rng.choice([6, 8])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp", baseline=("shopsales", {"seed": int(args[-1])}))


def space_pt_box_localize(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--batch-size", str(bs),
            "--channels", str(rng.choice([16, 24])), "--hidden", str(rng.choice([64, 128])),
            "--box-weight", rng.choice(["2", "5", "10"])]
    # 2000 training images of three shapes; CrossEntropyLoss + weighted SmoothL1Loss
    args += ["--epochs", str(epochs_for(rng, 2000, bs, steps=(200, 400), lo=6, hi=8)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=3)


def space_keras_glove_frozen_conv(rng):
    bs = rng.choice([16, 32, 64])
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 3e-3)), "--batch-size", str(bs),
            "--filters", str(rng.choice([16, 32])), "--units", str(rng.choice([32, 64])),
            "--dim", str(rng.choice([16, 24]))]
    # 720 training reviews, four departments; the Embedding is frozen on purpose
    args += ["--epochs", str(epochs_for(rng, 720, bs, steps=(100, 360), lo=6, hi=10)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_keras_shapes_aug_nadam(rng):
    bs = rng.choice([16, 32])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--batch-size", str(bs),
            "--filters", str(rng.choice([8, 12])), "--units", str(rng.choice([32, 64]))]
    # 480 training images of three shapes; augmentation layers inside the model
    args += ["--epochs", str(epochs_for(rng, 480, bs, steps=(150, 300), lo=10, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=3)


def space_keras_bst_ratings(rng):
    opt = rng.choice(["adagrad", "adagrad", "adam"])
    lr = log_uniform(rng, *{"adagrad": (0.03, 0.08), "adam": (2e-3, 5e-3)}[opt])
    bs = rng.choice([64, 128])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--batch-size", str(bs),
            "--heads", str(rng.choice([2, 3])),
            "--hidden-units", rng.choice(["64,32", "128,64"])]
    # about 11500 training sequences of 7 rated movies and a target; MSE on 1..5 stars
    seed = rng.randrange(10)
    args += ["--epochs", str(rng.choice([6, 8])), "--seed", str(seed)]
    return Config(args, "regression", "transformer", baseline=("bstusermean", {"seed": seed}))


def space_keras_tab_transformer(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--batch-size", str(bs),
            "--embed", str(rng.choice([8, 16])), "--heads", str(rng.choice([2, 4])),
            "--units", str(rng.choice([32, 64]))]
    # 1920 training records, about a quarter >50K; the accuracy of the majority class ~0.75
    args += ["--epochs", str(epochs_for(rng, 1920, bs, steps=(240, 420), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=2, chance=0.77)


def space_keras_crnn_ctc(rng):
    bs = rng.choice([16, 32])
    lr = log_uniform(rng, *{16: (3e-3, 8e-3), 32: (6e-3, 1.2e-2)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--units", str(rng.choice([48, 64]))]
    # 1920 training strips; CTC sits on a blank-only plateau for about 9 epochs first
    args += ["--epochs", str(rng.choice([18, 20])), "--seed", str(rng.randrange(10))]
    # the accuracy is the exact transcription of a 3- to 5-digit strip: chance about 0
    return Config(args, "classification", "gru", classes=11)


def space_keras_convnext_shapes(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (1e-3, 2e-3), 64: (2e-3, 3e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs), "--wd", str(rng.choice([0.05, 0.1])),
            "--dims", rng.choice(["24,48", "32,64"])]
    # 1600 training images of four shapes; the ConvNeXt needs about 500 steps to pass 0.85
    args += ["--epochs", str(epochs_for(rng, 1600, bs, steps=(500, 700), lo=20, hi=24)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_keras_simclr_probe(rng):
    bs = rng.choice([64, 128])
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 64])),
            "--temperature", str(rng.choice([0.1, 0.2]))]
    # 1437 training digits, pre-trained without labels (the recorded phase); the result line's
    # val_accuracy is the linear probe's on 50 labelled digits a class
    args += ["--epochs", str(rng.choice([20, 24])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_skipgram_sparse(rng):
    bs = rng.choice([256, 512])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 2e-2)), "--batch-size", str(bs),
            "--dim", str(rng.choice([24, 32, 48])), "--window", str(rng.choice([3, 5])),
            "--negatives", str(rng.choice([5, 10]))]
    # about 39,500 training pairs (window 3) of 2160 sentences; SparseAdam on two sparse tables
    args += ["--epochs", "5", "--seed", str(rng.randrange(10))]
    # the validation accuracy is the nearest-neighbour topic purity of 8 topics (chance 1/8)
    return Config(args, "classification", "mlp", classes=8)


def space_pt_fno_heat(rng):
    bs = rng.choice([20, 40])
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([24, 32])), "--modes", str(rng.choice([12, 16])),
            "--step-size", str(rng.choice([3, 4]))]
    # 1000 training fields of 128 points; relative L2 loss, StepLR per epoch
    seed = rng.randrange(10)
    args += ["--epochs", "10", "--seed", str(seed)]
    return Config(args, "regression", "cnn", baseline=("fnoheat", {"seed": seed}))


def space_keras_mlp_mixer(rng):
    bs = rng.choice([32, 64])
    patch = rng.choice([4, 8])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--batch-size", str(bs),
            "--patch-size", str(patch), "--embedding-dim", str(rng.choice([32, 64])),
            "--blocks", str(rng.choice([2, 3])), "--dropout", str(rng.choice([0.1, 0.2]))]
    # 1800 training images of six textures; the Mixer passes 0.9 in 300 to 450 steps
    args += ["--epochs", str(epochs_for(rng, 1800, bs, steps=(300, 450), lo=10, hi=15)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=6)


def space_keras_wgan_gp(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 3e-4, 1e-3)), "--batch-size", str(bs),
            "--d-steps", str(rng.choice([3, 5]))]
    # 1437 training digits, unlabelled for the GAN; the loss is the critic's (an adversarial
    # objective); the val_accuracy is the digit coverage of 1000 samples by the fixed
    # classifier, one digit of ten for a collapsed generator
    args += ["--epochs", str(rng.choice([25, 30])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10, chance=0.1)


def space_keras_vq_vae(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--batch-size", str(bs),
            "--latent-dim", str(rng.choice([12, 16])),
            "--num-embeddings", str(rng.choice([32, 64]))]
    # 1437 training digits; the trainer overrides train_step (recorded in callback mode); the
    # validation loss is the reconstruction MSE over the training variance plus the VQ loss
    seed = rng.randrange(10)
    args += ["--epochs", str(rng.choice([20, 24])), "--seed", str(seed)]
    return Config(args, "regression", "autoencoder", baseline=("vqdigits", {"seed": seed}))


def space_keras_mlm_tiny(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (7e-4, 1.5e-3), 64: (1e-3, 2.5e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--embed-dim", str(rng.choice([32, 48])), "--num-heads", str(rng.choice([2, 4])),
            "--ff-dim", str(rng.choice([64, 96])), "--layers", str(rng.choice([1, 1, 2]))]
    # 3000 training sentences of a small grammar; the result line's val_accuracy is the
    # masked-token accuracy of 500 held-out sentences over a vocabulary of 103 (the grammar
    # leaves the verb among two, the object among three and the time phrase open: about 0.75
    # at most)
    args += ["--epochs", str(rng.choice([12, 14])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=103)


def space_pt_gat_sbm(rng):
    heads, hidden = rng.choice([(8, 8), (4, 16), (8, 4)])
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--heads", str(heads),
            "--hidden", str(hidden), "--dropout", rng.choice(["0.5", "0.6"]),
            "--weight-decay", rng.choice(["5e-4", "1e-3"]),
            "--nodes", str(rng.choice([500, 600]))]
    # full batch: one step per epoch, early stopping with a patience of 40 on the validation
    # accuracy and loss; 20 labelled nodes of each of five communities
    args += ["--epochs", "200", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=5)


def space_pt_dkt_tracing(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--batch-size", str(bs),
            "--emb", str(rng.choice([32, 48])), "--hidden", str(rng.choice([64, 100])),
            "--dropout", rng.choice(["0.1", "0.2"])]
    # 1200 training students, 15 to 50 interactions each; about 72% of the answers are
    # correct, so the accuracy of a model that learned nothing is about 0.72 (its AUC 0.5)
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=2, chance=0.72)


def space_pt_ft_transformer(rng):
    bs = rng.choice([32, 64, 128])
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--batch-size", str(bs),
            "--d-token", str(rng.choice([32, 48])), "--blocks", str(rng.choice([2, 3])),
            "--heads", str(rng.choice([2, 4])), "--dropout", rng.choice(["0.0", "0.1"]),
            "--weight-decay", rng.choice(["1e-5", "1e-4"])]
    # 2400 training rows of nine numerical and three categorical columns, three classes
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(250, 450), lo=8, hi=14)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=3)


def space_pt_clip_pairs(rng):
    bs = rng.choice([64, 128])
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([48, 64])), "--embed-dim", str(rng.choice([32, 64]))]
    # 4000 training pairs, the last partial batch dropped; the training accuracy is the
    # in-batch top-1 of captions to images (chance 1 / bs), the val_accuracy the text-to-image
    # retrieval among 500 held-out images (216 captions: chance about 0.01)
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", chance=1.0 / bs)


def space_pt_dqn_cartpole(rng):
    bs = rng.choice([64, 128])
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([64, 128])), "--tau", rng.choice(["0.005", "0.01"])]
    if rng.random() < 0.3:
        args += ["--target-every", str(rng.choice([250, 500]))]
    # one optimization per environment step once the memory holds a batch; the TD loss is
    # the step's loss (no accuracy), the episode return the run's metric (result line only)
    args += ["--env-steps", str(rng.choice([3500, 4000])),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_capsnet_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--batch-size", str(bs),
            "--conv-channels", str(rng.choice([32, 48])), "--w-std", rng.choice(["0.01", "0.1",
                                                                                  "1.0"])]
    # 1437 training digits, the last partial batch dropped
    args += ["--epochs", str(epochs_for(rng, 1437, bs, steps=(200, 400), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_switch_transformer(rng):
    bs = rng.choice([32, 40])       # the switch reshapes to a fixed number of tokens per batch:
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--batch-size", str(bs),  # full batches
            "--experts", str(rng.choice([4, 8])),
            "--capacity-factor", rng.choice(["1.0", "1.25"]),
            "--dropout", rng.choice(["0.2", "0.25"])]
    # 2400 training and 640 validation documents of four topics; the logged loss includes the
    # load-balancing auxiliary loss (about 1.0 when the experts are balanced)
    args += ["--epochs", str(rng.choice([5, 6])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=4)


def space_keras_gnn_nodes(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 1e-2)), "--hidden", str(rng.choice([32, 48])),
            "--batch-size", str(rng.choice([32, 64])),
            "--combination", rng.choice(["concat", "concat", "gru"]),
            "--dropout", rng.choice(["0.4", "0.5"])]
    # 400 training nodes (15% of them for validation) of an 800-node stochastic block model
    # graph of five communities; every step runs the whole graph
    args += ["--epochs", str(rng.choice([25, 30])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=5)


def space_keras_ddpg_pendulum(rng):
    args = ["--critic-lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)),
            "--actor-lr", fmt(log_uniform(rng, 1e-3, 2e-3)),
            "--tau", rng.choice(["0.01", "0.02"]), "--noise-std", rng.choice(["0.2", "0.3"])]
    # 20 episodes of 150 pendulum steps, one update a step; the loss is the critic's MSE
    # against its bootstrapped target (it grows as the values learn the returns); a random
    # policy earns about -900 an episode
    args += ["--episodes", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_keras_pointnet(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--batch-size", str(rng.choice([16, 32])),
            "--points", str(rng.choice([48, 64]))]
    # 600 training and 200 validation clouds of five solids; the loss includes the T-Nets'
    # orthogonality penalty
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5)


def space_keras_ddim_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--batch-size", str(bs),
            "--block-depth", str(rng.choice([1, 2])), "--widths", rng.choice(["16,32", "24,48"])]
    # 1400 training digits in [-1, 1]; the loss is the noise MAE (predicting zero noise gives
    # about 0.80), no accuracy; the validation loss is the EMA network's
    args += ["--epochs", str(epochs_for(rng, 1400, bs, steps=(250, 400), lo=8, hi=12)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_s2s_transformer(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--embed-dim", str(rng.choice([32, 48])),
            "--latent-dim", str(rng.choice([64, 96])), "--heads", str(rng.choice([2, 4]))]
    # 4000 training pairs in batches of 128 (32 steps an epoch); the token accuracy counts the
    # padding of the 12 target positions
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=64)


def space_pt_byol_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--tau", rng.choice(["0.99", "0.996"]),
            "--width", str(rng.choice([64, 96]))]
    # 1437 training digits in batches of 128 (11 steps an epoch, the last partial batch
    # dropped); the loss is BYOL's 2 - 2 cos summed over both views (no accuracy), the
    # val_accuracy a logistic-regression probe on 5 labelled digits a class (the untrained
    # encoder's probe reads about 0.76-0.78, healthy runs 0.84-0.86)
    args += ["--epochs", str(rng.choice([20, 25])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_maml_sine(rng):
    args = ["--meta-lr", fmt(log_uniform(rng, 2e-3, 4e-3)),
            "--inner-lr", rng.choice(["0.01", "0.02"]),
            "--inner-steps", str(rng.choice([1, 2])), "--hidden", str(rng.choice([40, 64])),
            "--meta-batch", str(rng.choice([8, 10]))]
    # 100 outer steps an epoch; the loss is the meta-loss (query MSE after adaptation), the
    # val_loss the same on 100 held-out tasks; predicting 0 gives about 4.1 (the result line's
    # baseline_mse), healthy runs reach 0.55-0.80
    args += ["--epochs", str(rng.choice([12, 15])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_ppo_cartpole(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--hidden", str(rng.choice([32, 64])),
            "--num-envs", str(rng.choice([4, 8])), "--update-epochs", str(rng.choice([3, 4])),
            "--ent-coef", rng.choice(["0.0", "0.01"])]
    # 128 steps of each env a rollout, 4 minibatches a rollout epoch (12 to 16 updates an
    # iteration); the loss is PPO's clipped surrogate + value loss - entropy bonus (no
    # accuracy), the episode return the run's metric (result line only; a random policy ~22,
    # healthy runs 75-105 over the last 20 training episodes)
    args += ["--iterations", str(rng.choice([40, 48])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_dann_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1e-2)), "--batch-size", str(rng.choice([32, 48])),
            "--target-noise", rng.choice(["0.05", "0.1"])]
    # 718 source digits (22 or 14 steps an epoch); the loss is the source cross-entropy plus
    # both domain cross-entropies (the domain terms near 2 ln 2 while the reversal works), the
    # accuracy the source batch's, the val_accuracy the target test set's (source-only
    # training reaches about 0.74, healthy runs 0.68-0.81; some seeds fall to 0.43)
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_bilstm_crf_tagger(rng):
    if rng.random() < 0.5:
        args = ["--optimizer", "sgd", "--lr", fmt(log_uniform(rng, 0.1, 1.0))]
    else:
        args = ["--optimizer", "adam", "--lr", fmt(log_uniform(rng, 3e-3, 1e-2))]
    args += ["--hidden", str(rng.choice([32, 48])), "--embed", str(rng.choice([16, 24])),
             "--batch-size", str(rng.choice([16, 32]))]
    # 960 training sentences of a toy news grammar; the loss is the CRF's negative
    # log-likelihood a sentence (about 10 in the first epoch, 0.1-0.5 for trained runs), the
    # accuracy the Viterbi path's token accuracy (healthy runs 0.99)
    args += ["--epochs", str(rng.choice([6, 8])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=7)


def space_pt_pixelcnn_digits(rng):
    levels = rng.choice([4, 4, 8])
    args = ["--levels", str(levels), "--lr", fmt(log_uniform(rng, 1e-3, 3e-3)),
            "--features", str(rng.choice([32, 48])), "--blocks", str(rng.choice([3, 4])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1437 training digits, every pixel's level predicted from the pixels above and left of
    # it; the accuracy is per pixel (healthy runs about 0.77 with 4 levels, 0.68 with 8)
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=levels)


def space_pt_convnext_droppath(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)),
            "--weight-decay", rng.choice(["0.05", "0.02"]),
            "--drop-path", rng.choice(["0.0", "0.1", "0.2"]),
            "--warmup-epochs", rng.choice(["1", "2"]),
            "--batch-size", str(rng.choice([32, 64]))]
    if rng.random() < 0.5:
        args += ["--depths", "1,1", "--dims", rng.choice(["24,48", "32,64"])]
    # 1437 training digits upsampled to 16x16; the loss is a cross-entropy with label
    # smoothing 0.1 (about 0.6 for trained runs), healthy runs reach a validation accuracy
    # of 0.95-0.98
    args += ["--epochs", str(rng.choice([6, 8])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_word_lm_tied(rng):
    args = ["--lr", fmt(log_uniform(rng, 10, 30)), "--clip", rng.choice(["0.25", "0.5"]),
            "--nlayers", str(rng.choice([1, 1, 2])),
            "--dropout", rng.choice(["0.1", "0.2", "0.3"]),
            "--batch-size", str(rng.choice([20, 32]))]
    size = rng.choice([48, 64])
    args += ["--emsize", str(size), "--nhid", str(size)]
    # 2160 generated lines of a town-news grammar, 87 words with <eos>; the loss is NLLLoss on
    # log_softmax (about 1.5 for trained runs, validation perplexity 4.5-4.7), the accuracy the
    # next word's (healthy runs 0.42-0.44; always predicting 'the' gives 0.17)
    args += ["--epochs", str(rng.choice([5, 6])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=87, chance=0.17)


def space_keras_lstm_s2s_chars(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)),
            "--latent-dim", str(rng.choice([96, 128])),
            "--batch-size", str(rng.choice([32, 32, 64]))]
    # 3200 training numerals (Roman to decimal) in batches of 32 (100 steps an epoch); the
    # token accuracy counts the padding of the 6 target positions (a decoder that ignores the
    # encoder reaches about 0.45, healthy runs 0.94-0.99 on validation)
    args += ["--epochs", str(rng.choice([20, 24])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=13)


def space_keras_neural_decision_forest(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--num-trees", str(rng.choice([6, 10])),
            "--depth", str(rng.choice([3, 4])), "--encoding-dim", str(rng.choice([16, 24])),
            "--used-features-rate", rng.choice(["0.5", "0.75"])]
    # 1920 training rows of four classes in batches of 64 (30 steps an epoch); healthy runs
    # reach a validation accuracy of 0.83-0.87
    args += ["--epochs", str(rng.choice([12, 15])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_keras_vit_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)),
            "--projection-dim", str(rng.choice([32, 48])),
            "--heads", str(rng.choice([2, 4])), "--layers", str(rng.choice([1, 2])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1617 training digits upsampled to 16x16 inside the model (16 patches of 4x4); the
    # training accuracy is measured under the head's Dropout(0.5) (0.70-0.78 for trained runs),
    # healthy runs reach a validation accuracy of 0.94-0.97
    args += ["--epochs", str(rng.choice([18, 20])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_involution(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 3e-3)), "--channels", str(rng.choice([8, 12])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1600 training images of four coloured shapes; the kernel generators' BatchNormalization
    # makes the validation loss lag and swing (healthy runs end at a validation accuracy of
    # 0.83-0.90, the training accuracy 0.93-0.97)
    args += ["--epochs", str(rng.choice([15, 18])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_pt_stn_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)),
            "--max-angle", rng.choice(["25", "40"])]
    # 1437 distorted training digits on a 28x28 canvas, batches of 64 (22 steps an epoch);
    # the localization network's theta starts at the identity; the loss is F.nll_loss of
    # log_softmax (healthy runs end at a training accuracy of 0.80-0.89 under the tutorial's
    # two dropouts, validation 0.90-0.95; Adam at 3e-3 was unstable)
    args += ["--epochs", str(rng.choice([20, 24])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_gin_graphs(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--hidden", str(rng.choice([32, 64])),
            "--layers", str(rng.choice([3, 4]))]
    # 960 training graphs (trees with 0, 1 or 2 extra edges), batches of 64 (15 steps an
    # epoch); the validation accuracy of healthy runs jumps between epochs (BatchNorm's running
    # statistics under a sum readout) but ends at 0.99-1.00
    args += ["--epochs", str(rng.choice([16, 20])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=3)


def space_pt_siren_image(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-4, 3e-4)), "--width", str(rng.choice([64, 96])),
            "--hidden-layers", str(rng.choice([2, 3])),
            "--batch-size", str(rng.choice([512, 1024]))]
    # 3276 training pixel coordinates of a 64x64 image (4 or 7 steps an epoch); the loss is
    # the MSE of grey values in [-1, 1] (about 0.33 at the start, the image's variance;
    # healthy runs end at 1e-4 to 4e-4, a validation PSNR of 37-43 dB on the held-out pixels)
    args += ["--epochs", str(rng.choice([60, 80])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_perceiver_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--dim", str(rng.choice([32, 48])),
            "--num-latents", str(rng.choice([16, 32])), "--depth", str(rng.choice([2, 3])),
            "--heads", str(rng.choice([2, 4]))]
    # 1437 training digits as 64 pixel tokens with Fourier position features, batches of 64
    # (23 steps an epoch); healthy runs reach a validation accuracy of 0.89-0.93 in 20 epochs
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_pt_gae_links(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1.5e-2)),
            "--hidden1", str(rng.choice([32, 64])), "--hidden2", str(rng.choice([16, 32])),
            "--dropout", rng.choice(["0.0", "0.1"])]
    # a 400-node stochastic block model of 8 communities (about 1900 training edges), one
    # full-batch Adam step an epoch over the edges and as many random pairs; the accuracy is
    # that of logit > 0 on those pairs (healthy runs 0.87-0.91, validation 0.87-0.91, held-out
    # AUC 0.90-0.94; a model scoring every pair alike has 0.5)
    args += ["--epochs", str(rng.choice([200, 240])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=2)


def space_pt_bert_mlm(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--hidden", str(rng.choice([64, 96])),
            "--heads", str(rng.choice([2, 4])), "--layers", str(rng.choice([2, 3]))]
    # 1800 generated sentence pairs, batches of 64 (28 steps an epoch), 67 tokens; the
    # accuracy is the masked-token accuracy (healthy runs 0.84-0.86, validation 0.85-0.86;
    # the most frequent words, 'the' and '.', are each about 0.13 of the masked tokens)
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=67, chance=0.13)


def space_pt_deep_svdd(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--rep-dim", str(rng.choice([16, 32])),
            "--normal-class", str(rng.choice([0, 1, 4, 6, 7])),
            "--weight-decay", rng.choice(["1e-6", "1e-5"])]
    # 140-146 training images of the normal digit, batches of 32 (5 steps an epoch); the loss
    # is the one-class mean ||phi(x) - c||^2, which falls from 5-8 to 0.05-0.07 in healthy runs
    # (the held-out ROC AUC 0.98-1.0); there is no accuracy and no mean predictor (the
    # untrained network's held-out normal distances, 0.03-0.12, are below the trained ones:
    # only the ranking, the AUC, means anything), so no baseline, as for pt_ddpm_swissroll
    args += ["--epochs", str(rng.choice([50, 60])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_made_density(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--hidden", str(rng.choice([128, 256])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1437 binarized training digits; the loss is the Bernoulli NLL in nats per image (first
    # epoch about 42, healthy runs end at 20-21, test NLL 20-21.5; independent Bernoulli
    # pixels at their training means give 24.4-24.7, and the data's entropy, the floor, is
    # unknown), so no baseline, as for pt_ddpm_swissroll
    args += ["--epochs", str(rng.choice([20, 24])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_tabnet(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-2, 3e-2)), "--n-d", str(rng.choice([8, 16])),
            "--n-steps", str(rng.choice([3, 4])), "--gamma", rng.choice(["1.3", "1.5"])]
    # 1800 training rows of a three-class make_classification table, batches of 256 in ghost
    # batches of 64 (7 steps an epoch), Adam decayed 0.9 every 10 epochs (healthy runs
    # 0.80-0.85 validation accuracy; chance 0.33)
    args += ["--epochs", str(rng.choice([30, 36])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3)


def space_pt_pointer_net(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--emb", str(rng.choice([32, 48])),
            "--hidden", str(rng.choice([64, 96]))]
    # 4000 generated sequences of 6 numbers, batches of 128 (31 steps an epoch); the accuracy
    # is the share of sequences whose six pointers are all right (healthy runs 0.94-0.95,
    # validation 0.95-0.96 sorted exactly by greedy decoding; chance 1/720)
    args += ["--epochs", str(rng.choice([12, 14])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=6, chance=1.0 / 720)


def space_pt_s4d_sequence(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1.5e-2)), "--d-model", str(rng.choice([32, 48])),
            "--d-state", str(rng.choice([32, 64]))]
    # 2000 generated sequences of 256 tokens, batches of 50 (40 steps an epoch); the class is
    # the marker among the first 16 tokens, read at the last position (healthy runs reach a
    # validation accuracy of 0.89-1.00 in 8 to 10 epochs after 2 to 4 epochs near chance, 0.25)
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "rnn", classes=4)


def space_pt_deepfm_ctr(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)), "--embed-dim", str(rng.choice([8, 16])),
            "--mlp-dims", rng.choice(["32,16", "64,32"])]
    # 9600 generated click logs of six fields, batches of 128 (75 steps an epoch), about 30%
    # clicks; the metric is the validation ROC AUC (healthy runs 0.78-0.80); the accuracy of a
    # model that learned nothing is the all-no-click guess, about 0.70
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2, chance=0.70)


def space_pt_flow_matching(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--width", str(rng.choice([64, 96])),
            "--batch-size", str(rng.choice([64, 128]))]
    # 4000 generated training points of eight Gaussians (32 or 63 steps an epoch); the loss is
    # the conditional flow-matching MSE to x1 - x0, whose floor is the paths' own variance
    # (healthy runs fall from about 1.9 to 1.4, the Euler samples' energy distance to the
    # held-out points 0.01-0.07); no accuracy and no mean predictor, so no baseline, as for
    # pt_ddpm_swissroll
    args += ["--epochs", str(rng.choice([10, 15])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_set_transformer(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--hidden", str(rng.choice([32, 64])),
            "--inducing", str(rng.choice([8, 16]))] + (["--ln"] if rng.random() < 0.5 else [])
    # 3000 generated point sets of 20 points, batches of 64 (47 steps an epoch); the class is
    # the number of clusters, 1 to 4 (healthy runs 0.89-0.90 validation accuracy in 10 epochs;
    # chance 0.25)
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=4)


def space_pt_bayes_by_backprop(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 1e-2)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([64, 100])), "--samples", rng.choice(["1", "1", "2"])]
    # 1437 training digits (44 or 22 steps an epoch); the loss is the minibatch ELBO (the KL
    # divided by the number of batches plus the batch's summed NLL, about 1e3), the accuracy
    # one weight sample's; val_loss is the predictive NLL of 10 samples (healthy runs
    # 0.12-0.18, validation accuracy 0.95-0.97)
    args += ["--epochs", str(rng.choice([10, 12, 15])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_sac_pendulum(rng):
    args = ["--hidden", str(rng.choice([64, 128])), "--tau", rng.choice(["0.005", "0.01"]),
            "--q-lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--batch-size",
            str(rng.choice([64, 128]))]
    # 1000 random steps, then one critic update per environment step (4000 at 5000 steps);
    # the loss is the twin critics' TD loss (no accuracy), the episode return the run's
    # metric (result line only; a random policy about -1000 to -1200 an episode of 200
    # steps, healthy runs -140 to -190 over the last 5)
    args += ["--total-timesteps", str(rng.choice([5000, 6000])),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_evidential_regression(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 6e-3)), "--width", str(rng.choice([32, 64])),
            "--depth", str(rng.choice([2, 3])), "--lam", rng.choice(["1e-2", "1e-3"])]
    # 1600 generated points of the cubic toy problem, batches of 64 (25 steps an epoch); the
    # loss is the NIG NLL plus lam times the evidence regularizer of the standardized target
    # (healthy runs end near 0, the validation RMSE 6.5-7.0 in y's units, the noise's own
    # about 6.5), no baseline
    args += ["--epochs", str(rng.choice([30, 36])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_pt_albert_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--hidden", str(rng.choice([48, 64])),
            "--layers", str(rng.choice([3, 4]))]
    # 3200 generated sequences of 16 tokens, batches of 64 (50 steps an epoch); the class is
    # whether A comes after B (healthy runs reach a validation accuracy of 1.000 after a first
    # epoch at chance, 0.5)
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=2)


def space_pt_hypernetwork(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--hidden", str(rng.choice([64, 96])),
            "--emb", str(rng.choice([8, 16]))]
    # 32 generated sinusoid tasks of 40 training points; 8 tasks of 20 points a step, 100
    # steps an epoch; the loss is the MSE, val_loss the held-out MSE per task (healthy runs
    # about 0.01 against a zero predictor's 1.3-1.5), no accuracy
    args += ["--epochs", str(rng.choice([12, 15])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_neural_ode_spiral(rng):
    args = ["--optimizer", "adam", "--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)),
            "--hidden", str(rng.choice([50, 64]))]
    # the generated spiral of 1000 points, 20 sub-trajectories of 10 points a step, 100 steps
    # an epoch; the loss is the L1 of the RK4-integrated sub-trajectories, val_loss the full
    # trajectory's (healthy runs 0.09-0.36 against predicting the origin's 0.53), no baseline
    args += ["--epochs", str(rng.choice([12, 15])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_kan_regression(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--grid", str(rng.choice([5, 8])),
            "--width", rng.choice(["2,5,1", "2,5,5,1"])]
    # 1000 generated points of exp(sin(pi a) + b^2), min-max scaled to the grid's [-1, 1],
    # batches of 64 (16 steps an epoch); the loss is the MSE (healthy runs end at a held-out
    # RMSE of 0.03-0.07 against the training mean's 1.3-1.4), no accuracy
    args += ["--epochs", str(rng.choice([30, 40])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_deepar_forecast(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--hidden", str(rng.choice([40, 48]))]
    # 160 generated hourly meter loads, windows of 72 + 24 hours, batches of 32, 40 steps an
    # epoch; the loss is the Gaussian NLL of the observed values (healthy runs 3.6-3.8, a
    # held-out ND of the sample median 0.11-0.14 against the seasonal naive 0.18-0.21), no
    # accuracy
    args += ["--epochs", str(rng.choice([12, 14])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "lstm")


def space_pt_protonet_fewshot(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--hidden", str(rng.choice([64, 96])),
            "--emb", str(rng.choice([32, 48]))]
    # 64 generated training classes, one 5-way 5-shot episode (10 queries a class) a
    # step, 100 steps an epoch; val_accuracy is the 5-way accuracy on 200 episodes of the 36
    # held-out classes (healthy runs 0.78-0.83 at 5 shots; nearest prototype on the raw
    # channels 0.56; chance 0.20)
    args += ["--epochs", str(rng.choice([6, 8])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=5)


def space_pt_sasrec_nextitem(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--dim", str(rng.choice([32, 48, 64])),
            "--heads", str(rng.choice([1, 2])), "--blocks", str(rng.choice([1, 2])),
            "--dropout", rng.choice(["0.1", "0.2"])]
    # 800 generated user histories, batches of 64 users (13 steps an epoch); the recorder's
    # accuracy is the share of next-item and negative scores on the right side of 0
    # (num_classes=2); the result line's val_accuracy is HR@10 of the held-out last item among
    # 100 (healthy runs 0.82-0.83, chance 0.10)
    args += ["--epochs", str(rng.choice([14, 16, 20])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=2)


def space_pt_patchtst_forecast(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--d-model", str(rng.choice([32, 48])),
            "--heads", str(rng.choice([2, 4])), "--layers", str(rng.choice([1, 2]))]
    # 1057 generated windows of 96 + 24 hours of 7 channels, batches of 32 (33 steps an
    # epoch); the loss is the MSE of the scaled values (healthy runs: held-out 0.058-0.072
    # against the seasonal naive 0.26-0.30), no accuracy
    args += ["--epochs", str(rng.choice([5, 6])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "transformer")


def space_pt_graphsage_sampling(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 1e-2)), "--hidden", str(rng.choice([32, 64])),
            "--fanout1", str(rng.choice([5, 10])), "--fanout2", str(rng.choice([5, 10])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 720 training nodes of a generated 1200-node SBM graph, sampled two-hop neighbourhoods;
    # healthy runs reach a held-out accuracy of 0.93 (chance 0.30, the largest community)
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=5)


def space_keras_barlow_twins(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 6e-3)), "--proj-dim", str(rng.choice([64, 128])),
            "--lambd", rng.choice(["5e-3", "1e-2"])]
    # 1437 training digits, two augmented views a batch of 128 (11 steps an epoch); the
    # recorded phase is the Barlow pre-training (custom train_step, LAMB); the result line's
    # val_accuracy is the linear probe's on the frozen backbone (healthy runs 0.95; a random
    # backbone gives 0.80)
    args += ["--epochs", str(rng.choice([20, 24])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_deeplab_shapes(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 3e-3)), "--filters", str(rng.choice([24, 32]))]
    # 1000 training images of 32x32 in batches of 32 (32 steps an epoch); the accuracy is per pixel, about 0.83 of the pixels are
    # background (healthy runs end at a validation pixel accuracy of 0.95-0.97, mean IoU
    # 0.75-0.84)
    args += ["--epochs", str(rng.choice([12, 14])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4, chance=0.83)


def space_keras_fnet_text(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--embed-dim", str(rng.choice([32, 48])),
            "--dense-dim", str(rng.choice([64, 96])), "--blocks", str(rng.choice([1, 2])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 2000 generated reviews of three classes (the opinion word and a 'not' before it), padded
    # to 24 tokens; healthy runs reach a validation accuracy of 1.00 within 8 to 10 epochs
    args += ["--epochs", str(rng.choice([8, 10])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=3)


def space_keras_cct_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--channels", str(rng.choice([32, 48])),
            "--heads", str(rng.choice([2, 4])), "--layers", str(rng.choice([1, 2])),
            "--stochastic-depth-rate", rng.choice(["0.0", "0.1"])]
    # 1437 training digits upsampled to 16x16, batches of 64 (23 steps an epoch); the loss
    # is label-smoothed (0.1), so it ends near 0.6 for trained runs; healthy runs reach a
    # validation accuracy of 0.96-0.98 in 15 epochs
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_gmlp_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)),
            "--embedding-dim", str(rng.choice([32, 48])), "--blocks", str(rng.choice([2, 3])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1437 training digits upsampled to 16x16, 16 patches of 4x4; healthy runs reach a
    # validation accuracy of about 0.95 in 12 epochs
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_lora_adapt(rng):
    bs = rng.choice([32, 64])
    rank = rng.choice([4, 8])
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--rank", str(rank),
            "--alpha", str(2 * rank), "--lora-dropout", rng.choice(["0", "0.05", "0.1"]),
            "--batch-size", str(bs)]
    # 900 task-B training rows; only the LoRA factors train (AdamW), the base is frozen
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=5)


def space_pt_sam_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 0.02, 0.06)),
            "--rho", rng.choice(["0.02", "0.05", "0.1"]), "--batch-size", str(bs)]
    # 1437 training digits; SAM (two forward/backward passes a step) around SGD momentum 0.9
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_actor_critic_cartpole(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1e-2)), "--hidden", str(rng.choice([64, 128]))]
    # one Adam step per episode of the numpy cart-pole (up to 200 steps); the loss is the
    # actor's -log_prob * advantage plus the critic's Huber loss summed over the episode (no
    # accuracy), the episode return the run's metric (result line only; a random policy ~22,
    # healthy runs well over 100 over the last 20 episodes)
    args += ["--episodes", str(rng.choice([100, 120])), "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_keras_convmixer_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--filters", str(rng.choice([32, 48])),
            "--kernel-size", str(rng.choice([3, 5])), "--depth", str(rng.choice([3, 4]))]
    # 1437 training digits upsampled to 16x16 in batches of 64 (23 steps an epoch), 8x8
    # patches of 2x2; BatchNormalization momentum 0.9; healthy runs reach a validation
    # accuracy of about 0.97 in 10 to 12 epochs
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_zero_dce(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--filters", str(rng.choice([16, 24])),
            "--batch-size", str(rng.choice([16, 20]))]
    # 400 generated low-light images of 32x32 (gamma 2 to 3.5, exposure 0.5 to 0.8); the
    # model overrides train_step (recorded in callback mode) and minimises only the
    # non-reference losses (total about 2.5-3.2 in the first epoch, 0.53-0.58 after 8); no
    # accuracy; the enhanced images reach a validation PSNR of 20-21 dB against 8 dB for the
    # low-light input
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_stgcn_traffic(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--lstm-units", str(rng.choice([32, 48])),
            "--out-feat", str(rng.choice([8, 10]))]
    # 14 days of generated speeds of 12 sensors every 15 minutes, 12 steps in, the speed 4
    # steps ahead out, z-scored per sensor; batches of 32 (34 steps an epoch); healthy runs
    # end at a validation MSE of 0.14-0.22 (z units) and an MAE of 1.5-1.6 mph against 1.9-2.0
    # for the naive last-value forecast
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "lstm")


def space_keras_eanet_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 5e-3)),
            "--embedding-dim", str(rng.choice([32, 48])), "--mlp-dim", str(rng.choice([64, 96]))]
    # 1437 training digits upsampled to 16x16, 16 patches of 4x4, two blocks, batches of 64
    # (23 steps an epoch); the loss is label-smoothed (0.1), so it ends near 0.8 for trained
    # runs; healthy runs reach a validation accuracy of 0.96-0.98 in 12 epochs
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_gat_nodes(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 1e-2)),
            "--hidden", str(rng.choice([8, 16])), "--heads", str(rng.choice([4, 8]))]
    # a generated citation-like graph of 1000 nodes in five topics (300 training nodes,
    # batches of 64: 5 steps an epoch); healthy runs reach a test-node accuracy of 0.91-0.92
    # and a validation accuracy of 0.89-0.91 in 40 epochs
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=5)


def space_keras_supcon_digits(rng):
    bs = rng.choice([64, 128])
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([64, 128])),
            "--projection-units", str(rng.choice([32, 64])),
            "--temperature", str(rng.choice([0.05, 0.1]))]
    # 1437 training digits; the recorded phase is the supervised contrastive pre-training, the
    # result line's val_accuracy the frozen-encoder classifier's (0.975-0.986 in the batch)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_forward_forward(rng):
    bs = rng.choice([128, 256])
    args = ["--lr", fmt(log_uniform(rng, 0.02, 0.03)), "--batch-size", str(bs),
            "--units", str(rng.choice([128, 200])),
            "--inner-steps", "5" if bs == 128 else "10"]
    # 1437 training digits; the validation accuracy is the label of the highest summed
    # goodness (0.90-0.92 in the batch after 12 epochs); the loss is the example's running mean
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_keras_fixmatch_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)),
            "--labels-per-class", str(rng.choice([5, 10])),
            "--units", str(rng.choice([64, 96])),
            "--threshold", str(rng.choice([0.9, 0.95])), "--mu", str(rng.choice([3, 4]))]
    # 30 steps an epoch of 16 labelled and mu x 16 unlabelled digits; the loss is supervised
    # + lambda_u x masked unlabelled; healthy runs end at a held-out accuracy of 0.87-0.92
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_reptile_sine(rng):
    args = ["--inner-lr", rng.choice(["0.01", "0.02"]),
            "--inner-iters", str(rng.choice([5, 8])), "--units", str(rng.choice([40, 64])),
            "--meta-step-size", rng.choice(["0.25", "0.5"])]
    # 100 meta-iterations an epoch; the loss is the last inner step's MSE, the val_loss the
    # held-out post-adaptation MSE on 20 tasks; a fresh network adapted the same way gives
    # 3.2-5.7 (the result line's scratch_mse), healthy runs reach 0.38-2.1
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_keras_mae_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--batch-size", str(bs),
            "--dim", str(rng.choice([32, 48])),
            "--mask-proportion", str(rng.choice([0.5, 0.5, 0.625]))]
    # 1437 training digits, masked-autoencoder pre-training without labels (the recorded
    # phase); the result line's val_accuracy is the linear probe's on the frozen encoder
    # (0.85-0.88 in the batch after 15 epochs)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_pt_transe_kg(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1.5e-2)), "--dim", str(rng.choice([32, 48])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 841 training triples of a generated 216-entity taxonomy, Adam, L2 distance, margin 1,
    # entities renormalized to unit norm every step (healthy runs: filtered Hits@10 0.92-0.95,
    # MRR 0.72-0.75 on held-out heads and tails)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    # the validation accuracy is filtered Hits@10 over 216 entities
    return Config(args, "classification", "mlp", chance=10.0 / 216)


def space_keras_mini_gpt(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (1.5e-3, 3e-3), 64: (2e-3, 4e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--embed-dim", str(rng.choice([48, 64])), "--heads", str(rng.choice([2, 4])),
            "--ff-dim", str(rng.choice([64, 96]))]
    # about 1000 training windows of 24 tokens of a generated grammar (vocabulary 269); the
    # result line's val_accuracy is the held-out next-token accuracy (0.45-0.47 in the batch
    # after 10 epochs, perplexity 5.8-6.3); always predicting "the" scores 0.21
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=269, chance=0.21)


def space_keras_metric_similarity(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)),
            "--filters", str(rng.choice([8, 16])),
            "--embedding-dim", str(rng.choice([8, 16])),
            "--temperature", rng.choice(["0.1", "0.2"])]
    # 50 batches of 10 anchor/positive pairs an epoch (the recorded fit); the result line's
    # val_accuracy is the held-out nearest-neighbour accuracy of the embeddings (0.975-0.989
    # in the batch after 10 epochs)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_mamba_selective(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--d-model", str(rng.choice([32, 48])),
            "--d-state", str(rng.choice([8, 16]))]
    # 3000 generated selective-copying sequences of 20 tokens, batches of 64 (46 steps an
    # epoch); the accuracy is the token accuracy at the 4 marker positions over 8 data tokens
    # (chance 0.125; healthy runs reach 0.94-0.99 in 10 epochs)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "rnn", classes=8, chance=0.125)


def space_keras_cvae_digits(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 3e-3)), "--batch-size", str(bs),
            "--hidden", str(rng.choice([48, 64])), "--latent", str(rng.choice([2, 4]))]
    # 1400 training digits in [0, 1], a conditional VAE with its own train_step (recorded in
    # callback mode); the loss is the BCE summed over 64 pixels plus the KL (healthy runs end
    # at 21.5-22.0, held-out reconstruction 21.0-21.4); the result line's val_accuracy is a
    # fixed classifier's on class-conditioned samples, not the training loss's
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_keras_ner_transformer(rng):
    args = ["--lr", fmt(log_uniform(rng, 4e-3, 6e-3)), "--embed", str(rng.choice([32, 48]))]
    # 2000 generated padded sentences, one transformer block, a padding-masked per-token loss
    # over 8 tags (healthy runs: held-out token accuracy 0.973-0.984 after 12 epochs; a plateau
    # near 0.6 for the first 4-6 epochs before the attention finds the context words)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    # the validation accuracy is over non-padding tokens, of which O is about 0.63
    return Config(args, "classification", "transformer", classes=7, chance=0.63)


def space_pt_dino_selfdistill(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)),
            "--momentum-teacher", rng.choice(["0.99", "0.996"])]
    # 1437 training digits in batches of 128 (11 steps an epoch, the last partial batch
    # dropped), two views each; the loss is DINO's cross-entropy between the centred and
    # sharpened teacher and the student over 256 prototypes (no accuracy), the val_accuracy
    # a weighted k-NN on 5 labelled digits a class (the untrained network reads about
    # 0.82-0.86, healthy runs 0.86-0.89; seed 2 at 2e-3 ended at 0.819 from 0.850)
    args += ["--epochs", "25", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_tft_lite(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)), "--hidden", str(rng.choice([16, 24])),
            "--heads", str(rng.choice([2, 4]))]
    # 20 generated shops' daily sales, 1700 training windows of 21 + 7 days, batches of 64
    # (26 steps an epoch); the loss is the pinball loss of the 0.1/0.5/0.9 quantiles of the
    # scaled sales (healthy runs: held-out P50 risk 0.07-0.10 against the seasonal naive
    # forecast's 0.20-0.22), no accuracy
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "transformer")


def space_keras_dcgan_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-4, 4e-4)), "--latent", str(rng.choice([16, 32]))]
    # 1437 training digits, unlabelled for the GAN, 23 steps an epoch at batches of 64; the
    # loss is the discriminator's BCE (an adversarial objective); the val_accuracy is the digit
    # coverage of 1000 samples by the fixed classifier, one digit of ten for a collapsed
    # generator
    args += ["--epochs", "25", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10, chance=0.1)


def space_keras_dqn_cartpole(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 1.5e-3)), "--hidden", str(rng.choice([32, 64]))]
    # one Huber update on 32 replayed transitions every 2 frames of the numpy cart-pole (up to
    # 200 steps an episode); the loss is a bootstrapped TD error (no accuracy), the episode
    # return the run's metric (a random policy ~22)
    args += ["--frames", "5000", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_autoint_ctr(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1e-2)), "--heads", str(rng.choice([1, 2])),
            "--layers", str(rng.choice([1, 2]))]
    # 9600 generated click logs of five categorical and two numeric fields, batches of 256 (38
    # steps an epoch), about 25-30% clicks; the metric is the held-out ROC AUC (healthy runs
    # 0.82-0.86); the accuracy of a model that learned nothing is the all-no-click guess, ~0.75
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=2, chance=0.75)


def space_pt_neural_additive(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1e-2)), "--units", str(rng.choice([32, 64])),
            "--feature-dropout", str(rng.choice([0.0, 0.1]))]
    # 3200 generated districts, eight ReLU feature networks, batches of 128 (25 steps an
    # epoch); the loss is the MSE of the value in 100k$ plus the output penalty (healthy runs:
    # held-out RMSE 0.31-0.38 against the mean guess's 0.68-0.74, the noise 0.30), no accuracy
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_llama_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--dim", str(rng.choice([48, 64])),
            "--layers", str(rng.choice([2, 3])), "--heads", str(rng.choice([2, 4])),
            "--weight-decay", rng.choice(["0.1", "0.01"])]
    # about 69000 characters of a generated harbour log (26 symbols), windows of 32, batches of
    # 32 (59-60 steps an epoch); healthy runs reach a held-out next-character accuracy of
    # 0.88-0.89 (perplexity 1.32-1.36); a model that learned nothing predicts the space (about
    # 0.19 of the characters)
    args += ["--epochs", "6", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=26, chance=0.19)


def space_pt_yolo_grid(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--channels", str(rng.choice([16, 24])),
            "--dropout", str(rng.choice([0.1, 0.2]))]
    # 1600 generated 32x32 images of one to three shapes, batches of 64 (25 steps an epoch);
    # the loss is the YOLOv1 composite loss (box, objectness, no-object and class MSE summed,
    # divided by the batch), no accuracy; the metric is the held-out mAP@0.5 (healthy runs
    # 0.56-0.64)
    args += ["--epochs", "24", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_dkl_gp(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--width", str(rng.choice([32, 64])),
            "--features", str(rng.choice([2, 4]))]
    # 750 Friedman #1 rows (8 features, noise 1.0), the target standardized, full-batch exact
    # GP marginal likelihood (one step an iteration, the loss is -log p(y|X) / n and goes
    # below 0), no accuracy; held-out RMSE 1.33-1.57 against the targets' spread 4.8-5.1
    args += ["--iterations", "100", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_vmap_ensemble(rng):
    opt = rng.choice(["adam", "sgd"])
    lr = log_uniform(rng, 1e-3, 4e-3) if opt == "adam" else log_uniform(rng, 1e-2, 3e-2)
    args = ["--optimizer", opt, "--lr", fmt(lr), "--members", str(rng.choice([4, 5, 8])),
            "--width", str(rng.choice([48, 64]))]
    # 1500 training rows of a 4-class make_classification set, one bootstrap minibatch of 64
    # per member (23 steps an epoch); the loss is the members' cross-entropies summed (members
    # x ln 4 at the start), the accuracy the members' mean batch accuracy, the validation
    # loss and accuracy those of the averaged prediction (healthy runs 0.79-0.82)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_qat_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--channels", str(rng.choice([8, 12])),
            "--backend", rng.choice(["x86", "fbgemm"])]
    # the digits /16, a float CNN trained first (not recorded), then 6 epochs of QAT
    # fine-tuning (22 steps an epoch at batches of 64) that start near a loss of 0.01; the
    # held-out accuracy of the fake-quantized and int8 models 0.987-0.991
    args += ["--epochs", "6", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_sparse_autoencoder(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1.5e-2)), "--l1-coeff",
            fmt(rng.choice([0.2, 0.3, 0.4])), "--dict-size", str(rng.choice([96, 128]))]
    # 16384 toy activations (64 sparse true features in 24 dimensions), batches of 256 (64
    # steps an epoch); the loss is the summed MSE plus l1_coeff times the code's L1 norm, no
    # accuracy; held-out fraction of variance explained 0.83-0.86, mean max cosine similarity
    # of the true features to the decoder's unit-norm columns 0.86-0.99
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_rbm_free_energy(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.03, 0.08)), "--hidden", str(rng.choice([96, 128])),
            "--k", str(rng.choice([1, 2]))]
    # the digits binarized, 1347 training images in batches of 32 (42 steps an epoch); the loss
    # is free_energy(v) - free_energy(v_k), about 4.4 in the first epoch and below 0 at the
    # end, no accuracy; held-out reconstruction error 0.036-0.038, a logistic regression on
    # the hidden probabilities 0.92-0.94
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_gradnorm_multitask(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--batch-size", str(bs),
            "--width", str(rng.choice([32, 48, 64])),
            "--weight-lr", rng.choice(["0.01", "0.025", "0.05"]),
            "--alpha", rng.choice(["0.5", "1.0", "1.5"])]
    if rng.random() < 0.2:
        args += ["--weighting", "equal"]
    # 2400 training rows, three tasks on one trunk (two standardized regressions and a
    # 3-class mode); the loss is the GradNorm-weighted sum (about 2.8 at the start), the
    # accuracy that of the mode task (healthy runs 0.82-0.89; the largest class about 0.4)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3, chance=0.4)


def space_pt_coteaching_noisy(rng):
    noise = rng.choice(["0.2", "0.3", "0.4"])
    args = ["--noise", noise, "--noise-type", rng.choice(["symmetric", "symmetric", "pair"]),
            "--lr", fmt(log_uniform(rng, 1e-3, 2e-3)),
            "--batch-size", str(rng.choice([64, 128])),
            "--hidden", str(rng.choice([96, 128]))]
    # 1347 training digits with corrupted labels; net1 of the two co-taught MLPs is recorded,
    # its loss that of its peer's small-loss selection; the training accuracy is on the noisy
    # labels (0.55-0.70), the validation accuracy on clean labels (healthy runs 0.92-0.95)
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_gru4rec_sessions(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.03, 0.1)), "--loss", rng.choice(["bpr", "top1"]),
            "--emb", str(rng.choice([32, 48])), "--hidden", str(rng.choice([64, 96]))]
    # about 16700 generated clicks in 2000 sessions, session-parallel batches of 32 (1368-1413
    # steps an epoch, varying by seed); BPR or TOP1 over the in-batch negatives, Adagrad; the
    # accuracy is the in-batch top-1 among 32 (healthy runs about 0.5); held-out Recall@20
    # 0.74-0.76 and MRR@20 0.36-0.40 (chance 0.10 and 0.02)
    args += ["--epochs", "3", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=32)


def space_pt_dec_clustering(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--z-dim", str(rng.choice([8, 10, 12])),
            "--update-interval", str(rng.choice([40, 60, 80]))]
    # the digits / 16, an autoencoder pre-trained 60 epochs (not recorded), then KL(p || q)
    # in batches of 128 (11 steps a pass) until fewer than 0.1% of the labels change (1000 to
    # 1500 iterations); no training accuracy, the validation accuracy is the held-out
    # clustering accuracy after Hungarian matching, 0.70-0.78 (NMI 0.75-0.78)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "autoencoder", classes=10)


def space_keras_adversarial_training(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--units", str(rng.choice([64, 96])),
            "--eps", rng.choice(["0.05", "0.1", "0.15"]),
            "--adv-weight", rng.choice(["0.5", "0.5", "1.0"])]
    if rng.random() < 0.25:
        args += ["--pgd-steps", "3"]
    # 1347 training digits / 16 in batches of 64 (22 steps an epoch); each step trains on the
    # clean batch and its FGSM (or PGD) images; the loss is their weighted sum, the accuracy
    # that of the clean batch (healthy runs: held-out clean accuracy 0.96-0.98, FGSM at
    # epsilon 0.1 0.74-0.79)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_pixelcnn_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 4e-3)), "--filters", str(rng.choice([24, 32])),
            "--blocks", str(rng.choice([2, 3])), "--batch-size", str(rng.choice([32, 64]))]
    # 1438 binarized training digits (23 steps an epoch in batches of 64); the loss is the
    # per-pixel binary cross-entropy of the image given the pixels above and left of each
    # pixel, no accuracy; healthy runs end at 0.30 (0.437 bits per pixel held out), the
    # pixels' marginal frequencies give 0.40 (0.576 bits)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_neural_process(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--width", str(rng.choice([64, 128])),
            "--batch-size", str(rng.choice([16, 32])), "--max-context", rng.choice(["10", "15"])]
    # fresh GP-prior functions every step (40 steps an epoch); the loss is the Gaussian NLL of
    # the targets (prior about 1.42, healthy runs 0.95-1.13); the validation loss is the
    # held-out NLL of 256 unseen functions with 10 context points each
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_hamiltonian_nn(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 3e-3)), "--width", str(rng.choice([64, 128])),
            "--batch-size", str(rng.choice([64, 128])), "--noise", rng.choice(["0.05", "0.1"])]
    # 750 noisy mass-spring states; the MSE of the symplectic gradient against the true
    # derivatives (about 0.2 at the start, the noise floor 0.003-0.01 at the end)
    args += ["--epochs", "80", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_scarf_tabular(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--tau", rng.choice(["0.5", "1.0"]),
            "--corruption-rate", rng.choice(["0.5", "0.6", "0.7"]),
            "--width", str(rng.choice([96, 128]))]
    # 3000 training rows of a generated 24-column table, standardized, batches of 128 (23
    # steps an epoch, 12 epochs); NT-Xent between each row and its view with 60% of its
    # features drawn from other rows, the batch as negatives; the accuracy is the view top-1
    # among 255 (healthy runs 0.10-0.14), the validation accuracy a linear probe on 10
    # labelled rows a class, 0.61-0.68 (0.51-0.56 before pre-training)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_listnet_ranking(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 3e-3)), "--width", str(rng.choice([32, 64])),
            "--batch-size", str(rng.choice([16, 32]))]
    # 300 training queries of 10 to 30 generated documents padded to 30, ListNet's top-one
    # loss; the accuracy is the share of queries whose top-scored document has the highest
    # grade, the validation accuracy the held-out NDCG@10, 0.75-0.88 (random scores 0.36)
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp")


def space_pt_deepsurv_cox(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--width", str(rng.choice([32, 64])),
            "--dropout", rng.choice(["0.1", "0.2"]), "--batch-size", str(rng.choice([128, 256]))]
    # a generated cohort of 1500 training patients (ten covariates in their own units,
    # standardized; exponential event times from a non-linear log-hazard, about 45%
    # censored), the negative Cox partial log-likelihood of each batch sorted by time (6 or 12
    # steps an epoch, 40 epochs); the accuracy is the batch C-index, the validation accuracy
    # the held-out C-index, 0.77-0.82 (random risks 0.5, the true log-hazard 0.80-0.83)
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", chance=0.5)


def space_pt_snn_surrogate(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--hidden", str(rng.choice([128, 256])),
            "--beta", rng.choice(["0.85", "0.9", "0.95"]),
            "--num-steps", str(rng.choice([20, 25]))]
    # scikit-learn's digits rate coded over 20-25 time steps, 1437 training images in batches
    # of 128 (12 steps an epoch, 20 epochs), two LIF layers with a fast-sigmoid surrogate
    # gradient, cross-entropy of the output spike counts; healthy runs end at a held-out
    # accuracy of 0.95-0.98 (chance 0.1), the loss from 1.9-2.2 to 0.01-0.03
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_ewc_continual(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.05, 0.1)), "--hidden", str(rng.choice([64, 128])),
            "--ewc-lambda", str(rng.choice([300, 500]))]
    # scikit-learn's digits (1437 training images), then the same images with their pixels
    # permuted, 15 epochs of 23 steps each (690 steps, one trace); SGD with an EWC penalty on
    # task B; the validation accuracy is the mean over the tasks seen, 0.96-0.98 after task A
    # and 0.90-0.95 at the end (task A 0.90-0.94, task B 0.91-0.94)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_deq_fixedpoint(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--solver",
            rng.choice(["anderson", "forward"]), "--channels", str(rng.choice([16, 24]))]
    # scikit-learn's digits as 8x8 images (1437 training), a deep equilibrium block solved to
    # its fixed point (at most 25 iterations) with an implicit backward, batches of 64 (23
    # steps an epoch, 8 epochs); the held-out accuracy 0.97-0.99 (loss 0.05-0.10)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_electra_rtd(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-4, 8e-4)), "--width", str(rng.choice([64, 96])),
            "--heads", str(rng.choice([2, 4]))]
    # 1440 generated weather reports of 10-17 tokens (51-token vocabulary, padded to 24) in
    # batches of 48 (30 steps an epoch, 8 epochs); a one-layer generator and a two-layer
    # discriminator sharing the token embedding, loss MLM + 50 x RTD from 22-24 down to
    # 7.5-9; the accuracy is the discriminator's token accuracy, 0.95-0.96 held out (0.94 by
    # labelling every token original once the generator is trained), the held-out RTD ROC
    # AUC 0.89-0.92
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=2)


def space_pt_behavior_cloning(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--hidden", str(rng.choice([64, 128])),
            "--demos", str(rng.choice([15, 20]))]
    # 15-20 demonstrations of a linear cart-pole controller (3000-4000 state-action pairs,
    # 20% random actions taken), batches of 64 (47-63 steps an epoch, 12 epochs),
    # cross-entropy of the two actions from 0.35-0.43 to 0.03-0.04; the held-out action
    # accuracy 0.98-0.99 and the greedy rollouts' mean return 200 of 200 (random about 24)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_pt_vicreg_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--width", str(rng.choice([64, 96])),
            "--exp-dim", str(rng.choice([64, 128]))]
    # 1437 training digits in batches of 128 (11 steps an epoch, the last partial batch
    # dropped, 25 epochs); the loss is VICReg's 25 x invariance + 25 x variance + 1 x
    # covariance, from about 21.7 to 17.6-17.8 (no accuracy); the val_accuracy a
    # logistic-regression probe on 5 labelled digits a class (the untrained encoder's probe
    # reads 0.76-0.80, healthy runs 0.83-0.85)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_cpc_sequences(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--horizons", str(rng.choice([3, 4])),
            "--temperature", rng.choice(["0.1", "0.2"])]
    # 900 generated vibration recordings of 128 samples (four machine states) in batches of
    # 64 (14 steps an epoch, 20 epochs); the InfoNCE loss over the batch's 64 sequences falls
    # from about 4.3 (log 64 = 4.16) to 2.0-2.4, its top-1 accuracy to 0.40-0.50; the
    # val_accuracy a logistic-regression probe on the context of 10 labelled recordings a
    # state (chance 0.25, the untrained network 0.39-0.46, healthy runs 0.60-0.67)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=64)


def space_pt_gumbel_vae(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--latent-dim", str(rng.choice([8, 16])),
            "--categorical-dim", str(rng.choice([4, 8]))]
    # 1437 training digits scaled to [0, 1] in batches of 32 (45 steps an epoch, 30 epochs);
    # the loss is the negative ELBO per image, the pixels' summed BCE plus the KL
    # to the uniform categorical prior, from about 30 to 24.8-25.0 (no accuracy); the
    # temperature annealed from 1.0 to 0.5 in about 180 steps; healthy runs end at a held-out
    # -ELBO of 24.6-24.9 and a pixel MSE with argmax codes of 0.044-0.048 (the mean image
    # 0.072-0.074; batches of 64, not sampled, can collapse toward it: 0.046-0.066)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_uncertainty_multitask(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 1e-2)), "--width", str(rng.choice([64, 128])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 2400 generated table rows in batches of 64 (37 steps an epoch, 15 epochs), SGD with
    # momentum; the loss is exp(-s1) MSE + s1 + exp(-s2) CE + s2 with learned log-variances,
    # from about 1.6-2.0 to -1.7 to -2.4 (it goes negative as s falls); healthy runs end at a
    # held-out class accuracy of 0.86-0.90 (3 classes) and a price RMSE of 0.24-0.43
    # standardized units (the mean: 1.0)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=3)


def space_pt_nalu_arith(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-2, 5e-2)), "--hidden", "8"]
    # 2000 generated rows of 10 readings in [0, 1) (a fifth exactly 0) in batches of 64 (32
    # steps an epoch, 40 epochs), Adam; the MSE of a + b and a * b of two slice sums, whose
    # first epoch can start anywhere from 5 to 1e6 (the exponential path at initialization);
    # healthy runs end at a held-out MSE of 0.02-0.45 (predicting the mean: 1.8-2.1); 4
    # hidden units are less stable (0.07-0.81, one seed of five stuck at 4.5), not sampled
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_pt_fedavg_clients(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-2, 1.5e-1)), "--hidden", str(rng.choice([64, 128])),
            "--iid-frac", rng.choice(["0.2", "0.3"])]
    # 1437 training digits over 8 clients (two label shards each plus an even share), 20
    # rounds of 4 sampled clients x 2 local epochs x 9 SGD steps in batches of 20 (72
    # recorded steps a round); the local cross-entropy from about 1.5-1.8 to 0.13-0.41
    # (local accuracy 0.91-0.97); healthy runs end at a global held-out loss of 0.24-0.71
    # and accuracy of 0.85-0.93 (10 classes)
    args += ["--rounds", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_aae_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--latent", str(rng.choice([4, 8])),
            "--hidden", str(rng.choice([128, 256]))]
    # 1437 training digits scaled to [0, 1] in batches of 100 (14 steps an epoch, 40 epochs),
    # three phases per batch under three Adams (reconstruction, discriminator, encoder as
    # generator); the recorded loss is the reconstruction BCE per pixel, from about 0.59-0.66
    # to 0.26-0.30 (no accuracy); healthy runs end at a held-out BCE of 0.27-0.30, a prior
    # MMD of the held-out codes of 0.05-0.16 (codes that ignore the prior: 0.6) and decoded
    # prior samples 0.027-0.034 in MSE from their nearest held-out image
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_sentence_vae(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--hidden", str(rng.choice([128, 192]))]
    # 4000 generated sentences of 5 to 16 words over 312 word types in batches of 64 (62
    # steps an epoch, 12 epochs), logistic KL annealing and word dropout 0.5; the loss is the
    # summed token NLL plus the weighted KL per sentence, from about 45-47 to 30-33; the
    # teacher-forced next-token accuracy ends at 0.29-0.40; healthy runs end at a held-out
    # NLL of 24.5-30.3 per sentence, a KL of 4-11 and a greedy reconstruction accuracy of
    # 0.27-0.43 (a collapsed posterior: 0.13)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=316)


def space_pt_poincare_embeddings(rng):
    args = ["--lr", fmt(log_uniform(rng, 2.0, 5.0)), "--dim", str(rng.choice([5, 10]))]
    args += rng.choice([["--branching", "4", "--depth", "4"],
                        ["--branching", "3", "--depth", "5"]])
    # the transitive closure of a generated tree (341 nodes and 1252 pairs, or 364 and 1641)
    # in batches of 50 pairs with 10 negatives each (26 or 33 steps an epoch, 40 epochs, the
    # first 2 at a tenth of the rate), Riemannian SGD; the softmax cross-entropy over the
    # positive and its negatives from about 2.40 (ln 11) to 0.34-0.41, the pairs ranked right
    # 0.95-0.97; healthy runs end at a reconstruction MAP of 0.74-0.79 and a mean rank of
    # 3.8-7.1 (0.46 and 7.1 at a rate of 1.0)
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=11)


def space_pt_rotnet_selfsup(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-2, 1e-1))]
    # 1437 training digits upsampled to 16x16 and standardized, each batch of 64 expanded
    # into its four rotations (256 images a step, 23 steps an epoch, 10 epochs), SGD with
    # Nesterov momentum at 0.05-0.1; the rotation cross-entropy from about 0.74-0.79 to
    # 0.09-0.11 (rotation accuracy 0.96-0.97); healthy runs end at a held-out rotation
    # accuracy of 0.90-0.93 (chance 0.25); the linear probe on the frozen features about 0.89,
    # as on the untrained CNN
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_pt_relation_network(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--width", str(rng.choice([128, 192]))]
    # 2000 generated Sort-of-CLEVR scenes of 6 objects (colour, shape, x, y), 10 questions
    # each, in batches of 128 (156 steps an epoch, 8 epochs); g_theta over the 36 ordered
    # object pairs with the question, summed, f_phi to 10 answers; the loss falls from about
    # 0.88-0.92 to 0.27-0.47, healthy runs end at a held-out accuracy of 0.69-0.86 (relational
    # 0.70-0.79, non-relational 0.65-0.94; without the question 0.33)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_vime_tabular(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--width", str(rng.choice([128, 256])),
            "--p-m", rng.choice(["0.3", "0.5"])]
    # a generated 30-column, 5-class table, standardized; VIME pre-training (not recorded) on
    # 4800 rows, then the encoder and an MLP classifier fine-tuned on 20 labelled rows a class
    # in batches of 20 (5 steps an epoch, 60 epochs): the loss falls from about 1.6 to below
    # 0.003, healthy runs end at a held-out accuracy of 0.65-0.70 (chance 0.2)
    args += ["--epochs", "60", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=5)


def space_pt_deephit_survival(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--width", str(rng.choice([32, 64])),
            "--dropout", rng.choice(["0.1", "0.2"]), "--bins", str(rng.choice([15, 20, 25]))]
    # 1500 generated patients (10 standardized covariates, a linear log-risk, exponential
    # event and censoring times, about 30% censored), DeepHit's NLL plus 0.2 times its ranking
    # loss over 20 time bins, batches of 256 (6 steps an epoch, 15 epochs); no training
    # accuracy, the validation accuracy the held-out C-td, 0.74-0.77 (random 0.5, the true
    # log-risk 0.75-0.79); the loss falls from about 1.9-2.1 to 1.1
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", chance=0.5)


def space_pt_lightgcn_recs(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--dim", str(rng.choice([32, 64])),
            "--layers", str(rng.choice([2, 3]))]
    # 400 generated users and 300 items in 4 latent clusters, 9600 training interactions, one
    # BPR triple each per epoch in batches of 2048 (5 steps an epoch, 30 epochs); the loss
    # falls from 0.69 to 0.27-0.36, no training accuracy, the validation accuracy the held-out
    # recall@10, 0.14-0.16 (random about 0.036)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", chance=0.036)


def space_pt_rmtpp_events(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--hidden", str(rng.choice([32, 64])),
            "--batch-size", str(rng.choice([16, 32]))]
    # 400 generated Hawkes sequences of 40 events and 3 marks, the times scaled to hours; the
    # loss is the time NLL plus the mark cross-entropy (about 1.1-1.5 in the first epoch,
    # 0.55-0.72 at the end), healthy runs end at a held-out next-mark accuracy of 0.52-0.53
    # (the commonest mark 0.34) and a held-out time NLL of -0.2 to -0.5 (13 to 25 steps an
    # epoch, 30 epochs)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=3)


def space_pt_jem_energy(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--width", str(rng.choice([128, 256])),
            "--sgld-steps", rng.choice(["10", "20"]), "--sgld-lr", rng.choice(["0.5", "1.0"])]
    # the digits scaled to [-1, 1] (1437 train), batches of 64 (23 steps an epoch, 15 epochs);
    # the loss is the cross-entropy plus E(x_data) - E(x_q) with SGLD samples from a replay
    # buffer (about 1.8-1.9 in the first epoch, 0.42-0.55 at the end), healthy runs end at a
    # held-out accuracy of 0.94-0.96 with an energy gap of -0.2 to -0.3
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_score_matching(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--width", str(rng.choice([128, 256])),
            "--batch-size", str(rng.choice([64, 128]))]
    # 4096 points of a generated mixture of 8 Gaussians on a circle of radius 2; the
    # sigma^2-weighted denoising score matching loss over 10 noise levels from 2.0 to 0.05,
    # 32 or 64 steps an epoch, 60 epochs; no accuracy; the loss falls from about 0.90-0.99 to
    # 0.68-0.75 (its floor is well above 0: the noise of the target), held-out 0.71-0.78; the
    # annealed Langevin samples end 0.20-0.26 from the held-out data (coverage 0.09-0.16)
    args += ["--epochs", "60", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_matching_networks(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--k-shot", str(rng.choice([3, 5])),
            "--n-query", str(rng.choice([5, 10]))]
    # scikit-learn's digits 0-6 (1257 images), one 5-way episode a step, 50 steps an epoch,
    # 10 epochs; the training accuracy (5-way) reaches 0.99-1.00 and the NLL falls from 1.39
    # to 0.99 (the attention over cosines in [-1, 1] bounds it); val_accuracy is the 3-way
    # accuracy on 200 episodes of the held-out digits 7-9, 0.68-0.83 (raw pixels 0.89,
    # chance 0.33)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", chance=1.0 / 3)


def space_pt_td3_pendulum(rng):
    args = ["--hidden", str(rng.choice([64, 128])), "--tau", rng.choice(["0.005", "0.01"]),
            "--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--batch-size",
            str(rng.choice([64, 128]))]
    # the numpy pendulum, 1000 random steps, then one critic update per environment step
    # (6000 at 7000 steps); the loss is the twin critics' TD loss (no accuracy), the episode
    # return the run's metric (result line only; a random policy about -1200 an episode of
    # 200 steps, healthy runs -150 to -360 over the last 5 training episodes, the
    # deterministic actor -1 to -175)
    args += ["--max-timesteps", "7000", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_transformer_xl_lm(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--d-model", str(rng.choice([64, 96])),
            "--mem-len", str(rng.choice([16, 24])), "--heads", str(rng.choice([2, 4]))]
    # a generated stream of records "word = word; " (33k characters, 16 streams, segments of
    # 16: 130 steps an epoch, 12 epochs); the training loss falls from 2.65 to 1.18-1.20
    # nats (accuracy 0.68), the held-out text scored one character at a time ends at
    # 1.90-2.00 bits per character (validation accuracy 0.66; the characters' frequencies
    # 4.4 bits, 29 classes; the space, the majority class, is 0.215 of the characters)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=29, chance=0.215)


def space_pt_egnn_nbody(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-4, 1e-3)), "--hidden", str(rng.choice([32, 64])),
            "--layers", str(rng.choice([3, 4]))]
    # 300 generated 5-particle charged systems (positions, velocities, charges +-1), the
    # positions 1000 leapfrog steps later as targets, batches of 25 (12 steps an epoch, 30
    # epochs); the MSE falls from 0.21-0.32 to 0.054-0.056, the held-out MSE ends at
    # 0.058-0.063 (the constant-velocity prediction 0.23-0.24, the positions unchanged
    # 0.31-0.34)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gcn")


def space_pt_vqvae_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)),
            "--num-embeddings", str(rng.choice([32, 64])),
            "--embedding-dim", str(rng.choice([8, 16])),
            "--commitment-cost", rng.choice(["0.25", "0.5"])]
    # 1437 training digits (8x8, x / 16 - 0.5) in batches of 64 (23 steps an epoch, 30
    # epochs); the loss is the reconstruction MSE over the training variance plus the
    # codebook and commitment losses (1.0-1.5 in the first epoch, 0.73-0.97 in the last,
    # after rising in the first epochs), the held-out reconstruction error ends at
    # 0.13-0.14 of the variance (the mean image 0.51-0.52), perplexity 12-15
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_pix2pix_shapes(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)), "--ngf", str(rng.choice([16, 32])),
            "--lambda-l1", rng.choice(["50", "100"])]
    # 1024 generated 16x16 pairs (a shape's outline -> the shape filled with its kind's
    # colour), batches of 32 (32 steps an epoch, 16 epochs); the recorded loss is the
    # generator's GAN + lambda * L1 (about 25-38 in the first epoch, 4.3-4.9 at the end with
    # lambda 100), the validation loss the held-out L1 in [-1, 1] (healthy runs 0.038-0.053,
    # the mean target image 0.22)
    args += ["--epochs", "16", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_tiny_nerf(rng):
    args = ["--lr", fmt(log_uniform(rng, 4e-3, 6e-3)), "--width", str(rng.choice([64, 128])),
            "--samples", str(rng.choice([24, 32]))]
    # 20 generated 16x16 views of two analytic spheres (5120 rays), batches of 512 rays (10
    # steps an epoch, 30 epochs); the MSE of the rendered pixels falls from 0.10-0.13 to
    # 0.0003-0.0004, the held-out views' MSE ends at 0.0006-0.0010 (PSNR 30-32; black
    # everywhere 10.7)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_wgan_clip_ring(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)), "--clip", "0.1",
            "--n-critic", rng.choice(["3", "5"]), "--hidden", "128"]
    # 8192 points of a ring of eight Gaussians (std 0.05, radius 2); 25 generator steps an
    # epoch at n_critic 5 (42 at 3), batches of 64, 60 epochs; the loss is the generator's
    # -mean(critic(fake)) (adversarial; it wanders between about -1 and 4 with the critic's
    # clipped scale), the accuracy the mode coverage: healthy runs end at a validation
    # coverage of 0.875-1.0 with 72-76% of the points near a mode (one mode of eight for a
    # collapsed generator; runs measured at lr 2e-3, clip 0.1)
    args += ["--epochs", "60", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=8, chance=0.125)


def space_pt_swav_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)),
            "--temperature", rng.choice(["0.1", "0.1", "0.2"]),
            "--nmb-prototypes", rng.choice(["30", "30", "50"])]
    # SwAV pre-training on 1437 training digits, two views an image: 11 steps an epoch at
    # batches of 128 (the last partial batch dropped), 25 epochs; the swapped-prediction loss
    # falls from about 3.3-3.8 to 1.1-1.3 (no accuracy), the val_accuracy a logistic-
    # regression probe on 5 labelled digits a class: the untrained encoder reads about
    # 0.77-0.78, healthy runs 0.84-0.90 (runs measured at lr 2e-3, 30 prototypes)
    args += ["--epochs", "25", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_seq2seq_attn_dates(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--hidden", str(rng.choice([64, 96])),
            "--teacher-forcing", rng.choice(["0.5", "0.75"])]
    # 3000 generated dates in nine formats -> ISO dates (11 target tokens), batches of 64 (47
    # steps an epoch, 10 epochs); the NLL over the 14-token vocabulary falls from about 1.75-1.83
    # to 0.002-0.006, the held-out greedy token accuracy and exact-match accuracy end at 1.0
    # (healthy runs measured at lr 3e-3)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=14)


def space_pt_dgcnn_points(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--k", str(rng.choice([8, 10]))]
    # 800 sampled clouds of 128 points (five shapes), batches of 32 (25 steps an epoch, 10
    # epochs); the label-smoothed cross-entropy falls from about 1.57 to 1.1, the held-out
    # accuracy ends at about 0.8 (chance 0.2)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=5)


def space_pt_ctlstm_hawkes(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--hidden", str(rng.choice([32, 48])),
            "--mc", str(rng.choice([4, 8]))]
    # 320 simulated sequences of a 4-type Hawkes process (up to 40 events, gaps scaled to
    # seconds), batches of 32 (10 steps an epoch, 14 epochs); the neural Hawkes NLL per event
    # falls from about 2.4-2.6 to 1.95-2.01, held-out log-likelihood per event -2.0 to -2.05,
    # held-out type accuracy 0.37-0.40 (the commonest type 0.29-0.32)
    args += ["--epochs", "14", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4)


def space_pt_rwkv_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--d", str(rng.choice([48, 64]))]
    # 60000 characters of a generated grammar (28 characters), 32 random windows of 64 a step
    # (20 steps an epoch, 12 epochs, warm-up 40 steps); the cross-entropy falls from about 2.4
    # to 0.49, held-out 0.50-0.51 (0.73 bits per character, unigram 4.07), held-out accuracy
    # about 0.81
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "rnn", classes=28)


def space_pt_gflownet_grid(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--lr-logz", rng.choice(["0.05", "0.1"]),
            "--height", str(rng.choice([8, 10])), "--epsilon", rng.choice(["0.0", "0.05"])]
    # trajectories of a GFlowNet on the 2-D hypergrid, 16 a step (50 steps an epoch, 20
    # epochs); the trajectory-balance loss falls from about 1.5 to 0.002-0.01, log Z reaches
    # the true 3.11 (8x8) or 3.58 (10x10), and the L1 distance of 4000 samples to the reward
    # distribution ends at 0.09-0.11 (uniform sampling 1.07 on 8x8)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_slot_attention_shapes(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--warmup", str(rng.choice([40, 60])),
            "--num-slots", str(rng.choice([4, 5]))]
    # 768 drawn 16x16 images of two or three coloured squares and discs, batches of 16 (48
    # steps an epoch, 15 epochs); the reconstruction MSE falls from about 0.10 to 0.05, the
    # held-out MSE ends at about 0.05 (predicting the mean image 0.088)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_fedprox_clients(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-1, 2.5e-1)), "--hidden", str(rng.choice([64, 128])),
            "--mu", rng.choice(["0.5", "1.0"])]
    # 1437 training digits over 10 clients of three classes each and very unequal sizes
    # (log-normal, sigma 1.5: 27 to 274 images at seed 0), 50 rounds of 5 sampled clients x
    # 1 local epoch in batches of 20 (about 37 recorded steps a round, 1840-1930 in all); the
    # local cross-entropy plus the proximal term from about 1.7-1.9 to 0.17-0.23 (local
    # accuracy 0.96-0.99); healthy runs end at a global held-out loss of 0.39-0.50 and
    # accuracy of 0.81-0.92 (10 classes)
    args += ["--rounds", "50", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_a2c_gridworld(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)), "--hidden", str(rng.choice([32, 64])),
            "--optimizer", rng.choice(["adam", "rmsprop"])]
    # 16 numpy 5x5 gridworlds stepped 8 steps an update (128 transitions), 400 updates (25
    # an epoch); the loss is A2C's policy loss + 0.5 x GAE critic loss - 0.05 x entropy (no
    # accuracy, about -0.37 to -0.14 at first, -0.08 to -0.06 at the end), the episode return
    # the run's metric (healthy runs 0.68-0.75 over the last 100 episodes, success 0.96-0.99;
    # a policy that only avoids the pits -0.60)
    args += ["--ent-coef", "0.05", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_cql_offline(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)),
            "--alpha", rng.choice(["0.5", "1.0", "2.0"]), "--hidden", str(rng.choice([64, 128])),
            "--batch-size", str(rng.choice([64, 128])),
            "--tau", rng.choice(["0.005", "0.01"])]
    # about 2500 transitions of 300 epsilon-greedy (0.5) episodes on a 7x7 gridworld, 50
    # steps an epoch, 30 epochs; the TD + CQL loss (no accuracy) stays about 0.6-1.4 (alpha
    # 0.5-1), the held-out loss 0.7-1.4, the greedy return from 10 start cells reaches the
    # best 0.888 in the first epochs (the behaviour policy about 0) (result line only)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_ts2vec(rng):
    bs = rng.choice([16, 32])
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--batch-size", str(bs),
            "--repr-dims", str(rng.choice([64, 128])), "--noise", rng.choice(["0.5", "0.6"])]
    # 480 generated univariate series of 96 steps in 4 classes (30 or 15 steps an epoch, 12
    # or 16 epochs); the hierarchical contrastive loss (no accuracy) falls from about 3-4.2 to
    # 1.6-1.9, the held-out loss to 1.5-1.6, the linear probe on the frozen full-series
    # representations ends at 0.91-0.93 (the untrained encoder about 0.65, chance 0.25)
    args += ["--epochs", "12" if bs == 16 else "16", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_pt_neural_ca(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 6e-3)), "--hidden", str(rng.choice([64, 96]))]
    # a 16x16 grid of 12-channel cells grown from one live cell towards a drawn disc, a pool
    # of 128 states, batches of 8, 32 to 48 unrolled steps, 20 iterations an epoch, 15 epochs;
    # the RGBA MSE falls from about 0.16-0.25 to 0.018-0.034, a fresh seed's MSE after 40 and
    # 80 steps ends at 0.012-0.04 (the empty grid 0.185)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_convtasnet_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--filters", str(rng.choice([48, 64]))]
    # 512 synthetic two-source mixtures of 2000 samples at 8 kHz (a harmonic tone and a chirp
    # or noise burst, in random order), batches of 16 (32 steps an epoch), 12 epochs; the
    # negative PIT SI-SNR falls from about 4-7 to -11 to -12, the held-out SI-SNR improvement
    # ends at 10.5-13.5 dB
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_decision_transformer(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--heads", str(rng.choice([2, 4])),
            "--hidden", str(rng.choice([64, 96]))]
    # 400 offline episodes of a 5x5 gridworld (good, bad and random behaviour policies), as
    # (return-to-go, state, action) tokens, batches of 64 (7 steps an epoch), 40 epochs; the
    # cross-entropy falls from about 1.4-1.45 to 0.55-0.58, held-out action accuracy 0.74-0.77
    # (four actions), the rollout aimed at the best return reaches the goal (920)
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=4)


def space_pt_deeponet(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--width", str(rng.choice([64, 96]))]
    # 500 random sums of sines at 64 sensors, 20 query points each (10000 triples), batches
    # of 250 (40 steps an epoch), 40 epochs; the MSE against the antiderivative falls from
    # about 0.02-0.04 to 0.0011-0.0015, held-out relative L2 error 0.20-0.26 (predicting zero: 1.0)
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_pt_darts_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.025, 0.1)), "--channels", str(rng.choice([8, 12]))]
    # sklearn digits 8x8 (718 training and 719 validation images for the bi-level search, 360
    # held out), batches of 64 (11 steps an epoch, each an Adam step of alpha on a validation
    # batch and an SGD step of the weights), 15 epochs; the loss falls from about 2.2-2.3 to
    # 0.08-0.6, the held-out accuracy ends at 0.86-0.97 (chance 0.1)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_ntm_copy(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 1.5e-3)), "--mem-cols", str(rng.choice([16, 20]))]
    # copy task: batches of 16 fresh random sequences of 4 to 8 vectors of 6 bits, 50 steps an
    # epoch, 20 epochs (1000 steps); the BCE of the copied part falls from about 0.69 to
    # 0.04-0.22, the held-out bit accuracy ends at 0.93-1.0 and the bit error at 0-2.3 bits a
    # sequence (guessing: 18)
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm")


def space_pt_glove_cooc(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.03, 0.08)), "--dim", str(rng.choice([16, 32]))]
    # co-occurrence matrix (window 5, 1/distance) of 3000 generated topic-mixture sentences
    # over 300 words, about 19000 non-zero training entries in batches of 512 (38-39 Adagrad
    # steps an epoch), 25 epochs; the weighted least squares falls from about 0.42-0.50 to
    # 0.010-0.014, held-out 0.016-0.019, topic nearest-neighbour accuracy 1.0 (chance about
    # 0.07); measured at lr 0.05
    args += ["--epochs", "25", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_din_ctr(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--dim", str(rng.choice([8, 12]))]
    # 2500 generated users with histories of 10-20 items, 8000 training candidates in batches
    # of 256 (32 steps an epoch), 12 epochs; the BCE falls from about 0.64-0.68 to 0.41-0.52,
    # held-out AUC 0.77-0.80 and log-loss 0.55-0.58 (the click rate's entropy about 0.68)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_pt_infogan_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-4, 1e-3)), "--latent-dim", str(rng.choice([8, 16])),
            "--code-dim", str(rng.choice([1, 2]))]
    # 1437 training digits scaled to [-1, 1], batches of 64 (22 steps an epoch, each a
    # generator, a discriminator and an information step), 25 epochs; the recorded loss is the
    # generator's (about 0.65-0.69 in the first epoch, 1.0-1.4 in the last), the accuracy the Q
    # head's on the categorical code (0.11 to 0.98-0.99, chance 0.1), the validation accuracy
    # the judged cluster accuracy of the codes (healthy runs 0.29-0.44, ignored codes 0.11-0.13)
    args += ["--epochs", "25", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_maf_density(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--hidden", str(rng.choice([64, 128])),
            "--blocks", str(rng.choice([4, 5]))]
    # 4000 points of a ring of eight Gaussians (standardized), batches of 100 (40 steps an
    # epoch), 30 epochs (1200 steps); the NLL in nats per point falls from about 2.6-2.7 to
    # 1.07-1.24, held-out 1.08-1.57 (a standard normal fitted to the data: 2.84), so no
    # baseline, as for pt_made_density
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_mlp_mixer_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--depth", str(rng.choice([3, 4])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1437 training digits (scaled to 0..1) as 16 patches of 2x2, 16 channels; batches of 32
    # or 64 (45 or 23 steps an epoch), 20 epochs (460-900 steps), AdamW with a one-epoch
    # warm-up and a cosine decay; healthy runs end at a held-out accuracy of 0.975-0.978 and
    # loss 0.083-0.104 (chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_pt_film_reasoning(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--channels", str(rng.choice([16, 24]))]
    # 4096 generated 16x16 Sort-of-CLEVR scenes with one question each, batches of 64 (64 steps
    # an epoch), 10 epochs (640 steps); 8 answers, the answer prior about 0.25; healthy runs end
    # at a held-out accuracy of 0.746-0.775 (shape and left questions 0.87-1.00, the relational
    # nearest-colour question near its chance of 1/3) and loss 0.41-0.48
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=8)


def space_pt_beta_vae_sprites(rng):
    objective = rng.choice(["B", "H"])
    args = ["--objective", objective, "--lr", fmt(log_uniform(rng, 5e-4, 2e-3)),
            "--z-dim", str(rng.choice([4, 5, 6])), "--batch-size", str(rng.choice([32, 64]))]
    if objective == "H":
        args += ["--beta", rng.choice(["2", "4"])]
    # 2400 drawn 16x16 sprites (shape, scale, x, y), batches of 32 or 64 (75 or 37 steps an
    # epoch), 12 or 20 epochs (900 or 740 steps); the loss is the summed BCE per image plus
    # beta * KL (H) or gamma * |KL - C| with C annealed to 12 nats (B): it falls from 100-150
    # to 30-47, the validation reconstruction ends at 11-21 nats per image (a decoder that
    # draws one mean image: 84-87), the KL at 5-12 nats and the factor R^2 at 0.56-0.62
    epochs = "12" if args[args.index("--batch-size") + 1] == "32" else "20"
    args += ["--epochs", epochs, "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_grud_missing(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)), "--hidden", str(rng.choice([32, 48])),
            "--missing", rng.choice(["0.4", "0.5", "0.6", "0.7"]),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1600 synthetic series of 5 unnormalized variables over 32 steps, 40-70% of the entries
    # missing, batches of 32 or 64 (50 or 25 steps an epoch), 15 epochs; BCE of a balanced
    # binary outcome falls from about 0.57 to 0.18-0.20, validation accuracy 0.88-0.90 and
    # AUC 0.95-0.97 (chance 0.5)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=2)


def space_pt_resnet_shapes_sgd(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.03, 0.1)), "--width", str(rng.choice([8, 16])),
            "--blocks", str(rng.choice([1, 2]))]
    # 1200 drawn 16x16 colour images of five shapes, normalized per channel, random crop and
    # flip, batches of 64 (19 steps an epoch), 8 epochs (152 steps), SGD momentum 0.9 with a
    # MultiStepLR at epochs 4 and 6; the loss falls from about 1.2-1.3 to 0.02-0.03, training
    # accuracy 0.99, validation accuracy 0.998-1.0 (chance 0.2)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5)


def space_pt_text_transformer_cls(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--d-model", str(rng.choice([32, 48])),
            "--heads", str(rng.choice([2, 4])), "--batch-size", str(rng.choice([16, 32]))]
    # 1600 generated topic-mixture texts of 8-40 tokens over 300 words, four classes, sorted
    # into length buckets (50 steps an epoch with 32, 100 with 16), 6 epochs, AdamW with 20
    # warm-up steps; the loss falls from about 1.26-1.28 to 0.25-0.52, validation accuracy
    # 0.80-0.90 (chance 0.25)
    args += ["--epochs", "6", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=4)


def space_pt_cnn_lstm_clips(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--hidden", str(rng.choice([32, 64])),
            "--batch-size", str(rng.choice([16, 32]))]
    # 1024 generated clips of 10 16x16 frames, a blob moving (and wrapping) in one of four
    # directions; a per-frame CNN, an LSTM over the frames, the last step into the head (32
    # steps an epoch with 32, 64 with 16), 8 epochs; the loss falls from about 1.39-1.40 to
    # 0.002-0.21, validation accuracy 1.00 (chance 0.25)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4)


def space_pt_wavenet_mulaw(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--channels", str(rng.choice([24, 32]))]
    # 640 generated windows of 257 samples (sums of sines under an envelope), mu-law to 64
    # levels; a WaveNet of 2 cycles of dilations 1-8, cross-entropy of every next sample (20
    # steps an epoch, 10 epochs); the loss falls from about 4.04 to 1.8-2.0, the held-out
    # next-sample cross-entropy ends at 1.8-2.05 with an accuracy of 0.26-0.34 (the level
    # distribution: 4.0 nats, 0.023)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=64)


def space_pt_retinanet_shapes(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-2, 2.5e-2))]
    # 1024 generated 32x32 images of one to three squares, discs or triangles on noise, batches
    # of 32 (32 steps an epoch), 15 epochs; the loss is the sigmoid focal loss over 192
    # anchors x 3 classes plus the smooth-L1 box loss, both divided by the positive anchors,
    # no accuracy; it falls from about 1.41 to 0.26-0.27 (held-out 0.26-0.28), the held-out
    # recall at IoU 0.5 ends at 0.71-0.75
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=3)


def space_pt_tree_lstm_sentiment(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-2, 8e-2)), "--dim", str(rng.choice([32, 48])),
            "--hidden", str(rng.choice([48, 64]))]
    # 2048 generated binary parse trees of 4 to 9 words (sentiment words, negators,
    # intensifiers), labelled by the sign of their composed sentiment; a Child-Sum Tree-LSTM
    # batched by level, Adagrad, batches of 32 (64 steps an epoch), 12 epochs; the loss falls
    # from about 0.68-0.69 to 0.002-0.004, held-out accuracy 0.986-0.996 (chance 0.5)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=2)


def space_pt_schnet_molecules(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--hidden", str(rng.choice([32, 64])),
            "--interactions", str(rng.choice([2, 3]))]
    # 1200 generated molecules of 5-12 atoms (4 types, Morse pair energies with a cutoff plus
    # per-type offsets), batches of 32 (37 steps an epoch, 25 epochs); the MSE of the
    # standardized energies falls from 0.1-0.4 to 1e-5-1e-4, the held-out MAE ends at 0.1-0.3
    # energy units (predicting the per-atom mean: 46-50)
    args += ["--epochs", "25", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gcn")


def space_pt_esim_nli(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--hidden", str(rng.choice([32, 48]))]
    # 3000 generated premise/hypothesis pairs of up to 10 tokens, batches of 32 (93 steps an
    # epoch, 8 epochs); the cross-entropy falls from about 0.8 to 0.001-0.003, the held-out
    # accuracy ends at 0.99-1.00 (chance 0.333)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=3)


def space_pt_han_documents(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--hidden", str(rng.choice([32, 48]))]
    # 1200 generated documents of 4-8 sentences of 5-10 tokens (4 topics), batches of 32 (38
    # steps an epoch, 12 epochs); the cross-entropy falls from about 1.35 to 0.002-0.005, the
    # held-out accuracy ends at 0.87-0.89 (chance 0.25; the held-out loss 0.40-0.47)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gru", classes=4)


def space_pt_conformer_keywords(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--dim", str(rng.choice([32, 48])),
            "--warmup", str(rng.choice([100, 300]))]
    # 1000 generated 48x24 spectrograms of 5 keywords, batches of 32 (32 steps an epoch, 10
    # epochs), AdamW with a warmup stepped per optimizer step; the cross-entropy falls from
    # about 1.62 to 0.005-0.007, the held-out accuracy ends at 1.00 (chance 0.2)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=5)


def space_pt_ggnn_graphs(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 5e-3)), "--hidden", str(rng.choice([32, 48])),
            "--steps", str(rng.choice([4, 5, 6]))]
    # 1200 generated directed graphs of 8-20 nodes with 3 edge types, batches of 32 (38 steps
    # an epoch, 15 epochs); the MSE of the standardized count of nodes within two hops of the
    # marked node falls from about 1.0 to 0.0005-0.0008, the held-out MAE ends at 0.03-0.04
    # nodes (predicting the mean: about 1.55)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gcn")


def space_pt_soft_decision_tree(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--depth", str(rng.choice([4, 5])),
            "--penalty", rng.choice(["0.05", "0.1"])]
    # 800 generated rows of 10 features in 4 classes (make_classification, standardized),
    # batches of 32 (25 steps an epoch, 30 epochs); the path-weighted cross-entropy plus the
    # balancing penalty falls from about 1.6-1.7 to 0.6-0.9, the held-out accuracy ends at
    # 0.82-0.94 (chance 0.25)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_pt_rgcn_entities(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--num-bases", rng.choice(["2", "3", "4"]),
            "--hidden", "16", "--dropout", "0.5"]
    # a generated knowledge graph of 400 entities, 4 relation types and their inverses (8 in
    # the model), 120 labelled entities, full batch (one step an epoch, 100 epochs); the
    # cross-entropy of the labelled entities falls from about 1.35 to 0.10-0.16, the
    # validation accuracy ends at 0.77-0.94 of four classes (chance 0.25; runs measured at lr
    # 0.01, two and four bases)
    args += ["--epochs", "100", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=4)


def space_pt_sngan_ring(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)), "--beta1", rng.choice(["0.0", "0.5"]),
            "--n-dis", "2", "--hidden", "128"]
    # 8192 points of a ring of eight Gaussians (std 0.05, radius 2); 32 generator steps an
    # epoch at n_dis 2, batches of 128, 60 epochs; the loss is the generator's hinge loss
    # -mean(D(fake)) (adversarial; it drifts from about 0 to -0.3 to -0.75 with the
    # spectrally normalized discriminator's scale, whose own loss stays near 2.0), the accuracy
    # the mode coverage: healthy runs end at a validation coverage of 0.75-0.875 with 61-73%
    # of the points within 3 std of a mode (one mode of eight for a collapsed generator; runs
    # measured at lr 2e-3)
    args += ["--epochs", "60", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=8, chance=0.125)


def space_pt_vrnn_sequences(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--h-dim", str(rng.choice([32, 48])),
            "--z-dim", str(rng.choice([8, 16]))]
    # 2048 generated 2-D pen strokes of 24 points, batches of 64 (32 steps an epoch), 20
    # epochs (640 steps), Adam clipped at 10; the loss is the negative ELBO per sequence (KL to
    # the learned prior plus the Gaussian NLL, summed over time), from about 23-32 in the first
    # epoch to -56 in the 20th: healthy runs end at a held-out negative ELBO of -55.9 to -57.1
    # per sequence (KL 0.02-0.04) and an RMSE of the decoder's means of 0.121-0.122 (runs
    # measured at lr 2e-3: 32 units and 8 latents, seeds 0 and 1; 48 and 16, seed 2; at lr
    # 1e-2: -57.8)
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gru")


def space_pt_bidaf_span(rng):
    args = ["--lr", fmt(log_uniform(rng, 4e-3, 6e-3)), "--hidden", str(rng.choice([24, 32])),
            "--emb", "32", "--drop", "0.0"]
    # 2400 generated documents of 8 to 54 tokens (2 to 4 key-value facts), batches of 32
    # bucketed by length (75 steps an epoch), 6 epochs (450 steps); the loss is the start and
    # end pointers' NLL added, from about 2.8-3.1 in the first epoch (a plateau near 2.1 while
    # the model picks a random fact) to 0.0002-0.26; healthy runs end at a held-out exact match
    # of 0.935-1.000 (runs measured at lr 5e-3, 24 or 32 hidden units, dropout 0; one that
    # picks a random fact's answer scores about 0.33, the chance used here)
    args += ["--epochs", "6", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", chance=0.33)


def space_pt_lstnet_forecast(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--output-fun",
            rng.choice(["sigmoid", "tanh", "linear"]), "--loss", rng.choice(["mse", "l1"]),
            "--hidRNN", str(rng.choice([32, 48]))]
    # 12 generated clients' hourly loads in kW over 16 weeks, each scaled by its maximum,
    # windows of 168 hours, the hour 3 steps ahead as the target, 1442 training windows in
    # batches of 64 (23 steps an epoch), 25 epochs (575 steps); the loss is the MSE or the L1
    # of the scaled series, the validation loss the MSE; healthy runs end at a validation MSE
    # of 0.003-0.009, an RSE of 0.13-0.23 and a correlation of 0.95-0.975 against the
    # persistence forecast's RSE 0.51-0.66 (runs measured at lr 7e-4, 1e-3 and 2e-3: sigmoid,
    # tanh and linear outputs, MSE and L1, 32 and 48 GRU units, seeds 0-5), no accuracy
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "gru")


def space_pt_policy_value_tictactoe(rng):
    opt = rng.choice(["sgd", "adam"])
    lr = log_uniform(rng, *{"sgd": (1.5e-2, 8e-2), "adam": (1e-3, 3e-3)}[opt])
    args = ["--optimizer", opt, "--lr", fmt(lr), "--channels", str(rng.choice([32, 48])),
            "--blocks", str(rng.choice([1, 2, 3]))]
    # the 4520 tic-tac-toe positions that are not over, labelled by minimax (policy target
    # uniform over the optimal moves, value of the side to move), 3390 for training in batches
    # of 64 (52 steps an epoch), 30 epochs (1560 steps); the loss is the soft-target
    # cross-entropy of the masked policy plus the value's MSE (from about 1.6 to 0.52-0.62),
    # the accuracy the share of positions whose argmax move is optimal: healthy runs end at a
    # held-out policy accuracy of 0.975-0.996 and a value accuracy of 0.89-0.97 (runs measured
    # with SGD at 0.015-0.1, Adam at 2e-3 and 2.3e-3, 32 and 48 channels, 1 to 3 blocks); a
    # random legal move is optimal in 0.58 of the positions
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=9, chance=0.58)


def space_pt_koopman_ae(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--latent", str(rng.choice([8, 12])),
            "--hidden", str(rng.choice([64, 96])), "--w-lin", "0.1"]
    # 300 generated damped Duffing trajectories (mm, mm/s, standardized), 3300 windows of 21
    # states in batches of 128 (25 steps an epoch), 30 epochs (750 steps); the loss is the
    # reconstruction, 20-step prediction and 0.1 x linearity MSEs added, from about 1.8-2.0 in
    # the first epoch to 0.0034-0.012; healthy runs end at a held-out 20-step prediction MSE
    # of 0.0027-0.043 in standardized units (always predicting the mean: 1.42-1.74; runs
    # measured at lr 1e-3 with 8 latents and 64 units, seeds 0-2, and 12 and 96, seed 3; at
    # 5e-4, seed 4: 0.043; at 2e-3 with 12 latents, seed 5: 0.0027)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_wae_mmd(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--latent", str(rng.choice([6, 8])),
            "--recon", rng.choice(["mse", "bce"]), "--lambda", "10"]
    # the digits scaled to [0, 1] (1437 training images), batches of 100 (14 steps an epoch),
    # 40 epochs (560 steps), the rate halved every 20; the loss is the reconstruction cost
    # summed per image plus 10 x the IMQ MMD to the N(0, I) prior, from about 11 (mse) or 39
    # (bce) in the first epoch to 0.82-1.03 or 16-16.5; healthy runs end at a held-out squared
    # error of 0.80-1.17 per image (the mean image: 4.6-4.7), a prior MMD of 0.021-0.031 and
    # decoded prior samples 0.029-0.036 from the nearest digit (runs measured at lr 1e-3: mse
    # with 8 latents, seeds 0 and 1, bce seed 2, 6 latents seed 3; at 5e-4, seed 4: 0.948; at
    # 2e-3, bce with 6 latents, seed 5: 0.985)
    args += ["--epochs", "40", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_pt_performer_favor(rng):
    features = rng.choice([44, 64])
    redraw = 250 if features == 44 else rng.choice([100, 250])
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)), "--nb-features", str(features),
            "--redraw-interval", str(redraw), "--warmup", "100"]
    # 3000 generated sequences of 96-128 tokens (padded to 128), label: are both groups of
    # 8-16 marker copies of one type (chance 0.5); batches of 32 (93 steps an epoch), 8 epochs
    # (744 steps), AdamW with 100 warm-up steps and a cosine decay; the loss is the
    # cross-entropy, from about 0.39-0.69 in the first epoch to 0.0002-0.025: healthy runs end
    # at a validation accuracy of 0.992-1.000 (runs measured at lr 2e-3: 44 features redrawn
    # every 250 steps, seeds 0-3: 1.000; 64 features every 100 steps, seeds 0, 2, 3, 4:
    # 0.992-0.998); with 44 features redrawn every 100 steps a redraw late in the cosine decay
    # cost two of three seeds (0.924, 0.804), and without the attention sublayers the model
    # stops at 0.83
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=2)


def space_pt_noise2noise(rng):
    noise = rng.choice(["gaussian", "gaussian", "impulse"])
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--width", str(rng.choice([24, 32])),
            "--noise", noise]
    if noise == "gaussian":
        args += ["--sigma", str(rng.choice([0.25, 0.35])), "--loss", "l2",
                 "--output", rng.choice(["linear", "sigmoid"])]
    else:
        args += ["--p", "0.3", "--loss", "l1"]
    # the digits as 8-bit images upsampled to 16x16 and divided by 255 (1437 training images),
    # each drawn with two fresh independent corruptions (source and target) in batches of 32
    # (45 steps an epoch), 15 epochs (675 steps), Adam betas (0.9, 0.99); the loss is the L2
    # (Gaussian noise, about 0.09-0.22 in the first epoch to 0.067-0.131, the noise variance)
    # or the L1 (salt-and-pepper, 0.27-0.29 to 0.176); the validation loss is the MSE against the
    # clean held-out images: healthy runs end at a held-out PSNR of 23.0-23.4 dB at sigma
    # 0.25 (noisy inputs 12.0 dB), 20.8 dB at 0.35 with 24 channels (9.1 dB) and 24.0-24.4 dB
    # for 30% salt-and-pepper noise under L1 (9.3 dB) (runs measured at lr 1e-3, seeds 0-3),
    # no accuracy
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_dlinear_forecast(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 8e-3)), "--moving-avg", "25"]
    if rng.random() < 0.5:
        args += ["--individual"]
    if rng.random() < 0.5:
        args += ["--revin"]
    # 42 generated days of 15-minute readings of 4 channels (ETTm-like), scaled with the
    # training part's statistics; 2300 training windows of 96 readings and the 24 that follow,
    # batches of 32 (71 steps an epoch), 8 epochs (568 steps), Adam; the loss is the MSE of the
    # scaled values, from about 0.08-0.20 in the first epoch to 0.038-0.052: healthy runs end at
    # a validation MSE of 0.038-0.053 (MAE 0.15-0.18) and a test MSE of 0.039-0.059 against
    # repeating the last value's 0.33-0.53 (runs measured at lr 2e-3 to 8e-3: shared and
    # per-channel Linear layers, with and without RevIN, seeds 0-7), no accuracy
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_pt_graph_unet(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--dim", str(rng.choice([32, 48])),
            "--ks", rng.choice(["0.5,0.5,0.5", "0.6,0.5,0.5"]),
            "--dropout", rng.choice(["0.2", "0.3"])]
    # a generated 1000-node stochastic block model of four communities (about 5 neighbours
    # inside, 0.5 outside, 16 noisy features), 300 labelled nodes, full batch (one step an
    # epoch, 150 epochs), Adam with weight decay 1e-3; the cross-entropy of the labelled nodes
    # falls from about 1.38-1.42 to 0.22-0.54, the validation accuracy ends at 0.85-0.92 of
    # four communities (held-out 0.83-0.91; chance 0.25) (runs measured at lr 5e-3 to 2e-2: 32
    # and 48 units, first pool keeping 50% or 60%, dropout 0.2 and 0.3, seeds 0-8)
    args += ["--epochs", "150", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=4)


def space_pt_simcse_sentences(rng):
    bs, epochs = rng.choice([(64, 3), (64, 3), (32, 2)])
    args = ["--lr", fmt(log_uniform(rng, 3e-4, 5e-4)), "--batch-size", str(bs),
            "--pooler", "avg", "--temp", "0.05"]
    # 8192 generated sentences (a grammar of five concepts, two synonyms each, four word
    # orders, a meaningless filler), the encoder first pretrained by 600 masked-language-model
    # steps (not recorded), then unsupervised SimCSE with the linear decay; the loss is the
    # in-batch cross-entropy over cosines / 0.05, from about 0.64-1.14 in the first epoch to
    # 0.07-0.16 (in-batch top-1 0.96-0.99); the val_accuracy is the paraphrase ranking
    # accuracy, which the untrained checkpoint already has at 0.92-0.95 (the "chance" here):
    # healthy runs end at 0.978-0.990 with a Spearman correlation of 0.61-0.70 against the
    # checkpoint's 0.27-0.41 (runs measured at lr 3e-4, batches of 64, seeds 0 and 1: 0.990,
    # 0.981; 32 for 2 epochs, seed 2: 0.978; lr 5e-4, seed 3: 0.983)
    args += ["--epochs", str(epochs), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", chance=0.93)


def space_pt_ecapa_speaker(rng):
    args = ["--lr", fmt(log_uniform(rng, 8e-4, 2e-3)), "--margin", rng.choice(["0.2", "0.3"]),
            "--scale", "30", "--channels", "64"]
    # 40 generated speakers, 40 recordings each of 180 MFCC-like frames (speech and digital
    # silence), random 100-frame crops in batches of 32 (50 steps an epoch), 8 epochs (400
    # steps), Adam with StepLR 0.97; the loss is the AAM-softmax cross-entropy (s 30), from
    # about 10-13 in the first epoch to 2.0-2.6 (training top-1 0.53-0.61 on the crops):
    # healthy runs end at a held-out accuracy of 0.845-0.897 and an EER of 0.093-0.131 (runs
    # measured at lr 1e-3, margin 0.2, seeds 0 and 1: 0.845, 0.882; margin 0.3, seed 3: 0.897;
    # lr 2e-3, seed 4: 0.868)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=40)


def space_pt_glow_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--n-flow", str(rng.choice([3, 4])),
            "--filters", str(rng.choice([32, 48]))]
    # 4096 generated 12x12 stroke images quantized to 5 bits and dequantized, batches of 64 (64
    # steps an epoch), 10 epochs (640 steps), Adam with 100 warm-up steps; the loss is the
    # negative log-likelihood in bits per dimension, from about 4.1-4.2 in the first epoch to
    # 1.93-2.02: healthy runs end at 1.92-2.00 held-out bits per dimension (a uniform density
    # over the 32 levels: 5; runs measured at lr 2e-3: 4 steps a level and 32 filters, seeds 0
    # and 1: 1.916, 1.941; 3 steps and 48 filters, seed 2: 2.001; lr 1e-3, 6 steps, seed 2:
    # 1.971); no mean predictor for a likelihood, so no baseline, as for pt_ddpm_swissroll
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_pt_biaffine_parser(rng):
    dropout = rng.choice(["0.2", "0.33"])
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--lstm-layers", str(rng.choice([1, 2])),
            "--dropout", dropout, "--embed-dropout", dropout]
    # 2000 generated sentences with gold trees (10.5 words on average), batches of 32 (62 steps
    # an epoch), 10 epochs (620 steps), Adam with betas (0.9, 0.9) and clipping at 5; the loss
    # is the arc cross-entropy plus the label cross-entropy, from about 2.4-2.8 in the first
    # epoch to 0.05-0.12; the val_accuracy is the held-out UAS: healthy runs end at 0.991-0.993
    # (the LAS the same), chance about 0.095 (one of a sentence's other words or the root)
    # (runs measured at lr 2e-3: two layers, dropout 0.33, seeds 0, 1 and 2: 0.993, 0.993,
    # 0.991; one layer, seed 3: 0.992; dropout 0.2, seed 3: 0.992)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", chance=0.095)


def space_pt_detr_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 8e-4, 1.2e-3)),
            "--num-queries", str(rng.choice([10, 12, 16]))]
    # 2048 generated 32x32 images of one to four coloured squares, discs and triangles,
    # batches of 32 (64 steps an epoch), 14 epochs (896 steps), AdamW (the backbone at 2e-4)
    # with clipping at 0.1 and the rates cut tenfold after 11 epochs; the loss is DETR's set
    # loss after the Hungarian matching (weighted cross-entropy + 5 L1 + 2 GIoU), from about
    # 4.2-4.3 in the first epoch to 0.82-0.90 (held-out 0.98-1.09); the step's accuracy and
    # val_class_accuracy are the matched queries' class accuracy (three shapes): healthy runs
    # end at 0.876-0.932 held out, with a held-out mAP@0.5 of 0.663-0.749 and a mean IoU of the
    # matched boxes of 0.824-0.855 (runs measured at lr 1e-3, 10 queries, seeds 0, 1 and 2:
    # 0.932, 0.876, 0.929, mAP 0.710, 0.749, 0.725; 16 queries, seed 3: 0.889, mAP 0.663)
    args += ["--epochs", "14", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=3,
                  accuracy_key="val_class_accuracy")


def space_pt_segformer_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 3e-3)),
            "--dims", rng.choice(["32,64,128", "32,64,160"])]
    # 1024 generated 48x64 scenes of Voronoi regions in five textures (255 on the boundaries),
    # batches of 16 (64 steps an epoch), 8 epochs (512 steps), AdamW (the decode head at ten
    # times the rate) with 50 warm-up steps and a linear (poly 1.0) decay; the loss is the
    # per-pixel cross-entropy, from about 1.0 in the first epoch to 0.037-0.040 (held-out
    # 0.033-0.039); the val_accuracy is the held-out pixel accuracy: healthy runs end at
    # 0.987-0.989 with an mIoU of 0.973-0.977, chance about 0.2 (runs measured at lr 1e-3,
    # widths 32, 64, 128, seeds 0, 1 and 2: 0.988, 0.987, 0.989; widths 32, 64, 160, seed 3:
    # 0.988; lr 1e-2 and 3e-2, seed 0: 0.993, 0.992)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=5)


def space_pt_t5_span_corruption(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)),
            "--warmup", str(rng.choice([50, 100]))]
    # a stream of generated counting sentences of 12 to 32 tokens, span-corrupted as T5 does
    # (15% noise, mean span 3), batches of 64, 64 steps an epoch, 10 epochs (640 steps),
    # AdamW with the inverse-square-root schedule; the loss is the teacher-forced
    # cross-entropy of the targets (pads ignored), from about 2.12-2.13 in the first epoch to
    # 1.04-1.07 (held-out 1.04-1.05); the val_accuracy is greedy decoding's held-out token
    # accuracy over 50 ids: healthy runs end at 0.634-0.648; a model that only learned the
    # sentinels and EOS gets about 0.38 (runs measured at lr 3e-3, warm-up 100, seeds 0 and 1:
    # 0.648, 0.646; warm-up 50, seed 2: 0.634)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=50, chance=0.38)


def space_pt_informer_forecast(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--d-model", str(rng.choice([32, 48]))]
    # 1321 generated windows of 96 + 24 hours (label window 48) of 7 channels, batches of 16
    # (82 steps an epoch), 6 epochs (492 steps), Adam with the rate halved every epoch; the
    # loss is the MSE of the scaled values, from about 0.67-0.79 in the first epoch to
    # 0.09-0.22 (healthy runs: validation MSE 0.069-0.193 against the naive repeat-last
    # forecast's 1.69-1.70; runs measured at lr 2e-3, d_model 32, seeds 0 and 1: 0.193,
    # 0.187; d_model 48, seed 2: 0.069), no accuracy
    args += ["--epochs", "6", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "transformer")


def space_pt_stylegan_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)), "--n-mlp", str(rng.choice([3, 4])),
            "--r1", "1"]
    # 2048 generated 16x16 images of one soft coloured disc on a dark background, batches of
    # 16 (128 steps an epoch), 4 epochs (512 steps), Adam betas (0, 0.99) for both players,
    # lazy R1 every 16 steps; the loss is the generator's non-saturating loss softplus(-D(G(z)))
    # (adversarial; about 0.95-1.07 in the first epoch, 0.95-1.00 in the last, the
    # discriminator's near 1.06-1.13), the val_accuracy the share of 256 generated images that
    # pass a fixed disc test (real images 1.00): healthy runs end at 0.74-0.92 with a
    # per-channel statistic distance of 0.16-0.21 to held-out real images (runs measured at lr
    # 2e-3, R1 weight 1: three mapping layers, seeds 0 and 1: 0.738, 0.883, stat_dist 0.163,
    # 0.211; four mapping layers, seed 2: 0.918, 0.166); with R1 weight 10 (seed 0) the images
    # stay less sharp (0.438, stat_dist 0.230)
    args += ["--epochs", "4", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2, chance=0.0)


def space_pt_linformer_text(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--k", str(rng.choice([8, 16]))]
    # fresh draws of 4000 generated 64-token sequences every epoch, label: the marker of three
    # that occurs most often (chance 1/3); batches of 64 (63 steps an epoch), 8 epochs (504
    # steps), AdamW with a 10% linear warm-up and a linear decay; the loss is the
    # cross-entropy, from about 1.02-1.08 in the first epoch to 0.008-0.022: healthy runs end
    # at a validation accuracy of 0.996-0.998 (runs measured at lr 1e-3, k 16, seeds 0, 1 and
    # 2: 0.998, 0.997, 0.998; k 8, seed 4: 0.996; at lr 3e-2 and 0.1, seed 1: 1.000, at 0.3
    # only 0.860, at 1.0 chance)
    args += ["--epochs", "8", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=3)


def space_pt_wmse_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 2.5e-3)), "--width", str(rng.choice([64, 96])),
            "--emb", "16", "--w-size", "64"]
    # 1437 training digits in batches of 128 (11 steps an epoch, the last partial batch
    # dropped), 20 epochs (220 steps), Adam with weight decay 1e-6; the loss is W-MSE's
    # 2 - 2 cos between the two views' whitened embeddings (sub-batches of 64), from about
    # 1.61-1.68 to 0.61-0.64 (no accuracy); the val_accuracy a logistic-regression probe on 5
    # labelled digits a class (the untrained encoder's probe reads 0.76-0.80, healthy runs
    # 0.84-0.91; runs measured at lr 2e-3: width 64, seeds 0 and 1: 0.908, 0.867; width 96,
    # seed 2: 0.844; 32-dimensional embeddings in sub-batches of 128, seed 2, only 0.794)
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_pt_saint_tabular(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--depth", str(rng.choice([1, 2])),
            "--dim", "32", "--heads", "4"]
    # 2400 generated customer rows (5 categorical columns, 3 continuous ones standardized),
    # batches of 128 (18 steps an epoch), 10 epochs (180 steps), AdamW with weight decay
    # 1e-2; the loss is the cross-entropy of three tercile classes, from about 0.84-0.88 in
    # the first epoch to 0.10-0.13 (training accuracy 0.95-0.96): healthy runs end at a
    # validation accuracy of 0.82-0.85 (runs measured at lr 1e-3: depth 1, seeds 0, 1 and 2:
    # 0.848, 0.820, 0.838; depth 2, seed 3: 0.830; 15 epochs, seed 0: 0.834 with the
    # validation loss rising from 0.42 to 0.66)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=3)


def space_keras_node2vec(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 2e-2)), "--dim", str(rng.choice([16, 24])),
            "--p", str(rng.choice([0.5, 1.0, 2.0])), "--q", str(rng.choice([0.5, 1.0, 2.0]))]
    # 160 nodes of a 4-community block model, 5 walks of 10 per node, about 15000 weighted
    # skip-gram examples in batches of 1024 (15-16 steps an epoch); the loss is the BCE of the
    # pairs (no accuracy), the val_accuracy a logistic regression's held-out node
    # classification on the embeddings (healthy runs 0.90-0.94, chance 0.25)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=4)


def space_keras_grad_accum_cnn(rng):
    bs = rng.choice([8, 16])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--batch-size", str(bs),
            "--accum-steps", str(rng.choice([2, 4, 8])),
            "--filters", str(rng.choice([8, 16])), "--units", str(rng.choice([32, 64]))]
    # 1437 training digits in micro-batches of 8 or 16 (90-180 steps an epoch), the weights
    # updated every 2-8 of them; a warmup + cosine schedule counted in batches
    args += ["--epochs", str(5 if bs == 8 else 8), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_mpnn_molecules(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--units", str(rng.choice([24, 32])),
            "--steps", str(rng.choice([3, 4])), "--dense", str(rng.choice([32, 64])),
            "--batch-size", str(rng.choice([16, 32]))]
    # 1200 generated molecule graphs (6-16 atoms) in batches of 16 or 32 graphs merged into one
    # disjoint graph (38-75 steps an epoch); a binary motif label, about 40% positive (healthy
    # runs: held-out AUC 0.92-1.00)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "gcn", classes=2)


def space_keras_image_captioning(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--embed-dim", str(rng.choice([32, 48])),
            "--heads", str(rng.choice([1, 2])), "--ff-dim", str(rng.choice([64, 96]))]
    # 1200 generated 20x20 images with captions of 10 tokens (14 words), batches of 32 (38
    # steps an epoch), the model's own train_step (callback mode); the accuracy is the masked
    # next-token accuracy under teacher forcing (healthy runs 0.90-0.95, the most frequent next
    # token about 0.3)
    args += ["--epochs", "12", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=14)


def space_keras_ppo_cartpole(rng):
    args = ["--policy-lr", fmt(log_uniform(rng, 1e-3, 2e-3)),
            "--hidden", str(rng.choice(["64,64", "32,32"]))]
    # 1000 numpy cart-pole steps an epoch (up to 200 an episode), up to 20 full-batch Adam steps
    # of the clipped surrogate an epoch (fewer when the approximate KL stops them), the actor
    # recorded in callback mode; the loss is the surrogate (no accuracy), the episode return
    # the run's metric (a random policy ~22, healthy runs 178-200 over the last 3 epochs)
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_keras_speaker_fft(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--width", str(rng.choice([1.0, 1.5])),
            "--batch-size", str(rng.choice([16, 32]))]
    # 800 generated clips of 10 voices (1024 samples at 4 kHz, noise at -5 to 10 dB SNR), the
    # FFT magnitude in the tf.data pipeline, batches of 16 or 32 (25-50 steps an epoch); a
    # residual Conv1D network (healthy runs: held-out accuracy about 0.85-0.9, chance 0.1)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_mobilevit_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--dim", str(rng.choice([24, 32])),
            "--transformer-layers", str(rng.choice([1, 2])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1437 of scikit-learn's digits upsampled to 16x16 (23-45 steps an epoch); MobileViT with
    # label smoothing 0.1 (healthy runs: held-out accuracy about 0.99)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_swin_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)),
            "--embed-dim", str(rng.choice([32, 48])), "--mlp", str(rng.choice([64, 96])),
            "--batch-size", str(rng.choice([32, 64]))]
    # 1347 training digits upsampled to 16x16, 64 patches of 2x2 in windows of 4x4 (a regular
    # and a shifted-window block, patch merging), AdamW and label smoothing 0.1 (the loss does
    # not go below about 0.5); healthy runs reach a held-out accuracy of 0.91-0.97
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_active_learning(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--units", str(rng.choice([16, 24])),
            "--embed", str(rng.choice([24, 32])), "--query", str(rng.choice([150, 200]))]
    # 400 generated reviews labelled, then 3 rounds of uncertainty queries from a pool of
    # 3000, one fit each (EarlyStopping, best checkpoint loaded back); batches of 32 (13-32
    # steps an epoch); healthy runs: test accuracy about 0.90, AUC about 0.95
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=2)


def space_keras_depth_estimation(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 1e-3)), "--filters", str(rng.choice([8, 12])),
            "--batch-size", str(rng.choice([16, 32]))]
    # 640 generated 32x32 scenes of a textured ground plane with boxes and discs, the depth
    # normalized to [0, 1]; a U-Net-like encoder-decoder in a model of its own train_step
    # (callback mode), the loss 0.85 (1 - SSIM)/2 + 0.1 L1 + 0.9 smoothness (no accuracy)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_pointnet_segmentation(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 4e-3)), "--batch-size", str(rng.choice([32, 40])),
            "--l2reg", str(rng.choice([0.001, 0.003]))]
    # part segmentation of 400 generated 256-point lamps (base, stem, shade) with a PointNet
    # (two T-Nets, the tiled global feature); 10-13 steps an epoch; healthy runs: held-out
    # per-point accuracy about 0.98-0.99, mean IoU about 0.96-0.98
    args += ["--epochs", str(rng.choice([10, 12])), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=3)


def space_keras_semantic_clustering(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--width", str(rng.choice([64, 96])),
            "--k", str(rng.choice([5, 10])), "--entropy-weight", str(rng.choice([3.0, 5.0]))]
    # SCAN on 1347 digits: a contrastive representation learner (not recorded), k nearest
    # neighbours, then the clustering learner (recorded; 11 steps an epoch, 20 epochs; no
    # accuracy in the trace, constant dummy targets); the result line's val_accuracy is the
    # held-out clustering accuracy after Hungarian matching (healthy runs: about 0.78-0.87)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_conv3d_volumes(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--filters", str(rng.choice([8, 16])),
            "--batch-size", str(rng.choice([16, 24]))]
    # 3D classification of 480 generated 16x16x16 CT-like volumes in Hounsfield units (nodule,
    # cavity, vessel), clipped to [-1000, 400] and scaled to [0, 1], with random flips and
    # quarter turns; Conv3D/MaxPool3D/BatchNormalization blocks, GlobalAveragePooling3D, Dense,
    # Dropout, softmax; 15-23 steps an epoch, 10 epochs; healthy runs: held-out accuracy about
    # 0.97-0.99
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=3)


def space_keras_keypoint_heatmaps(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--sigma", str(rng.choice([1.0, 1.5])),
            "--deconv-filters", str(rng.choice([32, 48]))]
    # keypoints of 1200 generated 32x32 stick-figure arms (shoulder, elbow, hand) as 16x16
    # Gaussian heatmaps under MSE, a conv encoder and a Conv2DTranspose decoder with linear
    # heatmap outputs; 30 steps an epoch, 12 epochs; no accuracy in the trace (the loss falls
    # to about a fifth of the all-zero heatmap's); healthy runs: held-out PCK@3px about
    # 0.90-0.95
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_espcn_superres(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)),
            "--filters", rng.choice(["32,32,16", "48,32,16"])]
    # ESPCN super-resolution (upscale 2) of 1000 generated 24x24 grey textures from their
    # 12x12 area-resized versions, conv layers with ReLU and orthogonal kernels, a DepthToSpace
    # pixel shuffle, MSE with Adam; 25 steps an epoch, 20 epochs; no accuracy in the trace;
    # healthy runs: the loss about 0.05 to 0.005 (predicting the mean image about 0.05),
    # held-out PSNR about 24.2-24.9 dB (bicubic upsampling 24.1-24.8 dB)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_learnable_resizer(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.03, 0.06)), "--filters", str(rng.choice([8, 16]))]
    # a learnable resizer (bilinear resize plus a residual conv stack with BatchNormalization
    # and LeakyReLU) from 32x32 to 16x16 in front of a small CNN, on the 1797 digits upsampled
    # as 0..255 images, SGD with momentum 0.9 and label smoothing 0.1; 45 steps an epoch, 15
    # epochs; healthy runs: held-out accuracy about 0.90-0.97 (the BatchNormalization moving
    # statistics make the validation accuracy lag the training accuracy in the first epochs)
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_mil_attention(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)),
            "--attention-dim", str(rng.choice([32, 64])),
            "--positive-rate", str(rng.choice([0.3, 0.4]))]
    # gated-attention multiple instance learning (Ilse et al. 2018) on 600 bags of 8 digits
    # (positive when a bag holds an 8), Dense embeddings, the attention-weighted sum and a
    # two-way softmax with the keras.io class weights; 19 steps an epoch, 20 epochs; healthy
    # runs end at a held-out bag accuracy of about 0.93-0.96 (validation loss 0.13-0.25)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_keras_eeg_conv1d(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--filters", str(rng.choice([16, 24]))]
    # a Conv1D/BatchNormalization classifier of 600 generated 2 s, 8-channel EEG trials in
    # microvolts (three actions: rest, left- and right-hand motor imagery), DC offsets removed
    # and standardized; 15 steps an epoch, 15 epochs; healthy runs end at a held-out accuracy
    # of about 0.95-0.99 (validation loss 0.10-0.17; chance 0.333)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=3)


def space_keras_triplet_siamese(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--dim", str(rng.choice([16, 32])),
            "--units", str(rng.choice([64, 96])), "--margin", rng.choice(["0.5", "1.0"])]
    if rng.random() < 0.3:
        args.append("--l2-normalize")
    # a Siamese CNN on triplets of the digits (2 per training anchor, 2694 triplets: 43 steps
    # an epoch of 64, 10 epochs) with the triplet loss max(ap - an + margin, 0) in its own
    # train_step; the accuracy is the fraction of triplets with ap < an (chance 0.5); healthy
    # runs end at a held-out triplet accuracy of about 0.96-0.99 (validation loss 0.007-0.04)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2)


def space_keras_adamatch(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--units", str(rng.choice([64, 96])),
            "--target-weight", rng.choice(["1", "3", "5"]), "--tau", rng.choice(["0.8", "0.9"])]
    # AdaMatch from the digits (898 labelled source images) to the other half shifted by one
    # pixel with noise 0.1 (674 unlabelled, 225 held out); 30 steps an epoch of 32 source and
    # 96 target images, 12 epochs; the loss is the two source views' cross-entropies summed
    # plus the warmed-up pseudo-label loss; healthy runs end at a held-out target accuracy of
    # about 0.77-0.82 (validation loss 0.58-0.81; chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_vit_boxes(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)),
            "--projection-dim", str(rng.choice([32, 48])), "--layers", str(rng.choice([1, 2]))]
    # the keras.io ViT object detector on 1600 generated 32x32 images of one disc or square on
    # a noisy background (16 patches of 8x8), regressing the box (x1, y1, x2, y2) / 32 under a
    # sigmoid with MSE; 50 steps an epoch at batches of 32, 20 epochs; healthy runs end at a
    # training MSE of about 0.005-0.006 (validation 0.0010-0.0021) and a held-out mean IoU of
    # about 0.64-0.72 (the mean training box 0.12-0.14; runs measured with 2 blocks); no accuracy
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "transformer")


def space_keras_consistency_training(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)),
            "--temperature", rng.choice(["2", "4"]),
            "--consistency-weight", rng.choice(["0.5", "1", "1"])]
    # a CNN student on 1347 training digits / 16 with the labelled cross-entropy on a strong
    # view plus the KL consistency to a frozen teacher's predictions on a weak view, in its own
    # train_step (the teacher trained first, 8 epochs); 22 steps an epoch at batches of 64, 15
    # epochs; healthy runs end at a held-out accuracy of about 0.93-0.95 (validation loss
    # 0.24-0.27; the training accuracy on the strong view 0.76-0.77; chance 0.1; runs
    # measured with a consistency weight of 1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_bayesian_nn(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 0.015)), "--batch-size", str(bs),
            "--units", str(rng.choice([16, 32]))]
    # make_friedman1 (2000 rows, noise 1.0): 1500 training rows, targets standardized; two
    # hand-written DenseVariational layers (KL / 1500 added with add_loss) and a Normal head
    # under the Gaussian NLL, RMSprop; 24 (47) steps an epoch at batches of 64 (32), 60 epochs;
    # healthy runs end at an NLL with KL of about 0.75-1.0 (validation 0.73-0.98) and a held-out
    # RMSE of the predictive mean of 1.4-1.8 against 4.7-4.9 for predicting the training mean
    args += ["--epochs", "60", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_simsiam(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.05, 0.2)), "--proj-dim", str(rng.choice([32, 64])),
            "--batch-size", str(rng.choice([64, 128]))]
    # 1437 training digits pre-trained without labels (the recorded phase, its own train_step;
    # 12 steps an epoch at batches of 128, 20 epochs, SGD with momentum 0.6 and a cosine
    # decay); the loss is the symmetrized negative cosine similarity (healthy runs fall from
    # -0.06 to -0.24 to -0.77 to -0.83), the val_accuracy a linear probe on 20 labelled digits
    # a class (healthy runs 0.77-0.85; the untrained backbone's probe reads 0.84-0.86)
    args += ["--epochs", "20", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_ziln_ltv(rng):
    bs = rng.choice([32, 64, 128])
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)), "--batch-size", str(bs),
            "--units", str(rng.choice([32, 64, 128]))]
    # 2250 generated training customers (about 45% return, their value lognormal around 50
    # dollars), 12 standardized features; the ZILN loss (BCE of returning plus the lognormal
    # NLL of the positive values) falls from 5.0-5.9 to 2.8-3.1 in the corpus's healthy runs
    # and fixed twins (36 steps an epoch at batches of 64, 20 epochs; held-out loss 3.03-3.22,
    # normalized Gini of the expected value 0.65-0.71, Spearman 0.50-0.54); no accuracy and no
    # mean predictor for a likelihood, so no baseline, as for pt_ddpm_swissroll
    args += ["--epochs", str(epochs_for(rng, 2250, bs, steps=(360, 1080), lo=15, hi=30)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_malstm_similarity(rng):
    bs = rng.choice([32, 64])
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)), "--batch-size", str(bs),
            "--units", str(rng.choice([32, 50, 64])),
            "--embed-dim", str(rng.choice([16, 32]))]
    # 2400 generated training sentence pairs (half paraphrases by synonym swaps and one
    # reordering), padded at the front to 12 tokens; 38 steps an epoch at batches of 64, 20
    # epochs; the corpus's healthy runs and fixed twins end at a held-out accuracy at 0.5 of
    # 0.997-1.0 (held-out BCE 0.043-0.050; chance 0.5)
    args += ["--epochs", str(epochs_for(rng, 2400, bs, steps=(400, 900), lo=10, hi=20)),
             "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=2)


def space_keras_tokenlearner_vit(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--tokens", str(rng.choice([4, 8])),
            "--projection-dim", str(rng.choice([32, 48])),
            "--batch-size", str(rng.choice([64, 64, 32]))]
    # 1438 training digits upsampled to 16x16 as uint8 images (16 patches of 4x4, pooled to 4
    # or 8 learned tokens after the middle of 4 blocks); 23 steps an epoch at batch 64, 25
    # epochs; healthy runs reach a validation accuracy of about 0.95-0.96 (loss 0.12-0.17)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_realnvp_density(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--couplings", str(rng.choice([4, 6])),
            "--units", str(rng.choice([32, 64]))]
    # RealNVP on 1600 standardized make_moons points (noise 0.05) in its own train_step; 13
    # steps an epoch, 80 epochs; the loss is a negative log-likelihood in nats (a standard
    # Gaussian 2.84), healthy runs end at a held-out NLL of about 1.4-1.75 (no accuracy)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "mlp")


def space_keras_cgan_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 8e-4, 1.2e-3))]
    # the keras.io conditional GAN on 1437 training digits scaled to [0, 1] with their one-hot
    # classes, in its own train_step; 45 steps an epoch at batches of 32, 30 epochs; the loss
    # is the discriminator's BCE (an adversarial objective); the val_accuracy is the share of
    # 1000 class-conditioned samples the fixed classifier assigns to the class asked for
    # (chance 0.1): healthy runs end at about 0.72-0.79 (seeds 0 to 2), though the condition
    # is learnt late and some seeds are still at 0.27 (seed 3) after 30 epochs
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10, chance=0.1)


def space_keras_qr_embeddings(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--dim", str(rng.choice([64, 64, 128]))]
    # a dot-product rating model with quotient-remainder item embeddings (2000 items, 45
    # buckets) on 160000 generated training ratings of 1..5 stars; 313 steps an epoch at
    # batches of 512, 10 epochs; MSE loss, no accuracy; healthy runs end at a validation MSE of
    # about 0.90-0.92 (held-out RMSE 0.95-0.96 stars; predicting the training mean 1.31-1.33)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_quasi_svm(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)),
            "--loss", rng.choice(["hinge", "squared_hinge"]),
            "--scale", rng.choice(["1.5", "2", "3"])]
    # a quasi-SVM: fixed random Fourier features (1024, Gaussian kernel, trainable scale) and a
    # linear Dense(10) under the hinge on one-hot targets, 1347 training digits / 16; 22 steps
    # an epoch at batches of 64, 20 epochs; healthy runs end at a held-out accuracy of about
    # 0.92-0.96 (validation hinge 0.08-0.13; chance 0.1; runs measured with a scale of 2)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_keras_endpoint_layer(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--units", str(rng.choice([64, 128]))]
    if rng.random() < 0.3:
        args.append("--balanced")
    # an MLP (two Dense relu layers and 10 logits) whose endpoint layer computes the sparse
    # cross-entropy with add_loss, fitted on a dict of 1347 training digits / 16, targets and
    # sample weights, compiled without a loss; 22 steps an epoch at batches of 64, 15 epochs;
    # healthy runs end at a held-out accuracy of about 0.95-0.97 (validation loss 0.12-0.17;
    # chance 0.1; runs measured at lr 1e-3)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_keras_nnclr(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)),
            "--queue-size", rng.choice(["512", "512", "1024"]),
            "--temperature", rng.choice(["0.1", "0.1", "0.2"])]
    # NNCLR pre-training (the recorded phase) on 1437 training digits upsampled to 16x16,
    # without labels: 11 steps an epoch at batches of 128 (the last partial batch dropped), 20
    # epochs; the InfoNCE loss of the projections' nearest neighbours in the support queue
    # starts at ln 128 (4.85) and healthy runs end at about 2.5; the result line's
    # val_accuracy is the linear probe's on 10 labelled digits a class: healthy runs 0.83-0.87
    # (a random encoder: 0.43; chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_cutmix(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--units", str(rng.choice([64, 128])),
            "--alpha", rng.choice(["0.25", "0.25", "1.0"])]
    # a small CNN on 1347 training digits upsampled to 16x16, every batch CutMix-ed from two
    # shuffled copies with the one-hot labels mixed by the box's area; 22 steps an epoch at
    # batches of 64, 20 epochs; categorical cross-entropy on the mixed labels (the training
    # loss stays near 0.9-1.1, the training accuracy 0.78-0.83); healthy runs end at a held-out
    # accuracy of about 0.97-0.98 (validation loss 0.17-0.19; chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_focalnet_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--dim", str(rng.choice([32, 48])),
            "--focal-level", rng.choice(["2", "2", "3"])]
    # a FocalNet (patch embedding, two focal modulation blocks with gated depthwise-convolution
    # contexts, AdamW) on 1347 training digits upsampled to 16x16; 22 steps an epoch at batches
    # of 64, 15 epochs (330 steps); the loss starts at about 2.35 and healthy runs end at a
    # training loss of 0.07-0.13 and a held-out accuracy of about 0.94-0.96 (validation loss
    # 0.16-0.22; chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_vit_spt_lsa(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--heads", rng.choice(["2", "4"]),
            "--layers", rng.choice(["1", "2", "2"])]
    # a Vision Transformer with Shifted Patch Tokenization and Locality Self-Attention on 1617
    # training digits upsampled to 16x16 (16 tokens of 4x4x5); 26 steps an epoch at batches
    # of 64, 20 epochs (520 steps), AdamW with a 10% warm-up and cosine decay; healthy runs
    # end at a held-out accuracy of about 0.97-0.99 (validation loss 0.02-0.05; chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_moco_queue(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--width", str(rng.choice([64, 128])),
            "--momentum", rng.choice(["0.99", "0.99", "0.995"])]
    # MoCo v2 pre-training (the recorded phase) on 1437 training digits (8x8, two views with a
    # shift, noise and a cutout), without labels: 12 steps an epoch at batches of 128, 20
    # epochs; the InfoNCE loss over the positive and a queue of 512 keys starts near ln 513
    # (6.0-6.24) and healthy runs end at 4.46-4.62 (held-out 3.4-4.3); the linear probe on
    # 20 labelled digits a class reaches 0.89-0.94 (a random encoder with batch norm: about
    # 0.9, so the probe says little; chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_patchconvnet(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--blocks", str(rng.choice([2, 3])),
            "--dim", str(rng.choice([32, 48]))]
    # 1600 generated 16x16 shape images (circle, square, triangle, cross; uint8, rescaled in
    # the model); 25 steps an epoch at batches of 64, 15 epochs, AdamW under a warmup-cosine
    # schedule; healthy runs end at a training loss of 0.014-0.023 and a validation accuracy
    # of 0.990-0.995 (validation loss 0.024-0.033; chance 0.25)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_keras_highway_mlp(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.04, 0.06)), "--depth", rng.choice(["16", "20"]),
            "--units", rng.choice(["50", "64"])]
    # a deep highway MLP (16-20 highway layers, gate bias -2) on a generated covertype-like
    # table (3000 training rows of 54 standardized features, 7 classes); 24 steps an epoch at
    # batches of 128, 20 epochs (480 steps), SGD with Nesterov momentum; healthy runs end at a
    # held-out accuracy of about 0.8-0.85 (validation loss 0.6-0.8; chance 0.14, ln 7 = 1.95)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=7)


def space_keras_deit_distill(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--dim", str(rng.choice([32, 48])),
            "--depth", str(rng.choice([2, 2, 3]))]
    # 1347 training digits upsampled to 16x16 (22 steps an epoch at batches of 64, 20 epochs);
    # a CNN teacher trained first (8 epochs, held-out 0.95-0.98) and frozen; the ViT student's
    # loss is the mean of its class head's cross-entropy with the labels and its distillation
    # head's with the teacher's argmax; healthy runs end at a training loss of 0.07-0.13 and a
    # held-out accuracy of the averaged heads of 0.92-0.96 (chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_perceiver_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--latents", str(rng.choice([16, 24])),
            "--dim", str(rng.choice([32, 48]))]
    # 1347 training digits as 64-pixel byte arrays with Fourier position features (22 steps an
    # epoch at batches of 64, 20 epochs); latents cross-attend to the bytes, a shared latent
    # transformer, two iterations; healthy runs end at a training loss of 0.13-0.24 and a
    # held-out accuracy of 0.83-0.91 (chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_edsr_superres(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--blocks", str(rng.choice([3, 4]))]
    # EDSR super-resolution (x2) of 800 textured 32x32 RGB patches of scikit-learn's two sample
    # photographs from their 16x16 area-resized versions, 0..255 in and out (Rescaling inside
    # the model), residual blocks without batch normalization with residual scaling 0.1, a
    # depth_to_space upsampler, MAE with Adam on a piecewise-constant schedule; 50 steps an
    # epoch, 12 epochs; no accuracy in the trace; healthy runs: the MAE about 27 to 11 (0..255
    # units), held-out PSNR about 30-31 dB (bicubic upsampling about 35 dB)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_cait_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 3e-3)), "--drop-path", str(rng.choice([0.0, 0.1]))]
    # a CaiT (patch embedding, 2 self-attention blocks with LayerScale 0.1 and stochastic
    # depth, 1 class-attention block) on the 1347 training digits upsampled to 16x16, AdamW;
    # 22 steps an epoch at batches of 64, 30 epochs; healthy runs: a training loss of about
    # 0.04-0.14 and a held-out accuracy of about 0.89-0.96 (chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_shiftvit_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--dim", str(rng.choice([16, 16, 24])),
            "--drop-path", rng.choice(["0.0", "0.1", "0.1"])]
    # 1437 training digits upsampled to 16x16 (23 steps an epoch at batches of 64, 30 epochs,
    # 690 steps); 2x2 patches, two stages of two shift blocks (an eighth of the channels
    # shifted each way, zero-filled), AdamW under a warm-up cosine schedule; healthy runs end
    # at a training loss of 0.06-0.07 and a held-out accuracy of 0.97-0.99 (chance 0.1)
    args += ["--epochs", "30", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_cyclegan_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-4, 3e-4))]
    # two unpaired domains of 718 training digits each at 16x16 (as drawn; thickened and
    # inverted), 23 steps an epoch at batches of 32, 15 epochs; the loss is gen_G's total
    # (least-squares adversarial, cycle x 10, identity x 5: an adversarial objective); the
    # val_accuracy is the share of translated held-out images a logistic-regression domain
    # classifier puts in the target domain (a copying generator: 0); healthy runs end at a
    # held-out cycle error of about 0.08 on the [0, 1] scale and a domain accuracy of 1.0
    args += ["--epochs", "15", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2, chance=0.5)


def space_keras_gan_ada_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-4, 3e-4))]
    # 300 training digits upsampled to 16x16 (1437 for the fixed judging classifier, 360
    # held out), 10 steps an epoch at batches of 32, 100 epochs; the loss is the
    # discriminator's non-saturating loss (an adversarial objective) with augmentation of
    # real and generated images at a probability adapted towards 0.85 real accuracy; the
    # val_accuracy is the share of 500 samples the fixed classifier recognises at 0.9;
    # healthy runs end with d_loss about 0.69, a Frechet distance to the held-out digits of
    # 8 to 11 (140 to 160 after the first epoch) and 22 to 36% recognised
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10, chance=0.1)


def space_keras_vgg_shapes(rng):
    opt = rng.choice(["sgd", "adam"])
    args = ["--optimizer", opt,
            "--lr", fmt(pick_lr(rng, opt, {"sgd": (5e-3, 2e-2), "adam": (5e-4, 2e-3)})),
            "--filters", str(rng.choice([8, 16])), "--units", str(rng.choice([32, 64]))]
    if rng.random() < 0.3:
        args += ["--no-batchnorm"]
    # 1500 generated 16x16 colour images of five shapes, validation_split 0.2 (300 held out),
    # 38 steps an epoch at batches of 32, 10 epochs (380 steps), ReduceLROnPlateau; healthy
    # runs end at a validation accuracy of 0.93 to 1.0 and a training loss of 0.02 to 0.07
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=5)


def space_keras_autorec_ratings(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)),
            "--hidden", str(rng.choice([100, 200, 300])),
            "--l2", fmt(log_uniform(rng, 3e-4, 3e-3))]
    # 240 users x 200 items generated from rank-2 factors and biases, 10% observed (about 4300
    # training and 470 held-out ratings), 13 steps an epoch at batches of 16 items, 60 epochs
    # (780 steps); the loss is the masked MSE of the observed ratings plus the L2 penalty;
    # healthy runs end at a held-out RMSE of 0.85 to 0.92 stars (the training mean: 1.18 to
    # 1.19) and a validation loss of 1.0 to 1.1
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "autoencoder")


def space_keras_dot_count_regression(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)),
            "--units", str(rng.choice([32, 64]))]
    # 3000 generated 16x16 grey images with 0 to 20 dots (600 held out), 94 steps an epoch at
    # batches of 32, 12 epochs (1128 steps), MSE on the count; healthy runs end at a held-out
    # MAE of 0.69 to 0.82 dots (predicting the mean count: 5.0 to 5.6) and a validation loss
    # of 0.9 to 1.2
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_deepfm_ctr(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)),
            "--k", str(rng.choice([4, 8, 16]))]
    # 20000 generated click rows of 8 categorical fields (5000 held out), 79 steps an epoch at
    # batches of 256, 10 epochs (790 steps), binary cross-entropy; healthy runs end at a
    # held-out AUC of 0.76 to 0.78 and a log-loss of 0.45 to 0.47 (the click rate: 0.54 to
    # 0.55), validation accuracy 0.79 to 0.80
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_keras_xception_scratch(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)),
            "--batch-size", str(rng.choice([32, 48]))]
    # 1200 drawn 24x24 RGB images of two classes (disc with ears, square with a snout; 400
    # held out), 38 steps an epoch at batches of 32, 8 epochs (304 steps), binary
    # cross-entropy on logits; healthy runs end at a held-out accuracy of 0.78 to 0.92 (chance
    # 0.50 to 0.52) and a validation loss of 0.19 to 0.53
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2)


def space_keras_listwise_ranking(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 4e-3)),
            "--units", str(rng.choice([32, 64]))]
    # 600 generated queries of 10 to 16 documents (padded to 16) with 12 features and grades
    # 0-4 (200 held out), 19 steps an epoch at batches of 32, 20 epochs (380 steps), the
    # ListNet softmax cross-entropy; healthy runs end at a held-out NDCG@5 of 0.90 to 0.95
    # (random scores 0.48 to 0.66) and a validation loss of 2.40 to 2.50
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp")


def space_keras_dual_encoder_retrieval(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)),
            "--proj", str(rng.choice([32, 64])),
            "--temperature", rng.choice(["0.05", "0.05", "0.1"])]
    # 3000 generated 16x16 colour images of one or two shapes with token captions (600 held
    # out), 47 steps an epoch at batches of 64, 12 epochs (564 steps); the contrastive loss
    # of the Keras dual-encoder example (soft targets from the in-modality similarities)
    # starts near ln 64 (3.9-4.3) and healthy runs end at 0.63-0.76 (held-out 0.63-0.76),
    # held-out top-1 text-to-image retrieval 0.95-1.0 (a random pick: about 0.02)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=64)


def space_keras_structured_preprocessing(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 2e-3)),
            "--units", str(rng.choice([32, 64]))]
    # 2000 generated heart-disease-like records (500 held out; six numeric columns up to
    # thousands through adapted Normalization layers, six integer and one string categorical
    # column one-hot), 63 steps an epoch at batches of 32, 15 epochs (945 steps), binary
    # cross-entropy; healthy runs end at a held-out accuracy of 0.81 to 0.82, AUC 0.89 to
    # 0.91 and a validation loss of 0.38 to 0.43
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2)


def space_keras_textvec_bilstm(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)),
            "--units", str(rng.choice([16, 24]))]
    # 2000 generated reviews of 6 to 20 words (400 held out) through a TextVectorization
    # adapted on the training texts (200 tokens, 20 ids), an Embedding and a
    # Bidirectional(LSTM), 25 steps an epoch at batches of 64, 12 epochs (300 steps), binary
    # cross-entropy; healthy runs end at a held-out accuracy of 0.91 to 1.00 and a validation
    # loss of 0.001 to 0.15 (chance 0.5, loss ln 2)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=2)


def space_keras_mel_keywords(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)),
            "--batch-size", str(rng.choice([32, 48]))]
    # 1200 generated 0.5 s 4 kHz clips of 6 tone/chirp keywords, zero-padded (240 held out),
    # a log-mel spectrogram (32 bands) computed in the model, an adapted Normalization and a
    # two-layer Conv2D/BatchNormalization CNN, 30 steps an epoch at batches of 32 (20 at 48),
    # 8 epochs (240 or 160 steps), sparse categorical cross-entropy; healthy runs end at a
    # held-out accuracy of 0.79 to 0.89 and a validation loss of 0.49 to 0.59 (chance 0.167)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=6)


def space_keras_mdn_regression(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 6e-3)),
            "--mixes", str(rng.choice([5, 8]))]
    # 1500 generated points of Bishop's inverse problem (x = t + 0.3 sin(2 pi t) + noise,
    # predict t; 300 held out), Dense 32-32 (tanh) into an MDN layer (means, elu + 1 standard
    # deviations, softmax weights), the mixture NLL with log-sum-exp, 10 steps an epoch at
    # batches of 128, 30 epochs (300 steps); healthy runs end at a held-out NLL of -0.64 to
    # -0.95 (the marginal density: 0) and an MAE of the most likely mean of 0.19 to 0.23
    # (predicting the mean target: 0.23 to 0.26)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_ncf_movies(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-3, 1.5e-2))]
    # 6000 generated ratings of 300 users and 200 movies (10% of the matrix, 600 held out),
    # RecommenderNet (8-dimensional user and movie embeddings and biases, sigmoid of the dot
    # product plus biases), binary cross-entropy on ratings scaled to [0, 1], 43 steps an epoch
    # at batches of 128, 8 epochs (344 steps); healthy runs end at a validation loss of 0.58 to
    # 0.62 and a held-out RMSE of 0.74 to 0.78 stars (predicting the training mean: 0.91 to
    # 0.99)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_ordinal_coral(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 5e-3)), "--units", str(rng.choice([32, 64]))]
    # 1500 generated wine-quality-like rows (10 columns standardized, 6 ordered grades cut from
    # a noisy latent score, 375 held out), two Dense layers and a CoralOrdinal layer (one
    # shared weight vector, 5 biases), the levels' binary cross-entropies summed, 36 steps an
    # epoch at batches of 32, 20 epochs (720 steps); healthy runs end at a held-out MAE of 0.52
    # to 0.55 grades and an exact-grade accuracy of 0.51 to 0.53 (the commonest grade: 0.97 and
    # 0.331); the latent noise caps the exact-grade accuracy below the filter's bar (0.73)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=6, chance=0.331,
                  accuracy_key="val_grade_accuracy")


def space_keras_multimodal_ticket(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 7e-3)), "--units", str(rng.choice([16, 24])),
            "--dept-weight", rng.choice(["0.5", "1.0"])]
    # 2000 generated tickets (title of 3 to 8 word ids, body of 15 to 40, 12 binary tags; 400
    # held out), Embedding + LSTM per text input, the tags concatenated, a sigmoid priority head
    # and a 4-way softmax department head, 50 steps an epoch at batches of 32, 8 epochs (400
    # steps); healthy runs end at a held-out department accuracy of 0.885 to 0.95 and a
    # priority accuracy of 0.92 to 0.95 (the commonest department: 0.27 to 0.28)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4,
                  accuracy_key="val_department_accuracy")


def space_keras_music_rnn(rng):
    args = ["--lr", fmt(log_uniform(rng, 3e-3, 6e-3)), "--units", str(rng.choice([96, 128]))]
    # 56 generated renditions of 8 tunes (160 notes of pitch, step and duration; 12 held out),
    # the music-generation tutorial's LSTM over 25-note windows with a 128-way pitch head
    # (from logits) and step and duration heads (MSE with positive pressure), loss weights
    # 0.05, 1, 1, 92 steps an epoch at batches of 64, 16 epochs (1472 steps); healthy runs end
    # at a held-out pitch accuracy of 0.30 to 0.67 (the commonest pitch: 0.055 to 0.148) and a
    # step MSE of 0.003 to 0.005 (the step variance: 0.053 to 0.068); the pitch, read from one
    # input scaled by 1/128, is learned slowly, and most healthy runs stay below the filter's
    # bar (0.64)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=128, chance=0.1,
                  accuracy_key="val_pitch_accuracy")


def space_keras_feedback_forecaster(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)), "--units", str(rng.choice([32, 48, 64]))]
    # 140 days of generated hourly weather (temperature, pressure, humidity, wind, day sin and
    # cos; 70% train, 20% validation), standardized, the time-series tutorial's autoregressive
    # FeedBack LSTM (warm-up over 24 hours, 24 hours forecast by feeding each prediction
    # back), MSE, 73 steps an epoch at batches of 32, up to 20 epochs with early stopping
    # (patience 3: 7 to 14 epochs, 500 to 1000 steps); healthy runs end at a validation MAE of
    # 0.32 to 0.40 in standardized units (repeating the input day: 0.38 to 0.50, the last hour:
    # 0.89 to 1.04) and a temperature MAE of 1.06 to 1.25 degC
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "lstm")


def space_keras_vivit_clips(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 1.5e-3)), "--heads", str(rng.choice([2, 4])),
            "--layers", str(rng.choice([1, 2]))]
    # 960 generated clips of 8 frames of 8x8 (uint8, scaled to [0, 1] in the tf.data map), a
    # blob moving in one of 6 directions, each position held two frames; a Conv3D tubelet
    # embedding (2x2x2, 64 tokens of 32), a position Embedding, 1-2 transformer blocks, AdamW,
    # 30 steps an epoch at batches of 32, 6 epochs (180 steps); healthy runs end at a
    # validation accuracy of 0.94 to 0.99 (lr 5e-4 and one block: 0.954; chance 0.167)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=6)


def space_keras_word2vec_negsampling(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2e-3)),
            "--embedding-dim", str(rng.choice([32, 64])),
            "--window-size", str(rng.choice([2, 3]))]
    # 3000 generated sentences of six topics (82 words with padding and [UNK]), skip-gram pairs
    # with 4 log-uniform negatives each (22000 to 31000 examples), batches of 1024 (21 to 29
    # steps an epoch), 20 epochs; the validation accuracy of picking the positive levels off at
    # 0.63 to 0.66 (chance 0.2; more than half of the positives are function words, which
    # occur near every word, as are many log-uniform negatives), so runs are judged on the
    # content words' nearest-neighbour topic purity: healthy runs 0.89 to 1.00 (lr 2e-3 and 64
    # dimensions: 0.894), chance about 0.155 (11 of the other 71 content words share a topic)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=5, chance=0.155,
                  accuracy_key="neighbour_purity")


def space_keras_vib_classifier(rng):
    args = ["--lr", fmt(log_uniform(rng, 5e-4, 1.5e-3)), "--k", str(rng.choice([16, 32])),
            "--hidden", str(rng.choice([128, 256]))]
    # scikit-learn's digits (pixels / 16, 450 held out), a Deep VIB classifier: Dense 2 x
    # hidden (relu) into a mean and a softplus(raw - 5) standard deviation head, a Sampling
    # layer adding beta = 1e-3 times the KL to N(0, I), a linear softmax decoder; Adam
    # (beta_1 0.5, decayed by 0.97 every two epochs), 14 steps an epoch at batches of 100, 40
    # epochs (560 steps); healthy runs end at a held-out accuracy of 0.971 to 0.978 with one
    # encoding drawn per image and 0.978 to 0.987 averaged over 12, a rate of 31 to 43 nats
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=10)


def space_keras_lista_sparse(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 3e-3)),
            "--iterations", str(rng.choice([3, 5, 8]))]
    # 7000 generated noisy signals of a fixed random dictionary (64 unit-norm atoms in 32
    # dimensions, Bernoulli-Gaussian codes, 1000 held out), targets the optimal lasso codes
    # from 1000 ISTA iterations; one LISTA layer (W_e, S and thresholds shared over T + 1
    # soft-threshold steps), MSE, 47 steps an epoch at batches of 128, 20 epochs (940 steps);
    # healthy runs end at a held-out NMSE of -11.5 dB (T = 3) to -13.2 dB (T = 8), -12.4 to
    # -12.7 dB at T = 5, where ISTA stopped after T + 1 iterations reaches -3.2 to -4.6 dB
    # and predicting zero codes 0 dB
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "regression", "regression")


def space_keras_asr_transformer(rng):
    hid = rng.choice([48, 64])
    args = ["--lr", fmt(log_uniform(rng, 4e-4, 6e-4)), "--num-hid", str(hid),
            "--ff", str(2 * hid), "--heads", str(rng.choice([2, 4]))]
    # 2000 generated 0.8 s 8 kHz utterances of 2- to 5-letter words (each letter a tone at its
    # own frequency, 16-bit counts, 400 held out), log-magnitude STFTs standardized per bin
    # with the training frames' statistics, the keras.io ASR Transformer (three strided Conv1D,
    # 2 encoder layers, a causal decoder with cross-attention, its own train_step), Adam under
    # the example's warm-up/linear-decay CustomSchedule, 25 steps an epoch at batches of 64, 15
    # epochs (375 steps); healthy runs end at a greedy-decoding character accuracy of 0.876 to
    # 0.972 on the held-out words (CER 0.03 to 0.11; num_hid 48 and 4 heads: 0.925), where
    # runs that stay on the early loss plateau near 1.45 reach 0.11 to 0.19
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=8, chance=0.125)


def space_keras_resnext_shapes(rng):
    args = ["--lr", fmt(log_uniform(rng, 0.08, 0.12)),
            "--cardinality", str(rng.choice([4, 8]))]
    # 2400 generated 16x16 RGB images of 8 shapes (uint8, rescaled in the model, 480 held
    # out), a ResNeXt of three grouped bottleneck blocks (widths 16, 32, 64; each group a Conv2D
    # on a Lambda slice), BatchNormalization with each block's last gamma at zero, L2 5e-4,
    # horizontal flips, SGD with Nesterov momentum under CosineDecay, 30 steps an epoch at
    # batches of 64, 12 epochs (360 steps); healthy runs end at a validation accuracy of 0.935
    # (cardinality 8) to 0.977 (chance 0.125) and a loss of 0.52 to 0.55, most of it the L2
    # penalty
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=8)


def space_keras_smiles_vae(rng):
    args = ["--lr", fmt(log_uniform(rng, 2.5e-3, 3.5e-3)),
            "--latent", str(rng.choice([24, 32])), "--kl-warmup", str(rng.choice([3, 5]))]
    # 2000 generated SMILES-like strings (a first atom, 2 to 4 of 17 fragments with branches
    # and rings, an ending; one-hot over 11 characters, padded to 20; 500 held out), the
    # chemical_vae-style VAE (Conv1D encoder, RepeatVector + two GRUs, the KL as a model output
    # of its own with weight 0.1, annealed from 0), 63 steps an epoch at batches of 32, 20
    # epochs (1260 steps); the result line's val_accuracy is the share of the held-out strings'
    # characters decoded right from z_mean: healthy runs end at 0.63 to 0.72 (the per-position
    # majority character: 0.34 to 0.35; the space's first two draws 0.673 and 0.674) with 0.39
    # to 0.51 of the strings decoded from the prior grammatical; the decoder is still learning
    # at 20 epochs and the healthy runs stay below the filter's bar (0.74)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "autoencoder", classes=11, chance=0.35)


def space_keras_efficientnet_tiny(rng):
    bs = rng.choice([32, 64])
    lr = log_uniform(rng, *{32: (3e-3, 5e-3), 64: (5e-3, 7e-3)}[bs])
    args = ["--lr", fmt(lr), "--batch-size", str(bs),
            "--drop-connect", str(rng.choice([0.2, 0.3])), "--dropout", str(rng.choice([0.2, 0.3]))]
    # 2400 generated 32x32 uint8 images of 8 classes (4 shapes x 2 textures, 600 held out), a
    # tiny EfficientNet as keras.applications builds it (stem, six MBConv blocks with
    # squeeze-and-excitation and drop-connect, 51 layers with weights), RMSprop under
    # ExponentialDecay, label smoothing 0.1; 12 epochs of 75 steps at batches of 32 or 15 of
    # 38 at 64; healthy runs end at a validation accuracy of 0.945 to 0.962 unrecorded (lr 4e-3
    # at 32, 6e-3 at 64 with drop-connect 0.3, and the space's first two draws), 0.93 to 0.96
    # recorded (chance 0.125)
    args += ["--epochs", str({32: 12, 64: 15}[bs]), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=8)


def space_keras_melgan_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)), "--fm-weight", rng.choice(["10", "25"])]
    # 640 generated 1024-sample tones at 4 kHz (log-mel input, 32 frames of 32 bands), random
    # 512-sample segments, batches of 16 (40 steps an epoch), 16 epochs; a MelGAN with a
    # two-scale discriminator in a custom train_step (callback mode); the loss is the
    # generator's least-squares adversarial plus feature-matching total, an adversarial
    # objective that rises as the discriminator's features grow (0.74-1.40 in the first epoch,
    # 1.6-3.2 in the 16th); no accuracy; healthy runs end at a held-out mel L1 of 0.487 to 0.563
    # (log10 units; the untrained generator 0.86-0.93) and a spectral convergence of 0.72 to
    # 0.94 (before training 1.36-2.34), unrecorded and recorded alike (lr 1e-3 with weight 10,
    # seeds 1 to 3; weight 25, seed 4); the space's first two draws, unrecorded: 0.514 and 0.544,
    # spectral convergence 0.84 and 0.82
    args += ["--epochs", "16", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_tlb_sequences(rng):
    n_layers = rng.choice([1, 2])
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 2e-3)), "--layers", str(n_layers),
            "--dim", str(rng.choice([32, 48]))]
    # 1347 training digits as sequences of 16 2x2 patches in 4 chunks of 4, 43 steps an epoch at
    # batches of 32; a Temporal Latent Bottleneck model (a fast Transformer stream per chunk,
    # 4 slow latents updated once per chunk) under AdamW; healthy runs end at a validation
    # accuracy of 0.938 and 0.953 (two perceptual layers, 10 epochs, seeds 1 and 2) and 0.973
    # (one layer, 14 epochs, seed 3), unrecorded and recorded alike, 0.944 unrecorded (dim 48,
    # seed 3), and the space's first two draws 0.958 and 0.916 unrecorded (chance 0.1)
    args += ["--epochs", str({1: 14, 2: 10}[n_layers]), "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_mirnet_lowlight(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--channels", str(rng.choice([12, 16]))]
    # 320 generated 32x32 low-light scenes, 20 steps an epoch at batches of 16; a small MIRNet
    # (one multi-scale residual block, selective kernel fusion, dual attention units, global
    # residual) under Adam on a cosine decay, Charbonnier loss; healthy runs end at a held-out
    # PSNR of 23.18, 24.30 and 23.77 dB (seeds 1 and 2 at 2e-3, seed 3 at 3e-3), unrecorded and
    # recorded alike (the low-light input about 7.5 dB)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "regression", "cnn")


def space_keras_gcvit_tiny(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--heads", str(rng.choice([2, 4]))]
    # 1347 training digits enlarged to 32x32, 22 steps an epoch at batches of 64; a tiny Global
    # Context ViT (local window and global-query attention, relative position bias) under AdamW
    # with warm-up and cosine decay; healthy runs end at a validation accuracy of 0.976 (seed 1,
    # 15 epochs), 0.962, 0.942 and 0.964 (seeds 1 to 3, 10 epochs) and 0.978 (4 heads, seed 4),
    # unrecorded and recorded alike (chance 0.1)
    args += ["--epochs", "10", "--seed", str(rng.randrange(10))]
    return Config(args, "classification", "transformer", classes=10)


def space_keras_xdeepfm_ctr(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)), "--emb", str(rng.choice([8, 12])),
            "--cin", rng.choice(["16,16", "24,24"])]
    # 8000 generated ad impressions (6 sparse fields, 3 dense ones standardized; 1600 held out,
    # about 24% clicks), xDeepFM (linear part, CIN, DNN) under binary cross-entropy and Adam, 25
    # steps an epoch at batches of 256, 20 epochs (500 steps); healthy runs end at a held-out AUC
    # of 0.815 (seeds 1 and 3) and 0.811 (12-dimensional embeddings, CIN of 24 maps, seed 2),
    # validation accuracy 0.80 to 0.81 (always "no click": about 0.76), judged on the AUC
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "mlp", classes=2, accuracy_key="val_auc")


def space_keras_lstm_fcn(rng):
    args = ["--lr", fmt(log_uniform(rng, 7e-4, 1.5e-3)),
            "--lstm-units", str(rng.choice([8, 16])), "--batch-size", str(rng.choice([32, 64]))]
    # 1200 generated pressure-sensor traces of 128 samples (each z-normalized; 300 held out),
    # four event classes at random times, an LSTM-FCN (LSTM on the unpermuted input with
    # dropout 0.8 beside three Conv1D + BatchNormalization blocks and global average pooling),
    # categorical cross-entropy, Adam with ReduceLROnPlateau, 15 steps an epoch at batches of
    # 64 (29 at 32), 30 epochs; healthy runs end at a validation accuracy of 0.983, 0.997 and
    # 0.997 (seeds 1 to 3) and 0.993 (16 LSTM units, batches of 32, seed 4) (chance 0.25)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=4)


def space_keras_efficient_capsnet_digits(rng):
    args = ["--lr", fmt(log_uniform(rng, 1e-3, 2.5e-3))]
    # 1437 training digits at 8x8 (360 held out), 45 steps an epoch at batches of 32, 10 epochs
    # (450 steps); Efficient-CapsNet (four convolutions with BatchNormalization, depthwise
    # primary capsules, self-attention routing to ten 16-D capsules) under the margin loss plus
    # 0.0005 times the masked reconstruction's squared error, Adam; healthy runs end at a
    # validation accuracy of 0.997 (seed 1), 0.989 (seed 3) and 0.994 (Adam at 1e-3, seed 2),
    # unrecorded and recorded alike (chance 0.1)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=10)


def space_keras_idcnn_crf_ner(rng):
    args = ["--lr", fmt(log_uniform(rng, 1.5e-3, 3e-3)),
            "--iterations", str(rng.choice([2, 3])), "--batch-size", str(rng.choice([16, 32]))]
    # 1600 generated news sentences of 5 to 18 words padded to 24 (400 held out), BIO tags of
    # PER, ORG and LOC, an iterated dilated CNN (dilations 1, 2, 4, the block shared and
    # applied 2 or 3 times) with a linear-chain CRF whose negative log-likelihood the model's
    # own train_step computes, Adam with clipnorm 5, 38 steps an epoch at batches of 32 (75 at
    # 16), 10 epochs; healthy runs end at a validation tag accuracy and entity F1 of 1.000
    # (seeds 1 and 3; three iterations, batches of 16, seed 2) (tagging O everywhere: 0.57 to
    # 0.58)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=7, chance=0.58)


def space_keras_attention_unet(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 3e-3)), "--filters", str(rng.choice([8, 12]))]
    # 800 generated 32x32 scenes (one or two discs among squares and crosses, 300 held out),
    # an Attention U-Net (three levels, additive attention gates on the skips), binary
    # cross-entropy plus Dice, Adam, 50 steps an epoch at batches of 16, 8 epochs (400 steps);
    # healthy runs end at a validation Dice of 0.835 to 0.871 and IoU of 0.76 to 0.82 (12
    # filters at 2e-3, seed 3: 0.864) and a pixel accuracy of 0.974 to 0.984; the accuracy is
    # per pixel, about 91% of the pixels are background
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "cnn", classes=2, chance=0.91)


def space_keras_selfattentive_documents(rng):
    args = ["--lr", fmt(log_uniform(rng, 2e-3, 4e-3)), "--hops", str(rng.choice([2, 4])),
            "--units", str(rng.choice([24, 32])), "--penalty", rng.choice(["0.1", "0.3"])]
    # 2000 generated documents of 20 to 40 tokens padded to 40 (500 held out), the class set
    # by one tone word and one topic word among filler, a BiLSTM with structured
    # self-attention (r hops, the ||AA^T - I|| penalization), Adam with clipnorm 0.5, 30 steps
    # an epoch at batches of 50, 10 epochs (300 steps); healthy runs end at a validation
    # accuracy of 0.998 to 1.000 (2 hops, 24 units, penalization 0.3, seed 3: 1.000)
    args += ["--seed", str(rng.randrange(10))]
    return Config(args, "classification", "lstm", classes=4)


SPACES = {
    "keras_aug_digits": space_keras_aug_digits,
    "keras_cancer_ae_nesterov": space_keras_cancer_ae_nesterov,
    "keras_churn_embed": space_keras_churn_embed,
    "keras_cnn": space_keras_cnn,
    "keras_conv1d_text": space_keras_conv1d_text,
    "keras_conv_dae": space_keras_conv_dae,
    "keras_convlstm_dots": space_keras_convlstm_dots,
    "keras_custom_layers": space_keras_custom_layers,
    "keras_custom_train_step": space_keras_custom_train_step,
    "keras_digits_functional_adamw": space_keras_digits_functional_adamw,
    "keras_adagrad_smooth": space_keras_adagrad_smooth,
    "keras_bilstm_attention": space_keras_bilstm_attention,
    "keras_conv1d_transpose_ae": space_keras_conv1d_transpose_ae,
    "keras_densenet_digits": space_keras_densenet_digits,
    "keras_siamese_contrastive": space_keras_siamese_contrastive,
    "keras_selu_snn": space_keras_selu_snn,
    "keras_vae_digits": space_keras_vae_digits,
    "keras_conv_lstm_batches": space_keras_conv_lstm_batches,
    "keras_stateful_gru": space_keras_stateful_gru,
    "keras_avg_ensemble": space_keras_avg_ensemble,
    "keras_gn_cosine_digits": space_keras_gn_cosine_digits,
    "keras_addition_rnn": space_keras_addition_rnn,
    "keras_distiller": space_keras_distiller,
    "keras_msle_prices": space_keras_msle_prices,
    "keras_multilabel_auc": space_keras_multilabel_auc,
    "keras_maxnorm_digits": space_keras_maxnorm_digits,
    "keras_diabetes_logcosh": space_keras_diabetes_logcosh,
    "keras_fasttext_topics": space_keras_fasttext_topics,
    "keras_focal_fraud": space_keras_focal_fraud,
    "keras_functional_gru": space_keras_functional_gru,
    "keras_gradtape_loop": space_keras_gradtape_loop,
    "keras_lion_resmlp": space_keras_lion_resmlp,
    "keras_lstm_text": space_keras_lstm_text,
    "keras_masked_bilstm": space_keras_masked_bilstm,
    "keras_matfact_recsys": space_keras_matfact_recsys,
    "keras_mha_activity": space_keras_mha_activity,
    "keras_mlp": space_keras_mlp,
    "keras_nesterov_generator": space_keras_nesterov_generator,
    "keras_norm_huber": space_keras_norm_huber,
    "keras_poisson_rentals": space_keras_poisson_rentals,
    "keras_pretrained_multitask": space_keras_pretrained_multitask,
    "keras_pydataset_transformer": space_keras_pydataset_transformer,
    "keras_resnet_shapes": space_keras_resnet_shapes,
    "keras_rnn": space_keras_rnn,
    "keras_sensor_ae": space_keras_sensor_ae,
    "keras_sensor_conv1d": space_keras_sensor_conv1d,
    "keras_stacked_rnn_sensors": space_keras_stacked_rnn_sensors,
    "keras_seq_augment": space_keras_seq_augment,
    "keras_shape_seg": space_keras_shape_seg,
    "keras_so_tabular": space_keras_so_tabular,
    "keras_subclassed_cnn": space_keras_subclassed_cnn,
    "keras_td_video": space_keras_td_video,
    "keras_tfdata_sepcnn": space_keras_tfdata_sepcnn,
    "keras_ticket_bigru": space_keras_ticket_bigru,
    "keras_two_head_cars": space_keras_two_head_cars,
    "keras_two_tower_energy": space_keras_two_tower_energy,
    "keras_weighted_tabular": space_keras_weighted_tabular,
    "keras_wide_deep": space_keras_wide_deep,
    "keras_wavenet_seasonal": space_keras_wavenet_seasonal,
    "keras_window_forecast": space_keras_window_forecast,
    "pt_autoencoder": space_pt_autoencoder,
    "pt_bag_topics": space_pt_bag_topics,
    "pt_binarized_digits": space_pt_binarized_digits,
    "pt_bilstm_tagger": space_pt_bilstm_tagger,
    "pt_char_lm": space_pt_char_lm,
    "pt_coral_wine": space_pt_coral_wine,
    "pt_dcn_ctr": space_pt_dcn_ctr,
    "pt_wnorm_friedman": space_pt_wnorm_friedman,
    "pt_handrolled_moons": space_pt_handrolled_moons,
    "pt_ctc_digits_gru": space_pt_ctc_digits_gru,
    "pt_triplet_digits": space_pt_triplet_digits,
    "pt_ddpm_swissroll": space_pt_ddpm_swissroll,
    "pt_prune_digits": space_pt_prune_digits,
    "pt_simclr_digits": space_pt_simclr_digits,
    "pt_pixshuf_sr": space_pt_pixshuf_sr,
    "pt_ckpt_resmlp": space_pt_ckpt_resmlp,
    "pt_distmult_kg": space_pt_distmult_kg,
    "keras_char_lm_rmsprop": space_keras_char_lm_rmsprop,
    "keras_date_attention": space_keras_date_attention,
    "keras_unet1d_denoise": space_keras_unet1d_denoise,
    "pt_pinn_oscillator": space_pt_pinn_oscillator,
    "pt_ncf_implicit": space_pt_ncf_implicit,
    "pt_erase_smooth_digits": space_pt_erase_smooth_digits,
    "keras_mixed_precision_digits": space_keras_mixed_precision_digits,
    "keras_ts_transformer_huber": space_keras_ts_transformer_huber,
    "keras_friedman3_tfdata": space_keras_friedman3_tfdata,
    "keras_grn_tabular": space_keras_grn_tabular,
    "keras_se_mobile_digits": space_keras_se_mobile_digits,
    "keras_featurespace_churn": space_keras_featurespace_churn,
    "keras_gc_sgd_diabetes": space_keras_gc_sgd_diabetes,
    "keras_mcdrop_gnll": space_keras_mcdrop_gnll,
    "keras_indrnn_cell": space_keras_indrnn_cell,
    "keras_mixup_restarts": space_keras_mixup_restarts,
    "keras_two_phase_finetune": space_keras_two_phase_finetune,
    "keras_quantile_pinball": space_keras_quantile_pinball,
    "pt_digits_splitset": space_pt_digits_splitset,
    "pt_pretrain_finetune": space_pt_pretrain_finetune,
    "pt_cnn": space_pt_cnn,
    "pt_config_mlp": space_pt_config_mlp,
    "pt_conv1d_ae_anomaly": space_pt_conv1d_ae_anomaly,
    "pt_distill": space_pt_distill,
    "pt_dpsgd_cancer": space_pt_dpsgd_cancer,
    "pt_entity_embed": space_pt_entity_embed,
    "pt_functional_wine": space_pt_functional_wine,
    "pt_gn_digits_aug": space_pt_gn_digits_aug,
    "pt_gan_ring": space_pt_gan_ring,
    "pt_gce_noisy_digits": space_pt_gce_noisy_digits,
    "pt_gcn_sbm": space_pt_gcn_sbm,
    "pt_gru_forecast": space_pt_gru_forecast,
    "pt_hetero_gnll": space_pt_hetero_gnll,
    "pt_inception_time": space_pt_inception_time,
    "pt_nn_transformer_sort": space_pt_nn_transformer_sort,
    "pt_wrs_imbalanced": space_pt_wrs_imbalanced,
    "pt_lightning_gru_text": space_pt_lightning_gru_text,
    "pt_stft_keywords": space_pt_stft_keywords,
    "pt_nbeats_forecast": space_pt_nbeats_forecast,
    "pt_box_localize": space_pt_box_localize,
    "pt_kim_textcnn": space_pt_kim_textcnn,
    "pt_lstm_seqae": space_pt_lstm_seqae,
    "pt_lstmcell_unroll": space_pt_lstmcell_unroll,
    "pt_lbfgs_cancer": space_pt_lbfgs_cancer,
    "pt_lightning_cnn": space_pt_lightning_cnn,
    "pt_mlp": space_pt_mlp,
    "pt_mdn_inverse": space_pt_mdn_inverse,
    "pt_mean_teacher_digits": space_pt_mean_teacher_digits,
    "pt_mil_gated_digits": space_pt_mil_gated_digits,
    "pt_mixup_onecycle": space_pt_mixup_onecycle,
    "pt_mobilenet_digits": space_pt_mobilenet_digits,
    "pt_moe_gate": space_pt_moe_gate,
    "pt_motif_lstm": space_pt_motif_lstm,
    "pt_multilabel_tags": space_pt_multilabel_tags,
    "pt_multitask_sgd": space_pt_multitask_sgd,
    "pt_ode_packed_gru": space_pt_ode_packed_gru,
    "pt_pointcloud_sets": space_pt_pointcloud_sets,
    "pt_poisson_counts": space_pt_poisson_counts,
    "pt_prelu_digits": space_pt_prelu_digits,
    "pt_quantile_delivery": space_pt_quantile_delivery,
    "pt_ranknet_pairs": space_pt_ranknet_pairs,
    "pt_realnvp_moons": space_pt_realnvp_moons,
    "pt_reinforce_bandit": space_pt_reinforce_bandit,
    "pt_resmlp": space_pt_resmlp,
    "pt_rnn": space_pt_rnn,
    "pt_seq2seq_reverse": space_pt_seq2seq_reverse,
    "pt_seq_accum": space_pt_seq_accum,
    "pt_seqcls_collate": space_pt_seqcls_collate,
    "pt_sig1d_resnet": space_pt_sig1d_resnet,
    "pt_siamese_digits": space_pt_siamese_digits,
    "pt_signal_regression": space_pt_signal_regression,
    "pt_specnorm_plateau": space_pt_specnorm_plateau,
    "pt_swa_diabetes": space_pt_swa_diabetes,
    "pt_tabtrain": space_pt_tabtrain,
    "pt_tabular_modules": space_pt_tabular_modules,
    "pt_tconv_ae_digits": space_pt_tconv_ae_digits,
    "pt_tcn_forecast": space_pt_tcn_forecast,
    "pt_tiny_gpt": space_pt_tiny_gpt,
    "pt_transformer": space_pt_transformer,
    "pt_unet_blobs": space_pt_unet_blobs,
    "pt_vae_digits": space_pt_vae_digits,
    "pt_vit_digits": space_pt_vit_digits,
    "pt_wave_bf16": space_pt_wave_bf16,
    "keras_glove_frozen_conv": space_keras_glove_frozen_conv,
    "keras_shapes_aug_nadam": space_keras_shapes_aug_nadam,
    "keras_bst_ratings": space_keras_bst_ratings,
    "keras_tab_transformer": space_keras_tab_transformer,
    "keras_crnn_ctc": space_keras_crnn_ctc,
    "keras_convnext_shapes": space_keras_convnext_shapes,
    "keras_simclr_probe": space_keras_simclr_probe,
    "pt_skipgram_sparse": space_pt_skipgram_sparse,
    "pt_fno_heat": space_pt_fno_heat,
    "keras_mlp_mixer": space_keras_mlp_mixer,
    "keras_wgan_gp": space_keras_wgan_gp,
    "keras_vq_vae": space_keras_vq_vae,
    "keras_mlm_tiny": space_keras_mlm_tiny,

    "pt_gat_sbm": space_pt_gat_sbm,
    "pt_dkt_tracing": space_pt_dkt_tracing,
    "pt_ft_transformer": space_pt_ft_transformer,
    "pt_clip_pairs": space_pt_clip_pairs,
    "pt_dqn_cartpole": space_pt_dqn_cartpole,
    "pt_capsnet_digits": space_pt_capsnet_digits,
    "keras_switch_transformer": space_keras_switch_transformer,
    "keras_gnn_nodes": space_keras_gnn_nodes,
    "keras_ddpg_pendulum": space_keras_ddpg_pendulum,
    "keras_pointnet": space_keras_pointnet,
    "keras_ddim_digits": space_keras_ddim_digits,
    "keras_s2s_transformer": space_keras_s2s_transformer,
    "pt_byol_digits": space_pt_byol_digits,
    "pt_maml_sine": space_pt_maml_sine,
    "pt_ppo_cartpole": space_pt_ppo_cartpole,
    "pt_dann_digits": space_pt_dann_digits,
    "pt_bilstm_crf_tagger": space_pt_bilstm_crf_tagger,
    "pt_pixelcnn_digits": space_pt_pixelcnn_digits,
    "pt_convnext_droppath": space_pt_convnext_droppath,
    "pt_word_lm_tied": space_pt_word_lm_tied,
    "keras_lstm_s2s_chars": space_keras_lstm_s2s_chars,
    "keras_neural_decision_forest": space_keras_neural_decision_forest,

    "pt_stn_digits": space_pt_stn_digits,
    "pt_gin_graphs": space_pt_gin_graphs,
    "pt_siren_image": space_pt_siren_image,
    "pt_perceiver_digits": space_pt_perceiver_digits,

    "keras_vit_digits": space_keras_vit_digits,
    "keras_involution": space_keras_involution,

    "pt_gae_links": space_pt_gae_links,
    "pt_bert_mlm": space_pt_bert_mlm,
    "pt_deep_svdd": space_pt_deep_svdd,
    "pt_made_density": space_pt_made_density,
    "keras_barlow_twins": space_keras_barlow_twins,
    "keras_deeplab_shapes": space_keras_deeplab_shapes,
    "pt_tabnet": space_pt_tabnet,
    "pt_pointer_net": space_pt_pointer_net,
    "pt_s4d_sequence": space_pt_s4d_sequence,
    "pt_deepfm_ctr": space_pt_deepfm_ctr,
    "pt_flow_matching": space_pt_flow_matching,
    "pt_set_transformer": space_pt_set_transformer,
    "pt_bayes_by_backprop": space_pt_bayes_by_backprop,
    "pt_sac_pendulum": space_pt_sac_pendulum,

    "pt_evidential_regression": space_pt_evidential_regression,
    "pt_albert_tiny": space_pt_albert_tiny,

    "keras_fnet_text": space_keras_fnet_text,
    "keras_cct_digits": space_keras_cct_digits,
    "keras_gmlp_digits": space_keras_gmlp_digits,

    "pt_lora_adapt": space_pt_lora_adapt,
    "pt_sam_digits": space_pt_sam_digits,
    "keras_actor_critic_cartpole": space_keras_actor_critic_cartpole,
    "keras_convmixer_digits": space_keras_convmixer_digits,

    "keras_zero_dce": space_keras_zero_dce,
    "keras_stgcn_traffic": space_keras_stgcn_traffic,

    "keras_eanet_digits": space_keras_eanet_digits,

    "pt_hypernetwork": space_pt_hypernetwork,
    "pt_neural_ode_spiral": space_pt_neural_ode_spiral,
    "pt_protonet_fewshot": space_pt_protonet_fewshot,
    "pt_patchtst_forecast": space_pt_patchtst_forecast,
    "pt_graphsage_sampling": space_pt_graphsage_sampling,
    "pt_sasrec_nextitem": space_pt_sasrec_nextitem,
    "keras_gat_nodes": space_keras_gat_nodes,

    "pt_kan_regression": space_pt_kan_regression,
    "pt_deepar_forecast": space_pt_deepar_forecast,
    "keras_supcon_digits": space_keras_supcon_digits,
    "keras_forward_forward": space_keras_forward_forward,
    "keras_fixmatch_digits": space_keras_fixmatch_digits,
    "keras_reptile_sine": space_keras_reptile_sine,
    "keras_mae_digits": space_keras_mae_digits,
    "pt_transe_kg": space_pt_transe_kg,
    "keras_mini_gpt": space_keras_mini_gpt,
    "keras_metric_similarity": space_keras_metric_similarity,
    "pt_mamba_selective": space_pt_mamba_selective,
    "keras_cvae_digits": space_keras_cvae_digits,
    "keras_ner_transformer": space_keras_ner_transformer,

    "pt_dino_selfdistill": space_pt_dino_selfdistill,
    "pt_tft_lite": space_pt_tft_lite,

    "keras_dcgan_digits": space_keras_dcgan_digits,
    "keras_dqn_cartpole": space_keras_dqn_cartpole,

    "pt_autoint_ctr": space_pt_autoint_ctr,
    "pt_neural_additive": space_pt_neural_additive,
    "pt_llama_tiny": space_pt_llama_tiny,
    "keras_node2vec": space_keras_node2vec,
    "keras_grad_accum_cnn": space_keras_grad_accum_cnn,
    "keras_mpnn_molecules": space_keras_mpnn_molecules,
    "keras_image_captioning": space_keras_image_captioning,
    "pt_yolo_grid": space_pt_yolo_grid,
    "pt_dkl_gp": space_pt_dkl_gp,
    "pt_vmap_ensemble": space_pt_vmap_ensemble,
    "pt_qat_digits": space_pt_qat_digits,
    "keras_ppo_cartpole": space_keras_ppo_cartpole,
    "keras_speaker_fft": space_keras_speaker_fft,
    "pt_sparse_autoencoder": space_pt_sparse_autoencoder,
    "pt_rbm_free_energy": space_pt_rbm_free_energy,
    "pt_gru4rec_sessions": space_pt_gru4rec_sessions,
    "pt_dec_clustering": space_pt_dec_clustering,
    "keras_adversarial_training": space_keras_adversarial_training,
    "keras_pixelcnn_digits": space_keras_pixelcnn_digits,
    "pt_scarf_tabular": space_pt_scarf_tabular,
    "pt_listnet_ranking": space_pt_listnet_ranking,

    "keras_mobilevit_digits": space_keras_mobilevit_digits,
    "keras_active_learning": space_keras_active_learning,

    "pt_gradnorm_multitask": space_pt_gradnorm_multitask,
    "pt_coteaching_noisy": space_pt_coteaching_noisy,

    "keras_swin_digits": space_keras_swin_digits,
    "keras_depth_estimation": space_keras_depth_estimation,

    "keras_pointnet_segmentation": space_keras_pointnet_segmentation,
    "keras_semantic_clustering": space_keras_semantic_clustering,
    "keras_tokenlearner_vit": space_keras_tokenlearner_vit,
    "keras_realnvp_density": space_keras_realnvp_density,
    "keras_cgan_digits": space_keras_cgan_digits,
    "keras_qr_embeddings": space_keras_qr_embeddings,
    "keras_quasi_svm": space_keras_quasi_svm,
    "keras_endpoint_layer": space_keras_endpoint_layer,

    "pt_neural_process": space_pt_neural_process,
    "pt_hamiltonian_nn": space_pt_hamiltonian_nn,
    "pt_deepsurv_cox": space_pt_deepsurv_cox,
    "pt_snn_surrogate": space_pt_snn_surrogate,
    "pt_ewc_continual": space_pt_ewc_continual,
    "pt_deq_fixedpoint": space_pt_deq_fixedpoint,

    "keras_conv3d_volumes": space_keras_conv3d_volumes,
    "keras_keypoint_heatmaps": space_keras_keypoint_heatmaps,
    "keras_espcn_superres": space_keras_espcn_superres,
    "keras_learnable_resizer": space_keras_learnable_resizer,
    "keras_mil_attention": space_keras_mil_attention,
    "keras_eeg_conv1d": space_keras_eeg_conv1d,
    "keras_triplet_siamese": space_keras_triplet_siamese,
    "keras_adamatch": space_keras_adamatch,
    "keras_vit_boxes": space_keras_vit_boxes,
    "keras_consistency_training": space_keras_consistency_training,
    "keras_nnclr": space_keras_nnclr,
    "keras_cutmix": space_keras_cutmix,
    "keras_vit_spt_lsa": space_keras_vit_spt_lsa,
    "keras_highway_mlp": space_keras_highway_mlp,
    "keras_bayesian_nn": space_keras_bayesian_nn,
    "keras_simsiam": space_keras_simsiam,
    "keras_ziln_ltv": space_keras_ziln_ltv,
    "keras_malstm_similarity": space_keras_malstm_similarity,
    "keras_focalnet_digits": space_keras_focalnet_digits,
    "pt_electra_rtd": space_pt_electra_rtd,
    "pt_behavior_cloning": space_pt_behavior_cloning,
    "pt_vicreg_digits": space_pt_vicreg_digits,
    "pt_cpc_sequences": space_pt_cpc_sequences,
    "pt_gumbel_vae": space_pt_gumbel_vae,
    "pt_uncertainty_multitask": space_pt_uncertainty_multitask,
    "pt_nalu_arith": space_pt_nalu_arith,
    "pt_fedavg_clients": space_pt_fedavg_clients,
    "pt_aae_digits": space_pt_aae_digits,
    "pt_sentence_vae": space_pt_sentence_vae,
    "pt_poincare_embeddings": space_pt_poincare_embeddings,
    "pt_rotnet_selfsup": space_pt_rotnet_selfsup,
    "pt_relation_network": space_pt_relation_network,
    "pt_vime_tabular": space_pt_vime_tabular,
    "pt_deephit_survival": space_pt_deephit_survival,
    "pt_lightgcn_recs": space_pt_lightgcn_recs,
    "pt_rmtpp_events": space_pt_rmtpp_events,
    "pt_jem_energy": space_pt_jem_energy,
    "pt_score_matching": space_pt_score_matching,
    "pt_matching_networks": space_pt_matching_networks,
    "pt_td3_pendulum": space_pt_td3_pendulum,
    "pt_transformer_xl_lm": space_pt_transformer_xl_lm,
    "pt_egnn_nbody": space_pt_egnn_nbody,
    "pt_vqvae_digits": space_pt_vqvae_digits,
    "pt_pix2pix_shapes": space_pt_pix2pix_shapes,
    "pt_tiny_nerf": space_pt_tiny_nerf,
    "keras_moco_queue": space_keras_moco_queue,
    "keras_patchconvnet": space_keras_patchconvnet,
    "keras_deit_distill": space_keras_deit_distill,
    "keras_perceiver_digits": space_keras_perceiver_digits,
    "pt_wgan_clip_ring": space_pt_wgan_clip_ring,
    "pt_swav_digits": space_pt_swav_digits,
    "pt_seq2seq_attn_dates": space_pt_seq2seq_attn_dates,
    "pt_dgcnn_points": space_pt_dgcnn_points,
    "pt_ctlstm_hawkes": space_pt_ctlstm_hawkes,
    "pt_rwkv_tiny": space_pt_rwkv_tiny,
    "pt_gflownet_grid": space_pt_gflownet_grid,
    "pt_slot_attention_shapes": space_pt_slot_attention_shapes,
    "pt_fedprox_clients": space_pt_fedprox_clients,
    "pt_a2c_gridworld": space_pt_a2c_gridworld,
    "pt_cql_offline": space_pt_cql_offline,
    "pt_ts2vec": space_pt_ts2vec,
    "pt_neural_ca": space_pt_neural_ca,
    "pt_convtasnet_tiny": space_pt_convtasnet_tiny,
    "pt_decision_transformer": space_pt_decision_transformer,
    "pt_deeponet": space_pt_deeponet,
    "pt_darts_tiny": space_pt_darts_tiny,
    "pt_ntm_copy": space_pt_ntm_copy,
    "pt_glove_cooc": space_pt_glove_cooc,
    "pt_din_ctr": space_pt_din_ctr,
    "pt_infogan_digits": space_pt_infogan_digits,
    "pt_maf_density": space_pt_maf_density,
    "pt_mlp_mixer_digits": space_pt_mlp_mixer_digits,
    "pt_film_reasoning": space_pt_film_reasoning,
    "pt_beta_vae_sprites": space_pt_beta_vae_sprites,
    "pt_grud_missing": space_pt_grud_missing,
    "pt_resnet_shapes_sgd": space_pt_resnet_shapes_sgd,
    "pt_text_transformer_cls": space_pt_text_transformer_cls,
    "pt_cnn_lstm_clips": space_pt_cnn_lstm_clips,
    "pt_wavenet_mulaw": space_pt_wavenet_mulaw,
    "pt_retinanet_shapes": space_pt_retinanet_shapes,
    "pt_tree_lstm_sentiment": space_pt_tree_lstm_sentiment,
    "pt_schnet_molecules": space_pt_schnet_molecules,
    "pt_esim_nli": space_pt_esim_nli,
    "pt_han_documents": space_pt_han_documents,
    "pt_conformer_keywords": space_pt_conformer_keywords,
    "pt_ggnn_graphs": space_pt_ggnn_graphs,
    "pt_soft_decision_tree": space_pt_soft_decision_tree,
    "pt_rgcn_entities": space_pt_rgcn_entities,
    "pt_sngan_ring": space_pt_sngan_ring,
    "pt_vrnn_sequences": space_pt_vrnn_sequences,
    "pt_bidaf_span": space_pt_bidaf_span,
    "pt_lstnet_forecast": space_pt_lstnet_forecast,
    "pt_policy_value_tictactoe": space_pt_policy_value_tictactoe,
    "pt_koopman_ae": space_pt_koopman_ae,
    "pt_wae_mmd": space_pt_wae_mmd,
    "pt_performer_favor": space_pt_performer_favor,
    "pt_noise2noise": space_pt_noise2noise,
    "pt_dlinear_forecast": space_pt_dlinear_forecast,
    "pt_graph_unet": space_pt_graph_unet,
    "pt_simcse_sentences": space_pt_simcse_sentences,
    "pt_ecapa_speaker": space_pt_ecapa_speaker,
    "pt_glow_tiny": space_pt_glow_tiny,
    "pt_biaffine_parser": space_pt_biaffine_parser,
    "pt_detr_tiny": space_pt_detr_tiny,
    "pt_segformer_tiny": space_pt_segformer_tiny,
    "pt_t5_span_corruption": space_pt_t5_span_corruption,
    "pt_informer_forecast": space_pt_informer_forecast,
    "pt_stylegan_tiny": space_pt_stylegan_tiny,
    "pt_linformer_text": space_pt_linformer_text,
    "pt_wmse_digits": space_pt_wmse_digits,
    "pt_saint_tabular": space_pt_saint_tabular,
    "keras_edsr_superres": space_keras_edsr_superres,
    "keras_cait_digits": space_keras_cait_digits,
    "keras_shiftvit_digits": space_keras_shiftvit_digits,
    "keras_cyclegan_digits": space_keras_cyclegan_digits,
    "keras_gan_ada_digits": space_keras_gan_ada_digits,
    "keras_vgg_shapes": space_keras_vgg_shapes,
    "keras_autorec_ratings": space_keras_autorec_ratings,
    "keras_dot_count_regression": space_keras_dot_count_regression,
    "keras_deepfm_ctr": space_keras_deepfm_ctr,
    "keras_dual_encoder_retrieval": space_keras_dual_encoder_retrieval,
    "keras_structured_preprocessing": space_keras_structured_preprocessing,
    "keras_xception_scratch": space_keras_xception_scratch,
    "keras_listwise_ranking": space_keras_listwise_ranking,
    "keras_textvec_bilstm": space_keras_textvec_bilstm,
    "keras_mel_keywords": space_keras_mel_keywords,
    "keras_mdn_regression": space_keras_mdn_regression,
    "keras_ncf_movies": space_keras_ncf_movies,
    "keras_ordinal_coral": space_keras_ordinal_coral,
    "keras_multimodal_ticket": space_keras_multimodal_ticket,
    "keras_music_rnn": space_keras_music_rnn,
    "keras_feedback_forecaster": space_keras_feedback_forecaster,
    "keras_vivit_clips": space_keras_vivit_clips,
    "keras_word2vec_negsampling": space_keras_word2vec_negsampling,
    "keras_vib_classifier": space_keras_vib_classifier,
    "keras_lista_sparse": space_keras_lista_sparse,
    "keras_asr_transformer": space_keras_asr_transformer,
    "keras_resnext_shapes": space_keras_resnext_shapes,
    "keras_smiles_vae": space_keras_smiles_vae,
    "keras_efficientnet_tiny": space_keras_efficientnet_tiny,
    "keras_melgan_tiny": space_keras_melgan_tiny,
    "keras_tlb_sequences": space_keras_tlb_sequences,
    "keras_mirnet_lowlight": space_keras_mirnet_lowlight,
    "keras_gcvit_tiny": space_keras_gcvit_tiny,
    "keras_xdeepfm_ctr": space_keras_xdeepfm_ctr,
    "keras_lstm_fcn": space_keras_lstm_fcn,
    "keras_efficient_capsnet_digits": space_keras_efficient_capsnet_digits,
    "keras_idcnn_crf_ner": space_keras_idcnn_crf_ner,
    "keras_attention_unet": space_keras_attention_unet,
    "keras_selfattentive_documents": space_keras_selfattentive_documents,
}


def dev_programs():
    """The program names of programs/dev/; every one must have a space here."""
    names = sorted(f[:-3] for f in os.listdir(DEV) if f.endswith(".py") and not f.startswith("_"))
    missing = [n for n in names if n not in SPACES]
    extra = [n for n in SPACES if n not in names]
    if missing or extra:
        raise SystemExit("calibration spaces do not match programs/dev/: missing %s, not in dev %s"
                         % (missing or "none", extra or "none"))
    return names


def sample(name, n):
    """The first n configurations of program ``name`` (deterministic, no command twice)."""
    rng = random.Random("calibration:" + name)
    out, seen = [], set()
    while len(out) < n:
        for _ in range(1000):
            config = SPACES[name](rng)
            key = tuple(config.args)
            if key not in seen:
                break
        else:
            raise SystemExit("%s: cannot sample %d different configurations" % (name, n))
        seen.add(key)
        out.append(config)
    return out


def cases(programs, n):
    """Every sampled run as a case dict (regenerate.py's fields) plus its Config."""
    out = []
    for name in programs:
        framework = regenerate.framework_of(name + ".py")
        for i, config in enumerate(sample(name, n)):
            cid = "calibration-%s-%03d" % (name.replace("_", "-"), i)
            out.append({
                "id": cid, "program": "dev/%s.py" % name, "args": shlex.join(config.args),
                "trace": "calibration/traces/%s.parquet" % cid,   # relative to corpus/
                "buggy": False, "family": "calibration-" + name, "split": SPLIT,
                "framework": framework, "architecture": config.architecture,
                "origin": "calibration sweep (sampled healthy settings)",
                "description": "a sampled healthy configuration of programs/dev/%s.py" % name,
                "config": config,
            })
    return out


# ------------------------------------------------------------------ outcome filter


def _mse(a, b):
    import numpy as np
    return float(np.mean((np.asarray(a, dtype=np.float64) - b) ** 2))


def baseline(kind, kw):
    """(B, F): validation loss of predicting the training mean, and the loss floor."""
    sys.path.insert(0, regenerate.PROGRAMS)
    import numpy as np
    import common
    if kind == "tabular":           # pt_mlp / keras_mlp regression, targets standardized
        x, y = common.load(kw["data"], seed=kw["seed"])
        _, _, y_tr, y_val = common.split(x, y, seed=kw["seed"])
        z = (y_val - y_tr.mean()) / y_tr.std()
        return _mse(z, 0.0), 0.0
    if kind == "sine":              # pt_rnn / keras_rnn forecast
        x, y = common.sine_windows(kw["samples"], kw["length"], seed=kw["seed"])
        _, _, y_tr, y_val = common.split(x, y, seed=kw["seed"], stratify=False)
        return _mse(y_val, float(np.mean(y_tr))), 0.0
    if kind == "signal":            # pt_signal_regression: the frequency, standardized
        rng = np.random.default_rng(kw["seed"])
        freq = rng.uniform(0.5, 4.0, size=(kw["samples"], 1))[:, 0].astype("float32")
        x = np.zeros((kw["samples"], 1))
        _, _, y_tr, y_val = common.split(x, freq, seed=kw["seed"])
        return _mse((y_val - y_tr.mean()) / y_tr.std(), 0.0), 0.0
    if kind == "odepack":           # pt_ode_packed_gru: the envelope's decay rate, standardized
        sys.path.insert(0, DEV)
        import pt_ode_packed_gru
        _, _, rate = pt_ode_packed_gru.simulate(1200, kw["seed"])
        cut = int(0.8 * len(rate))
        z = (rate - rate[:cut].mean()) / rate[:cut].std()
        return _mse(z[cut:], 0.0), 0.0
    if kind == "gruload":           # pt_gru_forecast: the next hour's load, standardized
        sys.path.insert(0, DEV)
        import pt_gru_forecast
        load = pt_gru_forecast.load_signal(3000, kw["seed"])
        cut = int(0.8 * len(load))
        z = (load - load[:cut].mean()) / load[:cut].std()
        return _mse(z[cut:], float(np.mean(z[48:cut]))), 0.0
    if kind == "digits_vae":        # pt_vae_digits: per-image sums over the 64 pixels of /16
        x, y = common.load("digits")
        x_tr, x_val, _, _ = common.split((x / 16.0).astype(np.float32), y, seed=kw["seed"])
        mean = x_tr.mean(0)
        if kw["model"] == "dae":    # squared error summed per image (the L2 term left out)
            return 64 * _mse(x_val, mean), 0.0
        # VAE: the reconstruction's binary cross-entropy summed per image; the KL term, also in
        # the program's validation loss, is left out of both (it is >= 0: a stricter bar)
        b, f = baseline("digits_autoencoder", {"variant": "bce", "seed": kw["seed"]})
        return 64 * b, 64 * f
    if kind == "compressor":        # keras_sensor_ae: MSE of the min-max scaled readings
        sys.path.insert(0, DEV)
        import keras_sensor_ae
        normal = keras_sensor_ae.compressor(3000, kw["seed"]).astype(np.float64)
        x_tr, x_val = normal[:2100], normal[2100:2550]
        lo, hi = x_tr.min(0), x_tr.max(0)
        x_tr, x_val = (x_tr - lo) / (hi - lo), (x_val - lo) / (hi - lo)
        return _mse(x_val, x_tr.mean(0)), 0.0
    if kind == "energy":            # keras_two_tower_energy: the day's energy, standardized
        sys.path.insert(0, DEV)
        import keras_two_tower_energy
        _, _, energy = keras_two_tower_energy.building_days(2000, kw["seed"])
        idx = np.arange(len(energy))
        i_tr, i_val = common.split(idx, energy, seed=kw["seed"], stratify=False)[:2]
        mean, std = energy[i_tr].mean(), energy[i_tr].std()
        return _mse((energy[i_val] - mean) / std, 0.0), 0.0
    if kind == "demand":            # keras_window_forecast: the next 12 hours, standardized
        sys.path.insert(0, DEV)
        import keras_window_forecast as kwf
        series, hour = kwf.demand(6, kw["seed"])
        cut = int(0.8 * kwf.HOURS)
        y_tr, y_val = [], []
        for values in series:
            values = (values - values[:cut].mean()) / values[:cut].std()
            y_tr += kwf.windows(values[:cut], hour[:cut], 48, 12, 3)[1]
            y_val += kwf.windows(values[cut:], hour[cut:], 48, 12, 3)[1]
        return _mse(np.array(y_val), float(np.mean(y_tr))), 0.0
    if kind == "seasonal_sales":    # keras_wavenet_seasonal: the next 3 days, standardized
        sys.path.insert(0, DEV)     # per series
        import keras_wavenet_seasonal as kws
        raw = kws.sales(12, kw["seed"])
        cut = int(0.8 * kws.DAYS)
        mean = raw[:, :cut].mean(axis=1, keepdims=True)
        std = raw[:, :cut].std(axis=1, keepdims=True)
        y_tr = kws.windows((raw[:, :cut] - mean) / std, 32, 3)[1]
        y_val = kws.windows((raw[:, cut - 32:] - mean) / std, 32, 3)[1]
        return _mse(y_val, float(np.mean(y_tr))), 0.0
    if kind == "deliveries":        # pt_quantile_delivery: pinball loss of the training
        sys.path.insert(0, DEV)     # quantiles, minutes standardized as the program does
        import pt_quantile_delivery as pqd
        _, minutes = pqd.deliveries(4000, kw["seed"])
        n_val = len(minutes) // 5
        m_tr, m_val = minutes[n_val:], minutes[:n_val]
        z_tr = (m_tr - m_tr.mean()) / m_tr.std()
        z_val = (m_val - m_tr.mean()) / m_tr.std()
        loss = 0.0
        for q in pqd.QUANTILES:
            err = z_val - np.quantile(z_tr, q)
            loss += float(np.mean(np.maximum(q * err, (q - 1) * err)))
        return loss / len(pqd.QUANTILES), 0.0
    if kind == "bstusermean":       # keras_bst_ratings: MSE of each user's mean training
        sys.path.insert(0, DEV)     # target on the held-out sequences (1..5 stars)
        import keras_bst_ratings as bst
        users, _, watched = bst.make_ratings(kw["seed"])
        data, targets = bst.make_sequences(users, watched, 8)
        tr, y_tr, va, y_va = bst.split(data, targets, kw["seed"])
        means = {}
        for u, y in zip(tr["user_id"], y_tr):
            means.setdefault(u, []).append(float(y))
        pred = np.array([np.mean(means.get(u, [float(y_tr.mean())])) for u in va["user_id"]])
        return _mse(y_va.astype(np.float64), pred), 0.0
    if kind == "ratings":           # keras_matfact_recsys: the stars scaled to [0, 1]
        sys.path.insert(0, DEV)
        from sklearn.model_selection import train_test_split
        import keras_matfact_recsys
        _, _, stars = keras_matfact_recsys.ratings_log(kw["seed"])
        y = ((stars - 1.0) / 4.0).astype("float32")
        y_tr, y_val = train_test_split(y, test_size=0.2, random_state=kw["seed"])
        return _mse(y_val, float(np.mean(y_tr))), 0.0
    if kind == "friedman_first1200":  # keras_lion_resmlp: huber of the standardized target,
        from sklearn.datasets import make_friedman1  # the first 1200 of 1500 for training
        _, y = make_friedman1(n_samples=1500, noise=0.5, random_state=kw["seed"])
        y_tr, y_val = y[:1200], y[1200:]
        err = np.abs((y_val - y_tr.mean()) / y_tr.std())
        return float(np.mean(np.where(err <= 1.0, 0.5 * err ** 2, err - 0.5))), 0.0
    if kind == "diabetes_huber":    # pt_swa_diabetes: SmoothL1 (beta 1) of the standardized score
        x, y = common.load("diabetes")
        _, _, y_tr, y_val = common.split(x, y, val=0.2, seed=kw["seed"])
        err = np.abs((y_val - y_tr.mean()) / y_tr.std())
        return float(np.mean(np.where(err <= 1.0, 0.5 * err ** 2, err - 0.5))), 0.0
    if kind == "friedman_units":    # keras_norm_huber: Huber(1.0) of the standardized target
        from sklearn.datasets import make_friedman1
        from sklearn.model_selection import train_test_split
        _, y = make_friedman1(n_samples=1000, noise=0.5, random_state=kw["seed"])
        y_tr, y_val = train_test_split(y, test_size=0.2, random_state=kw["seed"])
        err = np.abs((y_val - y_tr.mean()) / y_tr.std())
        return float(np.mean(np.where(err <= 1.0, 0.5 * err ** 2, err - 0.5))), 0.0
    if kind == "moonsflow":         # pt_realnvp_moons: NLL in nats of the scaled points; B
        # that of one Gaussian fitted to the training points, F the entropy of the generator
        # (arcs of total length 2 pi blurred by its noise, both in the program's scaling)
        from sklearn.datasets import make_moons
        pts, _ = make_moons(n_samples=2000, noise=kw["noise"], random_state=kw["seed"])
        pixels = pts * 60.0 + np.array([320.0, 240.0])
        val, train = pixels[:400], pixels[400:]
        mean = train.mean(0)
        scale = float(np.abs(train - mean).max())
        tr, va = (train - mean) / scale, (val - mean) / scale
        cov = np.cov(tr.T)
        d = va - tr.mean(0)
        maha = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)
        b = float(np.mean(0.5 * maha) + 0.5 * np.log(np.linalg.det(cov)) + np.log(2 * np.pi))
        sigma = kw["noise"] * 60.0 / scale
        f = float(np.log(2 * np.pi * 60.0 / scale) + 0.5 * np.log(2 * np.pi * np.e * sigma ** 2))
        return b, f
    if kind == "mdninv":            # pt_mdn_inverse: mixture NLL of the position; B is the
        sys.path.insert(0, DEV)     # Gaussian NLL of the training mean and variance, F the
        import pt_mdn_inverse       # NLL of the true posterior p(y | reading) on a grid
        x, y = pt_mdn_inverse.sensor_readings(2000, kw["seed"])
        y = y.astype(np.float64)
        cut = 1600
        var = float(y[:cut].var())
        b = float(np.mean(0.5 * (y[cut:] - y[:cut].mean()) ** 2 / var
                          + 0.5 * np.log(2 * np.pi * var)))
        grid = np.linspace(0.0, 1.0, 2001)
        seen = (x[cut:, 0].astype(np.float64) - 400.0) / 1200.0
        curve = grid + 0.3 * np.sin(2 * np.pi * grid)
        like = np.exp(-0.5 * ((seen[:, None] - curve[None, :]) / 0.03) ** 2)
        post = like / (like.sum(1, keepdims=True) * (grid[1] - grid[0]))
        at = np.array([np.interp(t, grid, row) for t, row in zip(y[cut:], post)])
        return b, float(np.mean(-np.log(np.maximum(at, 1e-300))))
    if kind == "probe":             # keras_mcdrop_gnll: Gaussian NLL (without its constant)
        # of the standardized moisture; B predicts the training mean and variance (0 and 1),
        # F is the NLL of the true mean and the generator's noise
        sys.path.insert(0, DEV)
        import keras_mcdrop_gnll
        x, y = keras_mcdrop_gnll.probe_readings(900, kw["seed"])
        x_tr, x_val, y_tr, y_val = common.split(x, y, val=0.2, seed=kw["seed"])
        std = float(y_tr.std())
        z = (y_val - y_tr.mean()) / std
        sigma = (0.4 + 0.06 * x_val[:, 3]) / std
        return 0.5 * float(np.mean(z ** 2)), 0.5 * float(np.mean(np.log(sigma ** 2) + 1.0))
    if kind == "turbine":           # pt_hetero_gnll: Gaussian NLL (without its constant)
        # of the standardized power; B predicts the training mean and variance (0 and 1), F
        # is the NLL of the true mean and the generator's noise (clipping at 0 left out)
        sys.path.insert(0, DEV)
        import pt_hetero_gnll
        x, y = pt_hetero_gnll.turbine_readings(3000, kw["seed"])
        cut = int(0.8 * len(y))
        std = float(y[:cut].std())
        z = (y[cut:] - y[:cut].mean()) / std
        sigma = (20.0 + 230.0 * np.exp(-((x[cut:, 0] - 10.0) / 3.0) ** 2)) / 1000.0 / std
        return 0.5 * float(np.mean(z ** 2)), 0.5 * float(np.mean(np.log(sigma ** 2) + 1.0))
    if kind == "bikecounts":        # pt_poisson_counts: Poisson NLL (log_input, without the
        sys.path.insert(0, DEV)     # Stirling term) of the training mean rate; F that of the
        import pt_poisson_counts    # counts themselves (the saturated model)
        _, counts = pt_poisson_counts.bike_hours(4000, kw["seed"])
        order = np.random.default_rng(kw["seed"]).permutation(len(counts))
        y_tr, y_val = counts[order[:3200]], counts[order[3200:]]
        m = float(y_tr.mean())
        sat = np.where(y_val > 0, y_val * np.log(np.maximum(y_val, 1e-12)), 0.0)
        return float(np.mean(m - y_val * np.log(m))), float(np.mean(y_val - sat))
    if kind == "pumpseq":           # pt_lstm_seqae: MSE of the mean standardized recording
        sys.path.insert(0, DEV)
        import pt_lstm_seqae
        x = pt_lstm_seqae.pump_recordings(800, 32, kw["seed"]).astype(np.float64)
        x_tr, x_val = x[:640], x[640:]
        mean, std = x_tr.mean((0, 1)), x_tr.std((0, 1))
        x_tr, x_val = (x_tr - mean) / std, (x_val - mean) / std
        return _mse(x_val, x_tr.mean(0)), 0.0
    if kind == "gearbox":           # pt_conv1d_ae_anomaly: MSE of the mean standardized
        sys.path.insert(0, DEV)     # normal window (the held-out normal windows)
        import pt_conv1d_ae_anomaly
        x = pt_conv1d_ae_anomaly.gearbox_windows(800, kw["seed"]).astype(np.float64)
        x_tr, x_val = x[:640], x[640:]
        mean = x_tr.mean(axis=(0, 2), keepdims=True)
        std = x_tr.std(axis=(0, 2), keepdims=True)
        x_tr, x_val = (x_tr - mean) / std, (x_val - mean) / std
        return _mse(x_val, x_tr.mean(0)), 0.0
    if kind == "shopsales":         # pt_nbeats_forecast: L1 of the window-scaled week to
        sys.path.insert(0, DEV)     # forecast; B repeats the lookback's mean (1.0 scaled)
        import pt_nbeats_forecast
        sales = pt_nbeats_forecast.shop_sales(kw["seed"])
        x_val, y_val = pt_nbeats_forecast.validation_windows(sales)
        scale = np.maximum(x_val.mean(1, keepdims=True), 1.0)
        return float(np.mean(np.abs(y_val / scale - 1.0))), 0.0
    if kind == "fnoheat":           # pt_fno_heat: relative L2 of u(x, 1) on the 200 held-out
        sys.path.insert(0, DEV)     # fields; B predicts the training targets' mean field
        import pt_fno_heat
        _, u = pt_fno_heat.heat_solutions(1000 + pt_fno_heat.VALIDATION, kw["seed"])
        u = u.astype(np.float64)
        mean, u_val = u[:1000].mean(0), u[1000:]
        return float(np.mean(np.linalg.norm(u_val - mean, axis=1)
                             / np.linalg.norm(u_val, axis=1))), 0.0
    if kind == "vqdigits":          # keras_vq_vae: the MSE of the held-out digits (x / 16 - 0.5)
        from sklearn.datasets import load_digits    # over the training variance; B predicts
        from sklearn.model_selection import train_test_split   # the training pixels' mean (the
        d = load_digits()           # VQ loss, also in the program's validation loss, is >= 0:
        x = (d.images / 16.0 - 0.5).astype(np.float32)      # a stricter bar)
        x_tr, x_val = train_test_split(x, test_size=0.2, stratify=d.target,
                                       random_state=kw["seed"])
        return _mse(x_val, float(np.mean(x_tr))) / float(np.var(x_tr)), 0.0
    if kind == "tcnmeter":          # pt_tcn_forecast: L1 of the next step's demand,
        sys.path.insert(0, DEV)     # standardized; B predicts the training targets' mean
        import pt_tcn_forecast
        meter = pt_tcn_forecast.building_meter(2600, kw["seed"])
        cut = int(0.8 * len(meter))
        z = (meter[:, 0] - meter[:cut, 0].mean()) / meter[:cut, 0].std()
        return float(np.mean(np.abs(z[cut:] - float(np.mean(z[48:cut]))))), 0.0
    if kind == "cancer_benign":     # keras_cancer_ae_nesterov: MAE of the mean standardized
        from sklearn.datasets import load_breast_cancer   # benign row (held-out benign rows)
        x, y = load_breast_cancer(return_X_y=True)
        x = x.astype(np.float32).astype(np.float64)
        benign = np.random.default_rng(kw["seed"]).permutation(np.where(y == 1)[0])
        n_val = len(benign) // 5
        x_tr, x_val = x[benign[n_val:]], x[benign[:n_val]]
        x_tr, x_val = (x_tr - x_tr.mean(0)) / x_tr.std(0), (x_val - x_tr.mean(0)) / x_tr.std(0)
        return float(np.mean(np.abs(x_val - x_tr.mean(0)))), 0.0
    if kind == "digits_autoencoder":
        x, y = common.load("digits")
        if kw["variant"] == "standard":
            x = (x - x.mean()) / x.std()
        else:
            x = x / 16.0
        x_tr, x_val, _, _ = common.split(x, y, seed=kw["seed"])
        mean = x_tr.mean(0)
        if kw["variant"] != "bce":
            return _mse(x_val, mean), 0.0

        def bce(t, p):      # as torch's BCELoss: each log clamped at -100
            with np.errstate(divide="ignore"):
                return float(np.mean(-(t * np.maximum(np.log(p), -100)
                                       + (1 - t) * np.maximum(np.log(1 - p), -100))))
        return bce(x_val, np.broadcast_to(mean, x_val.shape)), bce(x_val, x_val)
    raise ValueError(kind)


def verdict(config, result):
    """(kept, reason): the outcome filter of the module docstring, from the result line only."""
    if result.get("nan"):
        return False, "a training loss was NaN or infinite"
    if config.task == "classification":
        if config.accuracy_key:
            acc = result.get(config.accuracy_key)
        else:
            acc = result.get("val_accuracy", result.get("accuracy"))
        chance = config.chance
        bar = chance + ACCURACY_BAR * (1 - chance)
        if acc is None:
            return False, "no accuracy in the result"
        if acc < bar:
            return False, "accuracy %.4f below the bar %.4f (chance %.3f)" % (acc, bar, chance)
        return True, "accuracy %.4f >= %.4f" % (acc, bar)
    val = result.get("val_loss")
    first, last = result.get("first_loss"), result.get("loss")
    if not (isinstance(first, float) and isinstance(last, float) and last < first):
        return False, "final-epoch loss %s not below the first epoch's %s" % (last, first)
    if not isinstance(val, float):
        return False, "no finite validation loss in the result"
    b, f = baseline(*config.baseline)
    removed = (b - val) / (b - f)
    if removed < LOSS_BAR:
        return False, ("validation loss %.4g removes %.2f of the mean predictor's %.4g (floor "
                       "%.4g), below %.2f" % (val, removed, b, f, LOSS_BAR))
    return True, "validation loss %.4g removes %.2f of the mean predictor's %.4g (floor %.4g)" % (
        val, removed, b, f)


# ------------------------------------------------------------------ manifest


def manifest_case(case, final):
    entry = regenerate.manifest_entry(case, final)
    # Paths relative to the manifest's folder (calibration/), as corpus/manifest.json's are to
    # corpus/: dl-analyze eval resolves "trace" against the manifest's directory.
    entry["trace"] = "traces/%s.parquet" % case["id"]
    entry["program"] = "../programs/%s %s" % (case["program"], case["args"])
    return entry


def rejected_entry(case, status, reason):
    entry = {"id": case["id"], "program": "../programs/%s %s" % (case["program"], case["args"]),
             "family": case["family"], "framework": case["framework"],
             "architecture": case["architecture"], "reason": reason}
    if status.get("final"):
        entry["final"] = status["final"]
    return entry


def write_manifest(kept, rejected):
    os.makedirs(CALIBRATION, exist_ok=True)
    regenerate.write_json(MANIFEST, {"version": 1, "description": DESCRIPTION, "cases": kept,
                                     "rejected": rejected})


# ------------------------------------------------------------------ main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-program", type=int, default=DEFAULT_PER_PROGRAM, metavar="N",
                        help="configurations sampled per dev program (default %(default)s)")
    parser.add_argument("--program", action="append",
                        help="only this dev program (name without .py; repeatable)")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--list", action="store_true", help="print the sampled commands and exit")
    parser.add_argument("--no-record", action="store_true",
                        help="train without recording: outcomes and the filter only, nothing"
                             " written")
    parser.add_argument("--converter", choices=("pyarrow", "dl-analyze"), default="pyarrow")
    parser.add_argument("--python", default=sys.executable)
    args = parser.parse_args()
    if args.per_program < 1:
        parser.error("--per-program must be 1 or more: %d" % args.per_program)
    regenerate.PYTHON = args.python
    programs = dev_programs()
    if args.program:
        unknown = [p for p in args.program if p not in programs]
        if unknown:
            parser.error("not a program of programs/dev/: %s" % ", ".join(unknown))
        programs = [p for p in programs if p in args.program]
    todo = cases(programs, args.per_program)
    if args.list:
        for c in todo:
            print(c["id"], "programs/%s %s" % (c["program"], c["args"]))
        print("%d runs" % len(todo))
        return

    record = not args.no_record
    started = time.time()
    results = {}
    with tempfile.TemporaryDirectory(prefix="dltrace-calibration-") as work:
        with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
            futures = {pool.submit(regenerate.run_case, c, work, record, args.converter): c
                       for c in todo}
            for future in concurrent.futures.as_completed(futures):
                case = futures[future]
                try:
                    status = future.result()
                except Exception as e:  # conversion failure
                    status = {"status": "failed", "error": str(e), "seconds": 0}
                if status["status"] == "ok":
                    kept, reason = verdict(case["config"], status["result"])
                else:
                    tail = status["error"].strip().splitlines()[-1:] or ["no output"]
                    kept, reason = False, "the program failed: " + tail[0][:300]
                status["kept"], status["reason"] = kept, reason
                results[case["id"]] = status
                print("%-36s %5.1fs %-4s %s | %s" % (
                    case["id"], status["seconds"], "KEEP" if kept else "REJ",
                    status.get("final", "FAILED"), reason), flush=True)
    elapsed = time.time() - started

    per_program = {}
    for c in todo:
        s = results[c["id"]]
        row = per_program.setdefault(c["family"], [0, 0, 0])
        row[0] += 1
        row[1 if s["kept"] else 2] += 1
        if record and not s["kept"] and "bytes" in s:
            os.remove(os.path.join(HERE, c["trace"]))   # not scored: no trace kept
    print("\n| program | recorded | kept | rejected |\n|---|---|---|---|")
    for fam, (n, k, r) in sorted(per_program.items()):
        print("| %s | %d | %d | %d |" % (fam[len("calibration-"):], n, k, r))
    total_kept = sum(r[1] for r in per_program.values())
    print("| total | %d | %d | %d |" % (len(todo), total_kept, len(todo) - total_kept))
    print("%d runs in %.0f s (%d jobs)%s" % (len(todo), elapsed, args.jobs,
                                             "" if record else ", not recorded"))
    if not record:
        return
    kept = [manifest_case(c, results[c["id"]]["final"]) for c in todo if results[c["id"]]["kept"]]
    rejected = [rejected_entry(c, results[c["id"]], results[c["id"]]["reason"])
                for c in todo if not results[c["id"]]["kept"]]
    if args.program and os.path.exists(MANIFEST):
        # Only some programs were run: the other programs' entries stay as they were.
        with open(MANIFEST) as f:
            previous = json.load(f)
        ran = {c["family"] for c in todo}
        order = {"calibration-" + name: i for i, name in enumerate(dev_programs())}

        def merged(old, new):
            entries = [e for e in old if e["family"] not in ran] + new
            return sorted(entries, key=lambda e: (order.get(e["family"], len(order)), e["id"]))
        kept = merged(previous.get("cases", []), kept)
        rejected = merged(previous.get("rejected", []), rejected)
    if args.per_program != DEFAULT_PER_PROGRAM:
        print("note: %d runs per program, not the default %d"
              % (args.per_program, DEFAULT_PER_PROGRAM), file=sys.stderr)
    write_manifest(kept, rejected)
    print("manifest: %s (%d cases, %d rejected)" % (os.path.relpath(MANIFEST), len(kept),
                                                    len(rejected)))


if __name__ == "__main__":
    main()
