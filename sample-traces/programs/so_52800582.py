"""SO 52800582 (DeepLocalize benchmark SO #17): MLP fitting y = x^4 with x and y unscaled.
Ported with generated data, x in [0, 10] so y reaches 10^4.

Buggy: targets up to 10^4 and inputs up to 10 give MSE gradients in the millions; the first
SGD steps send the weights to huge values and the run ends in Inf/NaN.
Fixed (the accepted answer): x and y scaled to [0, 1] before training.
"""

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 52800582",
    "benchmark": "DeepLocalize SO #17",
    "buggy": {
        "symptom": "numerical_error",
        "acceptable_symptoms": ["exploding_gradient"],
        "root_cause": "model",
        "description": "unscaled x in [0, 10] and y = x^4 up to 10^4: MSE gradients in the"
                       " millions blow the weights up, the loss turns Inf/NaN",
    },
    "fixed": {"description": "x divided by 10 and y by 10^4 (both scaled to [0, 1])"},
}


def build(fixed):
    x = np.linspace(0, 10, 400).reshape(-1, 1)
    y = x ** 4
    if fixed:
        x, y = x / 10.0, y / 1e4
    model = nn.Sequential(OrderedDict([
        ("dense1", nn.Linear(1, 40)), ("relu1", nn.ReLU()),
        ("dense2", nn.Linear(40, 12)), ("relu2", nn.ReLU()),
        ("dense3", nn.Linear(12, 1))]))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return common.Setup(model, common.tensor(x), common.tensor(y), nn.functional.mse_loss, opt,
                        epochs=20, batch_size=32, task="regression", loss_name="mse")


if __name__ == "__main__":
    common.main(build, "PowerRegressionMlp")
