"""SO 31880720 (DeepLocalize benchmark SO #10): binary classifier on 128-d synthetic data
whose output layer is Dense(1) with softmax. Ported with make_classification (128 features).

Buggy: the output is Linear(64, 1) followed by Softmax over that single unit: the output is
exactly 1.0 for every sample, its Jacobian is 0, so every gradient is exactly zero, no weight
ever moves and the loss only reflects the label mix of each batch.
Fixed (the accepted answer): sigmoid on the single output unit.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import make_classification
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 31880720",
    "benchmark": "DeepLocalize SO #10",
    "buggy": {
        "symptom": "dead_or_zero",
        "acceptable_symptoms": ["unchanged_values", "not_learning", "vanishing_gradient"],
        "root_cause": {"layer_name": "out", "layer_index": 2},
        "description": "softmax on a single output unit: the output is always 1.0, every"
                       " gradient is exactly zero and the weights never change",
    },
    "fixed": {"description": "sigmoid instead of softmax on the single output unit"},
}


def build(fixed):
    x, y = make_classification(n_samples=1000, n_features=128, n_informative=16,
                               random_state=common.SEED % 2**31)
    x = common.tensor(common.standardize(x))
    y = common.tensor(y).reshape(-1, 1)
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(128, 64)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(64, 64)), ("relu2", nn.ReLU()),
        ("out", nn.Linear(64, 1)),
        ("sigmoid", nn.Sigmoid()) if fixed else ("softmax", nn.Softmax(dim=1))]))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return common.Setup(model, x, y, common.keras_binary_crossentropy, opt, epochs=8,
                        batch_size=32, task="classification", loss_name="binary_crossentropy",
                        accuracy=common.threshold_accuracy, num_classes=2)


if __name__ == "__main__":
    common.main(build, "BinaryMlp128")
