"""SO 55328966 (DeepLocalize benchmark SO #8): MNIST (from CSV) MLP without the /255 scaling
and with a sigmoid output. Ported to the 8x8 digits rescaled to MNIST's 0..255 pixel range.

Buggy: raw 0..255 pixels into a ReLU hidden layer make its outputs huge; the sigmoid output
units saturate at 0 or 1 (pre-activations in the hundreds), their gradient vanishes and the
accuracy stays low. DeepLocalize missed this case.
Fixed (the accepted answer): pixels divided by 255 and a softmax output.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import load_digits
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 55328966",
    "benchmark": "DeepLocalize SO #8",
    "buggy": {
        "symptom": "saturation",
        "acceptable_symptoms": ["not_learning", "vanishing_gradient", "slow_convergence"],
        "root_cause": "model",
        "description": "unscaled 0..255 pixels and a sigmoid output layer: the sigmoid units"
                       " saturate, gradients vanish, accuracy stays low",
    },
    "fixed": {"description": "inputs divided by 255 and a softmax output layer"},
}


def build(fixed):
    digits = load_digits()
    pixels = digits.data * (255.0 / 16.0)
    x = common.tensor(pixels / 255.0 if fixed else pixels)
    y = common.one_hot(digits.target, 10)
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(64, 64)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(64, 32)), ("relu2", nn.ReLU()),
        ("out", nn.Linear(32, 10)),
        ("softmax", nn.Softmax(dim=1)) if fixed else ("sigmoid", nn.Sigmoid())]))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return common.Setup(model, x, y, common.keras_categorical_crossentropy, opt, epochs=3,
                        batch_size=16, task="classification", loss_name="categorical_crossentropy",
                        accuracy=common.argmax_accuracy, num_classes=10)


if __name__ == "__main__":
    common.main(build, "DigitsMlp")
