"""Counting dots in small images with a Keras 3 CNN regressor, written the way the simple
versions of crowd- and object-counting tutorials write it ("count the objects with a CNN
regressor": Conv2D blocks, pooling, ``Flatten``, ``Dense`` layers and one linear output unit
under the mean squared error, Adam; the ``keras.io`` regression guides for ``compile``/``fit``).

Data: the program draws its own images: 16x16 grey images (0-255 as 8-bit pictures are
stored) on a noisy dark background, each with 0 to 20 bright dots (a 2x2 square of random
brightness at a random place, overlaps allowed); the target is the number of dots. 3000
images for training, 600 held out (another seed). The pixels are divided by 255. The model
(``keras.Sequential``): ``Conv2D(16, 3, relu, same)`` (``conv2d``), ``MaxPooling2D``,
``Conv2D(32, 3, relu, same)`` (``conv2d_1``), ``MaxPooling2D``, ``Flatten``,
``Dense(--units, relu)`` (``dense``) and ``Dense(1)`` (``dense_1``, the count), trained with
``loss="mse"`` and the MAE as metric, Adam(``--lr``), batches of ``--batch-size``. The result
line adds the held-out MAE in dots (``val_mae``) and the MAE of predicting the training mean
count (``baseline_mae``). The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def draw_dots(n, size=16, max_dots=20, seed=0):
    """``n`` uint8 images with 0..max_dots 2x2 dots each, and their counts."""
    rng = np.random.default_rng(seed)
    images = rng.normal(30.0, 12.0, size=(n, size, size))
    counts = rng.integers(0, max_dots + 1, size=n)
    for i in range(n):
        for _ in range(counts[i]):
            r, c = rng.integers(0, size - 1, size=2)
            images[i, r:r + 2, c:c + 2] = rng.uniform(170.0, 255.0)
    images = np.clip(images, 0, 255).astype("uint8")
    return images[..., None], counts.astype("float32")


def build_model(keras, units, bug):
    from keras import layers
    # BUG (sigmoid-output): a sigmoid on the count unit, as for a probability: the prediction
    # can never exceed 1 while the counts go up to 20.
    out_activation = "sigmoid" if bug == "sigmoid-output" else None
    return keras.Sequential([
        keras.Input(shape=(16, 16, 1)),
        layers.Conv2D(16, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(),
        layers.Conv2D(32, 3, activation="relu", padding="same"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dense(units, activation="relu"),
        layers.Dense(1, activation=out_activation),
    ], name="dot_counter")


def main():
    p = common.parser(__doc__)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--n-train", type=int, default=3000)
    p.add_argument("--bug", default=None,
                   choices=("sigmoid-output", "counts-shuffled", "count-crossentropy"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x_tr, y_tr = draw_dots(args.n_train, seed=args.seed)
    x_val, y_val = draw_dots(600, seed=1000 + args.seed)
    x_tr = x_tr.astype("float32") / 255.0
    x_val = x_val.astype("float32") / 255.0
    if args.bug == "counts-shuffled":
        # BUG (counts-shuffled): the images are shuffled before training with their own
        # permutation and the counts with another: every count belongs to another image.
        rng = np.random.default_rng(args.seed)
        x_tr = x_tr[rng.permutation(len(x_tr))]
        y_tr = y_tr[rng.permutation(len(y_tr))]

    model = build_model(keras, args.units, args.bug)
    # BUG (count-crossentropy): loss="categorical_crossentropy" on the one count unit.
    loss = "categorical_crossentropy" if args.bug == "count-crossentropy" else "mse"
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss=loss,
                  metrics=["mae"])
    callbacks = common.recording.keras_callbacks(
        args.out, task="regression",
        loss_name="categorical_crossentropy" if args.bug == "count-crossentropy"
        else "mean_squared_error")
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f mae %.3f val loss %.4f val mae %.3f" % (
            e + 1, h["loss"][e], h["mae"][e], h["val_loss"][e], h["val_mae"][e]))
    pred = model.predict(x_val, batch_size=256, verbose=0)[:, 0]
    val_mae = float(np.mean(np.abs(pred - y_val)))
    baseline = float(np.mean(np.abs(y_tr.mean() - y_val)))
    print("held-out MAE %.3f dots (predicting the mean count: %.3f)" % (val_mae, baseline))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_mae=val_mae, baseline_mae=baseline))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdotcount-sigmoid-output", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong activation function (a sigmoid on the output of a "
               "regression); DeepLocalize benchmark (Stack Overflow): a sigmoid output for "
               "targets outside [0, 1]",
     "bug": "Dense(1, activation='sigmoid') on the count unit for counts of 0 to 20: the "
            "prediction can never exceed 1, the output saturates at 1, the MSE stays at 120 "
            "(120.3 in the first epoch, 119.8 in the last) and the held-out MAE is 9.200 dots "
            "(the fixed twin: 0.708; predicting the mean count: 5.129)",
     "fix": "Dense(1) with no activation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "vanishing_gradient"],
     "root_cause": {"layer_name": "dense_1", "layer_index": 3},
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug sigmoid-output --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kdotcount-counts-shuffled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data quality / preprocessing (features and "
               "labels misaligned); Stack Overflow: 'shuffled X but not y'",
     "bug": "the training images and their counts are shuffled with two different "
            "permutations: every count belongs to another image, the MSE only falls to the "
            "counts' variance (50.2 to 35.0) and the held-out MAE is 5.433 dots, no better than "
            "predicting the mean count (5.577; the fixed twin: 0.798)",
     "fix": "one permutation for the images and the counts (or no shuffle before fit)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug counts-shuffled --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "kdotcount-count-crossentropy", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (a classification loss on a "
               "regression target); Stack Overflow: 'loss is 0 with categorical_crossentropy "
               "and one output'",
     "bug": "loss='categorical_crossentropy' on the one linear count unit: Keras normalizes "
            "the output over its one unit, which is always 1, so the loss is 1.2e-06 (zero up "
            "to the clipping epsilon) from the first step, no gradient reaches the weights and the held-out MAE stays 9.633 dots "
            "in every epoch (the fixed twin with MSE: 0.689; predicting the mean count: 5.330)",
     "fix": "loss='mse'",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed4",
          "buggy": "--bug count-crossentropy --seed 4 --record-every 4",
          "fixed": "--seed 4 --record-every 4"},
     ]},
    {"family": "healthy-kdotcount", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a CNN regressor that counts the dots in generated 16x16 images (two "
                    "Conv2D blocks, Flatten, Dense, one linear unit, MSE) and trains well",
     "healthy": [
         {"id": "seed1",
          "args": "--seed 1 --record-every 4",
          "description": "Adam at 1e-3, batches of 32, 12 epochs: held-out MAE 0.820 dots "
                         "(predicting the mean count: 4.997)"},
     ]},
]


if __name__ == "__main__":
    main()
