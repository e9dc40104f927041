"""The PyTorch recorder's check that a loop resets its gradients between updates
(``dltrace.updates`` and ``dltrace.carried_updates``)."""

import json

import pytest
import torch
from torch import nn

from conftest import read_arrow_trace, read_parquet_trace

import dltrace.pytorch as dltrace

STEPS = 12


def data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(16, 4, generator=g), torch.randint(0, 2, (16,), generator=g)


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def counts(meta):
    if "dltrace.updates" not in meta:
        return None
    return int(meta["dltrace.updates"]), int(meta["dltrace.carried_updates"])


def train(tmp_path, loop, steps=STEPS, suffix=".parquet", **options):
    """Runs ``loop(model, opt, x, y, i)`` (it returns the loss) and records each step."""
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = data()
    path = tmp_path / ("run" + suffix)
    rec = dltrace.attach(model, str(path), optimizer=opt, **options)
    for i in range(steps):
        loss = loop(model, opt, x, y, i)
        rec.step(loss)
    rec.close()
    return read(path)


def read(path):
    return read_parquet_trace(path) if str(path).endswith(".parquet") else read_arrow_trace(path)


def zero_first(model, opt, x, y, i):
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def zero_after_forward(model, opt, x, y, i):
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def never_zeroed(model, opt, x, y, i):
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss


def zero_in_place(model, opt, x, y, i):
    loss = never_zeroed(model, opt, x, y, i)
    opt.zero_grad(set_to_none=False)
    return loss


def zero_before_recording(model, opt, x, y, i):
    # rec.step() comes after zero_grad(): no parameter has a gradient at the first step
    loss = never_zeroed(model, opt, x, y, i)
    opt.zero_grad()
    return loss


def zeroed_every_sixth(model, opt, x, y, i):
    loss = never_zeroed(model, opt, x, y, i)
    if i % 6 == 5:
        opt.zero_grad()
    return loss


def accumulate_four(model, opt, x, y, i):
    loss = nn.functional.cross_entropy(model(x), y) / 4
    loss.backward()
    if (i + 1) % 4 == 0:
        opt.step()
        opt.zero_grad()
    return loss


@pytest.mark.parametrize(
    "loop", [zero_first, zero_after_forward, zero_in_place, zero_before_recording])
def test_loopThatResets_noUpdateCarriedOver(tmp_path, loop):
    _, meta = train(tmp_path, loop)
    # the first update is not judged: nothing came before it
    assert counts(meta) == (STEPS - 1, 0)


def test_missingZeroGrad_everyUpdateCarriedOver(tmp_path):
    _, meta = train(tmp_path, never_zeroed)
    assert counts(meta) == (STEPS - 1, STEPS - 1)


def test_zeroGradOnceAnEpoch_theOtherUpdatesCarriedOver(tmp_path):
    _, meta = train(tmp_path, zeroed_every_sixth)
    # reset after the updates of steps 5 and 11: the update of step 6 starts clean
    assert counts(meta) == (STEPS - 1, STEPS - 2)


def test_accumulationOnPurpose_oneUpdateEveryFourStepsNotCarriedOver(tmp_path):
    _, meta = train(tmp_path, accumulate_four)
    # updates at steps 3, 7, 11; the first began before the recorder's first step
    assert counts(meta) == (2, 0)


def test_arrowStream_countsOnTheLastBatch(tmp_path):
    _, meta = train(tmp_path, never_zeroed, suffix=".arrows")
    assert counts(meta) == (STEPS - 1, STEPS - 1)


def test_oneStep_nothingJudgedNoKeys(tmp_path):
    _, meta = train(tmp_path, never_zeroed, steps=1)
    assert counts(meta) is None


def test_sampledRecording_stillJudgesEveryUpdate(tmp_path):
    rows, meta = train(tmp_path, never_zeroed, every=4)
    assert sorted({int(r["step"]) for r in rows if r["phase"] == "forward"}) == [0, 4, 8]
    assert counts(meta) == (STEPS - 1, STEPS - 1)


def test_hookLeavesGradientsAsTheyWere(tmp_path):
    recorded = mlp()
    plain = mlp()
    x, y = data()
    opt_a = torch.optim.SGD(recorded.parameters(), lr=0.1)
    opt_b = torch.optim.SGD(plain.parameters(), lr=0.1)
    rec = dltrace.attach(recorded, str(tmp_path / "run.arrows"), optimizer=opt_a)
    for i in range(5):
        rec.step(never_zeroed(recorded, opt_a, x, y, i))
        never_zeroed(plain, opt_b, x, y, i)
    rec.close()
    for a, b in zip(recorded.parameters(), plain.parameters()):
        assert torch.equal(a.grad, b.grad) and torch.equal(a, b)


class Gan:
    def __init__(self):
        torch.manual_seed(1)
        self.g = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
        self.d = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=1e-3)
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=1e-3)

    def step(self, reset_d=True):
        """The usual loop, the fake not detached for the critic: the generator's gradients
        also collect the critic's backward, and the critic's the generator's."""
        bce = nn.functional.binary_cross_entropy_with_logits
        real = torch.randn(16, 2) + 3
        fake = self.g(torch.randn(16, 2))
        if reset_d:
            self.opt_d.zero_grad()
        d_loss = bce(self.d(real), torch.ones(16, 1)) + bce(self.d(fake), torch.zeros(16, 1))
        d_loss.backward(retain_graph=True)
        self.opt_d.step()
        self.opt_g.zero_grad()
        g_loss = bce(self.d(fake), torch.ones(16, 1))
        g_loss.backward()
        self.opt_g.step()
        return g_loss


@pytest.mark.parametrize("reset_d", [True, False])
def test_gan_gradientsOfTheOtherPlayersBackward_areNotCarriedOver(tmp_path, reset_d):
    gan = Gan()
    path = tmp_path / "gan.parquet"
    rec = dltrace.attach(gan.g, str(path), optimizer=[gan.opt_g, gan.opt_d])
    for _ in range(STEPS):
        rec.step(gan.step(reset_d=reset_d))
    rec.close()
    _, meta = read(path)
    # each optimizer's updates after its first; the critic's all carried over without its reset
    judged = 2 * (STEPS - 1)
    assert counts(meta) == (judged, 0 if reset_d else STEPS - 1)


@pytest.mark.parametrize("reset", [True, False])
def test_loopWithoutOptimizer_judgedAtEachStep(tmp_path, reset):
    model = mlp()
    x, y = data()
    path = tmp_path / "run.csv"
    rec = dltrace.attach(model, str(path), learning_rate=0.01)
    for _ in range(STEPS):
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.01 * p.grad
                if reset:
                    p.grad.zero_()
        rec.step(loss)
    rec.close()
    meta = json.loads((tmp_path / "run.csv.meta.json").read_text())
    assert counts(meta) == (STEPS - 1, 0 if reset else STEPS - 1)


def test_stopFile_keepsBothTheStopAndTheCounts(tmp_path):
    stop = tmp_path / "stop"
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = data()
    path = tmp_path / "run.parquet"
    rec = dltrace.attach(model, str(path), optimizer=opt, stop_file=str(stop), on_stop="flag")
    for i in range(STEPS):
        if i == 6:
            stop.write_text("enough")
        if rec.step(never_zeroed(model, opt, x, y, i)):
            break
    _, meta = read(path)
    assert meta["dltrace.stop_reason"] == "enough"
    assert counts(meta) == (6, 6)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_lightningTrainer_resetsItselfNothingCarriedOver(tmp_path, accumulate):
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from dltrace.lightning import DltraceCallback

    class Classifier(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = mlp()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x, y = data()
    path = tmp_path / "run.parquet"
    trainer = pl.Trainer(max_epochs=3, callbacks=[DltraceCallback(path)], logger=False,
                         accumulate_grad_batches=accumulate, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    trainer.fit(Classifier(), DataLoader(TensorDataset(x, y), batch_size=4))
    _, meta = read(path)
    updates = trainer.global_step - 1
    assert counts(meta) == (updates, 0)
