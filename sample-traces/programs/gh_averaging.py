"""GitHub vincenty2022/Averaging_Neural_Networks (DeepLocalize benchmark GH #11): a toy
regression whose network lacked the hidden Dense(2, relu) layer, so it was a linear model
asked to fit a non-linear target. Ported with generated data y = |x1| + |x2|.

Buggy: no hidden layer: the best linear fit of |x1| + |x2| is a constant, the loss stops at
the target variance after a few steps and never improves.
Fixed (the repository's fix): the hidden ReLU layer restored (widened to 16 units so the
seeded run fits reliably).
"""

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

import common

CASES = {
    "origin": "GitHub vincenty2022/Averaging_Neural_Networks",
    "benchmark": "DeepLocalize GH #11",
    "buggy": {
        "symptom": "not_learning",
        "acceptable_symptoms": ["slow_convergence", "unchanged_values"],
        "root_cause": "model",
        "description": "missing hidden layer: a linear model cannot fit |x1| + |x2|, the loss"
                       " plateaus at the target variance",
    },
    "fixed": {"description": "hidden ReLU layer added between input and output"},
}


def build(fixed):
    rng = np.random.default_rng(common.SEED)
    x = rng.uniform(-1, 1, size=(640, 2))
    y = np.abs(x).sum(axis=1, keepdims=True)
    if fixed:
        model = nn.Sequential(OrderedDict([
            ("hidden", nn.Linear(2, 16)), ("relu", nn.ReLU()), ("out", nn.Linear(16, 1))]))
    else:
        model = nn.Sequential(OrderedDict([("out", nn.Linear(2, 1))]))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    return common.Setup(model, common.tensor(x), common.tensor(y), nn.functional.mse_loss, opt,
                        epochs=15, batch_size=32, task="regression", loss_name="mse")


if __name__ == "__main__":
    common.main(build, "AveragingRegression")
