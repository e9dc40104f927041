"""A layer pruned with ``torch.nn.utils.prune`` keeps its trained weight as ``weight_orig`` and
a ``weight_mask`` buffer, and computes with their product: its weight rows describe that
product, its name and type stay those of the layer the user wrote."""

import json

import torch
from torch import nn
from torch.nn.utils import prune

from conftest import assert_stats_close, find, numpy_stats, read_parquet_trace, row_stats

import dltrace.pytorch as dltrace


def test_iterativelyPrunedLinear_weightRowsAreTheMaskedWeight(tmp_path):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    path = tmp_path / "pruned.parquet"
    g = torch.Generator().manual_seed(0)
    expected = []
    with dltrace.attach(model, str(path), optimizer=optimizer, task="classification",
                        flush_every=1) as rec:
        for step in range(4):
            x = torch.randn(20, 6, generator=g)
            y = torch.randint(0, 3, (20,), generator=g)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            rec.step(loss, inputs=x, targets=y)
            first = model[0]
            if prune.is_pruned(first):
                effective = (first.weight_orig * first.weight_mask).detach()
            else:
                effective = first.weight.detach()
            expected.append(effective.to(torch.float64).numpy().copy())
            # pruned after every step, as iterative magnitude pruning does after every epoch
            prune.global_unstructured([(model[0], "weight"), (model[2], "weight")],
                                      pruning_method=prune.L1Unstructured, amount=0.3)
    rows, meta = read_parquet_trace(path)
    layers = json.loads(meta["dltrace.layers"])
    assert [(l["name"], l["type"], l["params"]) for l in layers] == [
        ("sequential.0", "Linear", 6 * 16 + 16), ("sequential.2", "Linear", 16 * 3 + 3)]
    for step in range(1, 4):
        reference = numpy_stats(expected[step])
        assert reference["zero_fraction"] > 0.2  # the pruned weights are zeros
        assert_stats_close(row_stats(find(rows, step, "sequential.0", "weight")), reference,
                           "step %d pruned weight" % step)
