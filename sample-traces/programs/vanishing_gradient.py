"""Vanishing gradients (the bug of SO 39217567, DeepLocalize benchmark SO #12: a deep
sigmoid MLP that does not learn; the fix was ReLU hidden units). A 10-layer sigmoid MLP on
make_moons.

Buggy: ten stacked sigmoids each scale the backward signal by at most 1/4; the first layers'
gradients are ~1e-7 of the last layer's, they never move, and the loss stays at ln 2.
Fixed (healthy twin): ReLU hidden units (the accepted answer) with He initialization (so
the ten ReLU layers keep the signal's scale), same depth and optimizer.
"""

from collections import OrderedDict

import torch
from sklearn.datasets import make_moons
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 39217567",
    "benchmark": "DeepLocalize SO #12 / symptom class: vanishing gradient",
    "buggy": {
        "symptom": "vanishing_gradient",
        "acceptable_symptoms": ["not_learning", "slow_convergence", "saturation",
                                "unchanged_values"],
        "root_cause": {"layer_name": "fc1", "layer_index": 0},
        "description": "10 stacked sigmoid layers: the gradient shrinks ~4x per layer, the"
                       " first layers' gradients are ~1e-7 and the loss stays at ln 2",
    },
    "fixed": {"description": "ReLU instead of sigmoid in the hidden layers, He initialization"},
}


def build(fixed):
    x, y = make_moons(n_samples=800, noise=0.15, random_state=common.SEED % 2**31)
    x = common.tensor(common.standardize(x))
    y = common.tensor(y).reshape(-1, 1)
    act = nn.ReLU if fixed else nn.Sigmoid
    layers = [("fc1", nn.Linear(2, 16)), ("act1", act())]
    for i in range(2, 10):
        layers += [("fc%d" % i, nn.Linear(16, 16)), ("act%d" % i, act())]
    layers += [("fc10", nn.Linear(16, 1)), ("sigmoid", nn.Sigmoid())]
    model = nn.Sequential(OrderedDict(layers))
    if fixed:
        with torch.no_grad():
            for module in model:
                if isinstance(module, nn.Linear) and module.out_features > 1:
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                    module.bias.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return common.Setup(model, x, y, nn.functional.binary_cross_entropy, opt, epochs=10,
                        batch_size=32, task="classification", loss_name="binary_crossentropy",
                        accuracy=common.threshold_accuracy, num_classes=2)


if __name__ == "__main__":
    common.main(build, "DeepMoonsMlp")
