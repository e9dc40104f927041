"""The stop file (``dl-analyze watch --stop-file``): the recorders end training at the step after
it appears, with every recorded step written and the reason in the trace's metadata."""

import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.ipc  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import dltrace  # noqa: E402
from dltrace.pytorch import attach  # noqa: E402


def train(path, stop, stop_at, steps=20, **options):
    """Steps of a small MLP; the stop file appears before step ``stop_at``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = attach(model, str(path), optimizer=opt, flush_every=50, stop_file=str(stop), **options)
    done = []
    for step in range(steps):
        if step == stop_at:
            stop.write_text("watch says stop\nmore lines are ignored\n")
        x, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if rec.step(loss):
            break
        done.append(step)
    return rec, done


def stream(path):
    """Every batch of an .arrows stream with its custom metadata, read with pyarrow."""
    with pa.memory_map(str(path)) as source:
        reader = pa.ipc.open_stream(source)
        batches = []
        while True:
            try:
                batches.append(reader.read_next_batch_with_custom_metadata())
            except StopIteration:
                return reader.schema, batches


def test_pytorch_stopFile_endsTrainingWithReasonInTheStream(tmp_path, capsys):
    path, stop = tmp_path / "run.arrows", tmp_path / "stop"
    with pytest.raises(dltrace.TrainingStopped) as stopped:
        train(path, stop, stop_at=7)
    assert stopped.value.code == 0 and stopped.value.step == 7
    assert stopped.value.reason == "watch says stop"
    assert "dltrace: training stopped after step 7: watch says stop" in capsys.readouterr().err
    schema, batches = stream(path)
    steps = np.concatenate([b.batch.column("step").to_numpy() for b in batches])
    assert sorted(set(steps.tolist())) == list(range(8))  # steps 0..7, all written
    last = batches[-1]
    assert last.batch.num_rows == 0
    assert last.custom_metadata[b"dltrace.stop_reason"] == b"watch says stop"
    assert last.custom_metadata[b"dltrace.stopped_at_step"] == b"7"


def test_pytorch_onStopFlag_stepReturnsTrueAndCsvSidecarHoldsTheReason(tmp_path):
    path, stop = tmp_path / "run.csv", tmp_path / "stop"
    rec, done = train(path, stop, stop_at=3, on_stop="flag")
    assert done == [0, 1, 2] and rec.stop_reason == "watch says stop"
    assert rec.step(torch.tensor(1.0)) is True  # later calls record nothing
    meta = json.loads((tmp_path / "run.csv.meta.json").read_text())
    assert meta["dltrace.stop_reason"] == "watch says stop"
    assert meta["dltrace.stopped_at_step"] == "3"


def test_pytorch_noStopFile_stepReturnsFalse(tmp_path):
    _, done = train(tmp_path / "run.arrows", tmp_path / "stop", stop_at=-1, steps=3)
    assert done == [0, 1, 2]


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_keras_stopFile_setsStopTrainingAndClosesTheTrace(tmp_path, mode):
    import keras
    from dltrace.keras import Recorder

    keras.utils.set_random_seed(0)
    path, stop = tmp_path / "run.arrows", tmp_path / "stop"
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")

    class StopAt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 4:
                stop.write_text("stop now\n")

    x = np.random.default_rng(0).normal(size=(160, 4)).astype("float32")
    y = np.random.default_rng(1).integers(0, 2, 160)
    rec = Recorder(str(path), stop_file=str(stop), mode=mode)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[StopAt(), rec])
    assert rec.stop_reason == "stop now"
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    _, batches = stream(path)
    steps = np.concatenate([b.batch.column("step").to_numpy() for b in batches])
    assert steps.max() == 4
    assert batches[-1].custom_metadata[b"dltrace.stop_reason"] == b"stop now"
