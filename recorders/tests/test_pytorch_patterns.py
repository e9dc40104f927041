"""The PyTorch recorder on patterns of common training code (python3 -m pytest recorders/tests):
parameter groups, wrapped models, structured outputs, attention, checkpointing."""

import dataclasses
import json

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from conftest import read_csv_trace as read_trace

import dltrace.pytorch as dltrace


def _train(model, path, optimizer, steps=2, forward=None, **options):
    torch.manual_seed(1)
    x = torch.randn(6, 4)
    y = torch.randint(0, 3, (6,))
    rec = dltrace.attach(model, str(path), optimizer=optimizer, **options)
    for _ in range(steps):
        optimizer.zero_grad()
        out = forward(x) if forward is not None else model(x)
        loss = F.cross_entropy(out, y)
        loss.backward()
        optimizer.step()
        rec.step(loss)
    rec.close()
    return read_trace(str(path))


def _layers(meta):
    return {e["name"]: e for e in json.loads(meta["dltrace.layers"])}


def test_paramGroups_noDecayGroupFirst_metadataAndRowsDescribeTheLargestGroup(tmp_path):
    # AdamW as transformer recipes build it: biases and norms in a no-decay group (here
    # first), the weight matrices with weight decay and their own rate.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.LayerNorm(16), nn.ReLU(), nn.Linear(16, 3))
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    decay = [p for p in model.parameters() if p.dim() >= 2]
    opt = torch.optim.AdamW([{"params": no_decay, "weight_decay": 0.0, "lr": 3e-4},
                             {"params": decay, "weight_decay": 0.1, "lr": 1e-3}])
    rows, meta = _train(model, tmp_path / "groups.csv", opt)
    assert meta["dltrace.weight_decay"] == "0.1"
    assert meta["dltrace.learning_rate"] == "0.001"
    rates = [float(r["mean"]) for r in rows if r["phase"] == "learning_rate"]
    assert rates == [1e-3, 1e-3]


def test_paramGroups_oneGroup_firstGroupAsBefore(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    _, meta = _train(model, tmp_path / "one.csv", opt)
    assert (meta["dltrace.learning_rate"], meta["dltrace.weight_decay"],
            meta["dltrace.momentum"]) == ("0.05", "0.0001", "0.9")


def _sequential():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_dataParallel_layersNamedAsInTheWrappedModel(tmp_path):
    model = nn.DataParallel(_sequential())
    rows, meta = _train(model, tmp_path / "dp.csv", torch.optim.SGD(model.parameters(), lr=0.1))
    assert list(_layers(meta)) == ["sequential.0", "sequential.2"]
    assert meta["dltrace.model"] == "Sequential"
    assert {r["layer_name"] for r in rows} == {"sequential.0", "sequential.2", "model"}


def test_torchCompile_layersNamedAsInTheCompiledModel(tmp_path):
    inner = _sequential()
    model = torch.compile(inner, backend="eager")  # the eager backend: no code generation
    rows, meta = _train(model, tmp_path / "compiled.csv",
                        torch.optim.SGD(model.parameters(), lr=0.1))
    assert list(_layers(meta)) == ["sequential.0", "sequential.2"]
    assert meta["dltrace.model"] == "Sequential"
    forward = [r for r in rows if r["layer_name"] == "sequential.2" and r["phase"] == "forward"]
    assert len(forward) == 2


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Linear(4, 8)
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
        self.scales = nn.ParameterList([nn.Parameter(torch.ones(8))])
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = self.emb(x).unsqueeze(1).expand(-1, 5, -1)
        a, _ = self.mha(h, h, h)
        return self.head(a.mean(1) * self.scales[0])


def test_attention_outProjCalledFunctionally_weightAndGradientRowsOnly(tmp_path):
    model = Attention()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rows, meta = _train(model, tmp_path / "mha.csv", opt)
    layers = _layers(meta)
    assert list(layers) == ["emb", "mha", "mha.out_proj", "head", "scales"]
    assert [e["index"] for e in layers.values()] == [0, 1, 2, 3, 4]
    assert layers["mha.out_proj"]["type"] == "NonDynamicallyQuantizableLinear"

    def phases(layer):
        return sorted({r["phase"] for r in rows if r["layer_name"] == layer})
    assert phases("mha.out_proj") == ["gradient", "weight"]
    assert phases("scales") == ["gradient", "weight"]
    weight = [r for r in rows if r["layer_name"] == "mha.out_proj" and r["phase"] == "weight"
              and r["step"] == "1"][0]
    w = model.mha.out_proj.weight.detach().double()
    assert abs(float(weight["mean"]) - float(w.mean())) <= 1e-6 * float(w.abs().max())
    assert int(weight["numel"]) == 64
    gradient = [r for r in rows if r["layer_name"] == "mha.out_proj" and r["phase"] == "gradient"
                and r["step"] == "1"][0]
    g = model.mha.out_proj.weight.grad.double()
    assert abs(float(gradient["l2_norm"]) - float(g.norm())) <= 1e-6 * float(g.norm())
    indices = {(r["layer_name"], r["layer_index"]) for r in rows if r["layer_name"] != "model"}
    assert indices == {(name, str(e["index"])) for name, e in layers.items()}


class Structured(nn.Module):
    """Returns its logits among other tensors, as HuggingFace models do."""

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        hidden = torch.relu(self.fc1(x))
        logits = self.fc2(hidden)
        if self.kind == "dict":
            return {"hidden_states": hidden, "logits": logits}
        if self.kind == "dataclass":
            return StructuredOutput(hidden, logits)
        return hidden, logits


@dataclasses.dataclass
class StructuredOutput:
    hidden_states: torch.Tensor
    logits: torch.Tensor


def _logits(out):
    return out["logits"] if isinstance(out, dict) else out.logits if hasattr(out, "logits") \
        else out[1]



@pytest.mark.parametrize("kind", ["dict", "dataclass", "tuple"])
def test_structuredOutput_hiddenBeforeLogits_classesFromTheTensorTheLossUses(tmp_path, kind):
    torch.manual_seed(0)
    model = Structured(kind)
    rows, meta = _train(model, tmp_path / (kind + ".csv"),
                        torch.optim.SGD(model.parameters(), lr=0.1),
                        forward=lambda x: _logits(model(x)))
    assert meta["dltrace.num_classes"] == "3"
    assert meta["dltrace.task"] == "classification"
    assert [(e["name"], e["activation"]) for e in _layers(meta).values()] == [
        ("fc1", "relu"), ("fc2", "linear")]


def _row(rows, step, layer, phase):
    hits = [r for r in rows if r["step"] == str(step) and r["layer_name"] == layer
            and r["phase"] == phase]
    assert len(hits) == 1, (step, layer, phase, len(hits))
    return hits[0]


def test_siamese_modelCalledTwice_backwardRowOfTheLastPassLikeItsForward(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(6, 4)
    rec = dltrace.attach(model, str(tmp_path / "siamese.csv"), optimizer=opt)
    for _ in range(2):
        opt.zero_grad()
        a = model(x)
        b = model(2 * x)
        b.retain_grad()
        loss = (a.pow(2).sum() + 3 * b.sum()) / 10  # d loss / d b = 0.3 everywhere
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.close()
    rows, _ = read_trace(str(tmp_path / "siamese.csv"))
    backward = _row(rows, 1, "sequential.2", "backward")
    assert float(backward["min"]) == float(backward["max"]) == pytest.approx(0.3)
    assert float(_row(rows, 1, "sequential.2", "forward")["mean"]) == pytest.approx(
        float(b.detach().double().mean()), abs=1e-6)

