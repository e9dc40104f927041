"""SO 48385830 (DeepLocalize benchmark SO #1): MNIST MLP 784-30-10 without activations,
trained with MSE and SGD(lr=3). Ported to scikit-learn's 8x8 digits: 64-30-10.

Buggy: no activation functions, MSE on one-hot targets, SGD lr=3 -> the linear network's
outputs and gradients grow until the loss overflows to Inf and then NaN.
Fixed (the accepted answer): sigmoid hidden layer, softmax output, categorical cross-entropy.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import load_digits
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 48385830",
    "benchmark": "DeepLocalize SO #1",
    "buggy": {
        "symptom": "numerical_error",
        "acceptable_symptoms": ["exploding_gradient"],
        "root_cause": {"layer_name": "fc2", "layer_index": 1},
        "description": "64-30-10 MLP with no activation functions trained with MSE and SGD"
                       " lr=3: activations and gradients grow until the loss is Inf/NaN",
    },
    "fixed": {
        "description": "sigmoid after fc1, softmax output and categorical cross-entropy"
                       " (the accepted answer); SGD lr=3 kept",
    },
}


def build(fixed):
    digits = load_digits()
    x = common.tensor(digits.data / 16.0)
    y = common.one_hot(digits.target, 10)
    if fixed:
        model = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(64, 30)), ("sigmoid", nn.Sigmoid()),
            ("fc2", nn.Linear(30, 10)), ("softmax", nn.Softmax(dim=1))]))
        loss_fn, loss_name = common.keras_categorical_crossentropy, "categorical_crossentropy"
    else:
        model = nn.Sequential(OrderedDict([("fc1", nn.Linear(64, 30)), ("fc2", nn.Linear(30, 10))]))
        loss_fn, loss_name = nn.functional.mse_loss, "mse"
    opt = torch.optim.SGD(model.parameters(), lr=3.0)
    return common.Setup(model, x, y, loss_fn, opt, epochs=2, batch_size=10,
                        task="classification", loss_name=loss_name,
                        accuracy=common.argmax_accuracy, num_classes=10)


if __name__ == "__main__":
    common.main(build, "Mlp64-30-10")
