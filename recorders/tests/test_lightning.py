"""Tests of the Lightning callback: a real Trainer run recorded, with validation rows."""

import json

import lightning.pytorch as pl
import pytest
import torch
from conftest import find, read_arrow_trace
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dltrace.lightning import DltraceCallback


class Classifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        loss = nn.functional.cross_entropy(out, y)
        self.log("train_acc", (out.argmax(1) == y).float().mean(), on_step=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        self.log("val_loss", nn.functional.cross_entropy(out, y))
        self.log("val_acc", (out.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_trainer_withCallback_recordsEveryStepAndValidation(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    path = tmp_path / "run.arrows"
    callback = DltraceCallback(path, task="classification", loss_name="CrossEntropyLoss",
                               num_classes=3)
    trainer = pl.Trainer(max_epochs=2, callbacks=[callback], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(Classifier(), loader, loader)

    rows, meta = read_arrow_trace(path)
    assert sorted({int(r["step"]) for r in rows}) == list(range(8))
    assert [(r["epoch"], r["batch"]) for r in rows if r["phase"] == "loss"] == [
        (str(e), str(b)) for e in range(2) for b in range(4)]
    layers = json.loads(meta["dltrace.layers"])
    assert [(l["name"], l["type"], l["activation"]) for l in layers] == [
        ("net.0", "Linear", "relu"), ("net.2", "Linear", "linear")]
    assert meta["dltrace.steps_per_epoch"] == "4"
    assert meta["dltrace.model"] == "Classifier"
    assert meta["dltrace.optimizer"] == "SGD"
    for phase in ("forward", "activation", "backward", "gradient", "weight"):
        find(rows, 7, "net.0", phase)
    find(rows, 7, "model", "accuracy")
    val = [(r["step"], r["phase"]) for r in rows if r["phase"].startswith("val_")]
    assert val == [("3", "val_loss"), ("3", "val_accuracy"), ("7", "val_loss"), ("7", "val_accuracy")]
    assert find(rows, 7, "model", "val_loss")["mean"] == pytest.approx(
        float(trainer.callback_metrics["val_loss"]), rel=1e-6)


class TwoOptimizers(pl.LightningModule):
    """Manual optimization with SparseAdam for sparse embeddings and Adam for the rest."""

    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.emb = nn.Embedding(40, 6, sparse=True)
        self.out = nn.Linear(6, 3)

    def forward(self, tokens):
        return self.out(self.emb(tokens).mean(1))

    def training_step(self, batch, batch_idx):
        tokens, y = batch
        sparse, dense = self.optimizers()
        sparse.zero_grad()
        dense.zero_grad()
        loss = nn.functional.cross_entropy(self(tokens), y)
        self.manual_backward(loss)
        sparse.step()
        dense.step()
        return loss

    def configure_optimizers(self):
        return [torch.optim.SparseAdam(list(self.emb.parameters()), lr=0.05),
                torch.optim.Adam(self.out.parameters(), lr=1e-3)]


def test_trainer_twoOptimizers_everyLayerInOptimizerAndSparseGradientRecorded(tmp_path):
    from conftest import read_parquet_trace
    torch.manual_seed(0)
    tokens, y = torch.randint(0, 40, (32, 4)), torch.randint(0, 3, (32,))
    loader = DataLoader(TensorDataset(tokens, y), batch_size=16)
    path = tmp_path / "run.parquet"
    trainer = pl.Trainer(max_epochs=1, callbacks=[DltraceCallback(path)], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(TwoOptimizers(), loader)

    rows, meta = read_parquet_trace(path)
    assert meta["dltrace.optimizer"] == "SparseAdam+Adam"
    assert float(meta["dltrace.learning_rate"]) == 0.05
    layers = json.loads(meta["dltrace.layers"])
    assert [l["name"] for l in layers] == ["emb", "out"]
    assert all("in_optimizer" not in l for l in layers), layers
    gradient = find(rows, 1, "emb", "gradient")
    assert gradient["numel"] == 240 and gradient["zero_fraction"] > 0.0


def test_trainer_accumulatingGradients_recordsOneStepPerOptimizerStep(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)  # 4 micro-batches an epoch
    path = tmp_path / "run.arrows"
    losses = []

    class Logged(Classifier):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            losses.append(float(loss))
            return loss

    callback = DltraceCallback(path, task="classification", loss_name="CrossEntropyLoss",
                               num_classes=3)
    trainer = pl.Trainer(max_epochs=2, callbacks=[callback], logger=False,
                         accumulate_grad_batches=2, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    trainer.fit(Logged(), loader, loader)

    rows, meta = read_arrow_trace(path)
    assert trainer.global_step == 4
    assert sorted({int(r["step"]) for r in rows}) == list(range(4))
    assert [(r["epoch"], r["batch"]) for r in rows if r["phase"] == "loss"] == [
        (str(e), str(b)) for e in range(2) for b in range(2)]
    assert meta["dltrace.steps_per_epoch"] == "2"
    # each recorded loss is the mean of the two micro-batches of its update
    for step in range(4):
        assert find(rows, step, "model", "loss")["mean"] == pytest.approx(
            (losses[2 * step] + losses[2 * step + 1]) / 2, rel=1e-6)
    # every recorded step follows an update: the weights move from each step to the next
    norms = [find(rows, step, "net.0", "weight")["l2_norm"] for step in range(4)]
    assert all(a != b for a, b in zip(norms, norms[1:]))


class Agent(Classifier):
    """Episodes end at some batches: the module hands their returns to the callback."""

    def __init__(self, callback, ends):
        super().__init__()
        self.callback, self.ends = callback, ends

    def training_step(self, batch, batch_idx):
        if self.global_step in self.ends:
            self.callback.add_return(self.ends[self.global_step])
        self.log("episode_return", 123.0)  # not read: callback_metrics keep it on later steps
        return super().training_step(batch, batch_idx)


def test_addReturn_writtenWithTheNextRecordedStep_loggedValueNotRead(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    path = tmp_path / "run.arrows"
    callback = DltraceCallback(path, task="classification", objective="policy_gradient")
    callback.add_return(-5.0)   # before training starts: kept for the first step
    with pytest.raises(TypeError, match="add_return must be a number"):
        callback.add_return("lots")
    trainer = pl.Trainer(max_epochs=1, callbacks=[callback], logger=False,
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu", devices=1)
    trainer.fit(Agent(callback, {1: 10.0, 3: [20.0, 40.0]}), loader)
    rows, _ = read_arrow_trace(path)
    found = [(r["step"], r["mean"], r["numel"]) for r in rows if r["phase"] == "episode_return"]
    assert found == [("0", -5.0, 1), ("1", 10.0, 1), ("3", 30.0, 2)]
