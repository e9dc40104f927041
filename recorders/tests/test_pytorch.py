"""Tests of the PyTorch recorder (python3 -m pytest recorders/tests)."""

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from conftest import RECORDERS, assert_stats_close, numpy_stats, read_csv_trace as read_trace

import dltrace.pytorch as dltrace
from dltrace._core import writers

PACKAGE_ROOT = RECORDERS

STATS = ("mean", "std", "min", "max", "l2_norm", "zero_fraction", "nan_count", "inf_count", "numel")


def row_stats(row):
    out = {}
    for key in STATS:
        text = row[key]
        out[key] = int(text) if key in ("nan_count", "inf_count", "numel") else float(text)
    return out


def find(rows, step, layer, phase):
    hits = [r for r in rows if int(r["step"]) == step and r["layer_name"] == layer
            and r["phase"] == phase]
    if len(hits) != 1:
        raise AssertionError("expected one row for step %d %s %s, got %d"
                             % (step, layer, phase, len(hits)))
    return hits[0]


class StatsCase(unittest.TestCase):
    def assertStatsClose(self, actual, expected, msg=None):
        assert_stats_close(actual, expected, msg)


class TensorStatsTest(StatsCase):
    def as_dict(self, stats):
        return dict(zip(STATS, stats))

    def test_tensorStats_randomFloat32_matchesNumpy(self):
        g = torch.Generator().manual_seed(1)
        t = torch.randn(7, 13, generator=g)
        t[0, :4] = 0.0
        self.assertStatsClose(self.as_dict(dltrace.tensor_stats(t)), numpy_stats(t.numpy()), "randn")

    def test_tensorStats_withNan_propagatesNanAndCounts(self):
        t = torch.tensor([1.0, float("nan"), 0.0, 3.0])
        s = self.as_dict(dltrace.tensor_stats(t))
        for key in ("mean", "std", "min", "max", "l2_norm"):
            self.assertTrue(math.isnan(s[key]), key)
        self.assertEqual((s["nan_count"], s["inf_count"], s["numel"]), (1, 0, 4))
        self.assertEqual(s["zero_fraction"], 0.25)

    def test_tensorStats_withPositiveInf_meanInfStdNan(self):
        t = torch.tensor([1.0, float("inf"), 2.0], dtype=torch.float32)
        s = self.as_dict(dltrace.tensor_stats(t))
        self.assertEqual(s["mean"], math.inf)
        self.assertTrue(math.isnan(s["std"]))
        self.assertEqual((s["min"], s["max"], s["l2_norm"]), (1.0, math.inf, math.inf))
        self.assertEqual(s["inf_count"], 1)
        self.assertEqual(s["mean"], float(t.mean()))  # what torch itself reports

    def test_tensorStats_withBothInfinities_meanNan(self):
        s = self.as_dict(dltrace.tensor_stats(torch.tensor([float("inf"), float("-inf")])))
        self.assertTrue(math.isnan(s["mean"]))
        self.assertEqual(s["inf_count"], 2)

    def test_tensorStats_integerTensor_convertedToFloat64(self):
        t = torch.tensor([0, 1, 2, 2, 9])
        self.assertStatsClose(self.as_dict(dltrace.tensor_stats(t)), numpy_stats(t.numpy()), "ints")

    def test_tensorStats_float32Sum_computedInFloat64(self):
        # 2**24 + 1 is not representable in float32; a float32 mean would lose the 1s.
        t = torch.full((1000,), 1.0, dtype=torch.float32)
        t[0] = 2.0 ** 24
        s = self.as_dict(dltrace.tensor_stats(t))
        self.assertEqual(s["mean"], (2.0 ** 24 + 999.0) / 1000.0)

    def test_tensorStats_empty_meanNanCountsZero(self):
        s = self.as_dict(dltrace.tensor_stats(torch.zeros(0)))
        self.assertTrue(math.isnan(s["mean"]))
        self.assertIsNone(s["std"])
        self.assertEqual(s["numel"], 0)

    def test_scalarStats_number_matchesOneElementTensor(self):
        self.assertEqual(dltrace.scalar_stats(0.5), dltrace.tensor_stats(torch.tensor([0.5], dtype=torch.float64)))
        self.assertTrue(math.isnan(dltrace.scalar_stats(float("nan"))[0]))
        self.assertEqual(dltrace.scalar_stats(float("inf"))[7], 1)


class Mlp(nn.Module):
    def __init__(self, hidden=(6, 4)):
        super().__init__()
        self.fc1 = nn.Linear(5, hidden[0])
        self.act1 = nn.Tanh()
        self.drop = nn.Dropout(0.0)
        self.fc2 = nn.Linear(hidden[0], hidden[1])
        self.act2 = nn.ReLU(inplace=True)
        self.out = nn.Linear(hidden[1], 3)

    def forward(self, x):
        return self.out(self.act2(self.fc2(self.drop(self.act1(self.fc1(x))))))


def make_data(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 5, generator=g), torch.randint(0, 3, (n,), generator=g)


# The reference test's models: "small" has only tensors of up to BATCH_MAX elements (reduced
# together at the end of the step); "wide" has layer outputs of 8 x 1,024 and 8 x 600 and a
# 1,024 x 600 weight, so its forward, activation, backward, gradient and weight rows take the
# one-tensor path (rows of NORM_ROW elements, with and without a shorter last row).
REFERENCE_MODELS = {"small": (6, 4), "wide": (1024, 600)}
SAMPLING = {"full": {}, "every10": {"every": 10},
            "weights+gradients": {"phases": ("weight", "gradient")}}
LAYER_PHASES = ("forward", "activation", "backward", "gradient", "weight")
MODEL_PHASES = ("input", "target", "loss", "accuracy", "learning_rate")


@pytest.mark.parametrize("model_name", sorted(REFERENCE_MODELS))
@pytest.mark.parametrize("sampling", list(SAMPLING))
def test_step_everyPhase_matchesIndependentComputation(tmp_path, sampling, model_name):
    """Every recorded row of every step, at each sampling setting, against numpy's float64
    statistics of the tensor it stands for, taken from an independent forward and backward
    with the same weights (the same torch ops, so the same float32 values)."""
    options = SAMPLING[sampling]
    steps = 21  # every=10 records steps 0, 10 and 20 in full
    torch.manual_seed(3)
    model = Mlp(REFERENCE_MODELS[model_name])
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    x, y = make_data()
    linear = nn.functional.linear
    expected = []
    path = str(tmp_path / "run.csv")
    rec = dltrace.attach(model, path, optimizer=opt, task="classification",
                         loss_name="CrossEntropyLoss", steps_per_epoch=3, num_classes=3, **options)
    for step in range(steps):
        xb, yb = x[(step % 3) * 8:(step % 3 + 1) * 8], y[(step % 3) * 8:(step % 3 + 1) * 8]
        # Independent forward with the same weights, intermediate grads retained.
        w = {n: p.detach().clone() for n, p in model.named_parameters()}
        h1 = linear(xb, w["fc1.weight"], w["fc1.bias"]).requires_grad_(True)
        a1 = torch.tanh(h1)
        h2 = linear(a1, w["fc2.weight"], w["fc2.bias"])
        h2.retain_grad()
        a2 = torch.relu(h2)
        h3 = linear(a2, w["out.weight"], w["out.bias"])
        h3.retain_grad()
        ref_loss = nn.functional.cross_entropy(h3, yb)
        ref_loss.backward()
        exp = {("fc1", "forward"): h1.detach(), ("fc1", "activation"): a1.detach(),
               ("fc2", "forward"): h2.detach(), ("fc2", "activation"): a2.detach(),
               ("out", "forward"): h3.detach(), ("out", "activation"): h3.detach(),
               ("fc1", "backward"): h1.grad, ("fc2", "backward"): h2.grad,
               ("out", "backward"): h3.grad}

        opt.zero_grad()
        logits = model(xb)
        loss = nn.functional.cross_entropy(logits, yb)
        loss.backward()
        opt.step()
        acc = (logits.argmax(1) == yb).float().mean()
        for name in ("fc1", "fc2", "out"):
            layer = getattr(model, name)
            exp[(name, "gradient")] = layer.weight.grad.detach().clone()
            exp[(name, "weight")] = layer.weight.detach().clone()
        exp[("model", "loss")] = torch.tensor([float(ref_loss.detach())])
        exp[("model", "accuracy")] = torch.tensor([float(acc)])
        exp[("model", "input")] = xb
        exp[("model", "target")] = yb
        exp[("model", "learning_rate")] = torch.tensor([0.05], dtype=torch.float64)
        expected.append(exp)
        rec.step(loss, accuracy=acc, inputs=xb, targets=yb)
    rec.close()
    rows, meta = read_trace(path)

    recorded = [step for step in range(steps) if step % options.get("every", 1) == 0]
    phases = set(options.get("phases", LAYER_PHASES + MODEL_PHASES)) | {"loss"}
    keys = set()
    for step in range(steps):
        for phase in phases:
            if phase in LAYER_PHASES:
                if step in recorded:
                    keys |= {(step, name, phase) for name in ("fc1", "fc2", "out")}
            elif step in recorded or phase in ("loss", "accuracy", "learning_rate"):
                keys.add((step, "model", phase))
    got = [(int(r["step"]), r["layer_name"], r["phase"]) for r in rows]
    assert sorted(got) == sorted(keys)  # each expected row once, and no other
    for step, layer, phase in keys:
        row = find(rows, step, layer, phase)
        assert_stats_close(row_stats(row), numpy_stats(expected[step][(layer, phase)].numpy()),
                           "%s %s: step %d %s %s" % (model_name, sampling, step, layer, phase))
    assert [r["step"] for r in rows] == sorted([r["step"] for r in rows], key=int)
    assert [(r["epoch"], r["batch"]) for r in rows if r["phase"] == "loss"][:6] == [
        ("0", "0"), ("0", "1"), ("0", "2"), ("1", "0"), ("1", "1"), ("1", "2")]


class RecordedValuesTest(StatsCase):
    """The rows of a step: their order, and what is not recorded."""

    def test_step_rowOrderInsideStep_followsContract(self):
        torch.manual_seed(0)
        model = Mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = make_data(8)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt) as rec:
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                rec.step(loss, accuracy=0.5, inputs=x, targets=y)
            rows, _ = read_trace(path)
        self.assertEqual([(r["layer_name"], r["phase"]) for r in rows], [
            ("model", "input"), ("model", "target"),
            ("fc1", "forward"), ("fc1", "activation"), ("fc2", "forward"), ("fc2", "activation"),
            ("out", "forward"), ("out", "activation"), ("model", "loss"), ("model", "accuracy"),
            ("out", "backward"), ("fc2", "backward"), ("fc1", "backward"),
            ("fc1", "gradient"), ("fc2", "gradient"), ("out", "gradient"),
            ("fc1", "weight"), ("fc2", "weight"), ("out", "weight"),
            ("model", "learning_rate")])
        self.assertEqual([r["layer_index"] for r in rows if r["phase"] == "forward"], ["0", "1", "2"])
        self.assertEqual({r["layer_type"] for r in rows if r["layer_name"] == "model"}, {""})

    def test_step_evalAndNoGradForwards_areNotRecorded(self):
        torch.manual_seed(0)
        model = Mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = make_data(8)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt) as rec:
                opt.zero_grad()
                train_out = model(x)
                loss = nn.functional.cross_entropy(train_out, y)
                loss.backward()
                opt.step()
                with torch.no_grad():
                    model(x * 100)  # a validation pass: must not replace the training forward
                model.eval()
                model(x * 100)
                model.train()
                rec.step(loss)
            rows, _ = read_trace(path)
        self.assertStatsClose(row_stats(find(rows, 0, "out", "forward")),
                              numpy_stats(train_out.detach().numpy()), "training forward")

    def test_step_beforeAnyForward_raises(self):
        model = Mlp()
        with tempfile.TemporaryDirectory() as tmp:
            rec = dltrace.attach(model, os.path.join(tmp, "run.csv"))
            with self.assertRaises(RuntimeError):
                rec.step(1.0)
            rec.close()

    def test_nanLoss_recordedAsNan(self):
        torch.manual_seed(0)
        model = Mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = make_data(8)
        x[0, 0] = float("nan")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt) as rec:
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                rec.step(loss)
            rows, _ = read_trace(path)
        self.assertEqual(find(rows, 0, "model", "loss")["mean"], "nan")
        self.assertEqual(find(rows, 0, "fc1", "forward")["nan_count"], "6")
        self.assertEqual(find(rows, 0, "fc1", "weight")["nan_count"], "30")


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 3 * 3, 10)
        self.softmax = nn.Softmax(dim=1)

    def forward(self, x):
        return self.softmax(self.fc(self.flatten(self.pool(self.relu1(self.bn1(self.conv1(x)))))))


class Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 4)
        self.lstm = nn.LSTM(4, 5, batch_first=True)
        self.head = nn.Linear(5, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, tokens):
        out, _ = self.lstm(self.emb(tokens))
        return self.sigmoid(self.head(out[:, -1]))


class MetadataTest(unittest.TestCase):
    def record_one_step(self, model, x, y, loss_fn, path, **options):
        opt = torch.optim.Adam(model.parameters(), lr=0.001)
        rec = dltrace.attach(model, path, optimizer=opt, **options)
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        rec.step(loss, inputs=x, targets=y)
        rec.close()
        return read_trace(path)

    def test_metadata_cnn_keysInContractOrderAndLayers(self):
        torch.manual_seed(0)
        x = torch.randn(4, 1, 8, 8)
        y = torch.randint(0, 10, (4,))
        with tempfile.TemporaryDirectory() as tmp:
            rows, meta = self.record_one_step(
                Cnn(), x, y, lambda out, t: nn.functional.nll_loss(torch.log(out), t),
                os.path.join(tmp, "cnn-run.csv"), task="classification", loss_name="NLLLoss",
                steps_per_epoch=10, num_classes=10, model_name="SmallCnn")
        self.assertEqual(list(meta), [
            "dltrace.version", "dltrace.run_id", "dltrace.model", "dltrace.framework",
            "dltrace.optimizer", "dltrace.learning_rate", "dltrace.batch_size", "dltrace.task",
            "dltrace.loss", "dltrace.weight_decay", "dltrace.layers", "dltrace.steps_per_epoch",
            "dltrace.num_classes", "dltrace.output_layer"])
        self.assertEqual(meta["dltrace.version"], "1")
        self.assertEqual(meta["dltrace.run_id"], "cnn-run")
        self.assertEqual(meta["dltrace.model"], "SmallCnn")
        self.assertEqual(meta["dltrace.framework"], "pytorch")
        self.assertEqual(meta["dltrace.optimizer"], "Adam")
        self.assertEqual(meta["dltrace.learning_rate"], "0.001")
        self.assertEqual(meta["dltrace.batch_size"], "4")
        self.assertEqual(meta["dltrace.task"], "classification")
        self.assertEqual(meta["dltrace.loss"], "NLLLoss")
        self.assertEqual(meta["dltrace.steps_per_epoch"], "10")
        self.assertEqual(meta["dltrace.num_classes"], "10")
        self.assertTrue(all(isinstance(v, str) for v in meta.values()))
        self.assertEqual(json.loads(meta["dltrace.layers"]), [
            {"index": 0, "name": "conv1", "type": "Conv2d", "activation": "linear", "params": 40,
             "trainable": True, "fan_in": 9, "fan_out": 36},
            {"index": 1, "name": "bn1", "type": "BatchNorm2d", "activation": "relu", "params": 8,
             "trainable": True},
            {"index": 2, "name": "fc", "type": "Linear", "activation": "softmax", "params": 370,
             "trainable": True, "fan_in": 36, "fan_out": 10},
        ])
        self.assertEqual(meta["dltrace.weight_decay"], "0.0")
        self.assertEqual(meta["dltrace.output_layer"], "2")  # fc, the loss's input
        # The softmax output's mean is 1/K: the activation row is the softmax module's output.
        self.assertAlmostEqual(float(find(rows, 0, "fc", "activation")["mean"]), 0.1, delta=1e-7)

    def test_metadata_embeddingLstm_recordsTupleOutputsAndAllWeights(self):
        torch.manual_seed(0)
        x = torch.randint(0, 20, (3, 6))
        y = torch.tensor([[1.0], [0.0], [1.0]])
        model = Seq()
        with tempfile.TemporaryDirectory() as tmp:
            rows, meta = self.record_one_step(model, x, y, nn.functional.binary_cross_entropy,
                                              os.path.join(tmp, "seq.csv"), task="classification")
        layers = json.loads(meta["dltrace.layers"])
        self.assertEqual([(l["name"], l["type"], l["activation"]) for l in layers],
                         [("emb", "Embedding", "linear"), ("lstm", "LSTM", "linear"),
                          ("head", "Linear", "sigmoid")])
        self.assertEqual(int(find(rows, 0, "lstm", "forward")["numel"]), 3 * 6 * 5)
        # LSTM weight = weight_ih_l0 + weight_hh_l0 (biases left out).
        self.assertEqual(int(find(rows, 0, "lstm", "weight")["numel"]), 4 * 5 * 4 + 4 * 5 * 5)
        self.assertEqual(int(find(rows, 0, "emb", "gradient")["numel"]), 20 * 4)

    def test_metadata_frozenLayer_trainableFalseAndNoGradientRow(self):
        torch.manual_seed(0)
        model = Mlp()
        for p in model.fc1.parameters():
            p.requires_grad_(False)
        x, y = make_data(8)
        with tempfile.TemporaryDirectory() as tmp:
            rows, meta = self.record_one_step(model, x, y, nn.functional.cross_entropy,
                                              os.path.join(tmp, "frozen.csv"))
        layers = json.loads(meta["dltrace.layers"])
        self.assertEqual([l["trainable"] for l in layers], [False, True, True])
        self.assertEqual([r for r in rows if r["layer_name"] == "fc1" and r["phase"] == "gradient"], [])
        self.assertEqual(len([r for r in rows if r["layer_name"] == "fc1" and r["phase"] == "weight"]), 1)

    def test_trace_sameSeed_byteIdentical(self):
        outputs = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(2):
                torch.manual_seed(7)
                model = Mlp()
                x, y = make_data(16, seed=2)
                path = os.path.join(tmp, "run%d" % i, "same.csv")
                os.makedirs(os.path.dirname(path))
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                with dltrace.attach(model, path, optimizer=opt, task="classification") as rec:
                    for _ in range(5):
                        opt.zero_grad()
                        loss = nn.functional.cross_entropy(model(x), y)
                        loss.backward()
                        opt.step()
                        rec.step(loss, inputs=x, targets=y)
                with open(path, "rb") as f, open(dltrace.sidecar_path(path), "rb") as g:
                    outputs.append((f.read(), g.read()))
        self.assertEqual(outputs[0], outputs[1])

    def test_attach_parquetWithoutPyarrow_fallsBackToArrowStreamWithWarning(self):
        with tempfile.TemporaryDirectory() as tmp:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rec = dltrace.attach(Mlp(), os.path.join(tmp, "run.parquet"))
            rec.close()
        if writers.pyarrow_available():
            self.assertTrue(rec.path.endswith("run.parquet"))
            self.assertEqual(caught, [])
        else:
            self.assertTrue(rec.path.endswith("run.arrows"), rec.path)
            self.assertIn("pyarrow is not installed", str(caught[0].message))

    def test_attach_arrowStream_needsNoPyarrowAndNoWarning(self):
        with tempfile.TemporaryDirectory() as tmp:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rec = dltrace.attach(Mlp(), os.path.join(tmp, "run.arrows"))
            rec.close()
        self.assertTrue(rec.path.endswith("run.arrows"))
        self.assertEqual(caught, [])

    def test_attach_unknownExtension_raises(self):
        with self.assertRaises(ValueError):
            dltrace.attach(Mlp(), "run.txt")


CRASH_PROGRAM = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {root!r})
    import torch
    from torch import nn
    import dltrace.pytorch as dltrace
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = dltrace.attach(model, sys.argv[1], optimizer=opt, flush_every=5)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))
    for step in range(100):
        if step == 23:
            if sys.argv[2] == "kill":
                os._exit(9)          # no cleanup at all, like SIGKILL or an OOM kill
            raise RuntimeError("simulated crash")
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        rec.step(loss)
""")


class CrashTest(unittest.TestCase):
    def run_crash(self, how):
        with tempfile.TemporaryDirectory() as tmp:
            program = os.path.join(tmp, "crash.py")
            with open(program, "w") as f:
                f.write(CRASH_PROGRAM.format(root=PACKAGE_ROOT))
            path = os.path.join(tmp, "crash.csv")
            result = subprocess.run([sys.executable, program, path, how],
                                    capture_output=True, text=True, timeout=120)
            self.assertNotEqual(result.returncode, 0)
            with open(path, "rb") as f:
                raw = f.read()
            rows, meta = read_trace(path)
        return raw, rows, meta

    def assert_whole_steps(self, raw, rows, steps):
        self.assertTrue(raw.endswith(b"\n"))
        per_step = 2 * 2 + 1 + 2 + 2 + 2 + 1  # fwd/act x2, loss, backward, gradient, weight, lr
        self.assertEqual(len(rows), steps * per_step)
        self.assertEqual(sorted({int(r["step"]) for r in rows}), list(range(steps)))
        for r in rows:
            self.assertEqual(len(r), len(writers.COLUMNS))
            float(r["mean"])

    def test_crash_killedWithoutCleanup_leavesFlushedWholeSteps(self):
        raw, rows, meta = self.run_crash("kill")
        # Flushed every 5 steps by the writer thread, which may be one flush behind when the
        # process dies at step 23: steps 0..19, or 0..14.
        steps = len({r["step"] for r in rows})
        self.assertIn(steps, (15, 20))
        self.assert_whole_steps(raw, rows, steps)
        self.assertEqual(meta["dltrace.version"], "1")

    def test_crash_exception_atexitFlushesEveryStep(self):
        raw, rows, meta = self.run_crash("raise")
        self.assert_whole_steps(raw, rows, 23)
        self.assertEqual(len(json.loads(meta["dltrace.layers"])), 2)


if __name__ == "__main__":
    unittest.main()


class FunctionalMlp(nn.Module):
    """Activations applied as functions, as many training scripts write them."""

    def __init__(self, out_act=None):
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 6)
        self.out = nn.Linear(6, 3)
        self.out_act = out_act

    def forward(self, x):
        h = nn.functional.relu(self.fc1(x))
        h = torch.tanh(self.fc2(h))
        out = self.out(h)
        return self.out_act(out) if self.out_act is not None else out


class GraphReadingTest(unittest.TestCase):
    """What the recorder reads from the step's autograd graph: functional activations, the
    loss function, the task, and the layers' mode and optimizer membership."""

    def run_one(self, model, loss_fn, y, opt=None, after_model=None, **options):
        torch.manual_seed(0)
        x = torch.randn(5, 4)
        opt = opt or torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt, **options) as rec:
                opt.zero_grad()
                out = model(x)
                if after_model is not None:
                    out = after_model(out)
                loss = loss_fn(out, y)
                loss.backward()
                opt.step()
                rec.step(loss, inputs=x, targets=y)
            rows, meta = read_trace(path)
        return x, rows, meta, {l["name"]: l for l in json.loads(meta["dltrace.layers"])}

    def test_functionalActivations_namedAndRecordedFromTheGraph(self):
        model = FunctionalMlp()
        y = torch.tensor([0, 1, 2, 0, 1])
        x, rows, meta, layers = self.run_one(model, nn.functional.cross_entropy, y)
        self.assertEqual(layers["fc1"]["activation"], "relu")
        self.assertEqual(layers["fc2"]["activation"], "tanh")
        self.assertEqual(layers["out"]["activation"], "linear")
        self.assertEqual(meta["dltrace.loss"], "CrossEntropyLoss")
        self.assertEqual(meta["dltrace.task"], "classification")
        self.assertEqual(meta["dltrace.num_classes"], "3")
        self.assertEqual(meta["dltrace.momentum"], "0.9")
        self.assertEqual(meta["dltrace.weight_decay"], "0.0001")
        # The activation rows are the functions' outputs, not copies of the forward rows.
        fwd = find(rows, 0, "fc1", "forward")
        act = find(rows, 0, "fc1", "activation")
        self.assertGreaterEqual(float(act["min"]), 0.0)
        self.assertLess(float(fwd["min"]), 0.0)
        self.assertGreater(float(act["zero_fraction"]), 0.0)
        tanh = find(rows, 0, "fc2", "activation")
        self.assertLessEqual(float(tanh["max"]), 1.0)
        self.assertGreaterEqual(float(tanh["min"]), -1.0)

    def _adversarial_autoencoder(self, kl=False):
        """An adversarial autoencoder written as one module without forward(): its methods run an
        encoder and decoder pass for a hand-written BCE, then a discriminator pass (never in the
        recorded loss's graph) that is listed last. With kl, the loss adds a KL-like term on the
        code: the written-out loss then leads back to two layers."""
        class AAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
                self.decoder = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 8))
                self.discriminator = nn.Sequential(nn.Linear(2, 16), nn.ReLU(),
                                                   nn.Linear(16, 1))

            def decode(self, z):
                return torch.sigmoid(self.decoder(z))

            def discriminate(self, z):
                return torch.sigmoid(self.discriminator(z))

        torch.manual_seed(0)
        model = AAE()
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        x = torch.rand(32, 8)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt, loss_name="BCELoss",
                                task="regression") as rec:
                for _ in range(3):
                    opt.zero_grad()
                    code = model.encoder(x)
                    p = model.decode(code)
                    loss = -torch.mean(x * torch.log(p + 1e-15)
                                       + (1 - x) * torch.log(1 - p + 1e-15))
                    if kl:
                        loss = loss + 0.01 * code.pow(2).mean()
                    loss.backward()
                    opt.step()
                    # the discriminator's pass: new nodes, which may take freed nodes' ids
                    for _ in range(4):
                        model.discriminate(model.encoder(x).detach())
                    rec.step(loss)
            _, meta = read_trace(path)
        return meta, {l["name"]: l for l in json.loads(meta["dltrace.layers"])}

    def test_handWrittenLoss_throughMethods_namesTheOutputLayerAndItsActivation(self):
        meta, layers = self._adversarial_autoencoder()
        self.assertEqual(layers["decoder.2"]["activation"], "sigmoid")
        self.assertEqual(meta["dltrace.output_layer"], str(layers["decoder.2"]["index"]))
        # the discriminator, recorded last, is not the loss's output; its activation ran in no
        # graph the recorder reads
        self.assertGreater(layers["discriminator.2"]["index"], layers["decoder.2"]["index"])
        self.assertEqual(layers["encoder.0"]["activation"], "relu")

    def test_handWrittenLoss_overTwoLayers_namesNoOutputLayer(self):
        meta, layers = self._adversarial_autoencoder(kl=True)
        self.assertNotIn("dltrace.output_layer", meta)
        self.assertEqual(layers["decoder.2"]["activation"], "linear")

    def _similarity_loss(self, tied=False, comparison="mm"):
        """A matching network's loss (the NLL of the attention over a support set's cosine
        similarities, the embedding ending in a ReLU) or, with tied, a language model whose
        output multiplies the hidden state by its embedding's weight."""
        class Embed(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(10, 8)
                self.fc = nn.Linear(8, 8)
                self.act = nn.ReLU()

            def forward(self, x):
                return self.act(self.fc(x if x.is_floating_point() else self.emb(x)))

        torch.manual_seed(0)
        model = Embed()
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt, loss_name="nll_loss",
                                task="classification") as rec:
                for _ in range(2):
                    opt.zero_grad()
                    if tied:
                        ids = torch.randint(0, 10, (6,))
                        logits = model(ids) @ model.emb.weight.T
                        loss = nn.functional.cross_entropy(logits, ids)
                    else:
                        support, query = torch.randn(6, 8), torch.randn(4, 8)
                        labels = torch.eye(3)[torch.tensor([0, 0, 1, 1, 2, 2])]
                        s = nn.functional.normalize(model(support), dim=1)
                        q = nn.functional.normalize(model(query), dim=1)
                        if comparison == "mm":
                            scores = q @ s.T
                        elif comparison == "cosine":  # SimCSE's nn.CosineSimilarity
                            scores = nn.functional.cosine_similarity(
                                model(query).unsqueeze(1), model(support).unsqueeze(0), dim=-1)
                        elif comparison == "cdist":  # a prototypical network's distances
                            scores = -torch.cdist(model(query), model(support))
                        elif comparison == "pairwise":  # squared distances written out
                            scores = -(model(query).unsqueeze(1)
                                       - model(support).unsqueeze(0)).pow(2).sum(-1)
                        else:  # "gate": each query row scaled by a gate of its own, one side
                            h = model(query)  # broadcast: not a comparison between examples
                            scores = (h * torch.sigmoid(h.sum(1)).unsqueeze(1))[:, :6]
                        attention = torch.softmax(scores, dim=1)
                        loss = nn.functional.nll_loss(torch.log(attention @ labels + 1e-8),
                                                      torch.tensor([0, 1, 2, 0]))
                    loss.backward()
                    opt.step()
                    rec.step(loss)
            _, meta = read_trace(path)
        return meta, {l["name"]: l for l in json.loads(meta["dltrace.layers"])}

    def test_lossOverSimilaritiesBetweenOutputs_outputLayerNone(self):
        meta, layers = self._similarity_loss()
        self.assertEqual(meta["dltrace.output_layer"], "none")

    def test_cosineSimilarityOfBroadcastViews_isAComparison_outputLayerNone(self):
        for comparison in ("cosine", "cdist", "pairwise"):
            with self.subTest(comparison=comparison):
                meta, _ = self._similarity_loss(comparison=comparison)
                self.assertEqual(meta["dltrace.output_layer"], "none")

    def test_aGateBroadcastOnOneSide_isNotAComparison_theLayerIsNamed(self):
        meta, layers = self._similarity_loss(comparison="gate")
        self.assertEqual(meta["dltrace.output_layer"], str(layers["fc"]["index"]))

    def test_tiedOutputWeights_aProductWithAParameter_stillNameTheLayer(self):
        meta, layers = self._similarity_loss(tied=True)
        self.assertEqual(meta["dltrace.output_layer"], str(layers["fc"]["index"]))

    def _policy_value(self, loss_name, two_loss_nodes=False):
        """An AlphaZero-style network: a policy head's cross-entropy over probability targets
        (written by torch with no loss node) plus a value head's MSE, the loss named
        ``loss_name``; with ``two_loss_nodes``, a cross-entropy over class indices (an NLL node)
        plus a binary cross-entropy on the value head's score, as ELECTRA's generator and
        discriminator losses."""
        class PolicyValue(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(6, 8)
                self.policy = nn.Linear(8, 4)
                self.value = nn.Linear(8, 1)

            def forward(self, x):
                h = torch.relu(self.body(x))
                return self.policy(h), torch.tanh(self.value(h))

        torch.manual_seed(0)
        model = PolicyValue()
        opt = torch.optim.SGD(model.parameters(), 0.01)
        x, pi = torch.randn(8, 6), torch.softmax(torch.randn(8, 4), dim=1)
        z = torch.sign(torch.randn(8, 1))
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt, loss_name=loss_name, loss_added=True,
                                task="classification", num_classes=4) as rec:
                for _ in range(2):
                    opt.zero_grad()
                    logits, v = model(x)
                    if two_loss_nodes:
                        loss = (nn.functional.cross_entropy(logits, pi.argmax(1))
                                + nn.functional.binary_cross_entropy_with_logits(v, (z > 0).float()))
                    else:
                        loss = (nn.functional.cross_entropy(logits, pi)
                                + nn.functional.mse_loss(v, z))
                    loss.backward()
                    opt.step()
                    rec.step(loss)
            _, meta = read_trace(path)
        return meta, {l["name"]: l for l in json.loads(meta["dltrace.layers"])}

    def test_namedLossWithoutALossNode_theOtherTermsLossNodeNamesNoOutputLayer(self):
        meta, layers = self._policy_value("CrossEntropyLoss")
        self.assertNotIn("dltrace.output_layer", meta)
        self.assertEqual(layers["policy"]["activation"], "linear")

    def test_twoLossNodes_theNamedLossesNamesTheOutputLayer_whicheverTheGraphReachesFirst(self):
        for name, layer in (("BCEWithLogitsLoss", "value"), ("CrossEntropyLoss", "policy"),
                            ("cross_entropy", "policy"), ("bce_with_logits", "value")):
            with self.subTest(name):
                meta, layers = self._policy_value(name, two_loss_nodes=True)
                self.assertEqual(meta["dltrace.output_layer"], str(layers[layer]["index"]))

    def test_namedLossOfTheFoundLossNode_namesItsOutputLayer(self):
        meta, layers = self._policy_value("MSELoss")
        self.assertEqual(meta["dltrace.output_layer"], str(layers["value"]["index"]))
        self.assertEqual(layers["value"]["activation"], "tanh")

    def test_lossModule_namesTheLayerItWasComputedFrom(self):
        y = torch.tensor([0, 1, 2, 0, 1])
        _, _, meta, layers = self.run_one(FunctionalMlp(), nn.functional.cross_entropy, y)
        self.assertEqual(meta["dltrace.output_layer"], str(layers["out"]["index"]))

    def test_customAutogradFunction_namedByItsClass_andRecordedAsTheActivation(self):
        # a spiking layer: a Heaviside step with a surrogate gradient, as a custom Function
        class SurrGradSpike(torch.autograd.Function):
            @staticmethod
            def forward(ctx, u):
                ctx.save_for_backward(u)
                return (u > 0).float()

            @staticmethod
            def backward(ctx, grad_output):
                u, = ctx.saved_tensors
                return grad_output / (10 * u.abs() + 1.0) ** 2

        class Spiking(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(8, 3)

            def forward(self, x):
                return self.fc2(SurrGradSpike.apply(self.fc1(x) - 0.1))

        torch.manual_seed(2)
        y = torch.tensor([0, 1, 2, 0, 1])
        _, rows, _, layers = self.run_one(Spiking(), nn.functional.cross_entropy, y)
        self.assertEqual(layers["fc1"]["activation"], "surr_grad_spike")
        self.assertEqual(layers["fc2"]["activation"], "linear")
        # the activation rows are the spikes (0 or 1), not the forward rows' currents
        fwd = find(rows, 0, "fc1", "forward")
        act = find(rows, 0, "fc1", "activation")
        self.assertLess(float(fwd["min"]), 0.0)
        self.assertEqual(float(act["min"]), 0.0)
        self.assertEqual(float(act["max"]), 1.0)
        self.assertGreater(float(act["zero_fraction"]), 0.0)

    def test_activationWithoutASavedOutput_recordedWhenItIsTheNextLayersInput(self):
        # hardtanh's autograd node keeps only its input; applied right before the next layer,
        # that layer's input is the activation's output, and is recorded as it
        class Clipped(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(8, 3)

            def forward(self, x):
                return self.fc2(nn.functional.hardtanh(3.0 * self.fc1(x)))

        torch.manual_seed(4)
        y = torch.tensor([0, 1, 2, 0, 1])
        _, rows, _, layers = self.run_one(Clipped(), nn.functional.cross_entropy, y)
        self.assertEqual(layers["fc1"]["activation"], "hard_tanh")
        fwd = find(rows, 0, "fc1", "forward")
        act = find(rows, 0, "fc1", "activation")
        self.assertGreater(float(fwd["max"]), 0.0)
        self.assertLessEqual(float(act["max"]), 1.0)
        self.assertGreaterEqual(float(act["min"]), -1.0)
        self.assertNotEqual(float(act["std"]), float(fwd["std"]))

    def test_customFunctionNames_inSnakeCase(self):
        from dltrace.pytorch import graph

        class StraightThroughSign(torch.autograd.Function):
            @staticmethod
            def forward(ctx, u):
                return torch.sign(u)

            @staticmethod
            def backward(ctx, grad_output):
                return grad_output

        class STE(torch.autograd.Function):
            @staticmethod
            def forward(ctx, u):
                return torch.round(u)

            @staticmethod
            def backward(ctx, grad_output):
                return grad_output

        u = torch.randn(3, requires_grad=True)
        self.assertEqual(graph.custom_function(StraightThroughSign.apply(u).grad_fn),
                         "straight_through_sign")
        self.assertEqual(graph.custom_function(STE.apply(u).grad_fn), "ste")
        self.assertIsNone(graph.custom_function(torch.relu(u).grad_fn))

    def test_functionalActivation_statsMatchNumpy(self):
        torch.manual_seed(3)
        model = FunctionalMlp()
        x = torch.randn(5, 4)
        expected = nn.functional.relu(model.fc1(x)).detach().numpy()  # before the update
        y = torch.tensor([0, 1, 2, 0, 1])
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "run.csv")
            with dltrace.attach(model, path, optimizer=opt) as rec:
                opt.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()
                rec.step(loss)
            rows, _ = read_trace(path)
        assert_stats_close(row_stats(find(rows, 0, "fc1", "activation")), numpy_stats(expected))

    def test_sineActivation_namedAndRecordedFromTheGraph(self):
        # a SIREN layer: Linear, then sin(omega_0 * x) as a plain torch.sin call
        class Siren(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.out = nn.Linear(8, 3)

            def forward(self, x):
                return self.out(torch.sin(30.0 * self.fc1(x)))

        torch.manual_seed(1)
        model = Siren()
        x0 = torch.randn(5, 4)
        y = torch.tensor([0, 1, 2, 0, 1])
        _, rows, _, layers = self.run_one(model, nn.functional.cross_entropy, y)
        self.assertEqual(layers["fc1"]["activation"], "sin")
        self.assertEqual(layers["out"]["activation"], "linear")
        act = find(rows, 0, "fc1", "activation")
        self.assertGreaterEqual(float(act["min"]), -1.0)
        self.assertLessEqual(float(act["max"]), 1.0)
        fwd = find(rows, 0, "fc1", "forward")
        self.assertNotEqual(float(fwd["mean"]), float(act["mean"]))

    def test_softmaxBeforeCrossEntropy_outputActivationIsSoftmax(self):
        y = torch.tensor([0, 1, 2, 0, 1])
        _, _, meta, layers = self.run_one(FunctionalMlp(), nn.functional.cross_entropy, y,
                                          after_model=lambda o: torch.softmax(o, dim=1))
        self.assertEqual(layers["out"]["activation"], "softmax")
        self.assertEqual(meta["dltrace.loss"], "CrossEntropyLoss")

    def test_lossInference_regressionAndBinaryLosses(self):
        cases = [
            (nn.functional.mse_loss, torch.randn(5, 3), "MSELoss", "regression"),
            (nn.functional.l1_loss, torch.randn(5, 3), "L1Loss", "regression"),
            (nn.functional.binary_cross_entropy_with_logits, torch.ones(5, 3),
             "BCEWithLogitsLoss", "classification"),
        ]
        for loss_fn, y, name, task in cases:
            with self.subTest(name):
                _, _, meta, _ = self.run_one(FunctionalMlp(), loss_fn, y)
                self.assertEqual(meta["dltrace.loss"], name)
                self.assertEqual(meta["dltrace.task"], task)

    def test_givenLossName_winsOverTheGraph(self):
        y = torch.tensor([0, 1, 2, 0, 1])
        _, _, meta, _ = self.run_one(FunctionalMlp(), nn.functional.cross_entropy, y,
                                     loss_name="MyLoss", task="classification")
        self.assertEqual(meta["dltrace.loss"], "MyLoss")

    def test_modelLeftInEvalMode_isRecordedAndMarked(self):
        model = Cnn_like()
        model.eval()  # the bug: training in inference mode
        y = torch.tensor([0, 1, 2, 0, 1])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, rows, _, layers = self.run_one(model, nn.functional.cross_entropy, y)
        self.assertTrue(any("eval mode" in str(w.message) for w in caught))
        self.assertFalse(layers["bn"]["training"])
        self.assertTrue(any(r["phase"] == "forward" for r in rows))

    def test_layerMissingFromTheOptimizer_isMarked(self):
        model = FunctionalMlp()
        opt = torch.optim.Adam(list(model.fc1.parameters()) + list(model.out.parameters()))
        y = torch.tensor([0, 1, 2, 0, 1])
        _, _, _, layers = self.run_one(model, nn.functional.cross_entropy, y, opt=opt)
        self.assertIs(layers["fc2"]["in_optimizer"], False)
        self.assertNotIn("in_optimizer", layers["fc1"])
        self.assertEqual((layers["fc2"]["fan_in"], layers["fc2"]["fan_out"]), (8, 6))


class Cnn_like(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.bn = nn.BatchNorm1d(8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(nn.functional.relu(self.bn(self.fc(x))))


# ---------------------------------------------------------------- mixed precision (GradScaler)

def _amp_run(path, amp, scaler_arg=True, steps=24):
    """A small MLP trained on CPU: with ``amp``, under float16 autocast with a GradScaler whose
    initial scale 2^24 overflows float16 in the first backward passes (the scaler skips those
    updates and halves its scale); without, its float32 twin."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(steps * 32, 32, generator=g)
    y = (x @ torch.randn(32, 5, generator=g)).argmax(1)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 5))
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 24) if amp else None
    rec = dltrace.attach(model, path, optimizer=opt, num_classes=5,
                         scaler=scaler if scaler_arg else None)
    for i in range(steps):
        xb, yb = x[i * 32:(i + 1) * 32], y[i * 32:(i + 1) * 32]
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16, enabled=amp):
            out = model(xb)
            loss = nn.functional.cross_entropy(out, yb)
        if amp:
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        rec.step(loss, accuracy=(out.argmax(1) == yb).float().mean().item(), inputs=xb,
                 targets=yb)
    rec.close()
    return read_arrow(path), (scaler.get_scale() if amp else None)


def read_arrow(path):
    from conftest import read_arrow_trace
    return read_arrow_trace(path)


def _rows(rows, phase, layer=None):
    return {int(r["step"]): r for r in rows
            if r["phase"] == phase and (layer is None or r["layer_name"] == layer)}


def _finite(row):
    return math.isfinite(row["mean"]) and not row["nan_count"] and not row["inf_count"]


def test_gradScaler_overflowedStepsSkipped_gradientRowsUnscaledAndWeightsFinite(tmp_path):
    (rows, meta), scale = _amp_run(str(tmp_path / "amp.arrows"), amp=True)
    (twin, twin_meta), _ = _amp_run(str(tmp_path / "fp32.arrows"), amp=False)

    assert meta["dltrace.loss_scaling"] == "dynamic"
    assert "dltrace.loss_scaling" not in twin_meta
    assert scale < 2.0 ** 24  # the scaler backed off
    layers = ["sequential.0", "sequential.2"]
    overflowed = sorted({s for layer in layers
                         for s, r in _rows(rows, "gradient", layer).items() if not _finite(r)})
    # the first steps overflow float16 and are skipped; the weights stay finite, unchanged
    assert overflowed and overflowed[0] == 0 and len(overflowed) <= 12, overflowed
    for layer in layers:
        weights = _rows(rows, "weight", layer)
        assert all(_finite(r) for r in weights.values())
        assert weights[0]["l2_norm"] == weights[overflowed[0]]["l2_norm"]
    assert all(math.isfinite(r["mean"]) for r in _rows(rows, "loss").values())
    # after the overflow the output gradients are those of the loss itself, as in float32,
    # not 2^16 and more times larger; so are the weight gradients (unscaled by scaler.step)
    clean = [s for s in range(overflowed[-1] + 1, 24)]
    assert len(clean) >= 10
    for phase in ("backward", "gradient"):
        for layer in layers:
            amp_rows, fp32_rows = _rows(rows, phase, layer), _rows(twin, phase, layer)
            for s in clean:
                ratio = amp_rows[s]["l2_norm"] / fp32_rows[s]["l2_norm"]
                assert 0.1 < ratio < 10, (phase, layer, s, ratio)


def test_gradScalerNotGiven_outputGradientsStayScaled(tmp_path):
    # Without scaler= nothing changes: the hooks see the scaled output gradients.
    (rows, meta), _ = _amp_run(str(tmp_path / "amp.arrows"), amp=True, scaler_arg=False)
    (twin, _), _ = _amp_run(str(tmp_path / "fp32.arrows"), amp=False)

    assert "dltrace.loss_scaling" not in meta
    amp_rows, fp32_rows = _rows(rows, "backward", "sequential.2"), _rows(twin, "backward",
                                                                         "sequential.2")
    assert amp_rows[23]["l2_norm"] / fp32_rows[23]["l2_norm"] > 1e3


def test_gradScaler_badValue_raises(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="GradScaler"):
        dltrace.attach(model, str(tmp_path / "x.arrows"), scaler=object())


def _one_step_meta(tmp_path, name, out_features, loss_fn, targets, loss_name=None):
    """The metadata of a one-step run of a small linear model under ``loss_fn``."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, out_features))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = dltrace.attach(model, str(tmp_path / (name + ".csv")), optimizer=opt,
                         task="classification", loss_name=loss_name)
    x = torch.randn(8, 4)
    opt.zero_grad()
    loss = loss_fn(model(x), targets)
    loss.backward()
    opt.step()
    rec.step(loss, inputs=x, targets=targets)
    rec.close()
    return read_trace(str(tmp_path / (name + ".csv")))[1]


def _gan_meta(tmp_path, **options):
    """The metadata of one step of a tiny GAN: generator and discriminator in one
    ModuleDict, two optimizers, the generator's loss recorded."""
    torch.manual_seed(0)
    nets = nn.ModuleDict({"generator": nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2)),
                          "discriminator": nn.Sequential(nn.Linear(2, 8), nn.ReLU(),
                                                         nn.Linear(8, 1))})
    opt_g = torch.optim.Adam(nets["generator"].parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(nets["discriminator"].parameters(), lr=1e-3)
    path = str(tmp_path / "gan.csv")
    rec = dltrace.attach(nets, path, optimizer=[opt_g, opt_d], **options)
    bce = nn.BCEWithLogitsLoss()
    fake = nets["generator"](torch.randn(8, 2))
    opt_d.zero_grad()
    d_loss = bce(nets["discriminator"](torch.randn(8, 2)), torch.ones(8, 1)) \
        + bce(nets["discriminator"](fake.detach()), torch.zeros(8, 1))
    d_loss.backward()
    opt_d.step()
    opt_g.zero_grad()
    g_loss = bce(nets["discriminator"](fake), torch.ones(8, 1))
    g_loss.backward()
    opt_g.step()
    rec.step(g_loss)
    rec.close()
    return read_trace(path)[1]


@pytest.mark.parametrize("objective", ["adversarial", "policy_gradient", "temporal_difference",
                                       "self_training"])
def test_objective_notMinimized_writtenAsDltraceObjective(tmp_path, objective):
    meta = _gan_meta(tmp_path, objective=objective)
    assert meta["dltrace.objective"] == objective
    assert meta["dltrace.optimizer"] == "Adam+Adam"


@pytest.mark.parametrize("objective", [None, "minimize"])
def test_objective_minimized_writesNoKey(tmp_path, objective):
    meta = _gan_meta(tmp_path, objective=objective)
    assert "dltrace.objective" not in meta


def test_objective_unknown_refusedWithTheChoices(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    choices = "minimize, adversarial, policy_gradient, temporal_difference, self_training"
    with pytest.raises(ValueError, match=choices):
        dltrace.attach(model, str(tmp_path / "x.csv"), objective="maximize")


class _TwoInputs(nn.Module):
    """A click model that takes its categorical ids and its numeric fields apart."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 3)
        self.fc = nn.Linear(5, 1)

    def forward(self, ids, numeric):
        return self.fc(torch.cat([self.embed(ids), numeric], dim=1))


def _two_input_rows(tmp_path, inputs_of):
    torch.manual_seed(0)
    model = _TwoInputs()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    path = str(tmp_path / "two.csv")
    rec = dltrace.attach(model, path, optimizer=opt, loss_name="BCEWithLogitsLoss")
    ids = torch.randint(0, 10, (8,))
    numeric = torch.full((8, 2), 3.0)
    labels = torch.ones(8, 1)
    opt.zero_grad()
    loss = nn.BCEWithLogitsLoss()(model(ids, numeric), labels)
    loss.backward()
    opt.step()
    rec.step(loss, inputs=inputs_of(ids, numeric), targets=labels)
    rec.close()
    rows, meta = read_trace(path)
    return [r for r in rows if r["phase"] == "input"], meta


@pytest.mark.parametrize("inputs_of", [
    lambda ids, numeric: (numeric, ids),
    lambda ids, numeric: [numeric, ids],
    lambda ids, numeric: {"numeric": numeric, "ids": ids},
])
def test_inputsOfSeveralTensors_theFirstMakesTheInputRow(tmp_path, inputs_of):
    rows, meta = _two_input_rows(tmp_path, inputs_of)
    assert len(rows) == 1
    assert float(rows[0]["mean"]) == 3.0
    assert int(rows[0]["numel"]) == 16
    assert meta["dltrace.batch_size"] == "8"


def test_inputsThatAreNoTensor_refusedNamingTheArgument(tmp_path):
    with pytest.raises(TypeError, match="inputs must be a tensor, an array, or a tuple"):
        _two_input_rows(tmp_path, lambda ids, numeric: ("text", object()))


def _summed_loss_meta(tmp_path, **options):
    """One step of a recommender-style loss, a BCE of the positives plus one of the negatives."""
    model = nn.Sequential(nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    path = str(tmp_path / "summed.csv")
    rec = dltrace.attach(model, path, optimizer=opt, loss_name="BCEWithLogitsLoss",
                         num_classes=2, **options)
    bce = nn.BCEWithLogitsLoss()
    opt.zero_grad()
    loss = bce(model(torch.randn(8, 4)), torch.ones(8, 1)) \
        + bce(model(torch.randn(8, 4)), torch.zeros(8, 1))
    loss.backward()
    opt.step()
    rec.step(loss)
    rec.close()
    return read_trace(path)[1]


def test_lossAdded_writtenAsDltraceLossAdded(tmp_path):
    meta = _summed_loss_meta(tmp_path, loss_added=True)
    assert meta["dltrace.loss_added"] == "true"
    assert meta["dltrace.loss"] == "BCEWithLogitsLoss"


def test_lossAdded_default_writesNoKey(tmp_path):
    assert "dltrace.loss_added" not in _summed_loss_meta(tmp_path)


def test_lossAdded_notABoolean_refused(tmp_path):
    model = nn.Sequential(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="loss_added must be True or False"):
        dltrace.attach(model, str(tmp_path / "x.csv"), loss_added="yes")


BINARY_TARGETS = torch.tensor([[1.], [0.], [0.], [0.], [0.], [1.], [0.], [0.]])
CLASS_TARGETS = torch.tensor([0, 1, 2, 0, 0, 1, 0, 2])


@pytest.mark.parametrize("name,width,loss_fn,targets", [
    ("pos-weight", 1, nn.BCEWithLogitsLoss(pos_weight=torch.tensor(4.9)), BINARY_TARGETS),
    ("bce-logits-weight", 1, nn.BCEWithLogitsLoss(weight=torch.full((8, 1), 2.0)),
     BINARY_TARGETS),
    ("bce-weight", 1, lambda out, t: nn.BCELoss(weight=torch.full((8, 1), 0.5))(
        torch.sigmoid(out), t), BINARY_TARGETS),
    ("ce-weight", 3, nn.CrossEntropyLoss(weight=torch.tensor([0.5, 2.0, 3.0])), CLASS_TARGETS),
    ("ce-weight-smoothing", 3, nn.CrossEntropyLoss(weight=torch.tensor([0.5, 2.0, 3.0]),
                                                   label_smoothing=0.1), CLASS_TARGETS),
    ("nll-weight", 3, lambda out, t: nn.NLLLoss(weight=torch.tensor([0.5, 2.0, 3.0]))(
        torch.log_softmax(out, 1), t), CLASS_TARGETS),
])
def test_metadata_classWeightedLoss_lossWeightedTrue(tmp_path, name, width, loss_fn, targets):
    # The weight is read off the loss node's saved tensors at the first step, after the
    # backward pass freed them: given, it raises on access; not given, it reads None.
    meta = _one_step_meta(tmp_path, name, width, loss_fn, targets)
    assert meta["dltrace.loss_weighted"] == "true"


@pytest.mark.parametrize("name,width,loss_fn,targets", [
    ("bce-logits", 1, nn.BCEWithLogitsLoss(), BINARY_TARGETS),
    ("bce", 1, lambda out, t: nn.BCELoss()(torch.sigmoid(out), t), BINARY_TARGETS),
    ("ce", 3, nn.CrossEntropyLoss(), CLASS_TARGETS),
    ("ce-smoothing", 3, nn.CrossEntropyLoss(label_smoothing=0.1), CLASS_TARGETS),
    ("nll", 3, lambda out, t: nn.NLLLoss()(torch.log_softmax(out, 1), t), CLASS_TARGETS),
    ("mse", 1, nn.MSELoss(), BINARY_TARGETS),
])
def test_metadata_unweightedLoss_noLossWeightedKey(tmp_path, name, width, loss_fn, targets):
    meta = _one_step_meta(tmp_path, name, width, loss_fn, targets, loss_name="Given")
    assert "dltrace.loss_weighted" not in meta
    assert meta["dltrace.loss"] == "Given"


def test_lossWeighted_neutralWeightStillReadable_notWeighted():
    # Before the backward pass the saved weight can be read: an all-ones pos_weight and an NLL
    # weight equal for every class change nothing.
    from dltrace.pytorch import graph
    out = torch.randn(8, 3, requires_grad=True)
    same = nn.CrossEntropyLoss(weight=torch.full((3,), 2.0))(out, CLASS_TARGETS)
    ones = nn.BCEWithLogitsLoss(pos_weight=torch.ones(1))(out[:, :1], BINARY_TARGETS)
    skewed = nn.CrossEntropyLoss(weight=torch.tensor([1.0, 1.0, 2.0]))(out, CLASS_TARGETS)
    assert graph.loss_weighted(same.grad_fn) is False
    assert graph.loss_weighted(ones.grad_fn) is False
    assert graph.loss_weighted(skewed.grad_fn) is True
    assert graph.loss_weighted((out ** 2).mean().grad_fn) is None


@pytest.mark.parametrize("parametrization", ["weight_norm", "spectral_norm"])
def test_parametrizedLayer_isTheLayerTheUserWrote_withItsOriginalsAsWeights(tmp_path,
                                                                            parametrization):
    from torch.nn.utils import parametrizations
    wrap = getattr(parametrizations, parametrization)
    torch.manual_seed(0)
    model = nn.Sequential(wrap(nn.Linear(5, 16)), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    path = str(tmp_path / "wn.arrows")
    rec = dltrace.attach(model, path, optimizer=opt)
    x = torch.randn(64, 5)
    y = x.sum(1, keepdim=True)
    for _ in range(4):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.close()
    rows, meta = read_arrow(path)

    layers = json.loads(meta["dltrace.layers"])
    # one layer per Linear, named as the user wrote it, with the parametrization's tensors
    assert [(l["name"], l["type"]) for l in layers] == [("sequential.0", "Linear"),
                                                        ("sequential.2", "Linear")]
    originals = list(model[0].parametrizations.weight.parameters())
    assert layers[0]["params"] == sum(p.numel() for p in originals) + 16
    names = {r["layer_name"] for r in rows if r["layer_name"]}
    assert not any("parametrizations" in n for n in names), names
    # the weight rows are the statistics of the originals the optimizer updates
    flat = torch.cat([p.detach().reshape(-1).double() for p in originals])
    last = _rows(rows, "weight", "sequential.0")[3]
    assert last["l2_norm"] == pytest.approx(flat.norm().item(), rel=1e-9)
    assert _rows(rows, "gradient", "sequential.0")


class HandWrittenUpdateTest(StatsCase):
    """A loop without an optimizer (``p -= lr * p.grad``) states its learning rate itself."""

    def _run(self, tmp, **options):
        torch.manual_seed(0)
        model = Mlp()
        x, y = make_data(8)
        path = os.path.join(tmp, "run.csv")
        lr = 0.05
        with dltrace.attach(model, path, **options) as rec:
            for step in range(3):
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                with torch.no_grad():
                    for p in model.parameters():
                        p -= lr * p.grad
                        p.grad = None
                if step == 1 and "learning_rate" in options:
                    lr = 0.025
                    rec.learning_rate = lr
                rec.step(loss)
        return read_trace(path)

    def test_learningRateOption_metadataAndRowsOfEveryStep(self):
        with tempfile.TemporaryDirectory() as tmp:
            rows, meta = self._run(tmp, learning_rate=0.05)
        self.assertEqual(meta["dltrace.learning_rate"], "0.05")
        self.assertNotIn("dltrace.optimizer", meta)
        rates = [(int(r["step"]), float(r["mean"])) for r in rows
                 if r["phase"] == "learning_rate"]
        self.assertEqual(rates, [(0, 0.05), (1, 0.025), (2, 0.025)])

    def test_noOptimizerNoLearningRate_noRateRecorded(self):
        with tempfile.TemporaryDirectory() as tmp:
            rows, meta = self._run(tmp)
        self.assertNotIn("dltrace.learning_rate", meta)
        self.assertFalse([r for r in rows if r["phase"] == "learning_rate"])

    def test_learningRateWithOptimizer_refused(self):
        model = Mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(ValueError):
                dltrace.attach(model, os.path.join(tmp, "run.csv"), optimizer=opt,
                               learning_rate=0.1)


def test_step_perSampleGradsWithTorchFunc_recordsOrdinaryPassAndTheGradWrittenByHand():
    """DP-SGD by hand: vmap(grad(...)) of functional_call runs the model's forward inside a
    torch.func transform (wrapped tensors); that pass is not recorded, the ordinary forward
    pass is, and the gradient rows are the noised gradient the loop wrote into p.grad."""
    from torch.func import functional_call, grad, vmap

    torch.manual_seed(0)
    model = Mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = make_data(8)

    def sample_loss(params, xi, yi):
        out = functional_call(model, params, (xi.unsqueeze(0),))
        return nn.functional.cross_entropy(out, yi.unsqueeze(0))

    written = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.csv")
        with dltrace.attach(model, path, optimizer=opt) as rec:
            for step in range(2):
                logits = model(x)
                loss = nn.functional.cross_entropy(logits, y)
                params = {k: v.detach() for k, v in model.named_parameters()}
                grads = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, x, y)
                opt.zero_grad()
                g = torch.Generator().manual_seed(step)
                for name, p in model.named_parameters():
                    p.grad = grads[name].sum(0) + torch.randn(p.shape, generator=g)
                written[step] = {n: model.get_submodule(n).weight.grad.clone()
                                 for n in ("fc1", "fc2", "out")}
                forward = {"fc1": model.fc1(x).detach()}
                opt.step()
                rec.step(loss, inputs=x, targets=y)
        rows, _ = read_trace(path)
    for step in range(2):
        for name in ("fc1", "fc2", "out"):
            assert_stats_close(row_stats(find(rows, step, name, "gradient")),
                               numpy_stats(written[step][name].numpy()),
                               "step %d %s gradient" % (step, name))
    # the forward rows are those of the ordinary pass, one per layer and step
    assert_stats_close(row_stats(find(rows, 1, "fc1", "forward")),
                       numpy_stats(forward["fc1"].numpy()), "fc1 forward")
