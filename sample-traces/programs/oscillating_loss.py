"""Oscillating loss: SGD with momentum 0.99 and a large learning rate on scikit-learn's
breast-cancer data (standardized). The update overshoots the minimum back and forth: the
loss swings up and down by large factors from batch to batch instead of settling (the
"oscillating loss" symptom of AUTOTRAINER and TheDeepChecker).

Buggy: lr=0.5, momentum 0.99.
Fixed (healthy twin): lr=0.01, momentum 0.9.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

import common

CASES = {
    "origin": "generated (oscillating loss)",
    "benchmark": "symptom class: oscillating loss",
    "buggy": {
        "symptom": "oscillation",
        "acceptable_symptoms": ["not_learning", "exploding_gradient", "slow_convergence"],
        "root_cause": "model",
        "description": "SGD lr=0.5 with momentum 0.99: updates overshoot and the loss swings"
                       " up and down instead of converging",
    },
    "fixed": {"description": "lr 0.5 -> 0.01 and momentum 0.99 -> 0.9"},
}


def build(fixed):
    data = load_breast_cancer()
    x = common.tensor(common.standardize(data.data))
    y = torch.as_tensor(data.target, dtype=torch.long)
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(30, 32)), ("tanh1", nn.Tanh()),
        ("fc2", nn.Linear(32, 16)), ("tanh2", nn.Tanh()),
        ("fc3", nn.Linear(16, 2))]))
    if fixed:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.99)
    return common.Setup(model, x, y, nn.functional.cross_entropy, opt, epochs=10,
                        batch_size=20, task="classification", loss_name="cross_entropy",
                        accuracy=common.argmax_accuracy, num_classes=2)


if __name__ == "__main__":
    common.main(build, "OscillatingMlp")
