"""The ``episode_return`` rows of the Keras recorder: read from the logs of
``on_train_batch_end`` (written at that step) and ``on_epoch_end`` (at the epoch's last step),
and kept by ``Recorder.add_return`` for the next step; in fit (own step and callback mode) and
in a loop of one's own driving a ``CallbackList``. Real recorders, real files, read back with
pyarrow."""

import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import assert_stats_close, numpy_stats, read_arrow_trace, read_parquet_trace, row_stats  # noqa: E402

from dltrace.keras import Recorder  # noqa: E402

L = keras.layers


def data(n=160, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8)).astype("float32"), rng.integers(0, 3, n)


def mlp():
    return keras.Sequential([keras.Input((8,)), L.Dense(6, activation="tanh", name="hidden"),
                             L.Dense(3, activation="softmax", name="out")])


class LogsReturns(keras.callbacks.Callback):
    """Puts ``episode_return`` into the logs of the batches in ``at`` (step -> value), and of
    the epochs in ``epochs``, as an agent's own callback placed before the recorder would."""

    def __init__(self, at=None, epochs=None):
        super().__init__()
        self.at, self.epochs, self.step = at or {}, epochs or {}, 0

    def on_train_batch_end(self, batch, logs=None):
        if self.step in self.at:
            logs["episode_return"] = self.at[self.step]
        self.step += 1

    def on_epoch_end(self, epoch, logs=None):
        if epoch in self.epochs:
            logs["episode_return"] = self.epochs[epoch]


def returns_rows(rows):
    return {r["step"]: r for r in rows if r["phase"] == "episode_return"}


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_fit_batchLogs_rowAtThatStep_listAndNumber_everyDoesNotDropThem(tmp_path, mode):
    keras.utils.set_random_seed(1)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = data()
    rec = Recorder(tmp_path / "run.parquet", mode=mode, every=4)
    logs = LogsReturns(at={1: 21.0, 2: [10.0, 30.0, 50.0], 6: np.float32(8.5)})
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[logs, rec])
    rows, meta = read_parquet_trace(tmp_path / "run.parquet")
    assert meta["dltrace.record_every"] == "4"
    assert {r["step"] for r in rows if r["layer_name"] == "hidden"} == {"0", "4", "8"}
    found = returns_rows(rows)
    assert sorted(found, key=int) == ["1", "2", "6"]
    assert_stats_close(row_stats(found["1"]), numpy_stats([21.0]), "step 1")
    assert_stats_close(row_stats(found["2"]), numpy_stats([10.0, 30.0, 50.0]), "step 2")
    assert found["2"]["std"] == pytest.approx(np.std([10.0, 30.0, 50.0]), rel=1e-12)
    assert found["6"]["mean"] == 8.5
    assert (found["6"]["epoch"], found["6"]["batch"]) == ("1", "1")
    assert found["1"]["layer_index"] == "-1" and found["1"]["layer_name"] == "model"
    if mode == "callback":
        assert "episode_return" in meta["dltrace.record_phases"].split(",")


def test_fit_epochLogs_rowAtTheEpochsLastStep(tmp_path):
    keras.utils.set_random_seed(2)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data()
    rec = Recorder(tmp_path / "run.arrows")
    # epoch 0: only its end logs a return; epoch 1: a batch and the epoch's end log one each
    logs = LogsReturns(at={7: 3.0}, epochs={0: -120.5, 1: [-80.0, -60.0]})
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[logs, rec])
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    found = returns_rows(rows)
    assert sorted(found, key=int) == ["4", "7", "9"]   # 5 steps per epoch
    assert found["4"]["mean"] == -120.5 and found["4"]["numel"] == 1
    assert (found["4"]["epoch"], found["4"]["batch"]) == ("0", "4")
    assert found["7"]["mean"] == 3.0
    assert_stats_close(row_stats(found["9"]), numpy_stats([-80.0, -60.0]), "epoch 1")
    assert (found["9"]["epoch"], found["9"]["batch"]) == ("1", "4")


class ReturnsInItsStep(keras.Model):
    """A model whose own train step logs an ``episode_return`` (a metric-like value): fit's
    epoch logs then repeat the last batch's, which must not make a second row."""

    def train_step(self, data):
        logs = super().train_step(data)
        logs["episode_return"] = 2.0 * keras.ops.cast(self.optimizer.iterations, "float32")
        return logs


def test_fit_ownTrainStepLogsIt_everyStepOnce_epochsRepeatNotWrittenAgain(tmp_path):
    keras.utils.set_random_seed(7)
    inputs = keras.Input((8,))
    model = ReturnsInItsStep(inputs, L.Dense(3, activation="softmax", name="out")(inputs))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(96)
    rec = Recorder(tmp_path / "run.arrows", mode="callback")
    model.fit(x, y, batch_size=32, epochs=2, verbose=0, callbacks=[rec])
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    found = [r for r in rows if r["phase"] == "episode_return"]
    assert [(r["step"], r["mean"]) for r in found] == [
        (str(s), 2.0 * (s + 1)) for s in range(6)]


def test_callbackListLoop_epochLogsAddReturnAndPendingAtClose(tmp_path):
    # A DDPG-like loop of one's own: one episode per epoch, its return in the epoch's logs; an
    # extra add_return while acting; returns still kept when training ends
    keras.utils.set_random_seed(3)
    model = mlp()
    model.build((None, 8))
    optimizer = keras.optimizers.SGD(0.01)
    path = tmp_path / "run.arrows"
    rec = Recorder(path, mode="callback", optimizer=optimizer, batch_size=16,
                   task="regression", loss_name="mean_squared_error",
                   objective="temporal_difference")
    callbacks = keras.callbacks.CallbackList([rec], model=model, epochs=2, steps=3)
    callbacks.on_train_begin()
    step = 0
    for epoch in range(2):
        callbacks.on_epoch_begin(epoch)
        for batch in range(3):
            callbacks.on_train_batch_begin(batch)
            if step == 1:
                rec.add_return([5.0, 6.0])       # written with step 1
            logs = {"loss": 0.5 + step}
            if step == 4:
                logs["episode_return"] = [1.0]   # merged with what add_return kept
                rec.add_return(2.0)
            callbacks.on_train_batch_end(batch, logs)
            step += 1
        callbacks.on_epoch_end(epoch, {"loss": 0.5, "episode_return": -1000.0 + epoch})
    rec.add_return(77.0)                         # after the last step: at it, at close
    callbacks.on_train_end()
    rows, meta = read_arrow_trace(path)
    assert meta["dltrace.objective"] == "temporal_difference"
    found = [r for r in rows if r["phase"] == "episode_return"]
    assert [(r["step"], r["numel"]) for r in found] == [
        ("1", 2), ("2", 1), ("4", 2), ("5", 1), ("5", 1)]
    assert_stats_close(row_stats(found[0]), numpy_stats([5.0, 6.0]), "add_return")
    assert found[1]["mean"] == -1000.0 and found[3]["mean"] == -999.0
    assert_stats_close(row_stats(found[2]), numpy_stats([2.0, 1.0]), "merged")
    assert found[4]["mean"] == 77.0
    assert (found[4]["epoch"], found[4]["batch"]) == ("1", "2")


def test_phasesLeavingItOut_noRows(tmp_path):
    keras.utils.set_random_seed(4)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data()
    rec = Recorder(tmp_path / "run.arrows", phases=["weight"])
    rec.add_return(12.0)
    logs = LogsReturns(at={1: 21.0}, epochs={0: 5.0})
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[logs, rec])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert {r["phase"] for r in rows} == {"loss", "weight"}
    assert meta["dltrace.record_phases"] == "loss,weight"


def test_notANumber_typeErrorNamingIt(tmp_path):
    rec = Recorder(tmp_path / "run.arrows")
    with pytest.raises(TypeError, match="add_return must be a number, a sequence of numbers, "
                                        "a numpy array or a tensor, got str"):
        rec.add_return("12")
    with pytest.raises(TypeError, match="got dict"):
        rec.add_return([1.0, {"r": 2}])
    keras.utils.set_random_seed(5)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(64)
    with pytest.raises(TypeError, match="the logged 'episode_return' must be a number.*got str"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0,
                  callbacks=[LogsReturns(at={0: "high"}), rec])


def test_nanKeptAndCounted(tmp_path):
    keras.utils.set_random_seed(6)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(64)
    rec = Recorder(tmp_path / "run.arrows")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[LogsReturns(at={0: [1.0, float("nan")]}), rec])
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    row = returns_rows(rows)["0"]
    assert (row["numel"], row["nan_count"]) == (2, 1) and math.isnan(row["mean"])
