"""A small DenseNet for scikit-learn's 8x8 digits in the Keras 3 functional API: a stem
convolution, two dense blocks (each layer BatchNormalization -> ReLU -> 3x3 Conv2D, its output
``Concatenate``-d to everything before it), a transition (BatchNormalization, 1x1 Conv2D,
``AveragePooling2D``) between them, global average pooling and a softmax classifier.

Trained with ``SGD(momentum=0.9)`` on a ``PiecewiseConstantDecay`` schedule whose boundaries
are counted in optimizer steps, accumulating gradients over ``--accumulate`` batches
(``gradient_accumulation_steps``). Pixels (0..16) are divided by 16; a stratified fifth is the
validation set (``validation_data``). ``--bug`` selects the mistakes of the families in CASES;
others show in a setting (``--lr``, ``--accumulate``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def dense_block(keras, x, layers, growth, name):
    L = keras.layers
    for i in range(layers):
        y = L.BatchNormalization(momentum=0.9, name="%s_bn%d" % (name, i + 1))(x)
        y = L.Activation("relu")(y)
        y = L.Conv2D(growth, 3, padding="same", use_bias=False,
                     name="%s_conv%d" % (name, i + 1))(y)
        x = L.Concatenate()([x, y])
    return x


def transition(keras, x, filters, name):
    L = keras.layers
    x = L.BatchNormalization(momentum=0.9, name=name + "_bn")(x)
    x = L.Activation("relu")(x)
    x = L.Conv2D(filters, 1, use_bias=False, name=name + "_conv")(x)
    return L.AveragePooling2D(2)(x)


def build(keras, growth, logits):
    L = keras.layers
    inp = keras.Input(shape=(8, 8, 1))
    x = L.Conv2D(2 * growth, 3, padding="same", use_bias=False, name="stem")(inp)
    x = dense_block(keras, x, 3, growth, "block1")
    x = transition(keras, x, int(x.shape[-1]) // 2, "trans1")
    x = dense_block(keras, x, 3, growth, "block2")
    x = L.BatchNormalization(momentum=0.9, name="final_bn")(x)
    x = L.Activation("relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    # BUG (logits-default-loss): the classifier returns logits ...
    out = L.Dense(10, activation=None if logits else "softmax", name="classifier")(x)
    return keras.Model(inp, out, name="densenet_digits")


def main():
    p = common.parser(__doc__)
    p.add_argument("--growth", type=int, default=8)
    p.add_argument("--lr", type=float, default=0.05, help="the schedule's first value")
    p.add_argument("--accumulate", type=int, default=2,
                   help="the optimizer's gradient_accumulation_steps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None, choices=("logits-default-loss",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int32")
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, stratify=y,
                                                      random_state=args.seed)

    model = build(keras, args.growth, logits=args.bug == "logits-default-loss")
    steps_per_epoch = -(-len(X_train) // args.batch_size)
    updates_per_epoch = max(1, steps_per_epoch // args.accumulate)
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[5 * updates_per_epoch, 9 * updates_per_epoch],
        values=[args.lr, args.lr / 5, args.lr / 25])
    optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9,
                                     gradient_accumulation_steps=args.accumulate
                                     if args.accumulate > 1 else None)
    # ... and the loss still expects probabilities (from_logits=False, the default)
    model.compile(optimizer=optimizer,
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"])
    history = model.fit(X_train, y_train, validation_data=(X_val, y_val),
                        batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
                        verbose=0, callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %2d  loss %.4f acc %.3f  val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = steps_per_epoch * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdensedig-logits-default-loss", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): Dense(10) without softmax under "
               "SparseCategoricalCrossentropy() ('accuracy stuck at 10%'); Humbatova et al. "
               "2020: wrong loss function (from_logits)",
     "bug": "the classifier returns logits while the loss keeps from_logits=False: Keras "
            "clips and renormalizes the raw outputs as probabilities, the loss goes 3.72 -> "
            "5.25 while the accuracy stays at 0.10 and the validation accuracy at 0.100 for all "
            "12 epochs (the twin: loss 2.13 -> 0.309, validation accuracy 0.967)",
     "fix": "Dense(10, activation='softmax') (or from_logits=True)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-lr0.05-acc2",
          "buggy": "--bug logits-default-loss --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kdensedig-accumulation-steps-as-batch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong optimizer argument (gradient_accumulation_steps "
               "given the wanted effective batch size, 256, instead of the number of batches); "
               "DeepDiagnosis: weights not updated",
     "bug": "SGD(gradient_accumulation_steps=256) with 23 batches of 64 per epoch: the "
            "weights are never updated in the 276 steps of 12 epochs (only BatchNorm's moving "
            "statistics move), the loss stays at 2.358 -> 2.357 and the validation accuracy at "
            "0.169 (the twin accumulating 2 batches: validation accuracy about 0.97)",
     "fix": "gradient_accumulation_steps=2",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--accumulate 256 --seed 1 --record-every 4",
          "fixed": "--accumulate 2 --seed 1 --record-every 4"},
     ]},
    {"family": "kdensedig-sgd-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low "
               "(PiecewiseConstantDecay values starting at 2e-4)",
     "bug": "the schedule starts at 2e-4 (and decays to 8e-6): in 12 epochs the loss falls "
            "only from 2.377 to 2.335 and the validation accuracy ends at 0.131 (the twin "
            "starting at 0.05: loss 2.106 -> 0.311, validation accuracy 0.958)",
     "fix": "PiecewiseConstantDecay values [0.05, 0.01, 0.002]",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--lr 2e-4 --seed 3 --record-every 4",
          "fixed": "--lr 0.05 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kdensedig", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small DenseNet on the digits with SGD momentum, a piecewise-constant "
                    "schedule and gradient accumulation that trains well",
     "healthy": [
         {"id": "growth12-acc1-seed2",
          "args": "--growth 12 --accumulate 1 --seed 2 --record-every 4",
          "description": "growth 12, no accumulation"},
         {"id": "lr0.08-seed4",
          "args": "--lr 0.08 --seed 4 --record-every 4",
          "description": "schedule from 0.08, accumulating 2 batches"},
     ]},
]


if __name__ == "__main__":
    main()
