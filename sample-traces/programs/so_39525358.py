"""SO 39525358 (DeepLocalize benchmark SO #11): binary classifier on a tabular CSV whose
features were fed unscaled. Ported to scikit-learn's breast-cancer data (features up to ~4000).

Buggy: the unscaled features (area in the thousands) make every layer's outputs huge; after
one SGD update the sigmoid output is saturated at exactly 1.0 for every sample, all gradients
are zero from then on, the weights freeze and the accuracy stays at the majority class.
Fixed (the accepted answer): StandardScaler on the inputs.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 39525358",
    "benchmark": "DeepLocalize SO #11",
    "buggy": {
        "symptom": "saturation",
        "acceptable_symptoms": ["dead_or_zero", "unchanged_values", "not_learning"],
        "root_cause": "model",
        "description": "unscaled tabular inputs (values up to ~4000): pre-activations in the"
                       " thousands saturate the sigmoid output at 1.0, gradients are exactly"
                       " zero and the weights freeze after the first update",
    },
    "fixed": {"description": "inputs standardized (StandardScaler) before training"},
}


def build(fixed):
    data = load_breast_cancer()
    x = common.tensor(common.standardize(data.data) if fixed else data.data)
    y = common.tensor(data.target).reshape(-1, 1)
    model = nn.Sequential(OrderedDict([
        ("dense1", nn.Linear(30, 32)), ("relu1", nn.ReLU()),
        ("dense2", nn.Linear(32, 16)), ("relu2", nn.ReLU()),
        ("dense3", nn.Linear(16, 1)), ("sigmoid", nn.Sigmoid())]))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    return common.Setup(model, x, y, nn.functional.binary_cross_entropy, opt, epochs=10,
                        batch_size=16, task="classification", loss_name="binary_crossentropy",
                        accuracy=common.threshold_accuracy, num_classes=2)


if __name__ == "__main__":
    common.main(build, "TabularMlp")
