"""What the recorders add to a training step: median step time, bare and recorded.

    python3 recorders/bench/overhead.py                     # PyTorch and Keras, all models
    python3 recorders/bench/overhead.py --framework pytorch --steps 200

For each framework and model (MLP, CNN, LSTM, a small transformer encoder) the same training
step runs bare, then recorded in full, every 10 steps (``every=10``), and with only the
weight and gradient phases (``phases=("weight", "gradient")``), each into an Arrow IPC stream
in a temporary directory. CPU, one thread, batch 32, synthetic data; the median step time of
``--steps`` steps after a warm-up. With ``--repeat R`` the four modes run back to back R times
(bare, full, every 10, weights+gradients, then again), and each cell gives the median of the R
step times and of the R ratios to the bare step of the same repetition, with their range,
since the machine's load changes from minute to minute; the load average is printed beside.
PyTorch steps are timed around forward, loss, backward,
optimizer step, the batch accuracy and ``rec.step``; Keras steps are the batch-to-batch time inside
``model.fit`` (one epoch of ``--steps`` batches), so they include Keras' own loop.

``--clock cpu`` times the steps with the process's CPU time (all its threads: TensorFlow's
worker, the recorder's writer) instead of the wall clock: on a machine that other work keeps
busy, a step's wall time includes the time the process waited for a core, its CPU time does not.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

CLOCK = time.perf_counter  # --clock cpu: time.process_time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

MODES = (("bare", None), ("full", {}), ("every 10", {"every": 10}),
         ("weights+gradients", {"phases": ("weight", "gradient")}))
MODELS = ("mlp", "cnn", "lstm", "transformer")


# ----------------------------------------------------------------------------- PyTorch

def torch_model(name):
    import torch
    from torch import nn

    if name == "mlp":
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                             nn.Linear(64, 10)), torch.randn(32, 64)
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(),
                             nn.Linear(64, 10)), torch.randn(32, 1, 28, 28)

    class Lstm(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(1000, 32)
            self.lstm = nn.LSTM(32, 64, batch_first=True)
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            out, _ = self.lstm(self.emb(x))
            return self.head(out[:, -1])

    class Transformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(1000, 64)
            self.encoder = nn.TransformerEncoder(
                nn.TransformerEncoderLayer(64, 4, dim_feedforward=128, dropout=0.0,
                                           batch_first=True), num_layers=2)
            self.head = nn.Linear(64, 10)

        def forward(self, x):
            return self.head(self.encoder(self.emb(x)).mean(1))

    tokens = torch.randint(0, 1000, (32, 32))
    return (Lstm() if name == "lstm" else Transformer()), tokens


def bench_torch(name, mode, steps, tmp):
    import torch
    from torch import nn

    from dltrace.pytorch import attach

    torch.manual_seed(0)
    model, x = torch_model(name)
    y = torch.randint(0, 10, (x.shape[0],))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    rec = None
    if mode is not None:
        rec = attach(model, os.path.join(tmp, "%s.arrows" % name), optimizer=opt,
                     task="classification", **mode)
    times = []
    for step in range(steps + 20):
        start = CLOCK()
        opt.zero_grad()
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        accuracy = (out.argmax(1) == y).float().mean()
        if rec is not None:
            rec.step(loss, accuracy=accuracy, inputs=x, targets=y)
        if step >= 20:
            times.append(CLOCK() - start)
    if rec is not None:
        rec.close()
    return 1000.0 * statistics.median(times)


# ----------------------------------------------------------------------------- Keras

def keras_model(name):
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    layers = keras.layers
    if name == "mlp":
        model = keras.Sequential([keras.Input((64,)), layers.Dense(128, activation="relu"),
                                  layers.Dense(64, activation="relu"), layers.Dense(10)])
        x = rng.normal(size=(32, 64)).astype("float32")
    elif name == "cnn":
        model = keras.Sequential([
            keras.Input((28, 28, 1)), layers.Conv2D(8, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(), layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(), layers.Flatten(), layers.Dense(64, activation="relu"),
            layers.Dense(10)])
        x = rng.normal(size=(32, 28, 28, 1)).astype("float32")
    elif name == "lstm":
        model = keras.Sequential([keras.Input((32,), dtype="int32"), layers.Embedding(1000, 32),
                                  layers.LSTM(64), layers.Dense(10)])
        x = rng.integers(0, 1000, size=(32, 32)).astype("int32")
    else:
        inputs = keras.Input((32,), dtype="int32")
        h = layers.Embedding(1000, 64)(inputs)
        for _ in range(2):
            a = layers.MultiHeadAttention(4, 16)(h, h)
            h = layers.LayerNormalization()(h + a)
            f = layers.Dense(64)(layers.Dense(128, activation="relu")(h))
            h = layers.LayerNormalization()(h + f)
        outputs = layers.Dense(10)(layers.GlobalAveragePooling1D()(h))
        model = keras.Model(inputs, outputs)
        x = rng.integers(0, 1000, size=(32, 32)).astype("int32")
    return model, x


def bench_keras(name, mode, steps, tmp):
    import keras
    import numpy as np

    from dltrace.keras import Recorder

    keras.utils.set_random_seed(0)
    model, x1 = keras_model(name)
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    n = 32 * (steps + 20)
    x = np.concatenate([x1] * (steps + 20))
    y = np.random.default_rng(1).integers(0, 10, size=(n,))

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.stamps = []

        def on_train_batch_end(self, batch, logs=None):
            self.stamps.append(CLOCK())

    timer = Timer()
    callbacks = [timer]
    if mode is not None:
        callbacks.insert(0, Recorder(os.path.join(tmp, "%s-keras.arrows" % name), **mode))
    model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0, callbacks=callbacks)
    gaps = np.diff(timer.stamps)[19:]
    return 1000.0 * float(np.median(gaps))


def _cell(values):
    values = sorted(values)
    if len(values) == 1:
        return "%.2f" % values[0]
    return "%.2f (%.2f-%.2f)" % (statistics.median(values), values[0], values[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("pytorch", "keras", "all"), default="all")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="time steps by the wall clock (default) or the process's CPU time")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the four modes back to back this many times (default 1)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    frameworks = ("pytorch", "keras") if args.framework == "all" else (args.framework,)
    print("load average at start: %.2f %.2f %.2f; clock: %s" % (os.getloadavg() + (args.clock,)))
    print("| framework | model | bare ms | full ms | full x | every 10 ms | every 10 x "
          "| weights+gradients ms | weights+gradients x |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for framework in frameworks:
            if framework == "pytorch":
                import torch
                torch.set_num_threads(1)
                run = bench_torch
            else:
                import tensorflow as tf
                tf.config.threading.set_intra_op_parallelism_threads(1)
                tf.config.threading.set_inter_op_parallelism_threads(1)
                run = bench_keras
            for name in args.models.split(","):
                times = {label: [] for label, _ in MODES}
                ratios = {label: [] for label, _ in MODES[1:]}
                for _ in range(args.repeat):
                    bare = None
                    for label, mode in MODES:
                        t = run(name, mode, args.steps, tmp)
                        times[label].append(t)
                        if mode is None:
                            bare = t
                        else:
                            ratios[label].append(t / bare)
                cells = []
                for label, _ in MODES[1:]:
                    cells += [_cell(times[label]), _cell(ratios[label])]
                print("| %s | %s | %s | %s |" % (framework, name, _cell(times["bare"]),
                                                 " | ".join(cells)), flush=True)
    print("load average at end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
