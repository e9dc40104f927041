"""Sparse gradients and several optimizers in the PyTorch recorder: an ``nn.Embedding`` with
``sparse=True`` trained with ``torch.optim.SparseAdam`` beside ``Adam`` for the dense layers,
recorded into Parquet files read back with pyarrow."""

import json
from unittest import mock

import numpy as np
import pytest
import torch
from torch import nn

from conftest import assert_stats_close, find, numpy_stats, read_parquet_trace, row_stats

import dltrace.pytorch as dltrace

STATS = ("mean", "std", "min", "max", "l2_norm", "zero_fraction", "nan_count", "inf_count", "numel")


def as_dict(stats):
    return dict(zip(STATS, stats))


def dense_reference(tensor):
    """The float64 numpy statistics of the tensor's dense equivalent."""
    return numpy_stats(tensor.detach().to_dense().to(torch.float64).numpy())


class TestSparseTensorStats:
    def test_uncoalescedHybridCoo_matchesDense(self):
        # Duplicate indices (an embedding row looked up twice) are summed by the dense tensor.
        g = torch.Generator().manual_seed(3)
        indices = torch.tensor([[4, 1, 4, 7, 1]])
        values = torch.randn(5, 6, generator=g)
        t = torch.sparse_coo_tensor(indices, values, (9, 6))
        assert not t.is_coalesced()
        assert_stats_close(as_dict(dltrace.tensor_stats(t)), dense_reference(t), "coo")

    def test_storedValuesAllPositive_minIsTheImplicitZero(self):
        t = torch.sparse_coo_tensor(torch.tensor([[0, 2]]), torch.tensor([3.0, 5.0]), (6,))
        stats = as_dict(dltrace.tensor_stats(t))
        assert stats["min"] == 0.0 and stats["max"] == 5.0
        assert stats["zero_fraction"] == pytest.approx(4 / 6, abs=0.0)
        assert_stats_close(stats, dense_reference(t), "positive")

    def test_nothingStored_isAllZeros(self):
        t = torch.sparse_coo_tensor(torch.zeros((1, 0), dtype=torch.int64), torch.zeros(0, 4),
                                    (5, 4))
        stats = as_dict(dltrace.tensor_stats(t))
        assert (stats["mean"], stats["std"], stats["min"], stats["max"], stats["l2_norm"],
                stats["zero_fraction"], stats["numel"]) == (0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 20)

    @pytest.mark.parametrize("rows", [40, 3000])  # batched size and reduced one by one
    def test_largeMeanStoredValues_twoPassMatchesDense(self, rows):
        # Stored values far from zero: the variance needs the shift by the dense tensor's mean.
        g = torch.Generator().manual_seed(5)
        idx = torch.randperm(rows, generator=g)[:rows // 3].unsqueeze(0)
        values = 100.0 + torch.randn(idx.shape[1], 8, generator=g)
        t = torch.sparse_coo_tensor(idx, values, (rows, 8))
        assert_stats_close(as_dict(dltrace.tensor_stats(t)), dense_reference(t), "shifted")

    def test_nanAmongStoredValues_isCounted(self):
        t = torch.sparse_coo_tensor(torch.tensor([[1, 3]]), torch.tensor([float("nan"), 2.0]),
                                    (10,))
        stats = as_dict(dltrace.tensor_stats(t))
        assert stats["nan_count"] == 1 and stats["numel"] == 10
        assert np.isnan(stats["mean"]) and np.isnan(stats["l2_norm"])
        assert stats["zero_fraction"] == 0.8

    def test_compressedLayouts_matchDense(self):
        g = torch.Generator().manual_seed(7)
        dense = torch.randn(12, 10, generator=g).relu_()
        for t in (dense.to_sparse_csr(), dense.to_sparse_csc(), dense.to_sparse_bsr((2, 2))):
            assert_stats_close(as_dict(dltrace.tensor_stats(t)), dense_reference(t),
                               str(t.layout))

    def test_sparse_neverDensified(self):
        t = torch.sparse_coo_tensor(torch.tensor([[2, 0, 2]]), torch.randn(3, 5), (5000, 5))
        reference = dense_reference(t)
        with mock.patch.object(torch.Tensor, "to_dense", side_effect=AssertionError("dense")):
            stats = as_dict(dltrace.tensor_stats(t))
        assert_stats_close(stats, reference, "no dense copy")


class Bag(nn.Module):
    """Token embeddings (sparse gradients) averaged per sample, then two dense layers."""

    def __init__(self, vocab, dim=8, classes=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim, sparse=True)
        self.fc = nn.Linear(dim, 16)
        self.out = nn.Linear(16, classes)

    def forward(self, tokens):
        return self.out(torch.relu(self.fc(self.emb(tokens).mean(1))))


def train(model, optimizers, path, steps=4, seed=0, optimizer_arg=None):
    """Trains ``model`` with every optimizer stepping each batch; returns the dense gradient of
    the embedding after each step (float64), for the reference statistics."""
    g = torch.Generator().manual_seed(seed)
    vocab = model.emb.num_embeddings
    grads = []
    rec = dltrace.attach(model, str(path), optimizer=optimizer_arg if optimizer_arg is not None
                         else optimizers, task="classification", flush_every=1)
    with rec:
        for _ in range(steps):
            tokens = torch.randint(0, vocab, (12, 5), generator=g)
            tokens[:, 0] = tokens[0, 0]  # a row looked up many times: duplicate sparse indices
            y = torch.randint(0, 3, (12,), generator=g)
            for opt in optimizers:
                opt.zero_grad()
            loss = nn.functional.cross_entropy(model(tokens), y)
            loss.backward()
            for opt in optimizers:
                opt.step()
            assert model.emb.weight.grad.layout == torch.sparse_coo
            grads.append(model.emb.weight.grad.to_dense().to(torch.float64).numpy().copy())
            rec.step(loss, inputs=tokens, targets=y)
    return grads


@pytest.mark.parametrize("vocab", [50, 2000])  # 400 and 16,000 elements
def test_sparseEmbeddingUnderSparseAdam_gradientRowsEqualTheDenseGradient(tmp_path, vocab):
    torch.manual_seed(vocab)
    model = Bag(vocab)
    sparse = torch.optim.SparseAdam(list(model.emb.parameters()), lr=0.01)
    dense = torch.optim.Adam(list(model.fc.parameters()) + list(model.out.parameters()), lr=1e-3)
    path = tmp_path / "sparse.parquet"
    grads = train(model, [sparse, dense], path)
    rows, meta = read_parquet_trace(path)
    for step, grad in enumerate(grads):
        reference = numpy_stats(grad)
        assert reference["zero_fraction"] > 0.3  # rows left untouched: a sparse gradient
        assert_stats_close(row_stats(find(rows, step, "emb", "gradient")), reference,
                           "step %d emb gradient" % step)
    assert find(rows, 3, "emb", "weight")["numel"] == vocab * 8


def test_twoOptimizers_everyTrainableLayerInOptimizer_bothNamed(tmp_path):
    torch.manual_seed(1)
    model = Bag(100)
    sparse = torch.optim.SparseAdam(list(model.emb.parameters()), lr=0.02)
    dense = torch.optim.Adam(list(model.fc.parameters()) + list(model.out.parameters()),
                             lr=1e-3, weight_decay=0.01)
    path = tmp_path / "two.parquet"
    train(model, [sparse, dense], path, steps=2, optimizer_arg=(sparse, dense))
    rows, meta = read_parquet_trace(path)
    layers = json.loads(meta["dltrace.layers"])
    assert [l["name"] for l in layers] == ["emb", "fc", "out"]
    for layer in layers:
        assert layer["trainable"] and "in_optimizer" not in layer, layer
    assert meta["dltrace.optimizer"] == "SparseAdam+Adam"
    # Learning rate, and the absence of weight decay, are the first optimizer's.
    assert float(meta["dltrace.learning_rate"]) == 0.02
    assert "dltrace.weight_decay" not in meta
    assert [r["mean"] for r in rows if r["phase"] == "learning_rate"] == [0.02, 0.02]


def test_oneOfTwoOptimizersGiven_otherLayersMarkedNotInOptimizer(tmp_path):
    # The single-optimizer behaviour stays: the dense layers are not in SparseAdam.
    torch.manual_seed(2)
    model = Bag(100)
    sparse = torch.optim.SparseAdam(list(model.emb.parameters()), lr=0.02)
    dense = torch.optim.Adam(list(model.fc.parameters()) + list(model.out.parameters()))
    path = tmp_path / "one.parquet"
    train(model, [sparse, dense], path, steps=1, optimizer_arg=sparse)
    _, meta = read_parquet_trace(path)
    layers = {l["name"]: l for l in json.loads(meta["dltrace.layers"])}
    assert meta["dltrace.optimizer"] == "SparseAdam"
    assert "in_optimizer" not in layers["emb"]
    assert layers["fc"]["in_optimizer"] is False and layers["out"]["in_optimizer"] is False


def test_ganStyleTwoAdams_bothNetworksInOptimizer(tmp_path):
    torch.manual_seed(4)
    gen = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6))
    disc = nn.Sequential(nn.Linear(6, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    model = nn.Sequential(gen, disc)
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.SGD(disc.parameters(), lr=0.05, momentum=0.9)
    path = tmp_path / "gan.parquet"
    with dltrace.attach(model, str(path), optimizer=[opt_g, opt_d], flush_every=1) as rec:
        for _ in range(2):
            opt_g.zero_grad()
            opt_d.zero_grad()
            loss = model(torch.randn(16, 4)).square().mean()
            loss.backward()
            opt_g.step()
            opt_d.step()
            rec.step(loss)
    rows, meta = read_parquet_trace(path)
    layers = json.loads(meta["dltrace.layers"])
    assert len(layers) == 4
    assert all("in_optimizer" not in l for l in layers), layers
    assert meta["dltrace.optimizer"] == "Adam+SGD"
    assert float(meta["dltrace.learning_rate"]) == 2e-4
    assert "dltrace.momentum" not in meta  # Adam's group has betas, not momentum


def test_criticSwitchedOffForTheGeneratorStepOnly_isTrainable_aFrozenLayerIsNot(tmp_path):
    # WGAN's reference loop: the critic's requires_grad is on for its own updates and off for the
    # generator's, which is the step recorded
    torch.manual_seed(5)
    gen = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    critic = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    frozen = nn.Linear(2, 2)
    frozen.requires_grad_(False)
    model = nn.ModuleDict({"gen": gen, "critic": critic, "frozen": frozen})
    opt_g = torch.optim.RMSprop(gen.parameters(), lr=1e-3)
    opt_c = torch.optim.RMSprop(critic.parameters(), lr=1e-3)
    path = tmp_path / "wgan.parquet"
    with dltrace.attach(model, str(path), optimizer=[opt_g, opt_c], flush_every=1) as rec:
        for _ in range(3):
            critic.requires_grad_(True)
            for _ in range(2):
                opt_c.zero_grad()
                real, fake = torch.randn(16, 2), gen(torch.randn(16, 4)).detach()
                (critic(frozen(fake)).mean() - critic(real).mean()).backward()
                opt_c.step()
            critic.requires_grad_(False)
            opt_g.zero_grad()
            loss = -critic(frozen(gen(torch.randn(16, 4)))).mean()
            loss.backward()
            opt_g.step()
            rec.step(loss)
    _, meta = read_parquet_trace(path)
    trainable = {l["name"]: l["trainable"] for l in json.loads(meta["dltrace.layers"])}
    assert trainable == {"gen.0": True, "gen.2": True, "critic.0": True, "critic.2": True,
                         "frozen": False}, trainable


def test_optimizerListHoldingSomethingElse_isRejected(tmp_path):
    model = Bag(10)
    with pytest.raises(TypeError):
        dltrace.attach(model, str(tmp_path / "bad.parquet"), optimizer=[model])
