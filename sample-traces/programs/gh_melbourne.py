"""GitHub yetanotherdeveloper/kaggle-melbourne_properties (DeepLocalize benchmark GH #7): a
house-price regression MLP with tanh units all the way to the output; the fix made the
architecture linear at the output (and added L1). Ported to scikit-learn's diabetes data,
targets in hundreds (0.25..3.46, like prices in units of 100k).

Buggy: tanh on the output unit caps predictions at 1 while most targets are above 1: the
output pre-activation is driven far into the flat part of the tanh (saturated at 1.0), its
gradient vanishes and the loss plateaus well above the fixed run's.
Fixed (the repository's fix): linear output unit.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import load_diabetes
from torch import nn

import common

CASES = {
    "origin": "GitHub yetanotherdeveloper/kaggle-melbourne_properties",
    "benchmark": "DeepLocalize GH #7",
    "buggy": {
        "symptom": "saturation",
        "acceptable_symptoms": ["not_learning", "slow_convergence", "vanishing_gradient"],
        "root_cause": {"layer_name": "out", "layer_index": 2},
        "description": "tanh on the regression output caps predictions at 1 for targets up"
                       " to 3.5: the output saturates at 1.0 and the loss plateaus",
    },
    "fixed": {"description": "linear output unit instead of tanh"},
}


def build(fixed):
    data = load_diabetes()
    x = common.tensor(common.standardize(data.data))
    y = common.tensor(data.target / 100.0).reshape(-1, 1)
    model = nn.Sequential(OrderedDict([
        ("dense1", nn.Linear(10, 32)), ("tanh1", nn.Tanh()),
        ("dense2", nn.Linear(32, 16)), ("tanh2", nn.Tanh()),
        ("out", nn.Linear(16, 1))] + ([] if fixed else [("tanh3", nn.Tanh())])))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return common.Setup(model, x, y, nn.functional.mse_loss, opt, epochs=15, batch_size=20,
                        task="regression", loss_name="mse")


if __name__ == "__main__":
    common.main(build, "HousingRegression")
