"""Dying ReLU: a ReLU MLP on make_classification trained with a learning rate far too high
for it (SGD lr=2). The classic failure described for ReLU networks: one large update pushes
the hidden units' biases so negative that they output 0 for every input, from then on their
gradient is 0 and they never recover.

Buggy: the large updates kill fc2's ReLU units one after the other: its zero_fraction climbs
from 0.48 to 0.9995 (one live unit out of 64 by the end), the gradients through it vanish and
the loss stays near ln 4 with accuracy near chance.
Fixed (healthy twin): SGD lr=0.05.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import make_classification
from torch import nn

import common

CASES = {
    "origin": "generated (dying ReLU)",
    "benchmark": "symptom class: dying ReLU",
    "buggy": {
        "symptom": "dead_or_zero",
        "acceptable_symptoms": ["not_learning", "unchanged_values", "vanishing_gradient"],
        "root_cause": {"layer_name": "fc2", "layer_index": 1},
        "description": "SGD lr=2 on a ReLU MLP: large updates kill fc2's ReLU units (zero"
                       " fraction 0.48 -> 0.9995), gradients through it vanish, the loss is stuck",
    },
    "fixed": {"description": "learning rate lowered from 2 to 0.05"},
}


def build(fixed):
    x, y = make_classification(n_samples=1000, n_features=20, n_informative=10, n_classes=4,
                               n_clusters_per_class=1, random_state=common.SEED % 2**31)
    x = common.tensor(common.standardize(x))
    y = torch.as_tensor(y, dtype=torch.long)
    model = nn.Sequential(OrderedDict([
        ("fc1", nn.Linear(20, 64)), ("relu1", nn.ReLU()),
        ("fc2", nn.Linear(64, 64)), ("relu2", nn.ReLU()),
        ("fc3", nn.Linear(64, 4))]))
    opt = torch.optim.SGD(model.parameters(), lr=0.05 if fixed else 2.0)
    return common.Setup(model, x, y, nn.functional.cross_entropy, opt, epochs=8,
                        batch_size=32, task="classification", loss_name="cross_entropy",
                        accuracy=common.argmax_accuracy, num_classes=4)


if __name__ == "__main__":
    common.main(build, "ReluMlp")
