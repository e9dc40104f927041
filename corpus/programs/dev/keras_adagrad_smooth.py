"""A Keras 3 multi-class classifier of scikit-learn's bundled wine or digits data with one-hot
targets (``keras.utils.to_categorical``), ``CategoricalCrossentropy(label_smoothing=...)``,
``keras.optimizers.Adagrad``, ``Dropout`` and ``kernel_constraint=MaxNorm(3)``, written as a
Keras-docs-style script: the layers listed in ``Sequential([...])``, a shuffle of the numpy
arrays before the split and an explicit ``validation_data``.

Data (``--data``): ``wine`` (178 samples, 13 measurements in their own units, 3 classes) or
``digits`` (1797 8x8 images, pixels 0..16, 10 classes). The samples are shuffled with one
permutation, the last 20% held out for validation, the features standardized with the
training mean and standard deviation (``--bug raw-features``: left in their units). The model:
``Dense(--hidden, relu, kernel_constraint=MaxNorm(3))`` (``hidden_1``), ``Dropout``,
``Dense(--hidden // 2, relu, kernel_constraint=MaxNorm(3))`` (``hidden_2``), ``Dropout``,
``Dense(classes, softmax)`` (``probs``). The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="digits", choices=("wine", "digits"))
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--smoothing", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=0.05,
                   help="Adagrad's learning rate; 'default' leaves Keras's 0.001")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("raw-features", "bce-ten-classes", "mse-softmax", "labels-not-shuffled",
                            "default-lr"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from keras.constraints import MaxNorm
    from keras.utils import to_categorical

    X, y = common.load(args.data)
    classes = int(y.max()) + 1
    perm = np.random.default_rng(args.seed).permutation(len(X))
    X = X[perm]
    # BUG (labels-not-shuffled): the features are permuted but the labels are not.
    if args.bug != "labels-not-shuffled":
        y = y[perm]
    Y = to_categorical(y, num_classes=classes)
    n_val = len(X) // 5
    x_train, x_val = X[:-n_val], X[-n_val:]
    y_train, y_val = Y[:-n_val], Y[-n_val:]
    # BUG (raw-features): no standardization, the measurements go in their own units.
    if args.bug != "raw-features":
        mean, std = x_train.mean(0), x_train.std(0)
        std[std == 0] = 1.0
        x_train, x_val = (x_train - mean) / std, (x_val - mean) / std
    x_train, x_val = x_train.astype("float32"), x_val.astype("float32")

    model = keras.Sequential([
        keras.Input(shape=(X.shape[1],)),
        layers.Dense(args.hidden, activation="relu", kernel_constraint=MaxNorm(3),
                     name="hidden_1"),
        layers.Dropout(args.dropout),
        layers.Dense(args.hidden // 2, activation="relu", kernel_constraint=MaxNorm(3),
                     name="hidden_2"),
        layers.Dropout(args.dropout),
        layers.Dense(classes, activation="softmax", name="probs"),
    ])
    # BUG (bce-ten-classes): binary_crossentropy on the ten softmax outputs, 'accuracy' then
    # measured as binary accuracy.
    # BUG (mse-softmax): mean squared error between the one-hot targets and the softmax.
    if args.bug == "bce-ten-classes":
        loss = keras.losses.BinaryCrossentropy(label_smoothing=args.smoothing)
    elif args.bug == "mse-softmax":
        loss = "mse"
    else:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=args.smoothing)
    # BUG (default-lr): Adagrad() with Keras's default learning rate 0.001.
    optimizer = keras.optimizers.Adagrad() if args.bug == "default-lr" \
        else keras.optimizers.Adagrad(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, history.history["loss"][e], history.history["accuracy"][e], vl,
            history.history["val_accuracy"][e]))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kadasmooth-raw-wine-features", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): a Keras classifier of the wine data "
               "'stuck at 40% accuracy' on unscaled measurements (proline up to 1680); "
               "Humbatova et al. 2020: missing input normalization",
     "bug": "the 13 wine measurements go in their own units under Adagrad(0.05): the first "
            "epoch's loss is 87.9, then the loss stays at about ln 3 (1.09 -> 1.15) and the "
            "validation accuracy at 0.457 for 18 epochs (the standardized twin: 0.914)",
     "fix": "standardize the features with the training mean and standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "wine-adagrad",
          "buggy": "--data wine --bug raw-features --batch-size 32 --record-every 4",
          "fixed": "--data wine --batch-size 32 --record-every 4"},
     ]},
    {"family": "kadasmooth-labels-not-permuted", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training data, wrong labels (the features shuffled with "
               "one permutation, the labels left in their order); DeepFD fault type: data",
     "bug": "X = X[perm] without y = y[perm]: the labels no longer belong to their images; the "
            "training accuracy creeps from 0.101 to 0.225 by memorizing and the validation "
            "accuracy stays at chance (0.086 -> 0.078, validation loss 2.355 -> 2.363; the "
            "twin: 0.978)",
     "fix": "y = y[perm]",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-adagrad",
          "buggy": "--bug labels-not-shuffled --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kadasmooth-adagrad-default-lr", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low (keras.optimizers."
               "Adagrad() with its default learning rate 0.001)",
     "bug": "Adagrad() keeps Keras's default 0.001 and its accumulator shrinks it further: in 20 "
            "epochs the loss falls from 2.55 to 2.04 and the validation accuracy reaches 0.43 "
            "(the twin with Adagrad(0.05): 0.978)",
     "fix": "Adagrad(learning_rate=0.05)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-seed0",
          "buggy": "--bug default-lr --record-every 4",
          "fixed": "--lr 0.05 --record-every 4"},
     ]},
    {"family": "kadasmooth-mse-on-softmax", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): loss='mean_squared_error' on a softmax "
               "classifier with one-hot labels; DeepDiagnosis fault type: wrong loss function",
     "bug": "loss='mse' between the one-hot targets and the ten softmax outputs: the gradient "
            "through the softmax is small, the validation accuracy is 0.148 after the first "
            "epoch and 0.582 after 20 (MSE 0.094 -> 0.067; the categorical cross-entropy twin: "
            "0.830 after the first epoch, 0.978 after 20)",
     "fix": "CategoricalCrossentropy(label_smoothing=0.1)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-seed0",
          "buggy": "--bug mse-softmax --record-every 4",
          "fixed": "--smoothing 0.1 --record-every 4"},
     ]},
    {"family": "healthy-kadasmooth", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a one-hot, label-smoothed Adagrad classifier with Dropout and MaxNorm that "
                    "trains well",
     "healthy": [
         {"id": "wine-lr0.1-bs16-seed1",
          "args": "--data wine --lr 0.1 --batch-size 16 --seed 1 --record-every 4",
          "description": "wine, Adagrad(0.1), batches of 16"},
         {"id": "digits-wide-seed2",
          "args": "--hidden 128 --dropout 0.3 --smoothing 0.05 --seed 2 --record-every 4",
          "description": "digits, 128 and 64 units, Dropout 0.3, label smoothing 0.05"},
         {"id": "digits-bs128-lr0.1-seed3",
          "args": "--batch-size 128 --lr 0.1 --seed 3 --record-every 4",
          "description": "digits, Adagrad(0.1), batches of 128"},
     ]},
]


if __name__ == "__main__":
    main()
