"""Exploding gradients: a 6-layer ReLU MLP initialized with N(0, 0.8) weights (instead of
He scaling, std sqrt(2 / fan_in) ~ 0.25) on scikit-learn's wine data, SGD with momentum.

Buggy: every layer multiplies the signal by about 0.8 * sqrt(fan_in / 2) ~ 3, so the initial
loss is ~1000 and the weight gradients' L2 norms are in the hundreds; each momentum step
makes them larger (471 -> 2e3 -> 5e5 -> 3e12 for fc1 in six steps) until the loss overflows
to Inf and NaN at step 7.
Fixed (healthy twin): He (Kaiming-normal) initialization, same optimizer.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import load_wine
from torch import nn

import common

CASES = {
    "origin": "generated (exploding gradient)",
    "benchmark": "symptom class: exploding gradient",
    "buggy": {
        "symptom": "exploding_gradient",
        "acceptable_symptoms": ["numerical_error"],
        "root_cause": "model",
        "description": "weights initialized N(0, 0.8) in a 6-layer ReLU MLP: activations grow"
                       " ~3x per layer, gradient norms grow every step (471 -> 3e12 in six"
                       " steps) and the loss diverges to Inf/NaN",
    },
    "fixed": {"description": "He (Kaiming-normal) initialization instead of N(0, 0.8)"},
}


def build(fixed):
    data = load_wine()
    x = common.tensor(common.standardize(data.data))
    y = torch.as_tensor(data.target, dtype=torch.long)
    layers = [("fc1", nn.Linear(13, 32)), ("relu1", nn.ReLU())]
    for i in range(2, 6):
        layers += [("fc%d" % i, nn.Linear(32, 32)), ("relu%d" % i, nn.ReLU())]
    layers.append(("fc6", nn.Linear(32, 3)))
    model = nn.Sequential(OrderedDict(layers))
    with torch.no_grad():
        for module in model:
            if isinstance(module, nn.Linear):
                if fixed:
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                    module.bias.zero_()
                else:
                    module.weight.normal_(0.0, 0.8)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return common.Setup(model, x, y, nn.functional.cross_entropy, opt, epochs=20,
                        batch_size=16, task="classification", loss_name="cross_entropy",
                        accuracy=common.argmax_accuracy, num_classes=3)


if __name__ == "__main__":
    common.main(build, "DeepReluMlp")
