"""The PyTorch recorder on patterns of common training code (python3 -m pytest recorders/tests):
parameter groups, wrapped models, structured outputs, attention, checkpointing, gated units."""

import copy
import dataclasses
import json

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from conftest import assert_stats_close, find, numpy_stats, read_parquet_trace, row_stats
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




class ReadOut(nn.Module):
    """A read-out applied at every time step of one pass, as a memory network's output layer."""

    def __init__(self):
        super().__init__()
        self.cell = nn.Linear(4, 4)
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        h, outs = x, []
        self.states = []
        for _ in range(3):
            h = torch.tanh(self.cell(h))
            self.states.append(h)
            outs.append(self.out(h))
        return outs


def test_layerCalledAtEveryTimeStep_backwardRowOfTheLastCallLikeItsForward(tmp_path):
    torch.manual_seed(0)
    model = ReadOut()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(6, 4)
    rec = dltrace.attach(model, str(tmp_path / "readout.csv"), optimizer=opt)
    for _ in range(2):
        opt.zero_grad()
        outs = model(x)
        # Only the last time step is scored (a copy task's output phase): the first calls'
        # outputs get a zero gradient, the last one 0.3 everywhere.
        loss = 0 * outs[0].sum() + 0 * outs[1].sum() + 0.3 * outs[2].sum()
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.close()
    rows, _ = read_trace(str(tmp_path / "readout.csv"))
    backward = _row(rows, 1, "out", "backward")
    assert float(backward["min"]) == float(backward["max"]) == pytest.approx(0.3)
    assert float(_row(rows, 1, "out", "forward")["mean"]) == pytest.approx(
        float(outs[2].detach().double().mean()), abs=1e-6)


def test_layerCalledAtEveryTimeStep_activationRowOfTheLastCallLikeItsForward(tmp_path):
    # The cell's tanh is applied as a function at every time step; its activation row is the
    # last call's, as its forward row is, not the first call's.
    torch.manual_seed(0)
    model = ReadOut()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = 3 * torch.randn(6, 4)
    rec = dltrace.attach(model, str(tmp_path / "readout.csv"), optimizer=opt)
    for _ in range(2):
        opt.zero_grad()
        loss = sum(o.pow(2).mean() for o in model(x))
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.close()
    rows, meta = read_trace(str(tmp_path / "readout.csv"))
    assert _layers(meta)["cell"]["activation"] == "tanh"
    first, last = (s.detach().double() for s in (model.states[0], model.states[-1]))
    assert abs(float(first.mean()) - float(last.mean())) > 1e-3  # the calls differ
    activation = _row(rows, 1, "cell", "activation")
    assert float(activation["mean"]) == pytest.approx(float(last.mean()), abs=1e-6)
    assert float(activation["max"]) == pytest.approx(float(last.max()), abs=1e-6)


# ----------------------------------------------------------------------------- gated units
# A layer's output multiplied by a gate that went through an activation is not linear, although
# the shortest path from the next layer back to it passes no activation (the product's other
# operand does): TabNet's hand-written GLU, F.glu, SwiGLU and GEGLU feed-forward blocks,
# WaveNet's tanh-sigmoid gate. Products without an activation stay linear.


class HandGlu(nn.Module):
    """TabNet's GLU layer: Linear, BatchNorm, the first half times the sigmoid of the second."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 16, bias=False)
        self.bn = nn.BatchNorm1d(16)
        self.out = nn.Linear(8, 3)

    def product(self, x):
        h = self.bn(self.fc(x))
        return h[:, :8] * torch.sigmoid(h[:, 8:])

    def forward(self, x):
        return self.out(self.product(x))


class FunctionalGlu(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 16)
        self.out = nn.Linear(8, 3)

    def product(self, x):
        return F.glu(self.fc(x), dim=-1)

    def forward(self, x):
        return self.out(self.product(x))


class SwiGlu(nn.Module):
    """A LLaMA feed-forward block: w2(silu(w1(x)) * w3(x))."""

    def __init__(self):
        super().__init__()
        self.w1 = nn.Linear(4, 8, bias=False)
        self.w3 = nn.Linear(4, 8, bias=False)
        self.w2 = nn.Linear(8, 3, bias=False)

    def product(self, x):
        return F.silu(self.w1(x)) * self.w3(x)

    def forward(self, x):
        return self.w2(self.product(x))


class GeGlu(nn.Module):
    """GEGLU as transformer code writes it: one projection, chunked, gelu(a) * b."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 16)
        self.out = nn.Linear(8, 3)

    def product(self, x):
        a, b = self.proj(x).chunk(2, dim=-1)
        return F.gelu(a) * b

    def forward(self, x):
        return self.out(self.product(x))


class WaveNetGate(nn.Module):
    """WaveNet's gated activation unit: tanh(filter) * sigmoid(gate), dilated convolutions."""

    def __init__(self):
        super().__init__()
        self.filter = nn.Conv1d(1, 6, 2, dilation=2)
        self.gate = nn.Conv1d(1, 6, 2, dilation=2)
        self.res = nn.Conv1d(6, 3, 1)

    def product(self, x):
        x = x.unsqueeze(1)
        return torch.tanh(self.filter(x)) * torch.sigmoid(self.gate(x))

    def forward(self, x):
        return self.res(self.product(x)).mean(dim=-1)


class HandSwish(nn.Module):
    """x * sigmoid(1.702 x) written by hand (CLIP's QuickGELU): a SiLU, not a gate."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        h = self.fc(x)
        return self.out(h * torch.sigmoid(1.702 * h))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc0 = nn.Linear(4, 4)
        self.fc = nn.Linear(4, 4)
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        x = self.fc0(x)
        return self.out(x + self.fc(x))


class ScaledAndMasked(nn.Module):
    """Products with a constant, with a mask of no gradient, and of two layers' outputs (the
    ReLU before ``fc1`` is ``fc0``'s, not a gate of ``fc2``)."""

    def __init__(self):
        super().__init__()
        self.fc0 = nn.Linear(4, 4)
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)
        self.out = nn.Linear(4, 3)

    def forward(self, x):
        h = F.relu(self.fc0(x))
        mask = (torch.arange(4) % 2).float()
        h = self.fc1(h) * 0.5 * mask
        return self.out(self.fc2(h) * h)


class GateAfterRelu(nn.Module):
    """A squeeze-and-excitation-like gate on a ReLU's output: the layer stays relu."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 8)
        self.se = nn.Linear(4, 8)
        self.out = nn.Linear(8, 3)

    def forward(self, x):
        return self.out(F.relu(self.fc(x)) * torch.sigmoid(self.se(x)))


class SoftMixture(nn.Module):
    """A mixture of experts weighted by a softmax gate: a weighted sum, not a gated unit."""

    def __init__(self):
        super().__init__()
        self.gate = nn.Linear(4, 2)
        self.e0 = nn.Linear(4, 3)
        self.e1 = nn.Linear(4, 3)

    def forward(self, x):
        weights = torch.softmax(self.gate(x), dim=-1)
        outs = torch.stack([self.e0(x), self.e1(x)], dim=1)
        return (weights.unsqueeze(-1) * outs).sum(1)


def _gated_trace(model, path):
    """Two recorded SGD steps of ``model`` into a Parquet file, read back with pyarrow; the
    batch and the model as they were before the first update."""
    torch.manual_seed(1)
    x = torch.randn(6, 4)
    y = torch.randint(0, 3, (6,))
    before = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    rec = dltrace.attach(model, str(path), optimizer=opt)
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        rec.step(loss)
    rec.close()
    rows, meta = read_parquet_trace(path)
    return rows, {name: e["activation"] for name, e in _layers(meta).items()}, before, x


@pytest.mark.parametrize("model, expected", [
    (HandGlu, {"fc": "linear", "bn": "glu", "out": "linear"}),
    (FunctionalGlu, {"fc": "glu", "out": "linear"}),
    # the gate's own layer: its activation; the gated one: the unit
    (SwiGlu, {"w1": "silu", "w3": "swiglu", "w2": "linear"}),
    (GeGlu, {"proj": "geglu", "out": "linear"}),
    (WaveNetGate, {"filter": "gated_tanh", "gate": "gated_tanh", "res": "linear"}),
    (HandSwish, {"fc": "silu", "out": "linear"}),
    (Residual, {"fc0": "linear", "fc": "linear", "out": "linear"}),
    (ScaledAndMasked, {"fc0": "relu", "fc1": "linear", "fc2": "linear", "out": "linear"}),
    (GateAfterRelu, {"fc": "relu", "se": "linear", "out": "linear"}),
    (SoftMixture, {"gate": "linear", "e0": "linear", "e1": "linear"}),
], ids=lambda v: v.__name__ if isinstance(v, type) else "")
def test_gatedUnit_layerActivationsFromTheGraph(tmp_path, model, expected):
    torch.manual_seed(0)
    _, activations, _, _ = _gated_trace(model(), tmp_path / "gated.parquet")
    assert activations == expected


@pytest.mark.parametrize("model, layer", [
    (HandGlu, "bn"), (FunctionalGlu, "fc"), (SwiGlu, "w3"), (GeGlu, "proj"),
    (WaveNetGate, "filter")], ids=lambda v: v.__name__ if isinstance(v, type) else v)
def test_gatedUnit_activationRowsAreTheProductsOutput(tmp_path, model, layer):
    # The product is the next layer's input (F.glu's output is computed from the saved input):
    # the activation rows describe it, not the layer's forward output.
    torch.manual_seed(0)
    rows, _, before, x = _gated_trace(model(), tmp_path / "gated.parquet")
    with torch.no_grad():
        expected = before.product(x).numpy()
    act = row_stats(find(rows, 0, layer, "activation"))
    assert act["numel"] == expected.size
    assert_stats_close(act, numpy_stats(expected), msg=layer, rederived=True)


def test_gatedUnit_gateLayerRowsAreItsActivationsOutput(tmp_path):
    torch.manual_seed(0)
    rows, _, before, x = _gated_trace(SwiGlu(), tmp_path / "swiglu.parquet")
    with torch.no_grad():
        expected = F.silu(before.w1(x)).numpy()
    assert_stats_close(row_stats(find(rows, 0, "w1", "activation")), numpy_stats(expected),
                       msg="w1", rederived=True)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.ao.quantization's notice
@pytest.mark.filterwarnings("ignore:Please use quant_min:UserWarning")  # the x86 qconfig's
def test_quantizationAwareTraining_fusedModulesNameTheActivationTheyApplyInside(tmp_path):
    # Eager-mode QAT: Conv-BN-ReLU and Linear-ReLU fused into single modules that apply the
    # ReLU inside their forward; the last Linear stays linear.
    from torch.ao import quantization as tq

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.quant = tq.QuantStub()
            self.conv = nn.Conv2d(1, 4, 3)
            self.bn = nn.BatchNorm2d(4)
            self.relu1 = nn.ReLU()
            self.fc1 = nn.Linear(16, 8)
            self.relu2 = nn.ReLU()
            self.fc2 = nn.Linear(8, 3)
            self.dequant = tq.DeQuantStub()

        def forward(self, x):
            x = self.relu1(self.bn(self.conv(self.quant(x.view(-1, 1, 2, 2).repeat(1, 1, 2, 2)))))
            x = self.relu2(self.fc1(x.flatten(1)))
            return self.dequant(self.fc2(x))

    torch.manual_seed(0)
    model = Net().train()
    model.qconfig = tq.get_default_qat_qconfig("x86")
    model = tq.fuse_modules_qat(model, [["conv", "bn", "relu1"], ["fc1", "relu2"]])
    model = tq.prepare_qat(model)
    _, meta = _train(model, tmp_path / "run.csv", torch.optim.SGD(model.parameters(), lr=0.01))

    layers = _layers(meta)
    assert layers["conv"]["activation"] == "relu"
    assert layers["fc1"]["activation"] == "relu"
    assert layers["fc2"]["activation"] == "linear"


class _TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Linear(4, 6)
        self.head_a = nn.Linear(6, 1)
        self.head_b = nn.Linear(6, 1)

    def forward(self, x):
        h = torch.relu(self.trunk(x))
        return self.head_a(h), self.head_b(h)


@pytest.mark.parametrize("extra_pass", ["after", "before"])
def test_backwardRows_comeFromTheOptimizersPass_notFromAGradientTermsPass(tmp_path, extra_pass):
    # GradNorm computes each task's gradient norm with autograd.grad(create_graph=True) after
    # loss.backward(); a gradient penalty does it before. Task b's norm sends a zero gradient back
    # through head_a; the backward rows must be loss.backward()'s, not that zero.
    torch.manual_seed(2)
    model = _TwoHeads()
    weights = torch.tensor([1.0, 0.5])
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    path = tmp_path / "run.csv"
    rec = dltrace.attach(model, str(path), optimizer=optimizer)
    seen = {}
    for _ in range(2):
        optimizer.zero_grad()
        a, b = model(x)
        a.register_hook(lambda g: seen.setdefault("a", []).append(g.detach().clone()))
        losses = torch.stack([F.mse_loss(a, y), F.mse_loss(b, y)])
        weighted = weights * losses

        def norm_of_b():
            (g,) = torch.autograd.grad(weighted[1], model.trunk.weight, retain_graph=True,
                                       create_graph=True)
            return g.norm()

        if extra_pass == "before":
            loss = weighted.sum() + 0.1 * norm_of_b()
            loss.backward()
        else:
            loss = weighted.sum()
            loss.backward(retain_graph=True)
            norm_of_b()
        optimizer.step()
        rec.step(loss)
    rec.close()
    rows, _ = read_trace(str(path))

    recorded = row_stats(find(rows, 1, "head_a", "backward"))
    assert recorded["zero_fraction"] == 0.0
    # the last step's passes over head_a's output: [norm's zero, backward] or [backward, zero]
    from_backward = seen["a"][-1] if extra_pass == "before" else seen["a"][-2]
    assert_stats_close(recorded, numpy_stats(from_backward.numpy()))



class SlotMixture(nn.Module):
    """One layer gives each slot's values and its mixing logit (Slot Attention's spatial
    broadcast decoder): the logits are softmaxed over the slots and weigh the values; the model
    returns the masks beside the mixture, for display."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Linear(4, 8)
        self.dec = nn.Linear(2, 4)

    def forward(self, x):
        slots = self.embed(x).view(-1, 4, 2)  # 4 slots of 2
        out = self.dec(slots)  # (batch, slots, 3 values + 1 logit)
        values, logits = out[..., :3], out[..., 3:]
        masks = logits.softmax(dim=1)
        return (values * masks).sum(1), masks


class TwoHeadsWithActivations(nn.Module):
    """A sigmoid head and a softplus head, both in the loss (a mean and a scale)."""

    def __init__(self):
        super().__init__()
        self.mean = nn.Linear(4, 3)
        self.scale = nn.Linear(4, 3)

    def forward(self, x):
        return torch.sigmoid(self.mean(x)), F.softplus(self.scale(x))


def _record(net, loss, path, steps=3):
    torch.manual_seed(0)
    x = torch.randn(6, 4)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    rec = dltrace.attach(net, str(path), optimizer=opt)
    for _ in range(steps):
        opt.zero_grad()
        value = loss(net(x), x)
        value.backward()
        opt.step()
        rec.step(value)
    rec.close()
    return read_parquet_trace(path)


def test_outputTheLossDoesNotUse_namesNoActivation(tmp_path):
    # The masks' softmax is returned for display only: dec stays linear, its activation rows
    # are its forward output at every step.
    torch.manual_seed(0)
    rows, meta = _record(SlotMixture(), lambda out, x: F.mse_loss(out[0], x[:, :3]),
                         tmp_path / "slots.parquet")
    assert {n: e["activation"] for n, e in _layers(meta).items()} == {
        "embed": "linear", "dec": "linear"}
    for step in range(3):
        assert row_stats(find(rows, step, "dec", "activation")) == row_stats(
            find(rows, step, "dec", "forward"))


def test_outputsTheLossUses_keepTheirActivations(tmp_path):
    torch.manual_seed(0)
    _, meta = _record(TwoHeadsWithActivations(),
                      lambda out, x: F.mse_loss(out[0], x[:, :3].sigmoid()) + out[1].mean(),
                      tmp_path / "heads.parquet")
    assert {n: e["activation"] for n, e in _layers(meta).items()} == {
        "mean": "sigmoid", "scale": "softplus"}
    # and the masks, when the loss reads them too, are dec's activation as before
    _, meta = _record(SlotMixture(),
                      lambda out, x: F.mse_loss(out[0], x[:, :3]) + out[1].var(),
                      tmp_path / "slots-used.parquet")
    assert _layers(meta)["dec"]["activation"] == "softmax"
