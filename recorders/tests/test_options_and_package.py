"""PyTorch recorder options (every, phases, layers, the non-finite rule), layer names,
the formats, and the package: the wheel builds offline and installs, the old import works."""

import json
import math
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from conftest import (RECORDERS, assert_stats_close, find, numpy_stats, read_arrow_trace,
                      read_csv_trace, read_parquet_trace, row_stats)
from torch import nn

from dltrace.pytorch import attach, tensor_stats
from dltrace.pytorch import stats
from dltrace.pytorch.stats import BATCH_MAX, reduce_many
from dltrace._core.stats import as_tuple, finalize
from dltrace._core.schema import STAT_COLUMNS


def train(rec, model, steps, lr=0.1, nan_at=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    opt = rec.optimizer
    for step in range(steps):
        x, y = torch.randn(16, 8, generator=g), torch.randint(0, 3, (16,), generator=g)
        opt.zero_grad()
        out = model(x)
        loss = nn.functional.cross_entropy(out, y)
        loss.backward()
        opt.step()
        if step == nan_at:  # a loss that went bad at this step alone
            loss = loss.detach() * float("nan")
        rec.step(loss, accuracy=(out.argmax(1) == y).float().mean(), inputs=x, targets=y)


def sequential():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))


def test_sequentialChildren_namedWithContainerAndTypeInMetadata(tmp_path):
    model = sequential()
    rec = attach(model, tmp_path / "run.arrows", optimizer=torch.optim.SGD(model.parameters(), 0.1))
    train(rec, model, 1)
    rec.close()
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert [(l["name"], l["type"]) for l in json.loads(meta["dltrace.layers"])] == [
        ("sequential.0", "Linear"), ("sequential.2", "Linear")]
    assert find(rows, 0, "sequential.0", "forward")["layer_type"] == "Linear"


def test_every_recordsLayerRowsEveryNthStepAndScalarsEveryStep(tmp_path):
    model = sequential()
    rec = attach(model, tmp_path / "run.csv", optimizer=torch.optim.SGD(model.parameters(), 0.1),
                 every=3)
    train(rec, model, 7)
    rec.close()
    rows, meta = read_csv_trace(tmp_path / "run.csv")
    assert {r["step"] for r in rows if r["phase"] == "loss"} == {str(s) for s in range(7)}
    assert {r["step"] for r in rows if r["layer_name"] != "model"} == {"0", "3", "6"}
    assert {r["step"] for r in rows if r["phase"] == "input"} == {"0", "3", "6"}
    assert meta["dltrace.record_every"] == "3"


def test_nonFiniteLoss_stepAndNextThreeRecordedWhateverEvery(tmp_path):
    model = sequential()
    rec = attach(model, tmp_path / "run.arrows",
                 optimizer=torch.optim.SGD(model.parameters(), 0.1), every=100)
    train(rec, model, 12, nan_at=5)
    rec.close()
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    weight_steps = sorted({int(r["step"]) for r in rows if r["phase"] == "weight"})
    assert weight_steps == [0, 5, 6, 7, 8]
    # the step itself: what is still at hand after it (inputs, gradients, weights)
    for phase in ("input", "target"):
        find(rows, 5, "model", phase)
    find(rows, 5, "sequential.0", "gradient")
    assert [r for r in rows if int(r["step"]) == 5 and r["phase"] == "forward"] == []
    assert math.isnan(find(rows, 5, "model", "loss")["mean"])
    # the next three steps in full
    for step in (6, 7, 8):
        for phase in ("forward", "activation", "backward", "gradient", "weight"):
            find(rows, step, "sequential.0", phase)


def _layer_hooks(model):
    return [len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model]


def test_every_skippedSteps_runWithoutLayerHooksAndRecordedStepsWithThem(tmp_path):
    model = sequential()
    rec = attach(model, tmp_path / "run.arrows",
                 optimizer=torch.optim.SGD(model.parameters(), 0.1), every=3)
    assert _layer_hooks(model) == [2, 1, 2]  # Linear: pre-hook and hook; ReLU: hook
    armed = []
    for step in range(7):
        train(rec, model, 1, seed=step)
        armed.append(_layer_hooks(model) != [0, 0, 0])  # for the next step
    assert armed == [False, False, True, False, False, True, False]
    train(rec, model, 5, nan_at=1)  # steps 7-11: step 8's loss is NaN, 9-11 are forced
    rec.close()
    assert _layer_hooks(model) == [0, 0, 0]
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    forward_steps = sorted({int(r["step"]) for r in rows if r["phase"] == "forward"})
    assert forward_steps == [0, 3, 6, 9, 10, 11]
    assert sorted({int(r["step"]) for r in rows if r["phase"] == "weight"}) == [
        0, 3, 6, 8, 9, 10, 11]


def _reduce_many_on_device(flats):
    return stats._reduce_many_device(flats, tuple(f.numel() for f in flats))


@pytest.mark.parametrize("batch", [reduce_many, _reduce_many_on_device], ids=["cpu", "device-path"])
def test_reduceMany_mixedTensors_matchTheFloat64ReferenceAndOneByOne(batch):
    """Both implementations: numpy on the CPU, and the torch one other devices use (run on
    the CPU here)."""
    g = torch.Generator().manual_seed(5)
    tensors = [torch.randn(7, 13, generator=g), torch.randn(BATCH_MAX, generator=g) * 0.01 + 1000,
               torch.zeros(5), torch.tensor([1.0, float("nan"), 0.0, 3.0]),
               torch.tensor([1.0, float("inf"), 0.0]), torch.tensor([float("inf"), float("-inf")]),
               torch.randn(33, generator=g).half().float(), torch.arange(-3, 9, dtype=torch.float64),
               torch.tensor([2.0 ** 24] + [1.0] * 999)]
    for finite_only in (True, False):
        group = [t for t in tensors if torch.isfinite(t).all()] if finite_only else tensors
        result = finalize(batch([t.reshape(-1) for t in group]).numpy())
        for i, t in enumerate(group):
            got = dict(zip(STAT_COLUMNS, as_tuple(*result, i)))
            assert_stats_close(got, numpy_stats(t.numpy()), "tensor %d" % i)
            if not torch.isfinite(t).all():  # NaN and Inf propagate as in the one-tensor path
                one = dict(zip(STAT_COLUMNS, tensor_stats(t)))
                for key in STAT_COLUMNS:
                    a, b = got[key], one[key]
                    assert a == b or (math.isnan(a) and math.isnan(b)), (i, key, a, b)


@pytest.mark.parametrize("case", ["offset", "relu", "tail", "nan", "inf", "ints", "half"])
def test_reduceOnDevicePath_matchesTheFloat64ReferenceAndTheCpuPath(case):
    """The one-tensor path other devices use (two-pass variance, NaN/Inf always counted),
    run on the CPU, against numpy and against the CPU path."""
    g = torch.Generator().manual_seed(9)
    t = {"offset": lambda: torch.randn(300, 70, generator=g) * 0.01 + 1000,
         "relu": lambda: torch.relu(torch.randn(32, 8, 28, 28, generator=g)),
         "tail": lambda: torch.randn(5000, 3, generator=g),
         "nan": lambda: torch.tensor([1.0, float("nan"), 0.0, 3.0] * 2000),
         "inf": lambda: torch.tensor([1.0, float("inf"), 0.0, 2.0] * 2000),
         "ints": lambda: torch.randint(-3, 9, (7000,), generator=g),
         "half": lambda: torch.randn(64, 100, generator=g).half()}[case]()
    x = t.reshape(-1).to(torch.float64 if not t.is_floating_point() else
                         torch.float32 if t.dtype == torch.float16 else t.dtype)
    rows = t.shape[0] if t.dim() >= 2 else 1
    device = dict(zip(STAT_COLUMNS, as_tuple(*finalize([
        stats._reduce_device(x, x.numel(), rows).raw()]))))
    expected = numpy_stats(t.float().numpy() if case == "half" else t.numpy())
    assert_stats_close(device, expected, case)
    cpu = dict(zip(STAT_COLUMNS, tensor_stats(t)))
    assert_stats_close(cpu, expected, case)
    for key in ("nan_count", "inf_count", "numel", "zero_fraction", "min", "max"):
        assert device[key] == cpu[key] or (math.isnan(device[key]) and math.isnan(cpu[key])), key


def test_phasesAndLayers_subsetRecordedAndBadValuesNamed(tmp_path):
    model = sequential()
    opt = torch.optim.SGD(model.parameters(), 0.1)
    rec = attach(model, tmp_path / "run.arrows", optimizer=opt, phases=("weight", "gradient"),
                 layers=["*.2"])
    train(rec, model, 2)
    rec.close()
    rows, meta = read_arrow_trace(tmp_path / "run.arrows")
    assert {(r["layer_name"], r["phase"]) for r in rows} == {
        ("sequential.2", "gradient"), ("sequential.2", "weight"), ("model", "loss")}
    assert meta["dltrace.record_phases"] == "loss,gradient,weight"
    assert json.loads(meta["dltrace.record_layers"]) == ["*.2"]
    with pytest.raises(ValueError, match="'fc9' matches no layer; the layers are: sequential.0, sequential.2"):
        attach(model, tmp_path / "x.arrows", layers="fc9")
    with pytest.raises(ValueError, match="unknown phase 'weights'"):
        attach(model, tmp_path / "x.arrows", phases=["weights"])
    with pytest.raises(ValueError, match="every must be a positive integer, got 0"):
        attach(model, tmp_path / "x.arrows", every=0)


@pytest.mark.parametrize("shape,offset,scale,zeros", [
    ((4, 1_000_000), 3.0, 1.0, True), ((2000, 2000), 1000.0, 0.01, True),
    ((70000,), -5.0, 2.0, True),
    # No zeros: a zero would widen these tensors' spread. The mean 1e5 times the standard
    # deviation, and either side of the mean/std ratio up to which sum(x^2) stands for the
    # centered sum (RAW_MOMENT_RATIO), with and without a shorter last row of NORM_ROW.
    ((2000, 2000), 1000.0, 0.01, False), ((4_194_304,), 0.99, 1.0, False),
    ((8, 65_601), 1.01, 1.0, False), ((8, 65_601), -0.99, 1.0, False)])
def test_tensorStats_largeFloat32_withinDocumentedTolerance(shape, offset, scale, zeros):
    g = torch.Generator().manual_seed(3)
    z = torch.randn(*shape, generator=g)
    t = (z - z.mean()) / z.std() * scale + offset
    if zeros:
        t.view(-1)[::9] = 0.0
    expected = numpy_stats(t.numpy())
    assert_stats_close(dict(zip(STAT_COLUMNS, tensor_stats(t))), expected, str(shape))


@pytest.mark.parametrize("extension,reader", [(".arrows", read_arrow_trace), (".arrow", read_arrow_trace),
                                              (".parquet", read_parquet_trace), (".csv", read_csv_trace)])
def test_everyFormat_sameRows(tmp_path, extension, reader):
    model = sequential()
    rec = attach(model, tmp_path / ("run" + extension),
                 optimizer=torch.optim.SGD(model.parameters(), 0.1), flush_every=2)
    train(rec, model, 3)
    rec.close()
    rows, meta = reader(tmp_path / ("run" + extension))
    assert len(rows) == 3 * 15
    assert meta["dltrace.framework"] == "pytorch"
    stats = row_stats(find(rows, 2, "sequential.2", "weight"))
    assert_stats_close(stats, numpy_stats(model[2].weight.detach().numpy()), "weight")


def test_wheel_buildsOfflineInstallsAndOldImportWorks(tmp_path):
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp_path / "dist"), RECORDERS],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    wheel = next((tmp_path / "dist").glob("dltrace-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("dltrace/pytorch/recorder.py", "dltrace/keras/recorder.py",
                   "dltrace/lightning.py", "dltrace/_core/sink.py", "dltrace_recorder/__init__.py"):
        assert module in names
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index",
                              "--target", str(target), str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    code = ("import dltrace, dltrace.pytorch, dltrace_recorder, torch;"
            "assert dltrace.pytorch.__file__.startswith(%r);"
            "assert dltrace_recorder.attach is dltrace.pytorch.attach;"
            "print(dltrace_recorder.tensor_stats(torch.tensor([1.0, 3.0]))[:2])" % str(target))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=str(tmp_path), env=dict(os.environ, PYTHONPATH=str(target)))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "(2.0, 1.0)"


def test_oldSysPathImport_recordersPytorchOnPath_works(tmp_path):
    code = ("import sys; sys.path.insert(0, %r); import dltrace_recorder as d;"
            "print(d.attach.__module__)" % os.path.join(RECORDERS, "pytorch"))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, cwd=str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "dltrace.pytorch.recorder"


@pytest.mark.parametrize("clock", ["wall", "cpu"])
def test_overheadBench_eachClock_printsTheLoadAndOneRowPerModel(clock):
    run = subprocess.run([sys.executable, os.path.join(RECORDERS, "bench", "overhead.py"),
                          "--framework", "pytorch", "--models", "mlp", "--steps", "5",
                          "--clock", clock], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("load average at start: ") and lines[0].endswith("clock: " + clock)
    rows = [line for line in lines if line.startswith("| pytorch | mlp |")]
    assert len(rows) == 1 and len(rows[0].split("|")) == 11, run.stdout
    assert lines[-1].startswith("load average at end: ")
