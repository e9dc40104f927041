"""SO 59325381 (DeepLocalize benchmark SO #15): MNIST CNN where the labels were divided by 255
together with the pixels, then trained with sparse categorical cross-entropy. Ported to the
8x8 digits with a LeNet-like CNN.

Buggy: labels / 255 truncate to class 0 for every sample, so the network learns to always
answer 0: the training loss goes to ~0 while the accuracy on the true labels stays at ~10%.
Fixed (the accepted answer): only the pixels are scaled; the labels stay 0..9.
"""

import torch
from torch import nn

import common

CASES = {
    "origin": "Stack Overflow 59325381",
    "benchmark": "DeepLocalize SO #15",
    "buggy": {
        "symptom": "not_learning",
        "acceptable_symptoms": ["unchanged_values"],
        "root_cause": "model",
        "description": "labels divided by 255 become all 0: the loss falls to ~0 but the"
                       " accuracy on the real labels stays at chance (~10%)",
    },
    "fixed": {"description": "labels left as 0..9 (only the pixels are scaled)"},
}


def build(fixed):
    x, labels = common.digits_images()
    y = labels if fixed else (labels.float() / 255.0).long()
    model = common.small_cnn(None)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    return common.Setup(model, x, y, nn.functional.cross_entropy, opt, epochs=3,
                        batch_size=32, task="classification",
                        loss_name="sparse_categorical_crossentropy",
                        accuracy=common.argmax_accuracy, num_classes=10, accuracy_target=labels)


if __name__ == "__main__":
    common.main(build, "DigitsCnn")
