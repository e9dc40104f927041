"""The ``episode_return`` rows of the PyTorch recorder: the returns of the episodes that ended
since the previous recorded step, as a model-level row (``step(episode_return=...)`` and
``add_return``), read back with pyarrow from real Parquet and Arrow files."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import assert_stats_close, numpy_stats, read_arrow_trace, read_parquet_trace, row_stats
from torch import nn

from dltrace.pytorch import attach


def policy():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def update(model, opt, g):
    """One REINFORCE-like update on a random batch; returns its loss."""
    x = torch.randn(8, 4, generator=g)
    opt.zero_grad()
    loss = -torch.log_softmax(model(x), 1)[:, 0].mean()
    loss.backward()
    opt.step()
    return loss


def run(tmp_path, name, returns_per_step, added=None, after=None, **options):
    """Records len(returns_per_step) steps; step i gets episode_return=returns_per_step[i]
    (None: none given), after add_return(v) for each v in added.get(i, ()); ``after`` values
    are added after the last step, before close. Returns (rows, meta)."""
    model = policy()
    opt = torch.optim.SGD(model.parameters(), 0.01)
    path = tmp_path / name
    rec = attach(model, path, optimizer=opt, objective="policy_gradient", **options)
    g = torch.Generator().manual_seed(1)
    for step, value in enumerate(returns_per_step):
        loss = update(model, opt, g)
        for v in (added or {}).get(step, ()):
            rec.add_return(v)
        rec.step(loss, episode_return=value)
    for v in after or ():
        rec.add_return(v)
    rec.close()
    reader = read_parquet_trace if name.endswith(".parquet") else read_arrow_trace
    return reader(path)


def returns_rows(rows):
    return [r for r in rows if r["phase"] == "episode_return"]


def test_singleValue_oneModelLevelRowWithThatValue(tmp_path):
    rows, _ = run(tmp_path, "run.parquet", [None, 37.0, None])
    found = returns_rows(rows)
    assert [r["step"] for r in found] == ["1"]
    row = found[0]
    assert (row["layer_index"], row["layer_name"], row["layer_type"]) == ("-1", "model", "")
    assert_stats_close(row_stats(row), numpy_stats([37.0]), "one return")
    # the same key columns as the loss row of that step
    loss = [r for r in rows if r["phase"] == "loss" and r["step"] == "1"][0]
    assert (loss["layer_index"], loss["layer_name"], loss["layer_type"]) == ("-1", "model", "")


@pytest.mark.parametrize("given", [
    [12.0, 30.5, 7.0, 101.25],
    (12.0, 30.5, 7.0, 101.25),
    np.array([12.0, 30.5, 7.0, 101.25], dtype=np.float32),
    torch.tensor([12.0, 30.5, 7.0, 101.25], dtype=torch.float64)],
    ids=["list", "tuple", "numpy", "tensor"])
def test_severalValuesAtOneStep_statisticsOverThem(tmp_path, given):
    rows, _ = run(tmp_path, "run.arrows", [given])
    (row,) = returns_rows(rows)
    expected = numpy_stats([12.0, 30.5, 7.0, 101.25])
    assert expected["numel"] == 4 and expected["std"] > 0
    assert_stats_close(row_stats(row), expected, "four returns")
    assert row["mean"] == pytest.approx(37.6875, rel=1e-12)
    assert row["min"] == 7.0 and row["max"] == 101.25 and row["numel"] == 4


def test_stepWithNoReturn_hasNoRow_andAnEmptySequenceNeither(tmp_path):
    rows, _ = run(tmp_path, "run.arrows", [None, [], 5.0, np.zeros(0)])
    assert [r["step"] for r in returns_rows(rows)] == ["2"]
    assert {r["step"] for r in rows if r["phase"] == "loss"} == {"0", "1", "2", "3"}


def test_rowOrder_afterLearningRate(tmp_path):
    rows, _ = run(tmp_path, "run.arrows", [3.0])
    model_phases = [r["phase"] for r in rows if r["layer_name"] == "model"]
    assert model_phases.index("episode_return") == model_phases.index("learning_rate") + 1


def test_addReturn_carriedToTheNextStep_mergedWithThatStepsOwn(tmp_path):
    # add_return before step 1's call (an episode ended while acting): in step 1's row; two
    # kept before step 3 plus step 3's own episode_return: one row of the three
    rows, _ = run(tmp_path, "run.arrows", [None, None, None, [9.0]],
                  added={1: [20.0], 3: [4.0, np.float64(11.0)]})
    found = returns_rows(rows)
    assert [r["step"] for r in found] == ["1", "3"]
    assert_stats_close(row_stats(found[0]), numpy_stats([20.0]), "step 1")
    assert_stats_close(row_stats(found[1]), numpy_stats([4.0, 11.0, 9.0]), "step 3")


def test_addReturn_pendingAtClose_rowAtTheLastRecordedStep(tmp_path):
    rows, _ = run(tmp_path, "run.parquet", [None, 2.0, None], after=[50.0, 70.0])
    found = returns_rows(rows)
    assert [r["step"] for r in found] == ["1", "2"]
    assert_stats_close(row_stats(found[1]), numpy_stats([50.0, 70.0]), "at close")
    last_loss = [r for r in rows if r["phase"] == "loss"][-1]
    assert (found[1]["epoch"], found[1]["batch"]) == (last_loss["epoch"], last_loss["batch"])


def test_every_doesNotDropThem(tmp_path):
    # every=4 records the layers at steps 0 and 4 only; the returns are model-level scalars
    values = [float(10 * i + 1) for i in range(7)]
    rows, meta = run(tmp_path, "run.arrows", [None] + values[1:], added={2: [99.0]}, every=4)
    assert meta["dltrace.record_every"] == "4"
    assert {r["step"] for r in rows if r["layer_name"] != "model"} == {"0", "4"}
    found = {r["step"]: r for r in returns_rows(rows)}
    assert sorted(found, key=int) == ["1", "2", "3", "4", "5", "6"]
    assert_stats_close(row_stats(found["2"]), numpy_stats([99.0, 21.0]), "step 2")
    assert found["5"]["mean"] == 51.0


def test_phases_leavingItOut_noRowAndNotInRecordPhases(tmp_path):
    rows, meta = run(tmp_path, "run.arrows", [5.0, [1.0, 2.0]], added={1: [3.0]},
                     after=[4.0], phases=("weight", "learning_rate"))
    assert not returns_rows(rows)
    assert meta["dltrace.record_phases"] == "loss,weight,learning_rate"
    rows, meta = run(tmp_path, "kept.arrows", [5.0], phases=("episode_return",))
    assert [r["phase"] for r in rows] == ["loss", "episode_return"]
    assert meta["dltrace.record_phases"] == "loss,episode_return"


def test_nanAndInf_keptAndCounted(tmp_path):
    rows, _ = run(tmp_path, "run.arrows", [[1.0, float("nan"), 3.0], [2.0, float("inf")]])
    first, second = returns_rows(rows)
    assert (first["numel"], first["nan_count"], first["inf_count"]) == (3, 1, 0)
    assert math.isnan(first["mean"])
    assert (second["numel"], second["nan_count"], second["inf_count"]) == (2, 0, 1)
    assert second["mean"] == math.inf and second["max"] == math.inf and second["min"] == 2.0


@pytest.mark.parametrize("bad,named", [
    ("12", "got str"), ([1.0, "x"], "got str"), ({"r": 1.0}, "got dict"), (None, None),
    (object(), "got object"), (True, "got bool"),
    (np.array(["a"]), "numpy array of dtype <U1"),
    (torch.tensor([1 + 2j]), "complex tensor")])
def test_notANumber_raisesTypeErrorNamingIt(tmp_path, bad, named):
    model = policy()
    opt = torch.optim.SGD(model.parameters(), 0.01)
    rec = attach(model, tmp_path / "run.arrows", optimizer=opt)
    loss = update(model, opt, torch.Generator().manual_seed(1))
    if bad is None:  # add_return(None) is not "no return": it is not a number
        with pytest.raises(TypeError, match="add_return must be a number, a sequence of "
                                            "numbers, a numpy array or a tensor, got NoneType"):
            rec.add_return(None)
    else:
        with pytest.raises(TypeError, match="add_return must .*" + named):
            rec.add_return(bad)
        with pytest.raises(TypeError, match="episode_return must .*" + named):
            rec.step(loss, episode_return=bad)
    rec.step(loss, episode_return=1.0)  # the recorder still works
    rec.close()
    rows, _ = read_arrow_trace(tmp_path / "run.arrows")
    assert [r["mean"] for r in returns_rows(rows)] == [1.0]
    assert [r["step"] for r in rows if r["phase"] == "loss"] == ["0"]
