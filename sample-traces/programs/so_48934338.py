"""SO 48934338 (DeepLocalize benchmark SO #13): MLP regression of a quadratic function,
trained with SGD at lr=0.1. Ported with generated data y = x1^2 + x2^2 + noise.

Buggy: SGD with lr=0.1 on MSE with targets up to ~50: the updates overshoot, weights and
gradients grow every step and the loss reaches Inf and then NaN.
Fixed (the accepted answer): SGD with lr=0.001.
"""

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 48934338",
    "benchmark": "DeepLocalize SO #13",
    "buggy": {
        "symptom": "numerical_error",
        "acceptable_symptoms": ["exploding_gradient"],
        "root_cause": "model",
        "description": "learning rate 0.1 too high for the regression: gradients grow every"
                       " step until the loss overflows to Inf and NaN",
    },
    "fixed": {"description": "SGD learning rate lowered from 0.1 to 0.001"},
}


def build(fixed):
    rng = np.random.default_rng(common.SEED)
    x = rng.uniform(-5, 5, size=(500, 2))
    y = (x ** 2).sum(axis=1, keepdims=True) + rng.normal(0, 0.5, size=(500, 1))
    model = nn.Sequential(OrderedDict([
        ("dense1", nn.Linear(2, 32)), ("relu1", nn.ReLU()),
        ("dense2", nn.Linear(32, 32)), ("relu2", nn.ReLU()),
        ("dense3", nn.Linear(32, 1))]))
    opt = torch.optim.SGD(model.parameters(), lr=0.001 if fixed else 0.1)
    return common.Setup(model, common.tensor(x), common.tensor(y), nn.functional.mse_loss, opt,
                        epochs=12, batch_size=25, task="regression", loss_name="mse")


if __name__ == "__main__":
    common.main(build, "QuadraticRegressionMlp")
