"""SO 48251943 (DeepLocalize benchmark SO #5): regression MLP whose targets lie in [-1, 1]
but whose output layer uses ReLU. Ported with make_regression (targets scaled to [-1, 1]).

Buggy: ReLU on the output unit: it cannot produce the negative half of the targets, the
gradient pushes its pre-activation below zero, the output unit dies (all zeros, zero
gradient) and the loss freezes. DeepLocalize missed this case.
Fixed (the accepted answer): tanh on the output.
"""

from collections import OrderedDict

import numpy as np
import torch
from sklearn.datasets import make_regression
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 48251943",
    "benchmark": "DeepLocalize SO #5",
    "buggy": {
        "symptom": "dead_or_zero",
        "acceptable_symptoms": ["not_learning", "unchanged_values"],
        "root_cause": {"layer_name": "out", "layer_index": 2},
        "description": "ReLU on the output of a regression whose targets lie in [-1, 1]: the"
                       " output unit dies (always 0) and the loss stops moving",
    },
    "fixed": {"description": "tanh instead of ReLU on the output unit"},
}


def build(fixed):
    x, y = make_regression(n_samples=800, n_features=10, noise=2.0, bias=-40.0,
                           random_state=common.SEED % 2**31)
    x = common.tensor(common.standardize(x))
    y = common.tensor(np.clip(y / np.abs(y).max(), -1, 1)).reshape(-1, 1)
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(10, 32)), ("tanh1", nn.Tanh()),
        ("fc2", nn.Linear(32, 16)), ("tanh2", nn.Tanh()),
        ("out", nn.Linear(16, 1)),
        ("tanh", nn.Tanh()) if fixed else ("relu", nn.ReLU())]))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return common.Setup(model, x, y, nn.functional.mse_loss, opt, epochs=10, batch_size=32,
                        task="regression", loss_name="mse")


if __name__ == "__main__":
    common.main(build, "RegressionMlp")
