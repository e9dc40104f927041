"""Tests of the Keras 3 recorder (TensorFlow backend): statistics against numpy float64 of
tensors re-derived with an independent GradientTape, layer discovery, sampling, and that
recording does not change what the model learns."""

import json
import math
import os
import warnings

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


@pytest.mark.parametrize("case", ["randn", "offset", "large", "large-raw", "relu", "ints", "nan",
                                  "inf", "empty", "float64"])
def test_reduce_sameTensor_withinDocumentedToleranceOfNumpy(case):
    from dltrace._core.stats import as_tuple, finalize
    from dltrace.keras import reduce
    from conftest import STATS

    rng = np.random.default_rng(7)
    values = {
        "randn": lambda: rng.normal(size=(64, 33)).astype("float32"),
        "offset": lambda: (1000.0 + 0.01 * rng.normal(size=(300, 70))).astype("float32"),
        "large": lambda: (3.0 + rng.normal(size=(4, 1_000_000))).astype("float32"),
        # mean 0.99 std: the sum of squares stands for the centered one (RAW_MOMENT_RATIO)
        "large-raw": lambda: (0.99 + rng.normal(size=(4_194_304,))).astype("float32"),
        "relu": lambda: np.maximum(rng.normal(size=(32, 28, 28, 8)), 0).astype("float32"),
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


def test_metadata_aStringLoss_takesProbabilities_andSaysSo(tmp_path):
    # Keras' string losses take probabilities; a trace without the key would leave the analyzer
    # to judge a linear output under it from the run's outcome only
    keras.utils.set_random_seed(5)
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data(32)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    _, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert meta["dltrace.loss"] == "sparse_categorical_crossentropy"
    assert meta["dltrace.loss_from_logits"] == "false"


def test_metadata_lossLogitsOptimizerFansRegularizerAndFrozenNormalization(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((8,)),
        L.Dense(6, activation="relu", kernel_regularizer=keras.regularizers.L2(0.5), name="h"),
        L.BatchNormalization(name="bn"),
        L.Dense(4, activity_regularizer=keras.regularizers.L1(0.25), name="neck"),
        L.Dense(5, kernel_regularizer=keras.regularizers.L1L2(l1=0.1, l2=0.2),
                activity_regularizer=keras.regularizers.L2(0.3), name="both"),
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
    # An activity regularizer adds its penalty to the loss too.
    assert layers["neck"]["regularizer"] == {"activity_l1": pytest.approx(0.25)}
    assert layers["both"]["regularizer"] == {"l1": pytest.approx(0.1), "l2": pytest.approx(0.2),
                                             "activity_l2": pytest.approx(0.3)}
    assert "regularizer" not in layers["out"]
    assert layers["bn"]["training"] is False
    assert "training" not in layers["h"]


def test_metadata_timeDistributedDense_hasTheWrappedLayersActivation(tmp_path):
    # The Keras "addition RNN" example's head: a softmax over the characters at every step.
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((5, 4)),
        L.Bidirectional(L.LSTM(6, return_sequences=True), name="bi"),
        L.TimeDistributed(L.Dense(3, activation="relu"), name="per_step"),
        L.TimeDistributed(L.Dense(3, activation="softmax"), name="char_out")])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(16, 5, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, (16, 5))]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    layers = {l["name"]: l for l in json.loads(meta["dltrace.layers"])}
    assert layers["char_out"]["type"] == "TimeDistributed"
    assert layers["char_out"]["activation"] == "softmax"
    assert layers["per_step"]["activation"] == "relu"
    # An RNN applies its activations inside: nothing to name on its output.
    assert layers["bi/forward_lstm"]["activation"] == "linear"
    # The wrapper's rows are its output: probabilities that sum to 1 over the 3 characters.
    out = find(rows, 0, "char_out", "activation")
    assert out["mean"] == pytest.approx(1 / 3, abs=1e-6)


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


def test_accuracy_binaryLossOverSeveralUnits_isEachUnitsThresholdedAgreement(tmp_path):
    # Multi-label tags: four sigmoid units under a binary cross-entropy. Keras' "accuracy"
    # is binary_accuracy there; an argmax over the units would compare the first tag only.
    keras.utils.set_random_seed(9)
    model = keras.Sequential([keras.Input((8,)), L.Dense(4, activation="sigmoid", name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="binary_crossentropy")
    rng = np.random.default_rng(9)
    x = rng.normal(size=(32, 8)).astype("float32")
    y = (rng.random((32, 4)) < 0.4).astype("float32")
    layer = model.get_layer("out")
    logits = x.astype(np.float64) @ layer.kernel.numpy() + layer.bias.numpy()
    expected = float(np.mean((logits > 0.0) == (y > 0.5)))
    argmax_agreement = float(np.mean(logits.argmax(-1) == y.argmax(-1)))
    assert expected != pytest.approx(argmax_agreement, abs=1e-6)
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    assert find(rows, 0, "model", "accuracy")["mean"] == pytest.approx(expected, abs=1e-12)


def test_accuracyAndTargets_aListOfOutputsTrainedOnTargetsKeyedByName_areTheFirstOutputs(tmp_path):
    # the targets' keys sort differently from the outputs (the music generation tutorial's
    # pitch, step and duration heads fed a dict of labels): Keras matches them by name
    keras.utils.set_random_seed(3)
    inputs = keras.Input((8,))
    hidden = L.Dense(6, activation="tanh", name="hidden")(inputs)
    model = keras.Model(inputs, [L.Dense(3, name="pitch")(hidden), L.Dense(1, name="duration")(hidden)])
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss={"pitch": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                        "duration": "mse"})
    x, classes = data(32, classes=3, seed=4)
    durations = np.random.default_rng(5).uniform(0.5, 2.0, (32, 1)).astype("float32")
    h = np.tanh(x.astype(np.float64) @ model.get_layer("hidden").kernel.numpy()
                + model.get_layer("hidden").bias.numpy())
    logits = h @ model.get_layer("pitch").kernel.numpy() + model.get_layer("pitch").bias.numpy()
    expected = float(np.mean(logits.argmax(-1) == classes))
    dataset = tf.data.Dataset.from_tensor_slices(
        (x, {"duration": durations, "pitch": classes})).batch(32)
    model.fit(dataset, epochs=1, verbose=0, callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert meta["dltrace.loss"] == "sparse_categorical_crossentropy"
    assert find(rows, 0, "model", "accuracy")["mean"] == pytest.approx(expected, abs=1e-12)
    assert find(rows, 0, "model", "target")["mean"] == pytest.approx(float(classes.mean()), abs=1e-9)


def test_metadata_lossFromLogits_writtenForKerasLosses_leftOutForALossOfTheProgramsOwn(
        tmp_path):
    # the CORAL package's way: a plain function around a loss object built with from_logits=True
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    def levels_loss(y_true, y_pred):
        return bce(y_true, y_pred)

    class LevelsLoss(keras.losses.Loss):
        def call(self, y_true, y_pred):
            return bce(y_true, y_pred)

    class SmoothedLoss(keras.losses.Loss):
        def __init__(self, from_logits=False):
            super().__init__(name="smoothed")
            self.from_logits = from_logits

        def call(self, y_true, y_pred):
            return keras.losses.binary_crossentropy(y_true, y_pred, from_logits=self.from_logits)

    class WeightedBce(keras.losses.BinaryCrossentropy):
        def call(self, y_true, y_pred):
            return 2.0 * super().call(y_true, y_pred)

    x, y = data(32, classes=2)
    y = y.astype("float32")[:, None]
    metas = {}
    for name, loss in (("string", "binary_crossentropy"), ("object", bce),
                       ("keras_function", keras.losses.binary_crossentropy),
                       ("own", levels_loss), ("own_class", LevelsLoss()),
                       ("own_class_saying_it", SmoothedLoss(from_logits=True)),
                       ("own_subclass_of_keras", WeightedBce(from_logits=True))):
        keras.utils.set_random_seed(8)
        model = keras.Sequential([keras.Input((8,)), L.Dense(1, name="out")])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss)
        model.fit(x, y, batch_size=32, epochs=1, verbose=0,
                  callbacks=[Recorder(tmp_path / (name + ".arrows"))])
        metas[name] = read_arrow_trace(tmp_path / (name + ".arrows"))[1]
    assert metas["string"]["dltrace.loss_from_logits"] == "false"
    assert metas["object"]["dltrace.loss_from_logits"] == "true"
    assert metas["keras_function"]["dltrace.loss_from_logits"] == "false"
    assert "dltrace.loss_from_logits" not in metas["own"]
    assert "dltrace.loss_from_logits" not in metas["own_class"]
    assert metas["own_class_saying_it"]["dltrace.loss_from_logits"] == "true"
    assert metas["own_subclass_of_keras"]["dltrace.loss_from_logits"] == "true"


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


class PredictionLayer(L.Layer):
    """DeepCTR's output layer: a bias and a sigmoid applied inside its own call, with no
    ``activation`` attribute."""

    def build(self, input_shape):
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="global_bias")

    def call(self, x):
        return tf.sigmoid(x + self.bias)


def test_outputSigmoidAppliedInsideTheLastLayersCall_describesTheLayerWithIt(tmp_path):
    x, y = data(64)
    y = (y > 0).astype("float32").reshape(-1, 1)
    keras.utils.set_random_seed(4)
    inputs = keras.Input(shape=(x.shape[1],))
    logit = L.Dense(1, name="logit")(L.Dense(6, activation="relu", name="hidden")(inputs))
    model = keras.Model(inputs, PredictionLayer(name="prediction")(logit))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, metadata = read_arrow_trace(tmp_path / "run.arrows")
    layers = json.loads(metadata["dltrace.layers"])
    assert [(l["name"], l["activation"]) for l in layers] == [
        ("hidden", "relu"), ("logit", "linear"), ("prediction", "sigmoid")]
    probabilities = [r for r in rows if r["layer_name"] == "prediction"
                     and r["phase"] == "activation"]
    assert len(probabilities) == 2
    for r in probabilities:
        assert 0.0 < float(r["min"]) and float(r["max"]) < 1.0


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


# --------------------------------------------- activations applied by ops between trace layers

def fit_layers(model, tmp_path, epochs=1, **fit):
    """Fits ``model`` one epoch on 64 rows with the recorder; (rows, {name: layer entry})."""
    x, y = data(64)
    tmp_path.mkdir(parents=True, exist_ok=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows", **fit)])
    rows, metadata = read_arrow_trace(tmp_path / "run.arrows")
    return rows, {l["name"]: l for l in json.loads(metadata["dltrace.layers"])}


def on(block):
    """A functional model: Input(8) -> block -> Dense(3) 'head'."""
    inputs = keras.Input((8,))
    return keras.Model(inputs, L.Dense(3, name="head")(block(inputs)))


class EluBlock(L.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fc1 = L.Dense(6, name="fc1")
        self.fc2 = L.Dense(5, name="fc2")

    def call(self, x):
        return self.fc2(keras.ops.elu(self.fc1(x)))


def test_opActivation_eluInACustomLayer_isTheEarlierLayersActivationAndItsRows(tmp_path):
    keras.utils.set_random_seed(5)
    rows, layers = fit_layers(on(EluBlock(name="block")), tmp_path)
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("block/fc1", "elu"), ("block/fc2", "linear"), ("head", "linear")]
    forward = find(rows, 0, "block/fc1", "forward")
    activation = find(rows, 0, "block/fc1", "activation")
    assert float(forward["min"]) < -1.0 < float(activation["min"])   # elu's output is above -1
    assert float(activation["max"]) == pytest.approx(float(forward["max"]), rel=1e-6)


class GatedBlock(L.Layer):
    """A gated linear unit whose gate is a Dense of its own: value(x) * sigmoid(gate(x))."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.value = L.Dense(6, name="value")
        self.gate = L.Dense(6, name="gate")
        self.fc = L.Dense(5, name="fc")

    def call(self, x):
        return self.fc(self.value(x) * keras.ops.sigmoid(self.gate(x)))


def test_opActivation_gluGate_gateIsSigmoidAndTheGatedLayerGlu(tmp_path):
    keras.utils.set_random_seed(6)
    rows, layers = fit_layers(on(GatedBlock(name="block")), tmp_path)
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("block/value", "glu"), ("block/gate", "sigmoid"), ("block/fc", "linear"),
        ("head", "linear")]
    gate = find(rows, 0, "block/gate", "activation")
    assert 0.0 < float(gate["min"]) and float(gate["max"]) < 1.0
    assert float(find(rows, 0, "block/gate", "forward")["min"]) < 0.0


class SplitGlu(L.Layer):
    """One Dense of twice the width, split in halves a, b: a * sigmoid(b)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.glu = L.Dense(8, name="glu")
        self.fc = L.Dense(5, name="fc")

    def call(self, x):
        a, b = keras.ops.split(self.glu(x), 2, axis=-1)
        return self.fc(a * keras.ops.sigmoid(b))


def test_opActivation_splitGluAndSilu_areNamedAsTheGateNotAsItsSigmoid(tmp_path):
    keras.utils.set_random_seed(7)
    _, layers = fit_layers(on(SplitGlu(name="block")), tmp_path)
    assert layers["block/glu"]["activation"] == "glu"

    class Silu(keras.Model):
        def __init__(self):
            super().__init__()
            self.fc1 = L.Dense(6, name="fc1")
            self.fc2 = L.Dense(6, name="fc2")
            self.out = L.Dense(3, name="out")

        def call(self, x):
            h = keras.ops.silu(self.fc1(x))
            h = self.fc2(h)
            return self.out(h * keras.ops.sigmoid(h))   # SiLU written out

    model = Silu()
    model(data(1)[0])
    _, layers = fit_layers(model, tmp_path / "silu")
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("fc1", "silu"), ("fc2", "silu"), ("out", "linear")]


@pytest.mark.parametrize("approximate", [True, False])
def test_opActivation_geluExactOrTanhApproximation_isGelu(tmp_path, approximate):
    class Gelu(keras.Model):
        def __init__(self):
            super().__init__()
            self.fc1 = L.Dense(6, name="fc1")
            self.out = L.Dense(3, name="out")

        def call(self, x):
            return self.out(keras.ops.gelu(self.fc1(x), approximate=approximate))

    keras.utils.set_random_seed(12)
    model = Gelu()
    model(data(1)[0])
    _, layers = fit_layers(model, tmp_path)
    assert [(n, l["activation"]) for n, l in layers.items()] == [("fc1", "gelu"), ("out", "linear")]


def test_opActivation_sine_isSin(tmp_path):
    # a SIREN layer written as a custom model: Dense, then sin(omega_0 * x) by an op
    class Siren(keras.Model):
        def __init__(self):
            super().__init__()
            self.fc1 = L.Dense(6, name="fc1")
            self.out = L.Dense(3, name="out")

        def call(self, x):
            return self.out(keras.ops.sin(30.0 * self.fc1(x)))

    keras.utils.set_random_seed(13)
    model = Siren()
    model(data(1)[0])
    _, layers = fit_layers(model, tmp_path)
    assert [(n, l["activation"]) for n, l in layers.items()] == [("fc1", "sin"), ("out", "linear")]


class ReluBetween(keras.Model):
    def __init__(self):
        super().__init__()
        self.fc1 = L.Dense(6, name="fc1")
        self.fc2 = L.Dense(5, name="fc2")
        self.out = L.Dense(3, name="out")

    def call(self, x):
        return self.out(keras.ops.relu(self.fc2(tf.nn.relu(self.fc1(x)))))


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_opActivation_subclassedModelTfAndKerasRelu_reluInBothModes(tmp_path, mode):
    keras.utils.set_random_seed(8)
    model = ReluBetween()
    model(data(1)[0])
    rows, layers = fit_layers(model, tmp_path, mode=mode)
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("fc1", "relu"), ("fc2", "relu"), ("out", "linear")]
    if mode == "step":
        for name in ("fc1", "fc2"):
            assert float(find(rows, 0, name, "activation")["min"]) == 0.0
            assert float(find(rows, 0, name, "forward")["min"]) < 0.0


class LinearStack(L.Layer):
    """Dense layers joined by ops that are all linear in the data: a scale, a shift, dropout,
    a reshape, a concatenation and a sum."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fc1 = L.Dense(6, name="fc1")
        self.fc2 = L.Dense(6, name="fc2")
        self.fc3 = L.Dense(5, name="fc3")
        self.drop = L.Dropout(0.3)

    def call(self, x, training=None):
        h = self.drop(self.fc1(x) * 0.5 + 1.0, training=training)
        h = keras.ops.reshape(h, (-1, 2, 3))
        h = keras.ops.reshape(keras.ops.concatenate([h, -h], axis=1), (-1, 12))
        return self.fc3(self.fc2(h[:, :6] + h[:, 6:]) - h[:, :6])


def test_opActivation_linearOpsOnlyInACustomLayer_staysLinear(tmp_path):
    keras.utils.set_random_seed(9)
    _, layers = fit_layers(on(LinearStack(name="block")), tmp_path)
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("block/fc1", "linear"), ("block/fc2", "linear"), ("block/fc3", "linear"),
        ("head", "linear")]


def test_opActivation_notLinearOpItCannotName_isUnknownNotLinear(tmp_path):
    class Squared(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.fc1 = L.Dense(6, name="fc1")
            self.fc2 = L.Dense(5, name="fc2")

        def call(self, x):
            return self.fc2(keras.ops.square(self.fc1(x)))

    keras.utils.set_random_seed(10)
    _, layers = fit_layers(on(Squared(name="block")), tmp_path)
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("block/fc1", None), ("block/fc2", "linear"), ("head", "linear")]


def test_opActivation_activationLayersAndFusedActivations_keepTheirOwn(tmp_path):
    class FusedThenOp(keras.Model):
        def __init__(self):
            super().__init__()
            self.fc1 = L.Dense(6, activation="relu", name="fc1")
            self.fc2 = L.Dense(6, name="fc2")
            self.act = L.Activation("tanh", name="act")
            self.out = L.Dense(3, name="out")

        def call(self, x):
            return self.out(keras.ops.sigmoid(self.act(self.fc2(keras.ops.elu(self.fc1(x))))))

    keras.utils.set_random_seed(11)
    model = FusedThenOp()
    model(data(1)[0])
    _, layers = fit_layers(model, tmp_path / "subclassed")
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("fc1", "relu"), ("fc2", "tanh"), ("out", "linear")]
    keras.utils.set_random_seed(11)
    _, layers = fit_layers(keras.Sequential([
        keras.Input((8,)), L.Dense(6, activation="tanh", name="hidden"), L.Dropout(0.2),
        L.Dense(4, name="mid"), L.ReLU(name="relu"), L.Dense(5, name="lin"),
        L.Dense(3, name="out")]), tmp_path / "sequential")
    assert [(n, l["activation"]) for n, l in layers.items()] == [
        ("hidden", "tanh"), ("mid", "relu"), ("lin", "linear"), ("out", "linear")]


def test_activationLayers_ofBranchesCalledInTurn_pairWithTheLayerThatFeedsThem(tmp_path):
    # A two-scale discriminator in one functional graph (keras.io's MelGAN writes it so): Keras
    # runs the branches' layers in turn, so a LeakyReLU layer often runs right after the other
    # branch's Dense. Each activation layer belongs to the layer whose output it takes: its name,
    # and its rows (a LeakyReLU keeps the max and scales the min by 0.2).
    inputs = keras.Input((8,))

    def branch(x, prefix):
        for i in range(2):
            x = L.Dense(6, name=f"{prefix}_fc{i}")(x)
            x = L.LeakyReLU(negative_slope=0.2, name=f"{prefix}_leaky{i}")(x)
        return x

    keras.utils.set_random_seed(5)
    merged = L.Concatenate()([branch(inputs, "d1"), branch(L.Dense(8, name="pre")(inputs), "d2")])
    model = keras.Model(inputs, L.Dense(3, name="head")(merged))
    rows, layers = fit_layers(model, tmp_path)
    branches = ["d1_fc0", "d1_fc1", "d2_fc0", "d2_fc1"]
    assert {n: l["activation"] for n, l in layers.items()} == {
        "pre": "linear", "head": "linear", **{n: "leaky_relu" for n in branches}}
    by = {(r["layer_name"], r["phase"]): r for r in rows if r["step"] == "0"}
    for name in branches:
        forward, activation = by[(name, "forward")], by[(name, "activation")]
        assert activation["max"] == pytest.approx(forward["max"], rel=1e-5), name
        assert activation["min"] == pytest.approx(0.2 * forward["min"], rel=1e-4), name


# ---------------------------------------------------------------------------- callback mode

PENALTY = 1e-3


class ClippedStep(keras.Model):
    """A model with its own train step, as Keras' guide writes one: a custom loss (cross-entropy
    plus an L2 penalty on the kernels) under a GradientTape, gradients clipped by their global
    norm, a loss tracker and an accuracy metric of its own; its output softmax is an op in
    call() and its hidden ReLU a layer."""

    def __init__(self):
        super().__init__()
        self.hidden = L.Dense(6, activation="tanh", name="hidden")
        self.mid = L.Dense(4, name="mid")
        self.relu = L.ReLU(name="relu")
        self.out = L.Dense(3, name="out")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def call(self, x):
        return keras.ops.softmax(self.out(self.relu(self.mid(self.hidden(x)))))

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy]

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            p = self(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, p))
            loss += PENALTY * tf.add_n([tf.reduce_sum(tf.square(layer.kernel))
                                        for layer in (self.hidden, self.mid, self.out)])
        grads = tape.gradient(loss, self.trainable_variables)
        grads, _ = tf.clip_by_global_norm(grads, 0.5)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.accuracy.update_state(y, p)
        return {"loss": self.loss_tracker.result(), "accuracy": self.accuracy.result()}


class NoiseLossStep(ClippedStep):
    """ClippedStep logging its loss as ``n_loss`` (as a diffusion model logs its noise loss), with
    a test step that logs the validation as ``val_n_loss``."""

    def __init__(self):
        super().__init__()
        self.loss_tracker = keras.metrics.Mean(name="n_loss")

    def test_step(self, data):
        x, y = data
        p = self(x, training=False)
        self.loss_tracker.update_state(
            tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, p)))
        self.accuracy.update_state(y, p)
        return {"n_loss": self.loss_tracker.result(), "accuracy": self.accuracy.result()}

    def train_step(self, data):
        result = super().train_step(data)
        return {"n_loss": result["loss"], "accuracy": result["accuracy"]}


def test_callbackMode_lossKey_validationRowIsValOfTheSameKey(tmp_path):
    keras.utils.set_random_seed(3)
    model = NoiseLossStep()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = data(32)
    vx, vy = data(16, seed=1)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(vx, vy),
                        callbacks=[Recorder(tmp_path / "run.arrows", loss_key="n_loss")])
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    val = [r["mean"] for r in sorted((r for r in rows if r["phase"] == "val_loss"),
                                     key=lambda r: int(r["step"]))]
    assert val == pytest.approx(history.history["val_n_loss"])


class Snapshots(keras.callbacks.Callback):
    """The kernels (and biases) before training and after every batch, as numpy arrays."""

    def __init__(self, names):
        super().__init__()
        self.names = names
        self.after = []

    def _take(self):
        return {n: [v.numpy().copy() for v in self.model.get_layer(n).weights] for n in self.names}

    def on_train_begin(self, logs=None):
        self.before = self._take()

    def on_train_batch_end(self, batch, logs=None):
        self.after.append(self._take())


def softmax(z):
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def clipped_step_reference(weights, x, y):
    """Loss and accuracy of one batch in float64, from the weights the step started with, and
    each layer's (forward, activation) tensors."""
    (k1, b1), (k2, b2), (k3, b3) = [[np.float64(a) for a in weights[n]]
                                    for n in ("hidden", "mid", "out")]
    h = x.astype(np.float64) @ k1 + b1
    m = np.tanh(h) @ k2 + b2
    z = np.maximum(m, 0.0) @ k3 + b3
    p = softmax(z)
    loss = np.mean(-np.log(p[np.arange(len(y)), y]))
    loss += PENALTY * sum(np.sum(k * k) for k in (k1, k2, k3))
    tensors = {"hidden": (h, np.tanh(h)), "mid": (m, np.maximum(m, 0.0)), "out": (z, p)}
    return loss, float(np.mean(np.argmax(p, 1) == y)), tensors


def test_callbackMode_ownTrainStep_weightsLossAccuracyMatchFloat64AndMetadataSaysWhatIsMissing(
        tmp_path):
    keras.utils.set_random_seed(11)
    x, y = data(64)
    model = ClippedStep()
    model(x[:1])
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    snapshots = Snapshots(["hidden", "mid", "out"])
    path = tmp_path / "run.arrows"

    with pytest.warns(UserWarning, match=r"^dltrace\.keras: ClippedStep overrides train_step:"
                      r" recording in callback mode \(layer outputs and activations, weights,"
                      r" the gradients its optimizers apply, loss, accuracy, learning rate\);"
                      r" its output gradients, inputs and targets are not recorded$") as caught:
        history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                            callbacks=[Recorder(path), snapshots])
    rows, meta = read_arrow_trace(path)

    # one warning, pointing at the program's fit call
    assert [w.filename for w in caught if "dltrace" in str(w.message)] == [__file__]

    assert len(snapshots.after) == 8
    for step in range(8):
        start = snapshots.before if step == 0 else snapshots.after[step - 1]
        batch = slice(16 * (step % 4), 16 * (step % 4 + 1))
        loss, accuracy, tensors = clipped_step_reference(start, x[batch], y[batch])
        assert [(r["layer_name"], r["phase"]) for r in rows if int(r["step"]) == step] == [
            ("model", "loss"), ("model", "accuracy"), ("hidden", "forward"),
            ("hidden", "activation"), ("mid", "forward"), ("mid", "activation"),
            ("out", "forward"), ("out", "activation"), ("hidden", "weight"), ("mid", "weight"),
            ("out", "weight"), ("hidden", "gradient"), ("mid", "gradient"), ("out", "gradient"),
            ("model", "learning_rate")]
        # the batch's own loss, not the epoch's running mean that Keras logs
        assert_stats_close(row_stats(find(rows, step, "model", "loss")),
                           numpy_stats(np.array([loss])), "loss %d" % step, rederived=True)
        assert find(rows, step, "model", "accuracy")["mean"] == pytest.approx(accuracy, abs=1e-12)
        assert find(rows, step, "model", "learning_rate")["mean"] == pytest.approx(0.1, rel=1e-7)
        for name in ("hidden", "mid", "out"):
            # reduced in the model's own step: its pre-activation output and the activation
            # (a fused tanh, a ReLU layer, a softmax op in call())
            for phase, tensor in zip(("forward", "activation"), tensors[name]):
                assert_stats_close(row_stats(find(rows, step, name, phase)), numpy_stats(tensor),
                                   "%s %s %d" % (name, phase, step), rederived=True)
            kernel = snapshots.after[step][name][0]
            assert_stats_close(row_stats(find(rows, step, name, "weight")), numpy_stats(kernel),
                               "%s weight %d" % (name, step))
            # the gradient the step applied (clipped, penalty included): plain SGD at 0.1 moved
            # the kernel by 0.1 times it
            applied = (np.float64(start[name][0]) - np.float64(kernel)) / 0.1
            assert_stats_close(row_stats(find(rows, step, name, "gradient")),
                               numpy_stats(applied), "%s gradient %d" % (name, step),
                               rederived=True)
    # what Keras logged at the epoch's end is the mean of the recorded batch losses
    epoch_losses = [find(rows, s, "model", "loss")["mean"] for s in range(4, 8)]
    assert history.history["loss"][1] == pytest.approx(np.mean(epoch_losses), rel=1e-5)
    assert {r["phase"] for r in rows} == {"forward", "activation", "loss", "accuracy", "weight",
                                          "gradient", "learning_rate"}
    assert meta["dltrace.record_mode"] == "callback"
    assert meta["dltrace.record_phases"] == ("forward,activation,loss,accuracy,gradient,weight,"
                                             "learning_rate,episode_return,val_loss,val_accuracy")
    assert meta["dltrace.batch_size"] == "16"
    assert meta["dltrace.steps_per_epoch"] == "4"
    assert "dltrace.loss" not in meta  # compiled without a loss: its step computes its own
    layers = json.loads(meta["dltrace.layers"])
    # numbered in the order they ran in the traced step; the ReLU layer and the softmax op named
    assert [(l["index"], l["name"], l["activation"], l["params"]) for l in layers] == [
        (0, "hidden", "tanh", 54), (1, "mid", "relu", 28), (2, "out", "softmax", 15)]
    # the model has its own step again
    assert "train_step" not in model.__dict__


class NonFiniteStep(keras.Model):
    """A regression model with its own step that logs the batch loss itself (no metric); with
    ``skip``, it skips the update of a batch whose loss is not finite, as loss scaling does."""

    def __init__(self, skip):
        super().__init__()
        self.skip = skip
        self.hidden = L.Dense(5, activation="relu", name="hidden")
        self.out = L.Dense(1, name="out")

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x, training=True)[:, 0] - y))
        grads = tape.gradient(loss, self.trainable_variables)
        if self.skip:
            finite = tf.math.is_finite(loss)
            grads = [tf.where(finite, g, tf.zeros_like(g)) for g in grads]
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}


@pytest.mark.parametrize("skip", [True, False])
def test_callbackMode_nonFiniteLoss_stepAndThreeAfterRecordedWhateverEvery(tmp_path, skip):
    keras.utils.set_random_seed(12)
    x, _ = data(8 * 16)
    y = x.sum(1).astype("float32")
    y[8 * 5 + 3] = np.nan  # a target of batch 5
    model = NonFiniteStep(skip)
    model(x[:1])
    model.compile(optimizer=keras.optimizers.SGD(0.01))
    snapshots = Snapshots(["hidden", "out"])
    path = tmp_path / "run.arrows"
    with pytest.warns(UserWarning, match="NonFiniteStep overrides train_step"):
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
                  callbacks=[Recorder(path, every=4), snapshots])
    rows, meta = read_arrow_trace(path)

    losses = {int(r["step"]): r["mean"] for r in rows if r["phase"] == "loss"}
    assert sorted(losses) == list(range(16))
    assert [s for s, v in losses.items() if not math.isfinite(v)] == (
        [5] if skip else list(range(5, 16)))
    weights = sorted({int(r["step"]) for r in rows if r["phase"] == "weight"})
    assert weights == ([0, 4, 5, 6, 7, 8, 12] if skip else [0, 4] + list(range(5, 16)))
    for step in weights:
        for name in ("hidden", "out"):
            assert_stats_close(row_stats(find(rows, step, name, "weight")),
                               numpy_stats(snapshots.after[step][name][0]),
                               "%s weight %d" % (name, step))
    assert int(find(rows, 5, "hidden", "weight")["nan_count"]) == (0 if skip else 8 * 5)
    # the forward and activation rows on the same steps: the non-finite step itself (which
    # every=4 skips: the step's logged loss decides, in the step), and the 3 after it
    for phase in ("forward", "activation"):
        assert sorted({int(r["step"]) for r in rows if r["phase"] == phase}) == weights, phase
    # step 5 ran on the finite weights of step 4; with its update not skipped, step 6 on NaNs
    batch = np.float64(x[8 * 5:8 * 6])
    k, b = [np.float64(a) for a in snapshots.after[4]["hidden"]]
    for phase, tensor in (("forward", batch @ k + b), ("activation", np.maximum(batch @ k + b, 0))):
        assert_stats_close(row_stats(find(rows, 5, "hidden", phase)), numpy_stats(tensor),
                           "hidden %s 5" % phase, rederived=True)
    assert int(find(rows, 6, "hidden", "activation")["nan_count"]) == (0 if skip else 8 * 5)
    # the gradients were applied before the step returned its loss: the 3 steps after it only
    assert sorted({int(r["step"]) for r in rows if r["phase"] == "gradient"}) == [
        s for s in weights if s != 5]
    assert meta["dltrace.record_every"] == "4"
    assert "dltrace.loss" not in meta and "dltrace.task" not in meta


def test_callbackMode_ownTrainStep_learnsWhatItLearnsWithoutUpToFloat32Rounding(tmp_path):
    # the step is the model's own; not bit for bit: with the pre-activations reduced in it,
    # TensorFlow's graph optimizer no longer fuses a Dense's matmul, bias and activation into
    # one kernel (as in the recorder's own step)
    x, y = data(96)
    weights = []
    for callbacks in ([], [Recorder(tmp_path / "run.arrows")]):
        keras.utils.set_random_seed(13)
        model = ClippedStep()
        model(x[:1])
        model.compile(optimizer=keras.optimizers.Adam(0.01))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0,
                                callbacks=callbacks).history
        weights.append(([v.numpy() for v in model.weights], history))
    for a, b in zip(weights[0][0], weights[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key, values in weights[0][1].items():
        np.testing.assert_allclose(values, weights[1][1][key], rtol=1e-5, err_msg=key)


def test_callbackMode_subclassedModelNeverCalled_builtFromTheFirstBatchAndWatched(tmp_path):
    keras.utils.set_random_seed(14)
    x, y = data(64)
    model = ClippedStep()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with pytest.warns(UserWarning, match="ClippedStep overrides train_step"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0,
                  callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert [(l["name"], l["activation"]) for l in json.loads(meta["dltrace.layers"])] == [
        ("hidden", "tanh"), ("mid", "relu"), ("out", "softmax")]
    assert [(r["step"], r["layer_name"], int(r["numel"])) for r in rows if r["phase"] == "weight"] == [
        ("0", "hidden", 48), ("0", "mid", 24), ("0", "out", 12),
        ("1", "hidden", 48), ("1", "mid", 24), ("1", "out", 12)]


def test_callbackMode_forcedOnKerasOwnStep_sameRowsAsTheRecordersStepWithoutAWarning(tmp_path):
    x, y = data(128)
    traces = {}
    for mode in ("step", "callback"):
        keras.utils.set_random_seed(15)
        model = mlp()
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0,
                      callbacks=[Recorder(tmp_path / (mode + ".arrows"), mode=mode)])
        traces[mode] = read_arrow_trace(tmp_path / (mode + ".arrows"))
    (step_rows, step_meta), (rows, meta) = traces["step"], traces["callback"]
    kept = [r for r in step_rows if r["phase"] in ("forward", "activation", "loss", "accuracy",
                                                   "weight", "gradient", "learning_rate")]

    def order(r):
        return int(r["step"]), r["layer_name"], r["phase"]

    rows, kept = sorted(rows, key=order), sorted(kept, key=order)
    assert [order(r) for r in rows] == [order(r) for r in kept]
    assert {"gradient", "forward", "activation"} <= {r["phase"] for r in rows}
    for a, b in zip(rows, kept):
        # the recorder's own step keeps a Dense's matmul and activation apart: the last bits differ
        assert_stats_close(row_stats(a), row_stats(b), "%s %s %s" % (a["step"], a["layer_name"],
                                                                    a["phase"]), rederived=True)
    assert meta["dltrace.layers"] == step_meta["dltrace.layers"]
    assert meta["dltrace.record_mode"] == "callback"
    assert "dltrace.record_mode" not in step_meta and "dltrace.record_phases" not in step_meta
    for key in ("dltrace.task", "dltrace.loss", "dltrace.num_classes", "dltrace.batch_size",
                "dltrace.optimizer", "dltrace.learning_rate"):
        assert meta[key] == step_meta[key], key


class TwoLosses(keras.Model):
    """A GAN-like step that logs two losses and no 'loss'; its d_loss is NaN at step 3."""

    def __init__(self):
        super().__init__()
        self.a = L.Dense(2, name="a")
        self.b = L.Dense(1, name="b")

    def call(self, x):
        return self.b(self.a(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            g_loss = tf.reduce_mean(tf.square(self(x)[:, 0] - y))
        grads = tape.gradient(g_loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        nan = tf.where(self.optimizer.iterations == 4, np.nan, 0.0)
        return {"d_loss": 2.0 * g_loss + nan, "g_loss": g_loss}


def test_callbackMode_noLoggedLoss_warnsNamesLossKeyAndStillRecordsANonFiniteStep(tmp_path):
    x, _ = data(64)
    y = x.sum(1).astype("float32")
    for loss_key in (None, "g_loss"):
        keras.utils.set_random_seed(16)
        model = TwoLosses()
        model(x[:1])
        model.compile(optimizer=keras.optimizers.SGD(0.01))
        path = tmp_path / ("%s.arrows" % loss_key)
        options = {"loss_key": loss_key} if loss_key else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            history = model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
                                callbacks=[Recorder(path, every=100, **options)]).history
        messages = [str(w.message) for w in caught if "dltrace" in str(w.message)]
        rows, _ = read_arrow_trace(path)
        weights = sorted({int(r["step"]) for r in rows if r["phase"] == "weight"})
        losses = [r["mean"] for r in rows if r["phase"] == "loss"]
        if loss_key is None:
            assert any("the train step logs no 'loss' (it logs d_loss, g_loss): the trace has no"
                       " loss rows; name the logged loss with loss_key=" in m for m in messages)
            assert losses == []
            assert weights == [0, 3, 4, 5, 6]  # d_loss is NaN at step 3
        else:
            assert not any("logs no" in m for m in messages)
            assert len(losses) == 8 and losses[-1] == pytest.approx(history["g_loss"][-1])
            assert weights == [0]  # the recorded loss (g_loss) stays finite


class OwnOptimizers(keras.Model):
    """Compiled without an optimizer (Keras then makes an RMSprop that the step never uses); the
    step updates ``a`` with an Adam of its own and, with ``two``, ``b`` with another (a GAN)."""

    def __init__(self, two):
        super().__init__()
        self.two = two
        self.a = L.Dense(2, name="a")
        self.b = L.Dense(1, name="b")

    def compile(self):
        super().compile()
        self.opt_a = keras.optimizers.Adam(0.003)
        self.opt_b = keras.optimizers.SGD(0.01)

    def call(self, x):
        return self.b(self.a(x))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape(persistent=True) as tape:
            loss = tf.reduce_mean(tf.square(self(x)[:, 0] - y))
        for layer, opt in ((self.a, self.opt_a), (self.b, self.opt_b))[:2 if self.two else 1]:
            grads = tape.gradient(loss, layer.trainable_weights)
            opt.apply_gradients(zip(grads, layer.trainable_weights))
        return {"loss": loss}


@pytest.mark.parametrize("two", [False, True])
def test_callbackMode_stepWithOptimizersOfItsOwn_describesTheOneItUpdatesWith(tmp_path, two):
    x, _ = data(32)
    y = x.sum(1).astype("float32")
    keras.utils.set_random_seed(17)
    model = OwnOptimizers(two)
    model(x[:1])
    model.compile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0,
                  callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    rates = [r["mean"] for r in rows if r["phase"] == "learning_rate"]
    assert int(model.optimizer.iterations.numpy()) == 0  # Keras' RMSprop, never used
    if two:
        # which one is "the" learning rate cannot be told: none is claimed
        assert rates == [] and "dltrace.optimizer" not in meta
        assert "dltrace.learning_rate" not in meta
    else:
        assert rates == pytest.approx([0.003] * 4, rel=1e-7)
        assert meta["dltrace.optimizer"] == "Adam"
        assert float(meta["dltrace.learning_rate"]) == pytest.approx(0.003, rel=1e-7)
    assert len([r for r in rows if r["phase"] == "loss"]) == 4
    # every optimizer the step applies is watched: a GAN's two give both layers their gradients;
    # a layer no optimizer updates has none
    gradients = [(int(r["step"]), r["layer_name"]) for r in rows if r["phase"] == "gradient"]
    assert gradients == [(step, name) for step in range(4)
                         for name in (("a", "b") if two else ("a",))]
    assert all(r["l2_norm"] > 0 and r["numel"] == (16 if r["layer_name"] == "a" else 2)
               for r in rows if r["phase"] == "gradient")
    # and unwrapped after fit
    assert all("apply" not in vars(opt) for opt in (model.opt_a, model.opt_b, model.optimizer))


def test_callbackMode_every_gradientsOnlyOnRecordedSteps(tmp_path):
    keras.utils.set_random_seed(11)
    x, y = data(64)
    model = ClippedStep()
    model(x[:1])
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0,
                  callbacks=[Recorder(tmp_path / "run.arrows", every=3)])
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    for phase in ("weight", "gradient", "forward", "activation"):
        assert sorted({int(r["step"]) for r in rows if r["phase"] == phase}) == [0, 3, 6]


def test_mode_badValueOrStepModeForAnOwnTrainStep_raiseNamingIt(tmp_path):
    with pytest.raises(ValueError, match="mode must be one of auto, step, callback: 'graph'"):
        Recorder(tmp_path / "run.arrows", mode="graph")
    with pytest.raises(ValueError, match="loss_key must be a non-empty string: ''"):
        Recorder(tmp_path / "run.arrows", loss_key="")
    x, y = data()
    model = ClippedStep()
    model(x[:1])
    model.compile(optimizer="sgd")
    with pytest.raises(RuntimeError, match="ClippedStep overrides train_step, which it cannot"
                       " record in mode='step' \\(mode='callback' records its weights and"
                       " logged scalars\\)"):
        model.fit(x, y, verbose=0, callbacks=[Recorder(tmp_path / "run.arrows", mode="step")])


def test_adaptedNormalizationLayer_withItsIntegerCount_isRecordedFromItsFloatState(tmp_path):
    # An adapted keras.layers.Normalization holds mean, variance and an int64 sample count:
    # statistics of the data, not weights the model learns. The layer is recorded (its output),
    # as a constant layer without weight rows, and not as a BatchNormalization frozen into
    # inference mode.
    keras.utils.set_random_seed(3)
    x, y = data(64)
    x = x * 4 + 8
    norm = L.Normalization(name="norm")
    norm.adapt(x)
    model = keras.Sequential([keras.Input((8,)), norm, L.Dense(6, activation="relu", name="h"),
                              L.Dense(3, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.05),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows")])
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    layers = json.loads(meta["dltrace.layers"])
    assert [l["name"] for l in layers] == ["norm", "h", "out"]
    assert layers[0]["trainable"] is False and layers[0]["constant"] is True
    assert "training" not in layers[0]
    assert all("constant" not in l for l in layers[1:])
    phases = {(r["layer_name"], r["phase"]) for r in rows}
    assert ("norm", "weight") not in phases and ("norm", "gradient") not in phases
    assert ("h", "weight") in phases
    forward = [r for r in rows if r["layer_name"] == "norm" and r["phase"] == "forward"]
    assert forward and all(abs(float(r["mean"])) < 1 for r in forward)


def test_callbackMode_ownGradientTapeLoop_recordsLossAccuracyWeightsAndTheGivenOptimizer(
        tmp_path):
    # A loop of one's own (no fit): the program calls the callback's hooks through a
    # CallbackList, logs each batch's own loss and accuracy, and names its optimizer.
    keras.utils.set_random_seed(5)
    x, y = data(48)
    model = keras.Sequential([keras.Input((8,)), L.Dense(6, activation="relu", name="hidden"),
                              L.Dense(3, activation="softmax", name="out")])
    optimizer = keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5))
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    path = tmp_path / "run.arrows"
    recorder = Recorder(path, mode="callback", optimizer=optimizer, batch_size=16,
                        task="classification", loss_name="sparse_categorical_crossentropy")
    callbacks = keras.callbacks.CallbackList([recorder], model=model, epochs=2, steps=3)
    losses, accuracies, kernels = [], [], []
    callbacks.on_train_begin()
    for epoch in range(2):
        callbacks.on_epoch_begin(epoch)
        for batch in range(3):
            xb, yb = x[16 * batch:16 * (batch + 1)], y[16 * batch:16 * (batch + 1)]
            with tf.GradientTape() as tape:
                probs = model(xb, training=True)
                loss = loss_fn(yb, probs)
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
            accuracy = float(np.mean(np.argmax(probs.numpy(), 1) == yb))
            losses.append(float(loss))
            accuracies.append(accuracy)
            kernels.append(model.get_layer("out").kernel.numpy().astype(np.float64))
            callbacks.on_train_batch_end(batch, {"loss": float(loss), "accuracy": accuracy})
        callbacks.on_epoch_end(epoch, {"val_loss": 0.75 + epoch, "val_accuracy": 0.5})
    callbacks.on_train_end()
    rows, meta = read_arrow_trace(path)

    assert meta["dltrace.optimizer"] == "SGD"
    assert meta["dltrace.batch_size"] == "16"
    assert meta["dltrace.steps_per_epoch"] == "3"
    assert meta["dltrace.record_mode"] == "callback"
    # the model's train_step never ran: no forward and activation rows, and the metadata says so
    assert meta["dltrace.record_phases"] == ("loss,accuracy,gradient,weight,learning_rate,"
                                             "episode_return,val_loss,val_accuracy")
    assert not any(r["phase"] in ("forward", "activation") for r in rows)
    assert [l["name"] for l in json.loads(meta["dltrace.layers"])] == ["hidden", "out"]
    assert [r["mean"] for r in rows if r["phase"] == "loss"] == pytest.approx(losses, rel=1e-12)
    assert [r["mean"] for r in rows if r["phase"] == "accuracy"] == pytest.approx(accuracies)
    # the rate of each step, read from the schedule at the iteration the step updated with
    assert [r["mean"] for r in rows if r["phase"] == "learning_rate"] == pytest.approx(
        [0.1 * 0.5 ** k for k in range(6)], rel=1e-6)
    for step in range(6):
        assert_stats_close(row_stats(find(rows, step, "out", "weight")),
                           numpy_stats(kernels[step]), "out weight %d" % step)
    assert [r["mean"] for r in rows if r["phase"] == "val_loss"] == pytest.approx([0.75, 1.75])


def test_givenOptimizerOrBatchSize_badValues_raiseNamingThem(tmp_path):
    with pytest.raises(ValueError, match="optimizer must be a keras.optimizers.Optimizer: 'sgd'"):
        Recorder(tmp_path / "run.arrows", optimizer="sgd")
    with pytest.raises(ValueError, match="batch_size must be positive: 0"):
        Recorder(tmp_path / "run.arrows", batch_size=0)


def test_embeddingGradient_indexedSlices_recordedAsTheDenseGradient(tmp_path):
    # An Embedding's gradient is a tf.IndexedSlices (one slice per lookup, duplicates for a
    # token seen twice): its row must be that of the dense gradient, zeros included.
    keras.utils.set_random_seed(3)
    vocab, n = 300, 32
    model = keras.Sequential([keras.Input((6,), dtype="int32"), L.Embedding(vocab, 4, name="emb"),
                              L.GlobalAveragePooling1D(name="pool"), L.Dense(3, name="out")])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, (n, 6)).astype("int32")
    x[:, 0] = 7  # one token in every sample
    y = rng.integers(0, 3, n)
    table = tf.Variable(model.get_layer("emb").embeddings.numpy())
    kernel = tf.constant(model.get_layer("out").kernel.numpy())
    bias = tf.constant(model.get_layer("out").bias.numpy())
    with tf.GradientTape() as tape:
        logits = tf.matmul(tf.reduce_mean(tf.gather(table, x), 1), kernel) + bias
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    grad = tape.gradient(loss, table)
    assert isinstance(grad, tf.IndexedSlices)
    dense = tf.convert_to_tensor(grad).numpy().astype(np.float64)
    path = tmp_path / "run.arrows"
    model.fit(x, y, batch_size=n, epochs=1, verbose=0, callbacks=[Recorder(path)])
    rows, _ = read_arrow_trace(path)
    got = row_stats(find(rows, 0, "emb", "gradient"))
    reference = numpy_stats(dense)
    assert reference["zero_fraction"] > 0.5
    assert got["zero_fraction"] == reference["zero_fraction"]
    assert got["numel"] == vocab * 4
    assert_stats_close(got, reference, "emb gradient", rederived=True)


def _fit_recorded(path, policy):
    """A small MLP fitted for 12 steps under a dtype policy, recorded; the policy is reset."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(11)
        model = keras.Sequential([keras.Input((8,)), L.Dense(16, activation="relu", name="a"),
                                  L.Dense(3, name="b"),
                                  L.Activation("softmax", dtype="float32", name="softmax")])
        model.compile(optimizer=keras.optimizers.SGD(0.05),
                      loss="sparse_categorical_crossentropy")
        x, y = data(32 * 12)
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0,
                  callbacks=[Recorder(path)])
        optimizer = model.optimizer
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return read_arrow_trace(path), optimizer


def test_mixedFloat16_lossScaleOptimizer_gradientsRecordedUnscaled(tmp_path):
    (rows, meta), optimizer = _fit_recorded(tmp_path / "mixed.arrows", "mixed_float16")
    (twin, twin_meta), _ = _fit_recorded(tmp_path / "fp32.arrows", "float32")

    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    assert meta["dltrace.loss_scaling"] == "dynamic"
    assert meta["dltrace.optimizer"] == "SGD"
    assert "dltrace.loss_scaling" not in twin_meta
    assert keras.mixed_precision.global_policy().name == "float32"
    compared = 0
    for phase in ("gradient", "backward"):
        for layer in ("a", "b"):
            for step in range(12):
                m, f = find(rows, step, layer, phase), find(twin, step, layer, phase)
                if not math.isfinite(m["l2_norm"]):
                    continue  # an overflow the optimizer skipped: stays Inf/NaN in the row
                # the scale is 2^15 or more: a scaled gradient would be 10^4 times larger
                assert 0.1 < m["l2_norm"] / f["l2_norm"] < 10, (phase, layer, step)
                compared += 1
    assert compared >= 40


@pytest.mark.parametrize("mode", ["step", "callback"])
@pytest.mark.parametrize("weighting", ["class_weight", "sample_weight", "dataset", "none"])
def test_metadata_sampleWeightedBatches_lossWeightedTrue(tmp_path, mode, weighting):
    # class_weight becomes per-example sample weights in Keras' data adapter: the train step
    # sees them as the third element of its batches, as it sees sample_weight= and a dataset of
    # (x, y, w); at its first trace, before the first batch ends and the metadata is written.
    keras.utils.set_random_seed(3)
    x, y = data(32)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    weights = np.where(y == 0, 3.0, 0.5).astype("float32")
    kwargs = {"class_weight": {0: 3.0, 1: 0.5, 2: 0.5}} if weighting == "class_weight" else {}
    if weighting == "sample_weight":
        kwargs["sample_weight"] = weights
    inputs = (x, y)
    if weighting == "dataset":
        inputs = (tf.data.Dataset.from_tensor_slices((x, y, weights)).batch(16),)
    else:
        kwargs["batch_size"] = 16
    model.fit(*inputs, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows", mode=mode)], **kwargs)
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert any(r["phase"] == "loss" for r in rows)
    if weighting == "none":
        assert "dltrace.loss_weighted" not in meta
    else:
        assert meta["dltrace.loss_weighted"] == "true"


def test_twoFits_closeAtTrainEndFalse_bothInOneTrace_frozenLayerHasNoGradientInFirst(tmp_path):
    keras.utils.set_random_seed(7)
    model = mlp()
    x, y = data(n=32)
    model.get_layer("hidden").trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    recorder = Recorder(tmp_path / "run.arrows", close_at_train_end=False)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[recorder])
    frozen_kernel = model.get_layer("hidden").kernel.numpy().copy()
    model.get_layer("hidden").trainable = True
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=16, epochs=4, initial_epoch=2, verbose=0,
                        callbacks=[recorder])
    # the model has its own step again after each fit
    assert "train_step" not in model.__dict__
    recorder.close()
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")

    losses = [r for r in rows if r["phase"] == "loss"]
    assert [int(r["step"]) for r in losses] == list(range(8))
    assert [int(r["epoch"]) for r in losses] == [0, 0, 1, 1, 2, 2, 3, 3]
    # the second fit's rows are its own steps: the last epoch's mean loss is fit's
    assert np.mean([r["mean"] for r in losses[6:]]) == pytest.approx(
        history.history["loss"][-1], rel=1e-5)
    # the weight rows follow the frozen kernel in the first fit and its updates in the second
    first = row_stats(find(rows, 3, "hidden", "weight"))
    assert_stats_close(first, numpy_stats(frozen_kernel), "frozen hidden kernel")
    assert not any(r["layer_name"] == "hidden" and r["phase"] == "gradient"
                   and int(r["step"]) < 4 for r in rows)
    assert any(r["layer_name"] == "hidden" and r["phase"] == "gradient"
               and int(r["step"]) >= 4 for r in rows)
    assert json.loads(meta["dltrace.layers"])[0]["name"] == "hidden"


def test_twoFits_defaultRecorder_secondFitRefused(tmp_path):
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x, y = data()
    recorder = Recorder(tmp_path / "run.arrows")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[recorder])
    with pytest.raises(RuntimeError, match="close_at_train_end=False"):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[recorder])


@pytest.mark.parametrize("objective,written", [
    ("adversarial", "adversarial"), ("policy_gradient", "policy_gradient"),
    ("temporal_difference", "temporal_difference"), ("self_training", "self_training"),
    (None, None), ("minimize", None)])
def test_objective_writtenAsDltraceObjectiveUnlessMinimized(tmp_path, objective, written):
    keras.utils.set_random_seed(0)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    x, y = data()
    path = tmp_path / "run.arrows"
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[Recorder(path, objective=objective)])
    _, meta = read_arrow_trace(path)
    assert meta.get("dltrace.objective") == written


def test_objective_unknown_refusedWithTheChoices(tmp_path):
    choices = "minimize, adversarial, policy_gradient, temporal_difference, self_training"
    with pytest.raises(ValueError, match=choices):
        Recorder(tmp_path / "run.arrows", objective="maximize")


class Penalty(L.Layer):
    """Passes its input through and adds a term to the loss, as a KL or load-balancing layer does."""

    def call(self, x):
        self.add_loss(1e-3 * keras.ops.mean(keras.ops.square(x)))
        return x


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_lossAdded_addLossInALayerIsSaid_aWeightRegularizerIsNot(tmp_path, mode):
    x, y = data(64)
    metas = {}
    for name, extra in (("added", [Penalty()]), ("regularized", [])):
        keras.utils.set_random_seed(21)
        regularizer = keras.regularizers.L2(1e-3) if name == "regularized" else None
        model = keras.Sequential([keras.Input((8,)),
                                  L.Dense(6, activation="relu", kernel_regularizer=regularizer),
                                  *extra, L.Dense(3, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=1, verbose=0,
                  callbacks=[Recorder(tmp_path / (name + ".arrows"), mode=mode)])
        metas[name] = read_arrow_trace(tmp_path / (name + ".arrows"))[1]
    assert metas["added"]["dltrace.loss_added"] == "true"
    assert "dltrace.loss_added" not in metas["regularized"]


def _spe_run(tmp_path, steps_per_execution, every, name, nan_at=None):
    keras.utils.set_random_seed(1)
    model = mlp()
    optimizer = keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9))
    x, y = data(n=40)
    if nan_at is not None:
        # a loss-scaling optimizer skips the update of the non-finite step: the others are finite
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        x[nan_at * 4] = np.nan
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  steps_per_execution=steps_per_execution)
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0,
                  callbacks=[Recorder(path, every=every)])
    rows, meta = read_arrow_trace(path)
    return {(int(r["epoch"]), int(r["batch"]), int(r["step"]), r["layer_name"], r["phase"]):
            row_stats(r) for r in rows}, meta


def test_stepsPerExecution_everyStepRecordedNumberedAsWithOneStepPerCall(tmp_path):
    # 10 batches an epoch, 3 steps a call: the last call of each epoch runs one step
    one, meta_one = _spe_run(tmp_path, 1, 4, "one.arrows")
    three, meta_three = _spe_run(tmp_path, 3, 4, "three.arrows")
    assert sorted(three) == sorted(one)
    assert {k[2] for k in three} == set(range(20))
    assert {(k[0], k[1]) for k in three if k[2] == 13} == {(1, 3)}
    assert {k[2] for k in three if k[4] == "weight"} == {0, 4, 8, 12, 16}
    for key, stats in one.items():
        assert_stats_close(three[key], stats, str(key), rederived=True)
    # the schedule's first rate, not the rate after the first call's three updates
    assert meta_three["dltrace.learning_rate"] == meta_one["dltrace.learning_rate"]
    assert float(meta_three["dltrace.learning_rate"]) == pytest.approx(0.1)


def test_stepsPerExecution_nonFiniteLossInACall_itAndTheThreeAfterRecordedWhateverEvery(tmp_path):
    rows, _ = _spe_run(tmp_path, 4, 100, "nan.arrows", nan_at=5)
    assert not math.isfinite(rows[(0, 5, 5, "model", "loss")]["mean"])
    assert math.isfinite(rows[(0, 6, 6, "model", "loss")]["mean"])
    # step 5 is the second of the call of steps 4-7, step 8 the first of the next call; the
    # second epoch's batch 5 is step 15
    assert {k[2] for k in rows if k[4] == "weight"} == {0, 5, 6, 7, 8, 15, 16, 17, 18}


def test_scheduleLearningRate_metadataIsTheFirstStepsRate(tmp_path):
    keras.utils.set_random_seed(1)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(
        keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)),
        loss="sparse_categorical_crossentropy")
    x, y = data()
    path = tmp_path / "run.arrows"
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[Recorder(path)])
    rows, meta = read_arrow_trace(path)
    rates = [r["mean"] for r in sorted((r for r in rows if r["phase"] == "learning_rate"),
                                       key=lambda r: int(r["step"]))]
    assert rates == pytest.approx([0.1, 0.05, 0.025, 0.0125])
    assert float(meta["dltrace.learning_rate"]) == pytest.approx(0.1)


def test_jitCompile_warningPointsAtTheFitCall(tmp_path):
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", jit_compile=True)
    x, y = data()
    with pytest.warns(UserWarning, match="jit_compile is off") as caught:
        model.fit(x, y, epochs=1, verbose=0, callbacks=[Recorder(tmp_path / "run.arrows")])
    assert [w.filename for w in caught if "jit_compile" in str(w.message)] == [__file__]
    assert model.jit_compile is True


def test_otherBackend_refusedWhenTheRecorderIsMadeInOneLine(tmp_path, monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(RuntimeError, match="TensorFlow backend only; this Keras runs on torch"
                       ) as raised:
        Recorder(tmp_path / "run.arrows")
    assert "\n" not in str(raised.value)


def test_stepsPerExecution_stopFile_seenAfterTheCallsLastStep(tmp_path, capsys):
    keras.utils.set_random_seed(0)
    path, stop = tmp_path / "run.arrows", tmp_path / "stop"
    model = mlp()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", steps_per_execution=3)

    class StopAt(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                stop.write_text("stop now\n")

    x, y = data(n=80)
    rec = Recorder(path, stop_file=str(stop))
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[StopAt(), rec])
    assert rec.stop_reason == "stop now"
    rows, meta = read_arrow_trace(path)
    assert sorted({int(r["step"]) for r in rows}) == [0, 1, 2, 3, 4, 5]
    assert capsys.readouterr().err.count("training stopped after step 5") == 1


@pytest.mark.parametrize("outputs", ["dict", "list"])
def test_twoOutputs_lossDictInAnotherOrder_taskAccuracyAndValAccuracyOfTheFirstOutput(tmp_path,
                                                                                       outputs):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((8,))
    hidden = L.Dense(6, activation="relu", name="hidden")(inputs)
    cls = L.Dense(3, activation="softmax", name="cls")(hidden)
    reg = L.Dense(1, name="reg")(hidden)
    model = keras.Model(inputs, {"reg": reg, "cls": cls} if outputs == "dict" else [cls, reg])
    model.compile(optimizer="adam", loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
                  loss_weights={"reg": 0.5, "cls": 1.0}, metrics={"cls": ["accuracy"]})
    x, y = data()
    targets = {"cls": y, "reg": x[:, :1]}
    path = tmp_path / "run.arrows"
    history = model.fit(x, targets, batch_size=32, epochs=1, verbose=0,
                        validation_data=(x, targets), callbacks=[Recorder(path)])
    rows, meta = read_arrow_trace(path)
    assert meta["dltrace.task"] == "classification"
    assert meta["dltrace.loss"] == "sparse_categorical_crossentropy"
    assert meta["dltrace.num_classes"] == "3"
    assert find(rows, 0, "model", "accuracy")["mean"] == pytest.approx(
        history.history["cls_accuracy"][0])
    assert find(rows, 0, "model", "loss")["mean"] == pytest.approx(history.history["loss"][0])
    assert find(rows, 0, "model", "target")["mean"] == pytest.approx(float(np.mean(y)))
    assert find(rows, 0, "model", "val_accuracy")["mean"] == pytest.approx(
        history.history["val_cls_accuracy"][0])


# ------------------------------------------------- callback mode: forward and activation rows

EPS = 1e-7


class TinyGan(keras.Model):
    """A GAN's step: a generator (Dense with a fused ReLU, Dense, an Activation("tanh") layer) and
    a discriminator (Dense, a LeakyReLU layer, Dense with a fused sigmoid), each with an optimizer
    of its own. The discriminator is called on the real batch and on the generated one in its
    update, then on the generated one again (its weights updated) in the generator's; the
    generator twice. With ``extra``, a layer the step calls only while the batch has 16 rows (a
    Python condition on the static shape: a retraced step for a partial batch does not call it).
    The latent batch is derived from the real one, so that numpy can repeat the step."""

    def __init__(self, extra=False):
        super().__init__()
        self.extra_layer = L.Dense(3, activation="tanh", name="extra") if extra else None
        self.g1 = L.Dense(6, activation="relu", name="g1")
        self.g2 = L.Dense(4, name="g2")
        self.g_tanh = L.Activation("tanh", name="g_tanh")
        self.d1 = L.Dense(5, name="d1")
        self.d_leaky = L.LeakyReLU(negative_slope=0.2, name="d_leaky")
        self.d2 = L.Dense(1, activation="sigmoid", name="d2")
        self.traces = 0

    def compile(self, rate=0.05):
        super().compile()
        self.d_optimizer = keras.optimizers.SGD(rate)
        self.g_optimizer = keras.optimizers.SGD(rate)

    def generate(self, z):
        return self.g_tanh(self.g2(self.g1(z)))

    def discriminate(self, x):
        return self.d2(self.d_leaky(self.d1(x)))

    def call(self, z):
        return self.discriminate(self.generate(z))

    def train_step(self, data):
        self.traces += 1
        x = data
        z = tf.reverse(x, axis=[1]) * 0.5
        d_vars = self.d1.trainable_weights + self.d2.trainable_weights
        g_vars = self.g1.trainable_weights + self.g2.trainable_weights
        with tf.GradientTape() as tape:
            real, fake = self.discriminate(x), self.discriminate(self.generate(z))
            d_loss = -tf.reduce_mean(tf.math.log(real + EPS) + tf.math.log(1.0 - fake + EPS))
        self.d_optimizer.apply_gradients(zip(tape.gradient(d_loss, d_vars), d_vars))
        with tf.GradientTape() as tape:
            g_loss = -tf.reduce_mean(tf.math.log(self.discriminate(self.generate(z)) + EPS))
        self.g_optimizer.apply_gradients(zip(tape.gradient(g_loss, g_vars), g_vars))
        logs = {"d_loss": d_loss, "g_loss": g_loss}
        if self.extra_layer is not None and x.shape[0] == 16:
            logs["extra"] = tf.reduce_mean(self.extra_layer(x))
        return logs


def gan_reference(before, after, x):
    """Each layer's (forward, activation) of its last call in the step, in float64: the
    generator's second call with the weights the step started with, the discriminator's third
    with the weights its update left (the generator's update does not change them)."""
    w = {n: [np.float64(a) for a in before[n]] for n in ("g1", "g2")}
    w.update({n: [np.float64(a) for a in after[n]] for n in ("d1", "d2")})
    z = x[:, ::-1].astype(np.float64) * 0.5
    g1 = z @ w["g1"][0] + w["g1"][1]
    g2 = np.maximum(g1, 0.0) @ w["g2"][0] + w["g2"][1]
    d1 = np.tanh(g2) @ w["d1"][0] + w["d1"][1]
    leaky = np.where(d1 > 0, d1, 0.2 * d1)
    d2 = leaky @ w["d2"][0] + w["d2"][1]
    return {"g1": (g1, np.maximum(g1, 0.0)), "g2": (g2, np.tanh(g2)), "d1": (d1, leaky),
            "d2": (d2, 1.0 / (1.0 + np.exp(-d2)))}


def fit_gan(path, n, batch_size, epochs, extra=False, **options):
    keras.utils.set_random_seed(21)
    x = np.random.default_rng(21).normal(size=(n, 4)).astype("float32")
    model = TinyGan(extra)
    model(x[:1])
    model.compile()
    names = ["g1", "g2", "d1", "d2"] + (["extra"] if extra else [])
    snapshots = Snapshots(names)
    with pytest.warns(UserWarning, match="TinyGan overrides train_step: recording in callback"
                      " mode \\(layer outputs and activations,"):
        model.fit(x, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                  callbacks=[Recorder(path, loss_key="g_loss", **options), snapshots])
    rows, meta = read_arrow_trace(path)
    return x, model, snapshots, rows, meta


def test_callbackMode_ganOwnStep_forwardAndActivationOfEachLayersLastCallMatchFloat64(tmp_path):
    path = tmp_path / "gan.arrows"
    x, model, snapshots, rows, meta = fit_gan(path, 32, 16, 2)

    layers = json.loads(meta["dltrace.layers"])
    # numbered in the order their last calls ran; activations from a fused one, a ReLU-family
    # layer and an Activation layer
    assert [(l["index"], l["name"], l["activation"]) for l in layers] == [
        (0, "g1", "relu"), (1, "g2", "tanh"), (2, "d1", "leaky_relu"), (3, "d2", "sigmoid")]
    assert meta["dltrace.record_phases"] == ("forward,activation,loss,accuracy,gradient,weight,"
                                             "learning_rate,episode_return,val_loss,val_accuracy")
    for step in range(4):
        before = snapshots.before if step == 0 else snapshots.after[step - 1]
        batch = x[16 * (step % 2):16 * (step % 2 + 1)]
        expected = gan_reference(before, snapshots.after[step], batch)
        assert [(r["layer_name"], r["phase"]) for r in rows
                if int(r["step"]) == step and r["phase"] in ("forward", "activation")] == [
            (name, phase) for name in ("g1", "g2", "d1", "d2")
            for phase in ("forward", "activation")]
        for name, tensors in expected.items():
            for phase, tensor in zip(("forward", "activation"), tensors):
                assert_stats_close(row_stats(find(rows, step, name, phase)), numpy_stats(tensor),
                                   "%s %s %d" % (name, phase, step), rederived=True)
    # the rows of the discriminator's last call (its weights updated, on the generated batch),
    # not of its first (the real batch): they differ
    real_d1 = batch @ np.float64(snapshots.after[2]["d1"][0]) + snapshots.after[2]["d1"][1]
    assert abs(find(rows, 3, "d1", "forward")["mean"] - real_d1.mean()) > 1e-3
    # both optimizers' gradients are there too
    assert sorted({r["layer_name"] for r in rows if r["phase"] == "gradient"}) == [
        "d1", "d2", "g1", "g2"]
    assert not any(r["phase"] in ("backward", "input", "target") for r in rows)


def test_callbackMode_stepTracedAgain_rowsOfEveryTraceAndNoneOfALayerItDoesNotCall(tmp_path):
    # Two fits into one trace, batches of 16 then of 8 (static shapes): the step is traced
    # anew for the second, which does not call the extra layer (nor does the model's call: the
    # step builds it)
    keras.utils.set_random_seed(22)
    x = np.random.default_rng(22).normal(size=(32, 4)).astype("float32")
    model = TinyGan(extra=True)
    model(x[:1])
    assert not model.extra_layer.built
    model.compile()
    path = tmp_path / "gan.arrows"
    recorder = Recorder(path, loss_key="g_loss", close_at_train_end=False)
    fits = []
    for size, n in ((16, 32), (8, 24)):
        snapshots = Snapshots(["g1", "g2", "d1", "d2", "extra"])
        dataset = tf.data.Dataset.from_tensor_slices(x[:n]).batch(size, drop_remainder=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(dataset, epochs=1, verbose=0, callbacks=[recorder, snapshots])
        fits.append((size, snapshots))
    recorder.close()
    rows, meta = read_arrow_trace(path)
    # traced three times: the first fit's step twice (TensorFlow traces it again when its first
    # trace made variables: the optimizers' and the extra layer's, which only the step builds,
    # so that the recorder knows the layers only at the second), the second fit's once
    assert model.traces == 3
    step = 0
    for size, snapshots in fits:
        for batch_index in range(len(snapshots.after)):
            batch = x[size * batch_index:size * (batch_index + 1)]
            before = snapshots.before if batch_index == 0 else snapshots.after[batch_index - 1]
            rows_of = {(r["layer_name"], r["phase"]): r for r in rows if int(r["step"]) == step
                       and r["phase"] in ("forward", "activation")}
            for name, tensors in gan_reference(before, snapshots.after[batch_index],
                                               batch).items():
                for phase, tensor in zip(("forward", "activation"), tensors):
                    row = rows_of[(name, phase)]
                    assert int(row["numel"]) == tensor.size
                    assert_stats_close(row_stats(row), numpy_stats(tensor),
                                       "%s %s %d" % (name, phase, step), rederived=True)
            # a layer the step did not call has no row that step
            if size == 16:
                k, b = [np.float64(a) for a in snapshots.after[batch_index]["extra"]]
                assert_stats_close(row_stats(rows_of[("extra", "activation")]),
                                   numpy_stats(np.tanh(batch @ k + b)), "extra %d" % step,
                                   rederived=True)
            else:
                assert ("extra", "forward") not in rows_of
                assert ("extra", "activation") not in rows_of
            step += 1
    assert step == 5
    # the weights of the extra layer are in every step all the same
    assert [int(r["step"]) for r in rows if r["layer_name"] == "extra"
            and r["phase"] == "weight"] == list(range(5))


def test_callbackMode_every_forwardAndActivationOnlyOnRecordedSteps(tmp_path):
    _, _, _, rows, _ = fit_gan(tmp_path / "gan.arrows", 64, 16, 2, every=3)
    for phase in ("forward", "activation", "weight", "gradient"):
        assert sorted({int(r["step"]) for r in rows if r["phase"] == phase}) == [0, 3, 6], phase
    _, _, _, rows, meta = fit_gan(tmp_path / "gan2.arrows", 32, 16, 1,
                                  phases=["loss", "activation", "weight"], layers=["d*"])
    assert {(r["layer_name"], r["phase"]) for r in rows if r["layer_name"] != "model"} == {
        (name, phase) for name in ("d1", "d2") for phase in ("activation", "weight")}
    assert meta["dltrace.record_phases"] == "activation,loss,weight"


class PackedGraphs(keras.Model):
    """Four "atoms" per example packed into one input of shape (4 * batch, 3), pooled back to one
    row per example before the output: the leading dimension of the input is not the batch's
    number of examples, the targets' is (as a batch of graphs merged into one disjoint graph)."""

    def __init__(self, own_step=False):
        super().__init__()
        self.atom = L.Dense(5, activation="relu", name="atom")
        self.out = L.Dense(1, name="out")
        self.own_step = own_step

    def call(self, x):
        pooled = keras.ops.mean(keras.ops.reshape(self.atom(x), (-1, 4, 5)), axis=1)
        return self.out(pooled)

    def train_step(self, data):
        if not self.own_step:
            return super().train_step(data)
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss}


@pytest.mark.parametrize("own_step", [False, True])
def test_batchSize_ofPackedInputs_isTheTargetsCount(tmp_path, own_step):
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    atoms = rng.normal(size=(64 * 4, 3)).astype("float32")
    targets = rng.normal(size=(64, 1)).astype("float32")
    dataset = tf.data.Dataset.from_tensor_slices(
        (atoms.reshape(64, 4, 3), targets)).batch(8).map(
            lambda x, y: (tf.reshape(x, (-1, 3)), y))
    model = PackedGraphs(own_step)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    path = tmp_path / "run.arrows"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an own train_step is recorded in callback mode
        model.fit(dataset, epochs=1, verbose=0, callbacks=[Recorder(path)])

    _, meta = read_arrow_trace(path)
    assert meta["dltrace.batch_size"] == "8"


class StudentModel(keras.Model):
    """A student trained against a teacher model that only predicts (consistency training,
    distillation), and optionally a layer that trains itself with its own optimizer (as a
    forward-forward layer does)."""

    def __init__(self, teacher, own_optimizer_layer=False):
        super().__init__()
        self.teacher = teacher
        self.s1 = keras.layers.Dense(8, activation="relu", name="s1")
        self.s2 = keras.layers.Dense(3, name="s2")
        self.local = None
        if own_optimizer_layer:
            self.local = keras.layers.Dense(4, name="local")
            self.local.own_optimizers = [keras.optimizers.SGD(0.01)]

    def call(self, x):
        return self.s2(self.s1(x))

    def train_step(self, data):
        x, y = data
        target = self.teacher(x, training=False)
        with tf.GradientTape() as tape:
            p = self(x, training=True)
            loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(
                y, p, from_logits=True)) + tf.reduce_mean((p - target) ** 2)
        v = self.s1.trainable_weights + self.s2.trainable_weights
        self.optimizer.apply_gradients(zip(tape.gradient(loss, v), v))
        if self.local is not None:
            with tf.GradientTape() as tape:
                local_loss = tf.reduce_mean(self.local(x) ** 2)
            w = self.local.trainable_weights
            self.local.own_optimizers[0].apply_gradients(zip(tape.gradient(local_loss, w), w))
        return {"loss": loss}


def _fit_student(path, own_optimizer_layer=False, **options):
    keras.utils.set_random_seed(31)
    x = np.random.default_rng(31).normal(size=(64, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu",
                                                                      name="t1"),
                                keras.layers.Dense(3, name="t2")], name="teacher")
    teacher.compile(optimizer=keras.optimizers.Adam(1e-3),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher.fit(x, y, epochs=1, verbose=0)
    model = StudentModel(teacher, own_optimizer_layer)
    model(x[:1])
    if model.local is not None:
        model.local(x[:1])
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y, batch_size=16, epochs=1, verbose=0,
                  callbacks=[Recorder(path, **options)])
    rows, meta = read_arrow_trace(path)
    return model, teacher, {l["name"]: l for l in json.loads(meta["dltrace.layers"])}


def test_inOptimizer_teacherNoOptimizerUpdates_markedFalseAndTheStudentsLayersNot(tmp_path):
    model, teacher, layers = _fit_student(tmp_path / "student.arrows")
    assert layers["teacher/t1"]["in_optimizer"] is False
    assert layers["teacher/t2"]["in_optimizer"] is False
    assert "in_optimizer" not in layers["s1"] and "in_optimizer" not in layers["s2"]
    # the optimizers are the optimizers' own again after fit, the teacher's included
    assert "apply" not in vars(model.optimizer) and "apply" not in vars(teacher.optimizer)


def test_inOptimizer_gradientsNotRecorded_stillMarked(tmp_path):
    # the fact comes from the optimizers' applies, not from the gradient rows
    _, _, layers = _fit_student(tmp_path / "student.arrows", phases=["loss", "weight"])
    assert layers["teacher/t1"]["in_optimizer"] is False
    assert "in_optimizer" not in layers["s1"]


def test_inOptimizer_layerWithItsOwnOptimizerInAList_notMarked(tmp_path):
    # a layer that trains itself with an optimizer it holds in a list (forward-forward): that
    # optimizer's applies count
    _, _, layers = _fit_student(tmp_path / "student.arrows", own_optimizer_layer=True)
    assert "in_optimizer" not in layers["local"]
    assert layers["teacher/t2"]["in_optimizer"] is False


def test_inOptimizer_ordinaryFit_noLayerMarked(tmp_path):
    keras.utils.set_random_seed(32)
    x = np.random.default_rng(32).normal(size=(32, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "plain.arrows"
    model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0, callbacks=[Recorder(path)])
    _, meta = read_arrow_trace(path)
    assert not any("in_optimizer" in l for l in json.loads(meta["dltrace.layers"]))


def test_lossAdded_givenForATrainStepsSum_writtenAndAnythingButABoolRefused(tmp_path):
    keras.utils.set_random_seed(33)
    x = np.random.default_rng(33).normal(size=(32, 4)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "summed.arrows"
    model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0,
              callbacks=[Recorder(path, loss_added=True)])
    assert read_arrow_trace(path)[1]["dltrace.loss_added"] == "true"
    plain = tmp_path / "plain.arrows"
    model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0, callbacks=[Recorder(plain)])
    assert "dltrace.loss_added" not in read_arrow_trace(plain)[1]
    with pytest.raises(TypeError, match="loss_added must be True or False, got 'yes'"):
        Recorder(tmp_path / "x.arrows", loss_added="yes")


class RandomFeatures(keras.layers.Layer):
    """A random-features layer as keras.io's quasi-SVM builds it: a fixed random projection and
    phase, and a trainable kernel scale; or, with ``frozen_kernel``, an ordinary linear layer
    whose kernel was made non-trainable while its bias trains."""

    def __init__(self, units, frozen_kernel=False, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.frozen_kernel = frozen_kernel

    def build(self, input_shape):
        if self.frozen_kernel:
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), trainable=False,
                                          initializer="glorot_uniform", name="kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")
            return
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), trainable=False,
                                      initializer="random_normal", name="kernel")
        self.phase = self.add_weight(shape=(self.units,), trainable=False,
                                     initializer="random_uniform", name="phase")
        self.kernel_scale = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(2.0),
                                            name="kernel_scale")

    def call(self, x):
        if self.frozen_kernel:
            return x @ self.kernel + self.bias
        return tf.cos(x @ self.kernel / self.kernel_scale + self.phase)


def _fit_features(path, frozen_kernel):
    keras.utils.set_random_seed(34)
    x = np.random.default_rng(34).normal(size=(64, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")[:, None]
    model = keras.Sequential([keras.Input((6,)), RandomFeatures(32, frozen_kernel, name="rff"),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False,
              callbacks=[Recorder(path)])
    rows, _ = read_arrow_trace(path)
    return model, rows


def test_weightRows_fixedRandomProjectionBesideATrainableScale_areTheScalesAlone(tmp_path):
    model, rows = _fit_features(tmp_path / "rff.arrows", frozen_kernel=False)
    first, last = find(rows, 0, "rff", "weight"), find(rows, 3, "rff", "weight")
    assert int(first["numel"]) == 1
    assert float(last["mean"]) == pytest.approx(float(model.get_layer("rff").kernel_scale[0]),
                                                rel=1e-6)
    assert float(first["mean"]) != float(last["mean"])
    assert int(find(rows, 0, "rff", "gradient")["numel"]) == 1


def test_weightRows_aFrozenKernelWhileTheBiasTrains_stayTheKernels(tmp_path):
    _, rows = _fit_features(tmp_path / "frozen.arrows", frozen_kernel=True)
    first, last = find(rows, 0, "rff", "weight"), find(rows, 3, "rff", "weight")
    assert int(first["numel"]) == 6 * 32
    assert float(first["mean"]) == float(last["mean"])


class ClassifierEndpoint(keras.layers.Layer):
    """keras.io's endpoint layer pattern: the loss and the accuracy computed inside the model,
    from the targets given as an input."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.accuracy_metric = keras.metrics.SparseCategoricalAccuracy(name="accuracy")

    def call(self, targets, logits):
        self.add_loss(self.loss_fn(targets, logits))
        self.accuracy_metric.update_state(targets, logits)
        return keras.ops.softmax(logits)


def test_endpointLayer_noTargetsGivenToFit_accuracyRowsFromTheLoggedMetricPerBatch(tmp_path):
    keras.utils.set_random_seed(35)
    rng = np.random.default_rng(35)
    x = rng.normal(size=(96, 5)).astype("float32")
    y = (x[:, 0] + 0.3 * x[:, 1] > 0).astype("int32")
    pixels = keras.Input((5,), name="pixels")
    targets = keras.Input((), dtype="int32", name="targets")
    logits = keras.layers.Dense(2, name="logits")(keras.layers.Dense(8, activation="relu",
                                                                    name="hidden")(pixels))
    model = keras.Model([pixels, targets], ClassifierEndpoint(name="endpoint")(targets, logits))
    model.compile(optimizer=keras.optimizers.SGD(0.2))
    path = tmp_path / "endpoint.arrows"
    history = model.fit({"pixels": x, "targets": y}, batch_size=16, epochs=2, shuffle=False,
                        verbose=0, callbacks=[Recorder(path, loss_name="sparse_categorical_"
                                                       "crossentropy")])
    rows, meta = read_arrow_trace(path)
    accuracy = {int(r["step"]): float(r["mean"]) for r in rows if r["phase"] == "accuracy"}
    assert sorted(accuracy) == list(range(12))
    # per batch, not the epoch's running mean: the batches of equal size average to it
    for epoch in range(2):
        batches = [accuracy[6 * epoch + b] for b in range(6)]
        assert all(v * 16 == pytest.approx(round(v * 16)) for v in batches)
        assert np.mean(batches) == pytest.approx(history.history["accuracy"][epoch], abs=1e-6)
    assert meta["dltrace.loss_added"] == "true"


class SharedBackbone(keras.Model):
    """SimSiam's layout: the backbone kept as an attribute (for a probe later) and nested in the
    encoder as well, so that its layers are reachable by two paths."""

    def __init__(self):
        super().__init__()
        self.backbone = keras.Sequential([keras.layers.Dense(6, activation="relu", name="conv1"),
                                          keras.layers.Dense(4, name="enc_dense")],
                                         name="backbone")
        self.encoder = keras.Sequential([self.backbone, keras.layers.Dense(3, name="proj")],
                                        name="encoder")

    def call(self, x):
        return self.encoder(x)


def test_layersReachableByTwoPaths_listedOnceWithEveryPhase(tmp_path):
    keras.utils.set_random_seed(36)
    x = np.random.default_rng(36).normal(size=(32, 5)).astype("float32")
    model = SharedBackbone()
    model(x[:1])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    path = tmp_path / "shared.arrows"
    model.fit(x, x[:, :3], batch_size=8, epochs=1, verbose=0, callbacks=[Recorder(path)])
    rows, meta = read_arrow_trace(path)
    names = [l["name"] for l in json.loads(meta["dltrace.layers"])]
    assert sorted(names) == ["backbone/conv1", "backbone/enc_dense", "encoder/proj"]
    for name in names:
        assert {r["phase"] for r in rows if r["layer_name"] == name} >= {
            "forward", "weight", "gradient"}


# ------------------------------------------------- an output computed by comparing two outputs

def _siamese(head):
    """Two inputs through one shared Dense, joined by ``head(a, b)`` in a Lambda."""
    left, right = keras.Input((8,)), keras.Input((8,))
    shared = L.Dense(6, activation="tanh", name="shared")
    a, b = shared(left), shared(right)
    out = L.Lambda(lambda t: head(t[0], t[1]), output_shape=(1,), name="join")([a, b])
    return keras.Model([left, right], out)


def _fit_pairs(model, path, mode):
    rng = np.random.default_rng(37)
    x1, x2 = (rng.normal(size=(64, 8)).astype("float32") for _ in range(2))
    y = (np.sum(x1 * x2, axis=1, keepdims=True) > 0).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit([x1, x2], y, batch_size=16, epochs=1, verbose=0,
              callbacks=[Recorder(path, mode=mode)])
    return read_arrow_trace(path)[1]


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_outputLayer_aSharedLayersTwoCallsCompared_isNone(tmp_path, mode):
    keras.utils.set_random_seed(37)
    manhattan = _siamese(lambda a, b: keras.ops.exp(
        -keras.ops.sum(keras.ops.abs(a - b), axis=1, keepdims=True)))
    meta = _fit_pairs(manhattan, tmp_path / "manhattan.arrows", mode)
    assert meta["dltrace.output_layer"] == "none"
    keras.utils.set_random_seed(37)
    cosine = _siamese(lambda a, b: keras.ops.sigmoid(keras.ops.sum(
        keras.ops.matmul(a[:, None, :], b[:, :, None]), axis=(1, 2))[:, None]))
    assert _fit_pairs(cosine, tmp_path / "cosine.arrows", mode)["dltrace.output_layer"] == "none"
    # the dot product written out, as a recommender's call often does: sigmoid(sum(u * m))
    keras.utils.set_random_seed(37)
    summed = _siamese(lambda a, b: keras.ops.sigmoid(
        keras.ops.sum(a * b, axis=1, keepdims=True)))
    assert _fit_pairs(summed, tmp_path / "summed.arrows", mode)["dltrace.output_layer"] == "none"


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_outputLayer_aDotProductLeftAsLogits_isNotWritten(tmp_path, mode):
    # node2vec's Dot of two embeddings as the logits: unbounded, as a linear layer's output
    keras.utils.set_random_seed(39)
    dot = _siamese(lambda a, b: keras.ops.sum(a * b, axis=1, keepdims=True))
    assert "dltrace.output_layer" not in _fit_pairs(dot, tmp_path / "dot.arrows", mode)


@pytest.mark.parametrize("mode", ["step", "callback"])
def test_outputLayer_oneOutputCenteredOrScaled_isNotWritten(tmp_path, mode):
    keras.utils.set_random_seed(38)
    inputs = keras.Input((8,))
    h = L.Dense(1, name="out")(L.Dense(6, activation="relu", name="hidden")(inputs))
    centred = L.Lambda(lambda t: keras.ops.sigmoid(2.0 * (t - keras.ops.mean(t))),
                       output_shape=(1,), name="centre")(h)
    model = keras.Model(inputs, centred)
    rng = np.random.default_rng(38)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
    model.fit(x, y, batch_size=16, epochs=1, verbose=0,
              callbacks=[Recorder(tmp_path / "run.arrows", mode=mode)])
    _, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert "dltrace.output_layer" not in meta
