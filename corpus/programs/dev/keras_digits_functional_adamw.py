"""Keras 3 functional-API CNN on scikit-learn's 8x8 digits, trained with AdamW and early stopping.

Data: scikit-learn's digits (8x8 images, pixels 0..16), reshaped to (8, 8, 1) and divided by
16; a stratified fifth is held out for validation (``model.fit(validation_data=...)``).

Model (functional API: ``inputs = keras.Input(...)``, ``x = layer(x)``, ``keras.Model(inputs,
outputs)``): two blocks of ``Conv2D(--filters, 3, padding='same')``, ``BatchNormalization``,
ReLU (``layers.Activation``) and ``SpatialDropout2D(0.1)``, then ``GlobalMaxPooling2D`` and a
``Dense(10, softmax)`` head, ``sparse_categorical_crossentropy``. Optimizer
``keras.optimizers.AdamW(learning_rate=--lr, weight_decay=--weight-decay)``; callbacks
``EarlyStopping(monitor='val_loss', patience=4, restore_best_weights=True)``. The mistakes of
the families in CASES are selected with ``--bug`` or show in a setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None, choices=("labels-unaligned",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int64")
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, stratify=y,
                                                      random_state=args.seed)
    # BUG (labels-unaligned): the images are shuffled on their own, the labels are not.
    if args.bug == "labels-unaligned":
        X_train = X_train[np.random.default_rng(args.seed).permutation(len(X_train))]

    inputs = keras.Input(shape=(8, 8, 1))
    x = inputs
    for block in range(2):
        x = layers.Conv2D(args.filters * (block + 1), 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.SpatialDropout2D(0.1)(x)
    x = layers.GlobalMaxPooling2D()(x)
    outputs = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=args.lr,
                                                   weight_decay=args.weight_decay),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=4,
                                         restore_best_weights=True)
    history = model.fit(X_train, y_train, validation_data=(X_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=[stop] + common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(X_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdigafw-labels-shuffled-apart", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training data: wrong labels); DeepLocalize benchmark "
               "(Stack Overflow): 'accuracy stays at 10%' after shuffling the images without "
               "their labels",
     "bug": "the training images are permuted on their own, the labels are not: the labels "
            "no longer belong to the images, the loss stays above ln 10 (2.92 in the first "
            "epoch, 2.39 in the fifth), the validation accuracy is 0.100 and EarlyStopping ends "
            "the run after 5 epochs (0.978 with aligned labels)",
     "fix": "shuffle images and labels with the same permutation (or not at all)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-3e-3",
          "buggy": "--bug labels-unaligned --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kdigafw-weight-decay-dominates", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong; Humbatova et al. "
               "2020: wrong weight decay value",
     "bug": "AdamW(weight_decay=20) (the decay meant as 1e-4): every step shrinks the weights "
            "by lr x 20 = 6%, the loss falls from 2.67 to ln 10 = 2.303, the validation "
            "accuracy is 0.097 and EarlyStopping ends the run after 5 epochs (0.992 with "
            "1e-4)",
     "fix": "AdamW(weight_decay=1e-4)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--weight-decay 20 --seed 1 --record-every 4",
          "fixed": "--weight-decay 1e-4 --seed 1 --record-every 4"},
     ]},
    {"family": "kdigafw-adamw-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: oscillating loss (learning rate far too high); DeepFD fault type: "
               "learning rate too high",
     "bug": "AdamW(learning_rate=0.5): the first epoch's validation loss is 35.3, the training "
            "loss stays above ln 10 (3.71 in the first epoch, 2.36 in the sixth), the "
            "validation accuracy is 0.100 and EarlyStopping ends the run after 6 epochs "
            "(0.983 with 3e-3)",
     "fix": "AdamW(learning_rate=3e-3)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed2",
          "buggy": "--lr 0.5 --seed 2 --record-every 4",
          "fixed": "--lr 3e-3 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kdigafw", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a functional-API CNN (Conv2D, BatchNormalization, SpatialDropout2D, "
                    "GlobalMaxPooling2D) on the 8x8 digits under AdamW with EarlyStopping that "
                    "trains well",
     "healthy": [
         {"id": "filters8-seed3",
          "args": "--filters 8 --seed 3 --record-every 4",
          "description": "8 and 16 filters"},
         {"id": "lr1e-3-wd0.01-seed4",
          "args": "--lr 1e-3 --weight-decay 0.01 --seed 4 --record-every 4",
          "description": "AdamW(1e-3, weight_decay=0.01)"},
         {"id": "filters24-lr5e-3-bs48-seed5",
          "args": "--filters 24 --lr 5e-3 --batch-size 48 --seed 5 --record-every 4",
          "description": "24 and 48 filters, AdamW(5e-3), batches of 48"},
     ]},
]


if __name__ == "__main__":
    main()
