"""A Keras model fed string ids (``StringLookup``, as keras.io's recommender examples write it):
the recorder records the first numeric input, or no input row when every input is a string, and
training runs as it does without the recorder. Real recorders, real files, read back with
pyarrow."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from conftest import assert_stats_close, numpy_stats, read_parquet_trace, row_stats  # noqa: E402

from dltrace.keras import Recorder  # noqa: E402

L = keras.layers
USERS = np.array([f"user_{i}" for i in range(12)])


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    users = USERS[rng.integers(0, len(USERS), n)]
    age = rng.normal(40, 12, size=(n, 1)).astype("float32")
    rating = rng.uniform(1, 5, size=(n, 1)).astype("float32")
    return users, age, rating


def model(with_age):
    user = keras.Input((), dtype="string", name="user")
    ids = L.StringLookup(vocabulary=list(USERS), name="lookup")(user)
    h = L.Embedding(len(USERS) + 1, 4, name="user_embedding")(ids)
    inputs = {"user": user}
    if with_age:
        # named after "user": the inputs flatten in key order, so the string input comes first
        age = keras.Input((1,), name="years")
        inputs["years"] = age
        h = L.Concatenate()([h, age])
    out = L.Dense(1, name="rating")(L.Dense(8, activation="relu", name="hidden")(h))
    m = keras.Model(inputs, out)
    m.compile(optimizer="adam", loss="mse")
    return m


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_stringAndNumericInputs_inputRowsAreTheNumericOnes(tmp_path, mode):
    keras.utils.set_random_seed(3)
    users, age, rating = data()
    m = model(with_age=True)
    rec = Recorder(tmp_path / "run.parquet", mode=mode)
    batches = tf.data.Dataset.from_tensor_slices(({"user": users, "years": age}, rating)).batch(32)
    history = m.fit(batches, epochs=1, verbose=0, callbacks=[rec])
    assert np.isfinite(history.history["loss"][-1])
    rows, _ = read_parquet_trace(tmp_path / "run.parquet")
    inputs = [r for r in rows if r["phase"] == "input"]
    if mode == "callback":
        assert inputs == []  # callback mode records weights and the logged scalars only
        return
    assert [r["step"] for r in inputs] == ["0", "1", "2"]
    for r in inputs:
        batch = age[32 * int(r["step"]):32 * (int(r["step"]) + 1)]
        assert_stats_close(row_stats(r), numpy_stats(batch), "step " + r["step"])
    assert {r["layer_name"] for r in rows if r["phase"] == "weight"} >= {"user_embedding", "rating"}


def test_onlyStringInputs_noInputRow_theRestRecorded(tmp_path):
    keras.utils.set_random_seed(4)
    users, _, rating = data()
    m = model(with_age=False)
    rec = Recorder(tmp_path / "run.parquet")
    batches = tf.data.Dataset.from_tensor_slices(({"user": users}, rating)).batch(32)
    m.fit(batches, epochs=1, verbose=0, callbacks=[rec])
    rows, _ = read_parquet_trace(tmp_path / "run.parquet")
    assert not [r for r in rows if r["phase"] == "input"]
    assert len([r for r in rows if r["phase"] == "target"]) == 3
    assert len([r for r in rows if r["phase"] == "loss"]) == 3
    assert {r["layer_name"] for r in rows if r["phase"] == "gradient"} >= {"user_embedding", "hidden"}
