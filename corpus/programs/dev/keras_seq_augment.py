"""A Keras 3 ``Sequential`` image classifier on the 8x8 digits with the augmentation layers at
the top of the model, written the way the Keras "image classification from scratch" and
"data augmentation" guides write a small convnet: one ``keras.Sequential([...])`` list holding
``RandomRotation`` and ``RandomZoom`` (active in ``fit`` only), ``Conv2D`` + ``MaxPooling2D``
blocks, ``Dropout`` and a softmax head, a ``build_model()`` helper that takes the settings as
keyword arguments, and ``model.fit`` with an ``EarlyStopping(restore_best_weights=True)``
callback and no checkpoint.

Data: scikit-learn's digits reshaped to 8x8x1 and scaled to [0, 1] by dividing by 16, a
stratified fifth held out as ``validation_data``. The model: ``RandomRotation`` (``--rotate``
of a full turn), ``RandomZoom`` (``--zoom``), ``Conv2D`` ``conv_a`` (``--filters``, 3x3, same
padding), ``MaxPooling2D``, ``Conv2D`` ``conv_b`` (twice the filters), ``MaxPooling2D``,
``Flatten``, ``Dropout`` (``--dropout``), ``Dense`` ``hidden`` (``--units``) and ``Dense``
``digit`` (10, softmax); ``--activation`` in the hidden layers (ReLU), ``--init`` for every
kernel (``glorot_uniform``), ``sparse_categorical_crossentropy``. Optimizer ``--optimizer`` at
``--lr``; ``EarlyStopping`` on ``val_loss`` with ``--patience``. The mistakes of the families
in CASES show in a setting (``--lr``, ``--init``, ``--activation``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def build_model(keras, filters=12, units=48, activation="relu", init="glorot_uniform",
                dropout=0.3, rotate=0.05, zoom=0.1, seed=0):
    from keras import layers
    return keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.RandomRotation(rotate, fill_mode="constant", seed=seed),
        layers.RandomZoom(zoom, fill_mode="constant", seed=seed),
        layers.Conv2D(filters, 3, padding="same", activation=activation,
                      kernel_initializer=init, name="conv_a"),
        layers.MaxPooling2D(),
        layers.Conv2D(2 * filters, 3, padding="same", activation=activation,
                      kernel_initializer=init, name="conv_b"),
        layers.MaxPooling2D(),
        layers.Flatten(),
        layers.Dropout(dropout, seed=seed),
        layers.Dense(units, activation=activation, kernel_initializer=init, name="hidden"),
        layers.Dense(10, activation="softmax", kernel_initializer=init, name="digit"),
    ], name="seq_augment")


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=12)
    p.add_argument("--units", type=int, default=48)
    p.add_argument("--activation", default="relu")
    p.add_argument("--init", default="glorot_uniform")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--rotate", type=float, default=0.05)
    p.add_argument("--zoom", type=float, default=0.1)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--patience", type=int, default=3)
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images.reshape(-1, 8, 8, 1) / 16.0).astype("float32")
    labels = digits.target.astype("int32")
    x_train, x_val, y_train, y_val = train_test_split(images, labels, test_size=0.2,
                                                      stratify=labels, random_state=args.seed)

    model = build_model(keras, filters=args.filters, units=args.units,
                        activation=args.activation, init=args.init, dropout=args.dropout,
                        rotate=args.rotate, zoom=args.zoom, seed=args.seed)
    if args.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=args.lr, momentum=0.9)
    elif args.optimizer == "rmsprop":
        opt = keras.optimizers.RMSprop(learning_rate=args.lr)
    else:
        opt = keras.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience,
                                          restore_best_weights=True)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                        batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                        callbacks=[early] + common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %2d  loss %.4f  acc %.3f  val_loss %.4f  val_acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    # the restored (best) weights on the validation images
    best_loss, best_acc = model.evaluate(x_val, y_val, verbose=0)
    print("restored weights: val_loss %.4f  val_acc %.3f" % (best_loss, best_acc))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      restored_val_accuracy=float(best_acc)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "seqaug-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: large learning rate; DeepLocalize benchmark (Stack Overflow): a "
               "Keras convnet compiled with Adam(learning_rate=0.3), 'accuracy stuck at 10%'",
     "bug": "Adam at 0.3 instead of 2e-3: the first epoch's loss is 9.73, then it sits at 2.34 "
            "with the training accuracy at 0.08; EarlyStopping ends the run after 4 epochs and "
            "restores weights at 0.100 validation accuracy (chance), against a loss of 0.27 and "
            "a validation accuracy of 0.944 at 2e-3",
     "fix": "Adam(learning_rate=2e-3)",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--lr 0.3 --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "seqaug-zero-init", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong weight initialization; Humbatova et "
               "al. 2020: wrong weights initialization (kernel_initializer='zeros' passed to "
               "every layer by the model-building helper)",
     "bug": "kernel_initializer='zeros' on every Conv2D and Dense layer: every ReLU unit "
            "outputs zero and only the output bias learns; the loss goes from 2.3033 to 2.3029 "
            "in 11 epochs and the validation accuracy stays at 0.100, against a training "
            "accuracy of 0.93 and a loss of 0.23 with glorot_uniform",
     "fix": "kernel_initializer='glorot_uniform' (the default)",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["unchanged_values", "not_learning", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--init zeros --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "seqaug-stacked-sigmoid", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): sigmoid activations in every hidden "
               "layer of a small Keras convnet trained with SGD, 'loss stuck at 2.30'; "
               "AUTOTRAINER: vanishing gradient; Humbatova et al. 2020: wrong activation "
               "function",
     "bug": "activation='sigmoid' in both Conv2D layers and the hidden Dense layer under SGD "
            "(0.01, momentum 0.9): the gradient fades through the stacked sigmoids, the loss "
            "goes only from 2.35 to 2.32 in 12 epochs and the validation accuracy stays at "
            "0.100, against a loss of 0.31 and a validation accuracy of 0.953 with ReLU",
     "fix": "activation='relu' in the hidden layers",
     "symptom": "vanishing_gradient",
     "acceptable_symptoms": ["slow_convergence", "not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed2",
          "buggy": "--activation sigmoid --optimizer sgd --lr 0.01 --seed 2 --record-every 4",
          "fixed": "--optimizer sgd --lr 0.01 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-seqaug", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Sequential convnet with augmentation layers and EarlyStopping on the "
                    "digits that trains well",
     "healthy": [
         {"id": "rmsprop-bs64-seed4",
          "args": "--optimizer rmsprop --lr 1e-3 --batch-size 64 --seed 4 --record-every 4",
          "description": "RMSprop 1e-3, batches of 64"},
         {"id": "sgd-f8-seed5",
          "args": "--optimizer sgd --lr 0.03 --filters 8 --seed 5 --record-every 4",
          "description": "SGD 0.03 with momentum 0.9, 8 and 16 filters"},
         {"id": "adam-wide-seed6",
          "args": "--units 96 --filters 16 --lr 1e-3 --seed 6 --record-every 4",
          "description": "Adam 1e-3, 16 and 32 filters, 96 hidden units"},
     ]},
]


if __name__ == "__main__":
    main()
