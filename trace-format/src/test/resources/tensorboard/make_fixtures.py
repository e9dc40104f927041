"""Writes the TensorBoard runs the reader's tests read, with real writers.

    python3 make_fixtures.py OUT_DIR [NAME ...]

NAME is any of the runs below (default: all). Each run is a directory OUT_DIR/NAME holding the
event files exactly as the writer wrote them, renamed to stable names (events.out.tfevents.N.fixture,
in the order they were started), and NAME.expected.json beside it: what numpy says about the same
tensors and what the training loop saw, for the tests to compare the reader's rows with.

  keras-epoch    Keras 3 model.fit with TensorBoard(histogram_freq=1): per-epoch scalars, weight
                 histograms (TF 2 bucket tensors), train/ and validation/ directories
  keras-batch    the same with update_freq='batch': per-batch scalars and per-epoch histograms
  keras-buggy    the model of keras-epoch trained with SGD at learning rate 50 instead of 0.05,
                 logged only to TensorBoard: the loss jumps to ~1e11 in the first epoch, and the
                 accuracy stays at chance
  tf-summary     a custom TF 2 loop with tf.summary.scalar and tf.summary.histogram (weights and
                 their gradients)
  torch          PyTorch's SummaryWriter: add_scalar (simple_value, accuracy in percent) and
                 add_histogram (HistogramProto) of weights, biases and gradients
  lightning      a Lightning run with TensorBoardLogger and LearningRateMonitor (train_loss_step,
                 train_loss_epoch, val_loss, lr-SGD, epoch)

Needs tensorflow (2.21), keras (3), torch and lightning; runs on the CPU in about a minute.
"""

import json
import os
import shutil
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np  # noqa: E402


def stats(array):
    """The statistics dl-analyze derives, computed by numpy on the whole tensor (float64)."""
    a = np.asarray(array, dtype=np.float64).ravel()
    return {
        "mean": float(a.mean()),
        "std": float(a.std()),
        "min": float(a.min()),
        "max": float(a.max()),
        "l2_norm": float(np.sqrt((a * a).sum())),
        "numel": int(a.size),
    }


def concat(*arrays):
    return np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])


def stabilize(run_dir):
    """Renames event files to events.out.tfevents.N.fixture[.v2], keeping their order."""
    for root, _dirs, files in os.walk(run_dir):
        events = sorted(f for f in files if "tfevents" in f)
        for n, name in enumerate(events):
            suffix = ".v2" if name.endswith(".v2") else ""
            os.rename(os.path.join(root, name),
                      os.path.join(root, "events.out.tfevents.%d.fixture%s" % (n, suffix)))


def record_counts(run_dir):
    """Records per event file, counted by TensorBoard's own loader (an independent TFRecord
    reader), keyed by the file's path relative to the run."""
    from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader

    counts = {}
    for root, _dirs, files in os.walk(run_dir):
        for name in files:
            if "tfevents" in name:
                path = os.path.join(root, name)
                counts[os.path.relpath(path, run_dir)] = sum(1 for _ in RawEventFileLoader(path).Load())
    return counts


def write_expected(out, name, expected):
    expected["records"] = record_counts(os.path.join(out, name))
    with open(os.path.join(out, name + ".expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


def blobs(n, features, classes, seed):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3, size=(classes, features))
    y = rng.integers(0, classes, size=n)
    x = (centers[y] + rng.normal(size=(n, features))).astype("float32")
    return x, y


def keras_run(out, name, learning_rate, update_freq, epochs, seed):
    import keras

    keras.utils.set_random_seed(seed)
    x, y = blobs(400, 8, 3, seed)
    model = keras.Sequential([
        keras.Input((8,)),
        keras.layers.Dense(16, activation="relu", name="dense1"),
        keras.layers.Dense(16, activation="relu", name="dense2"),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    weights = []

    class Kernels(keras.callbacks.Callback):
        # runs after TensorBoard's on_epoch_end: the same weights the histograms were made of
        def on_epoch_end(self, epoch, logs=None):
            weights.append({layer.name: stats(layer.kernel.numpy()) for layer in model.layers})

    run = os.path.join(out, name)
    history = model.fit(
        x, y, epochs=epochs, batch_size=32, validation_split=0.2, verbose=0, shuffle=False,
        callbacks=[keras.callbacks.TensorBoard(run, histogram_freq=1, update_freq=update_freq),
                   Kernels()])
    stabilize(run)
    write_expected(out, name, {
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "kernels": weights,
        "steps_per_epoch": 10,
    })


def tf_summary_run(out):
    import tensorflow as tf

    tf.random.set_seed(1)
    x, y = blobs(64, 4, 2, 1)
    kernel = tf.Variable(tf.random.normal((4, 2), seed=1), name="kernel")
    bias = tf.Variable(tf.zeros((2,)), name="bias")
    optimizer = tf.keras.optimizers.SGD(0.1)
    run = os.path.join(out, "tf-summary")
    writer = tf.summary.create_file_writer(run)
    logged = []
    with writer.as_default():
        for step in range(10):
            with tf.GradientTape() as tape:
                logits = x @ kernel + bias
                loss = tf.reduce_mean(
                    tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
            grads = tape.gradient(loss, [kernel, bias])
            accuracy = float(np.mean(np.argmax(logits.numpy(), 1) == y))
            tf.summary.scalar("loss", loss, step=step)
            tf.summary.scalar("train/accuracy", accuracy, step=step)
            tf.summary.scalar("learning_rate", 0.1, step=step)
            entry = {"step": step, "loss": float(loss), "accuracy": accuracy}
            if step % 2 == 0:
                tf.summary.histogram("dense/kernel", kernel, step=step)
                tf.summary.histogram("dense/bias", bias, step=step)
                tf.summary.histogram("gradients/dense/kernel", grads[0], step=step)
                entry["weight"] = stats(kernel.numpy())
                entry["gradient"] = stats(grads[0].numpy())
            logged.append(entry)
            optimizer.apply_gradients(zip(grads, [kernel, bias]))
    writer.close()
    stabilize(run)
    write_expected(out, "tf-summary", {"steps": logged})


def torch_run(out):
    import torch
    from torch.utils.tensorboard import SummaryWriter

    torch.manual_seed(2)
    x, y = blobs(96, 5, 3, 2)
    x, y = torch.tensor(x), torch.tensor(y)
    model = torch.nn.Sequential()
    model.add_module("fc1", torch.nn.Linear(5, 8))
    model.add_module("act", torch.nn.ReLU())
    model.add_module("fc2", torch.nn.Linear(8, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    run = os.path.join(out, "torch")
    writer = SummaryWriter(run)
    logged = []
    step = 0
    for epoch in range(3):
        for batch in range(4):
            xb, yb = x[batch * 24:(batch + 1) * 24], y[batch * 24:(batch + 1) * 24]
            optimizer.zero_grad()
            logits = model(xb)
            loss = torch.nn.functional.cross_entropy(logits, yb)
            loss.backward()
            optimizer.step()
            accuracy = 100.0 * float((logits.argmax(1) == yb).float().mean())
            writer.add_scalar("Loss/train", loss.item(), step)
            writer.add_scalar("Accuracy/train", accuracy, step)
            entry = {"step": step, "loss": loss.item(), "accuracy_percent": accuracy}
            if step % 3 == 0:
                for pname, p in model.named_parameters():
                    writer.add_histogram(pname, p, step, bins="auto")
                    writer.add_histogram(pname + ".grad", p.grad, step, bins="auto")
                entry["weight"] = {
                    "fc1": stats(model.fc1.weight.detach().numpy()),
                    "fc2": stats(model.fc2.weight.detach().numpy()),
                }
                entry["gradient"] = {
                    "fc1": stats(model.fc1.weight.grad.numpy()),
                    "fc2": stats(model.fc2.weight.grad.numpy()),
                }
            logged.append(entry)
            step += 1
        with torch.no_grad():
            val = torch.nn.functional.cross_entropy(model(x[72:]), y[72:]).item()
        writer.add_scalar("Loss/val", val, step - 1)
        logged[-1]["val_loss"] = val
    writer.close()
    stabilize(run)
    write_expected(out, "torch", {"steps": logged})


def lightning_run(out):
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import TensorBoardLogger

    L.seed_everything(3, verbose=False)
    x, y = blobs(64, 4, 2, 3)
    data = torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y))

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(),
                                           torch.nn.Linear(6, 2))

        def training_step(self, batch, _index):
            xb, yb = batch
            loss = torch.nn.functional.cross_entropy(self.net(xb), yb)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, _index):
            xb, yb = batch
            self.log("val_loss", torch.nn.functional.cross_entropy(self.net(xb), yb))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    with tempfile.TemporaryDirectory() as logs:
        logger = TensorBoardLogger(logs, name="run", default_hp_metric=False)
        trainer = L.Trainer(
            max_epochs=3, logger=logger, log_every_n_steps=1, enable_progress_bar=False,
            enable_model_summary=False, enable_checkpointing=False,
            callbacks=[LearningRateMonitor()], accelerator="cpu", devices=1)
        trainer.fit(Module(), torch.utils.data.DataLoader(data, batch_size=16),
                    torch.utils.data.DataLoader(data, batch_size=32))
        run = os.path.join(out, "lightning")
        os.makedirs(run)
        for name in os.listdir(logger.log_dir):
            if "tfevents" in name:
                shutil.copy(os.path.join(logger.log_dir, name), run)
    stabilize(run)
    write_expected(out, "lightning", {"epochs": 3, "steps_per_epoch": 4})


RUNS = {
    "keras-epoch": lambda out: keras_run(out, "keras-epoch", 0.05, "epoch", 6, 7),
    "keras-batch": lambda out: keras_run(out, "keras-batch", 0.05, "batch", 2, 7),
    "keras-buggy": lambda out: keras_run(out, "keras-buggy", 50.0, "epoch", 6, 7),
    "tf-summary": tf_summary_run,
    "torch": torch_run,
    "lightning": lightning_run,
}


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1]
    names = argv[2:] or list(RUNS)
    for name in names:
        if name not in RUNS:
            print("unknown run %s (known: %s)" % (name, ", ".join(RUNS)), file=sys.stderr)
            return 2
    os.makedirs(out, exist_ok=True)
    for name in names:
        shutil.rmtree(os.path.join(out, name), ignore_errors=True)
        RUNS[name](out)
        print("wrote", os.path.join(out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
