"""SO 47352366 (DeepLocalize benchmark SO #25): MNIST CNN whose output layer is
Dense(10, activation='relu') trained with categorical cross-entropy; the loss turns NaN.
Ported to the 8x8 digits with a LeNet-like CNN.

Buggy: ReLU on the 10 output units. Categorical cross-entropy normalizes the outputs by
their sum; as soon as all 10 ReLU outputs of a sample are 0 the normalization is 0/0 and the
loss is NaN, which then spreads to every weight.
Fixed (the accepted answer): softmax on the output layer.
"""

import torch
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 47352366",
    "benchmark": "DeepLocalize SO #25",
    "buggy": {
        "symptom": "numerical_error",
        "acceptable_symptoms": ["dead_or_zero"],
        "root_cause": {"layer_name": "dense2", "layer_index": 3},
        "description": "ReLU on the 10-way output layer with categorical cross-entropy: a"
                       " sample whose 10 outputs are all 0 gives 0/0 = NaN loss",
    },
    "fixed": {"description": "softmax instead of ReLU on the output layer"},
}


def build(fixed):
    x, labels = common.digits_images()
    y = common.one_hot(labels, 10)
    model = common.small_cnn(("softmax", nn.Softmax(dim=1)) if fixed else ("relu4", nn.ReLU()))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    return common.Setup(model, x, y, common.keras_categorical_crossentropy, opt, epochs=3,
                        batch_size=32, task="classification",
                        loss_name="categorical_crossentropy",
                        accuracy=common.argmax_accuracy, num_classes=10)


if __name__ == "__main__":
    common.main(build, "DigitsCnn")
