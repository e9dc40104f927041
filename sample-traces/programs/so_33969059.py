"""SO 33969059 (DeepLocalize benchmark SO #7): linear regression on synthetic data with a
Dense(1, activation='softmax') output. Ported with make_regression.

Buggy: Linear(16, 1) followed by Softmax over the single unit: the prediction is the
constant 1.0, the gradient through the softmax is exactly zero and nothing is learned (the
MSE stays at the targets' variance).
Fixed (the accepted answer): a linear output.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import make_regression
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 33969059",
    "benchmark": "DeepLocalize SO #7",
    "buggy": {
        "symptom": "dead_or_zero",
        "acceptable_symptoms": ["unchanged_values", "not_learning", "vanishing_gradient"],
        "root_cause": {"layer_name": "out", "layer_index": 1},
        "description": "regression with softmax on its single output unit: the prediction is"
                       " always 1.0, all gradients are zero, the loss never moves",
    },
    "fixed": {"description": "linear output (no softmax) for the regression"},
}


def build(fixed):
    x, y = make_regression(n_samples=600, n_features=8, noise=5.0,
                           random_state=common.SEED % 2**31)
    x = common.tensor(common.standardize(x))
    y = common.tensor(y / y.std()).reshape(-1, 1)
    layers = [("hidden", nn.Linear(8, 16)), ("relu", nn.ReLU()), ("out", nn.Linear(16, 1))]
    if not fixed:
        layers.append(("softmax", nn.Softmax(dim=1)))
    model = nn.Sequential(OrderedDict(layers))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    return common.Setup(model, x, y, nn.functional.mse_loss, opt, epochs=10, batch_size=20,
                        task="regression", loss_name="mse")


if __name__ == "__main__":
    common.main(build, "LinearRegressionMlp")
