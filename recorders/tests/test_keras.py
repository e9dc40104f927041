"""Tests of the Keras 3 recorder (TensorFlow backend): statistics against numpy float64 of
tensors re-derived with an independent GradientTape, layer discovery, sampling, and that
recording does not change what the model learns."""

import json
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from conftest import assert_stats_close, find, numpy_stats, read_arrow_trace, row_stats  # noqa: E402

from dltrace.keras import Recorder  # noqa: E402

L = keras.layers


def data(n=32, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype("float32"), rng.integers(0, classes, n)


def mlp():
    return keras.Sequential([keras.Input((8,)), L.Dense(6, activation="tanh", name="hidden"),
                             L.Dense(4, name="mid"), L.ReLU(name="relu"),
                             L.Dense(3, name="out"), L.Softmax(name="softmax")])


def test_step_everyPhase_matchesIndependentTapeInFloat64(tmp_path):
    keras.utils.set_random_seed(1)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x, y = data()
    w = {}
    for name in ("hidden", "mid", "out"):
        layer = model.get_layer(name)
        w[name + "/kernel"] = tf.constant(layer.kernel.numpy())
        w[name + "/bias"] = tf.constant(layer.bias.numpy())
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(list(w.values()))
        h1 = tf.matmul(xt, w["hidden/kernel"]) + w["hidden/bias"]
        a1 = tf.tanh(h1)
        h2 = tf.matmul(a1, w["mid/kernel"]) + w["mid/bias"]
        a2 = tf.nn.relu(h2)
        h3 = tf.matmul(a2, w["out/kernel"]) + w["out/bias"]
        p = tf.nn.softmax(h3)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, p))
    g_h = tape.gradient(loss, [h1, h2, h3])
    g_w = tape.gradient(loss, [w["hidden/kernel"], w["mid/kernel"], w["out/kernel"]])
    path = tmp_path / "run.arrows"

    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Recorder(path)])
    rows, meta = read_arrow_trace(path)

    expected = {("hidden", "forward"): h1, ("hidden", "activation"): a1,
                ("mid", "forward"): h2, ("mid", "activation"): a2,
                ("out", "forward"): h3, ("out", "activation"): p,
                ("hidden", "backward"): g_h[0], ("mid", "backward"): g_h[1],
                ("out", "backward"): g_h[2],
                ("hidden", "gradient"): g_w[0], ("mid", "gradient"): g_w[1],
                ("out", "gradient"): g_w[2],
                ("model", "input"): x, ("model", "target"): y,
                ("model", "loss"): np.array([float(loss)])}
    for name in ("hidden", "mid", "out"):
        expected[(name, "weight")] = model.get_layer(name).kernel.numpy()
    for (layer, phase), tensor in expected.items():
        exact = phase == "weight" or layer == "model"
        assert_stats_close(row_stats(find(rows, 0, layer, phase)), numpy_stats(np.asarray(tensor)),
                           "%s %s" % (layer, phase), rederived=not exact)
    assert [(r["layer_name"], r["phase"]) for r in rows] == [
        ("model", "input"), ("model", "target"),
        ("hidden", "forward"), ("hidden", "activation"), ("mid", "forward"),
        ("mid", "activation"), ("out", "forward"), ("out", "activation"),
        ("model", "loss"), ("model", "accuracy"),
        ("out", "backward"), ("mid", "backward"), ("hidden", "backward"),
        ("hidden", "gradient"), ("mid", "gradient"), ("out", "gradient"),
        ("hidden", "weight"), ("mid", "weight"), ("out", "weight"), ("model", "learning_rate")]
    accuracy = float(np.mean(np.argmax(p.numpy(), 1) == y))
    assert find(rows, 0, "model", "accuracy")["mean"] == pytest.approx(accuracy, abs=1e-12)
    assert find(rows, 0, "model", "learning_rate")["mean"] == pytest.approx(0.1, rel=1e-7)
    layers = json.loads(meta["dltrace.layers"])
    assert [(l["index"], l["name"], l["type"], l["activation"], l["params"]) for l in layers] == [
        (0, "hidden", "Dense", "tanh", 54), (1, "mid", "Dense", "relu", 28),
        (2, "out", "Dense", "softmax", 15)]
    assert meta["dltrace.framework"] == "keras"
    assert meta["dltrace.optimizer"] == "SGD"
    assert meta["dltrace.task"] == "classification"
    assert meta["dltrace.loss"] == "sparse_categorical_crossentropy"
    assert meta["dltrace.num_classes"] == "3"
    assert meta["dltrace.batch_size"] == "32"
    assert meta["dltrace.steps_per_epoch"] == "1"


@pytest.mark.parametrize("case", ["randn", "offset", "large", "ints", "nan", "inf", "empty", "float64"])
def test_reduce_sameTensor_withinDocumentedToleranceOfNumpy(case):
    from dltrace._core.stats import as_tuple, finalize
    from dltrace.keras import reduce
    from conftest import STATS

    rng = np.random.default_rng(7)
    values = {
        "randn": lambda: rng.normal(size=(64, 33)).astype("float32"),
        "offset": lambda: (1000.0 + 0.01 * rng.normal(size=(300, 70))).astype("float32"),
        "large": lambda: (3.0 + rng.normal(size=(4, 1_000_000))).astype("float32"),
        "ints": lambda: rng.integers(0, 10, size=(50,)),
        "nan": lambda: np.array([1.0, np.nan, 0.0, 3.0], dtype="float32"),
        "inf": lambda: np.array([[1.0, np.inf], [0.0, 2.0]], dtype="float32"),
        "empty": lambda: np.zeros((0, 4), dtype="float32"),
        "float64": lambda: rng.normal(size=(17,)),
    }[case]()
    values.reshape(-1)[::5] = 0 if values.size and case in ("randn", "large") else values.reshape(-1)[::5]
    raw = tf.function(reduce)(tf.constant(values)).numpy()
    actual = dict(zip(STATS, as_tuple(*finalize([raw]))))
    if case == "empty":
        assert math.isnan(actual["mean"]) and actual["numel"] == 0 and actual["std"] is None
        return
    assert_stats_close(actual, numpy_stats(values), case)


def test_fit_withRecorder_learnsWhatItLearnsWithoutUpToFloat32Rounding(tmp_path):
    # Not bit for bit: with the pre-activations recorded, TensorFlow's graph optimizer no
    # longer fuses a Dense's matmul, bias and activation into one kernel.
    x, y = data(96)
    weights = []
    for callbacks in ([], [Recorder(tmp_path / "run.arrows")]):
        keras.utils.set_random_seed(2)
        model = mlp()
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0,
                            validation_data=(x, y), callbacks=callbacks)
        weights.append(([v.numpy() for v in model.weights], history.history))
    for a, b in zip(weights[0][0], weights[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key, values in weights[0][1].items():
        np.testing.assert_allclose(values, weights[1][1][key], rtol=1e-5, err_msg=key)
    # the model is left as it was: its own train step, predict works
    assert "train_step" not in model.__dict__
    model.predict(x, verbose=0)
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    val = [r for r in rows if r["phase"] in ("val_loss", "val_accuracy")]
    assert [(r["step"], r["phase"]) for r in val] == [
        ("2", "val_loss"), ("2", "val_accuracy"), ("5", "val_loss"), ("5", "val_accuracy")]
    assert val[0]["mean"] == pytest.approx(weights[1][1]["val_loss"][0], rel=1e-12)


def test_functional_convBatchNormLstmEmbeddingAttention_everyLayerRecorded(tmp_path):
    keras.utils.set_random_seed(3)
    image = keras.Input((8, 8, 1))
    c = L.Conv2D(4, 3, activation="relu", name="conv")(image)
    c = L.BatchNormalization(name="bn")(c)
    c = L.GlobalAveragePooling2D()(c)
    tokens = keras.Input((6,), dtype="int32")
    e = L.Embedding(20, 8, name="emb")(tokens)
    a = L.MultiHeadAttention(2, 4, name="mha")(e, e)
    e = L.LayerNormalization(name="ln")(e + a)
    r = L.LSTM(5, name="lstm")(e)
    g = L.GRU(3, name="gru")(e)
    out = L.Dense(2, activation="softmax", name="head")(L.Concatenate()([c, r, g]))
    model = keras.Model([image, tokens], out)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    xi = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    xt = rng.integers(0, 20, size=(16, 6))
    yy = keras.utils.to_categorical(rng.integers(0, 2, 16), 2)

    model.fit([xi, xt], yy, batch_size=8, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")

    names = [l["name"] for l in json.loads(meta["dltrace.layers"])]
    assert sorted(names) == sorted(["conv", "bn", "emb", "mha/query", "mha/key", "mha/value",
                                    "mha/attention_output", "ln", "lstm", "gru", "head"])
    for name in names:
        for phase in ("forward", "activation", "backward", "gradient", "weight"):
            find(rows, 1, name, phase)
    assert int(find(rows, 0, "lstm", "weight")["numel"]) == 8 * 20 + 5 * 20
    assert int(find(rows, 0, "bn", "weight")["numel"]) == 4          # gamma only
    assert int(find(rows, 0, "conv", "forward")["numel"]) == 8 * 6 * 6 * 4
    conv = find(rows, 0, "conv", "activation")
    assert float(conv["min"]) == 0.0                                  # relu after the pre-activation
    assert float(find(rows, 0, "conv", "forward")["min"]) < 0.0
    assert float(find(rows, 0, "head", "activation")["mean"]) == pytest.approx(0.5, abs=1e-7)
    assert meta["dltrace.num_classes"] == "2"


def test_every_layersAndPhases_recordSubsetAndSayItInMetadata(tmp_path):
    keras.utils.set_random_seed(4)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(160)
    rec = Recorder(tmp_path / "run.arrows", every=2, layers=["h*"], phases=["weight", "forward"])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[rec])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert {r["step"] for r in rows if r["phase"] == "loss"} == {"0", "1", "2", "3", "4"}
    assert {(r["step"], r["layer_name"], r["phase"]) for r in rows if r["layer_name"] != "model"} == {
        (s, "hidden", p) for s in ("0", "2", "4") for p in ("forward", "weight")}
    assert meta["dltrace.record_every"] == "2"
    assert json.loads(meta["dltrace.record_layers"]) == ["h*"]
    assert meta["dltrace.record_phases"] == "forward,loss,weight"


def test_nonFiniteLoss_recordedInFullWhateverEvery(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((8,)), L.Dense(16, name="a"), L.Dense(1, name="b")])
    model.compile(optimizer=keras.optimizers.SGD(1e4), loss="mse")
    x, _ = data(32 * 12)
    y = (x.sum(1) * 100).astype("float32")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows", every=100)])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    losses = {int(r["step"]): r["mean"] for r in rows if r["phase"] == "loss"}
    first_bad = min(s for s, v in losses.items() if not math.isfinite(v))
    assert first_bad > 0
    full = {int(r["step"]) for r in rows if r["layer_name"] == "a" and r["phase"] == "forward"}
    assert {0, first_bad, first_bad + 1, first_bad + 2, first_bad + 3} <= full
    assert first_bad - 1 not in full or first_bad - 1 == 0
    assert meta["dltrace.task"] == "regression"
    assert "dltrace.num_classes" not in meta


def test_options_badValues_raiseNamingThem(tmp_path):
    with pytest.raises(ValueError, match="unknown phase 'fwd'"):
        Recorder(tmp_path / "run.arrows", phases=["fwd"])
    with pytest.raises(ValueError, match="every must be a positive integer"):
        Recorder(tmp_path / "run.arrows", every=0)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data()
    with pytest.raises(ValueError, match="'conv\\*' matches no layer; the layers are: hidden, mid, out"):
        model.fit(x, y, verbose=0, callbacks=[Recorder(tmp_path / "r.arrows", layers=["conv*"])])


def test_metadata_lossLogitsOptimizerFansRegularizerAndFrozenNormalization(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((8,)),
        L.Dense(6, activation="relu", kernel_regularizer=keras.regularizers.L2(0.5), name="h"),
        L.BatchNormalization(name="bn"),
        L.Dense(3, name="out")])
    model.get_layer("bn").trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, weight_decay=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = data(32)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    _, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert meta["dltrace.loss_from_logits"] == "true"
    assert float(meta["dltrace.weight_decay"]) == pytest.approx(1e-3)
    assert float(meta["dltrace.momentum"]) == pytest.approx(0.9)
    layers = {l["name"]: l for l in json.loads(meta["dltrace.layers"])}
    assert (layers["h"]["fan_in"], layers["h"]["fan_out"]) == (8, 6)
    assert layers["h"]["regularizer"] == {"l2": pytest.approx(0.5)}
    assert layers["bn"]["training"] is False
    assert "training" not in layers["h"]



def test_accuracy_oneSigmoidUnitWithIntegerLabels_isThresholdedAgreement(tmp_path):
    keras.utils.set_random_seed(6)
    model = keras.Sequential([keras.Input((8,)), L.Dense(1, activation="sigmoid", name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")
    x, y = data(32, classes=2)
    assert y.dtype == np.int64  # integer labels, as np.integers or a LabelEncoder give them
    layer = model.get_layer("out")
    logits = x.astype(np.float64) @ layer.kernel.numpy() + layer.bias.numpy()
    expected = float(np.mean((logits.reshape(-1) > 0.0) == (y > 0.5)))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    assert find(rows, 0, "model", "accuracy")["mean"] == pytest.approx(expected, abs=1e-12)


class Subclassed(keras.Model):
    """A keras.Model subclass with its own call(), never called before fit: its layers have no
    weights when training begins."""

    def __init__(self):
        super().__init__()
        self.hidden = L.Dense(6, activation="relu", name="hidden")
        self.out = L.Dense(3, name="out")

    def call(self, x):
        return self.out(self.hidden(x))


def test_subclassedModelNeverCalled_isBuiltFromTheFirstBatchAndRecordedFromStepZero(tmp_path):
    x, y = data(64)
    histories = []
    for callbacks in ([], [Recorder(tmp_path / "run.arrows")]):
        keras.utils.set_random_seed(3)
        model = Subclassed()
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        histories.append(model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0,
                                   callbacks=callbacks).history)
    np.testing.assert_allclose(histories[0]["loss"], histories[1]["loss"], rtol=1e-5)
    rows, metadata = read_arrow_trace(tmp_path / "run.arrows")
    layers = json.loads(metadata["dltrace.layers"])
    assert [(l["name"], l["type"], l["activation"]) for l in layers] == [
        ("hidden", "Dense", "relu"), ("out", "Dense", "linear")]
    # no symbolic outputs: the class count comes from the output seen when the step was traced
    assert metadata["dltrace.num_classes"] == "3"
    assert sorted({int(r["step"]) for r in rows if r["phase"] == "loss"}) == [0, 1, 2, 3]
    weights = [r for r in rows if r["phase"] == "weight" and r["step"] == "0"]
    assert [r["layer_name"] for r in weights] == ["hidden", "out"]


class SoftmaxInCall(keras.Model):
    """Applies its output softmax with an op in call(), not with a layer or an activation."""

    def __init__(self):
        super().__init__()
        self.hidden = L.Dense(6, activation="relu", name="hidden")
        self.out = L.Dense(3, name="out")

    def call(self, x):
        return keras.ops.softmax(self.out(self.hidden(x)))


def test_outputSoftmaxAppliedByAnOpInCall_describesAndRecordsTheOutputLayerWithIt(tmp_path):
    x, y = data(64)
    keras.utils.set_random_seed(4)
    model = SoftmaxInCall()
    model(x[:1])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, metadata = read_arrow_trace(tmp_path / "run.arrows")
    layers = json.loads(metadata["dltrace.layers"])
    assert [(l["name"], l["activation"]) for l in layers] == [("hidden", "relu"), ("out", "softmax")]
    probabilities = [r for r in rows if r["layer_name"] == "out" and r["phase"] == "activation"]
    assert len(probabilities) == 2
    for r in probabilities:
        assert 0.0 <= float(r["min"]) and float(r["max"]) <= 1.0
        assert float(r["mean"]) == pytest.approx(1 / 3, rel=1e-5)


def test_outputLayerFollowedByAnotherOp_staysLinear(tmp_path):
    class Scaled(keras.Model):
        def __init__(self):
            super().__init__()
            self.out = L.Dense(3, name="out")

        def call(self, x):
            return self.out(x) * 2.0

    x, y = data(64)
    model = Scaled()
    model(x[:1])
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    _, metadata = read_arrow_trace(tmp_path / "run.arrows")
    assert [l["activation"] for l in json.loads(metadata["dltrace.layers"])] == ["linear"]
