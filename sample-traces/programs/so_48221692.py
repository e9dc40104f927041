"""SO 48221692 (DeepLocalize benchmark SO #20): linear regression from a CSV with a sigmoid
on the output unit. Ported to scikit-learn's diabetes data (targets 25..346).

Buggy: a sigmoid output can only produce values in (0, 1) while the targets are in the
hundreds: the output saturates at 1.0, its gradient vanishes and the MSE stays at ~2.9e4.
Fixed (the accepted answer): a linear output unit.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import load_diabetes
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 48221692",
    "benchmark": "DeepLocalize SO #20",
    "buggy": {
        "symptom": "saturation",
        "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values",
                                "dead_or_zero"],
        "root_cause": {"layer_name": "dense2", "layer_index": 1},
        "description": "sigmoid output for targets in the hundreds: the output saturates at"
                       " 1.0 and the loss never falls",
    },
    "fixed": {"description": "linear output unit instead of sigmoid"},
}


def build(fixed):
    data = load_diabetes()
    x = common.tensor(common.standardize(data.data))
    y = common.tensor(data.target).reshape(-1, 1)
    layers = [("dense1", nn.Linear(10, 16)), ("relu", nn.ReLU()), ("dense2", nn.Linear(16, 1))]
    if not fixed:
        layers.append(("sigmoid", nn.Sigmoid()))
    model = nn.Sequential(OrderedDict(layers))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    return common.Setup(model, x, y, nn.functional.mse_loss, opt, epochs=15, batch_size=20,
                        task="regression", loss_name="mse")


if __name__ == "__main__":
    common.main(build, "DiabetesRegression")
