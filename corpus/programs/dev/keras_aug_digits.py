"""A Keras 3 functional-API CNN on the 8x8 digits with data augmentation layers inside the
model (``RandomTranslation``, ``GaussianNoise``) and
``Dropout``, trained with ``model.fit`` on numpy arrays (or on a ``tf.data`` pipeline with
``--pipeline tfdata``), without a checkpoint callback.

Data: scikit-learn's digits reshaped to 8x8x1 and divided by 16, a stratified fifth held out
for validation (passed as ``validation_data``). The augmentation layers are the first of the
model, as the Keras image-augmentation guide puts them: active in ``fit``, identity at
inference. The model: ``RandomTranslation`` (``--shift`` of the height and width, constant
fill), ``GaussianNoise`` (``--noise``), ``Conv2D`` ``conv1`` (``--filters``, 3x3, same padding),
``MaxPooling2D``, ``Conv2D`` ``conv2`` (twice the filters), ``MaxPooling2D``, ``Flatten``,
``Dropout`` (``--dropout``), ``Dense`` ``dense`` (``--units``), ``Dropout`` and ``Dense``
``out`` (10, softmax), ReLU in the hidden layers (``--activation``), an optional L2 penalty on
every kernel (``--l2``), ``sparse_categorical_crossentropy`` on the integer labels. Optimizer
``--optimizer`` (adam, sgd with ``--momentum``, rmsprop, nadam) at ``--lr``. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``, ``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
CLASSES = 10


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--units", type=int, default=64)
    p.add_argument("--activation", default="relu")
    p.add_argument("--shift", type=float, default=0.125)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--dropout", type=float, default=0.25)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop", "nadam"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--pipeline", default="numpy", choices=("numpy", "tfdata"))
    p.add_argument("--bug", default=None, choices=("logits-no-softmax", "dense-bias-minus-five"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    X = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target.astype("int32")
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, stratify=y,
                                                      random_state=args.seed)

    reg = keras.regularizers.L2(args.l2) if args.l2 > 0 else None
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    x = layers.RandomTranslation(args.shift, args.shift, fill_mode="constant",
                                 seed=args.seed, name="shift")(inputs)
    x = layers.GaussianNoise(args.noise, seed=args.seed, name="noise")(x)
    x = layers.Conv2D(args.filters, 3, padding="same", activation=args.activation,
                      kernel_regularizer=reg, name="conv1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(2 * args.filters, 3, padding="same", activation=args.activation,
                      kernel_regularizer=reg, name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dropout(args.dropout, seed=args.seed, name="drop1")(x)
    # BUG (dense-bias-minus-five): bias_initializer=Constant(-5.0) on the hidden Dense layer
    # (meant the default zeros).
    bias = keras.initializers.Constant(-5.0) if args.bug == "dense-bias-minus-five" else "zeros"
    x = layers.Dense(args.units, activation=args.activation, kernel_regularizer=reg,
                     bias_initializer=bias, name="dense")(x)
    x = layers.Dropout(args.dropout, seed=args.seed, name="drop2")(x)
    # BUG (logits-no-softmax): the output layer has no activation but the loss expects
    # probabilities (from_logits=False, the default).
    out_act = None if args.bug == "logits-no-softmax" else "softmax"
    outputs = layers.Dense(CLASSES, activation=out_act, kernel_regularizer=reg, name="out")(x)
    model = keras.Model(inputs, outputs, name="aug_cnn")

    optimizer = {"adam": lambda: keras.optimizers.Adam(args.lr),
                 "sgd": lambda: keras.optimizers.SGD(args.lr, momentum=args.momentum),
                 "rmsprop": lambda: keras.optimizers.RMSprop(args.lr),
                 "nadam": lambda: keras.optimizers.Nadam(args.lr)}[args.optimizer]()
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    callbacks = common.recording.keras_callbacks(args.out)
    if args.pipeline == "tfdata":
        import tensorflow as tf
        train = (tf.data.Dataset.from_tensor_slices((X_train, y_train))
                 .shuffle(len(X_train), seed=args.seed).batch(args.batch_size)
                 .prefetch(tf.data.AUTOTUNE))
        val = tf.data.Dataset.from_tensor_slices((X_val, y_val)).batch(256)
        history = model.fit(train, validation_data=val, epochs=args.epochs, verbose=0,
                            callbacks=callbacks)
    else:
        history = model.fit(X_train, y_train, validation_data=(X_val, y_val),
                            batch_size=args.batch_size, epochs=args.epochs, shuffle=True,
                            verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(X_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kaug-logits-no-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): a Dense output without softmax under "
               "sparse_categorical_crossentropy (from_logits=False); Humbatova et al. 2020: "
               "wrong activation of the last layer",
     "bug": "the output Dense layer has no activation while sparse_categorical_crossentropy expects "
            "probabilities (from_logits=False): Keras rescales the raw outputs by their sum and "
            "clips them, the training loss goes from 3.72 to 2.30 (ln 10) and the validation "
            "accuracy ends at 0.04 against the twin's 0.96",
     "fix": "Dense(10, activation='softmax') as the output layer",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug logits-no-softmax --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "kaug-dense-bias-minus-five", "split": "dev", "architecture": "cnn",
     "origin": "DeepDiagnosis / AUTOTRAINER: dying ReLU (a hidden layer whose bias keeps every "
               "unit negative); Humbatova et al. 2020: wrong weight initialization",
     "bug": "bias_initializer=Constant(-5.0) on the hidden Dense layer: its 64 ReLUs are "
            "negative for every input, the output layer sees zeros and nothing before it gets "
            "a gradient; the training loss stays at 2.303 (ln 10) from the first epoch and "
            "the validation accuracy at 0.10 against the twin's 0.94",
     "fix": "the hidden Dense layer's default bias initializer (zeros)",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "dense", "layer_index": 2},
     "pairs": [
         {"id": "adam",
          "buggy": "--bug dense-bias-minus-five --seed 3 --record-every 2",
          "fixed": "--seed 3 --record-every 2"},
     ]},
    {"family": "kaug-l2-dominates", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: regularization too strong (an L2 factor of 1.0 on every "
               "kernel); DeepFD fault type: wrong regularization",
     "bug": "an L2 factor of 1.0 on every kernel (meant 1e-4): the penalty (62.9 in the first "
            "epoch's mean loss) drives all kernels to zero, the loss ends at 2.303 (ln 10) and "
            "the validation accuracy at 0.10 against the twin's 0.96",
     "fix": "L2 factor 1e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--l2 1.0 --record-every 2",
          "fixed": "--l2 1e-4 --record-every 2"},
     ]},
    {"family": "kaug-sgd-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "oscillating loss",
     "bug": "SGD with momentum 0.9 at learning rate 0.5 (meant 0.05) on the tanh network: "
            "the epoch losses jump between 15.9 and 25.5 (15.9, 22.2, 18.5, 25.5, ... 21.2; "
            "validation 18.7) and the accuracy stays at chance (validation 0.10) against the "
            "twin's 0.96",
     "fix": "SGD learning rate 0.05",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient",
                                                     "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "tanh-momentum",
          "buggy": "--activation tanh --optimizer sgd --lr 0.5 --record-every 2",
          "fixed": "--activation tanh --optimizer sgd --lr 0.05 --record-every 2"},
     ]},
    {"family": "kaug-adam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low; AUTOTRAINER: slow "
               "convergence",
     "bug": "Adam at 1e-5 (meant 2e-3): in 12 epochs (540 steps) the training loss goes only "
            "from 2.305 to 2.298 and the validation accuracy ends at 0.14 against the twin's "
            "0.94",
     "fix": "Adam learning rate 2e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--lr 1e-5 --seed 2 --record-every 2",
          "fixed": "--lr 2e-3 --seed 2 --record-every 2"},
     ]},
    {"family": "healthy-kaug", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a functional CNN with augmentation layers and dropout on the digits that "
                    "trains well",
     "healthy": [
         {"id": "tfdata-adam-seed4",
          "args": "--pipeline tfdata --seed 4 --record-every 2",
          "description": "Adam 2e-3 on a tf.data pipeline (shuffle, batch, prefetch)"},
         {"id": "rmsprop-seed5",
          "args": "--optimizer rmsprop --lr 2e-3 --seed 5 --record-every 2",
          "description": "RMSprop 2e-3"},
         {"id": "nadam-bs64-f8-seed6",
          "args": "--optimizer nadam --lr 3e-3 --batch-size 64 --filters 8 --seed 6 --record-every 2",
          "description": "Nadam 3e-3, batches of 64, 8 and 16 filters"},
         {"id": "sgd-elu-l2-seed7",
          "args": "--optimizer sgd --lr 0.05 --activation elu --l2 1e-4 --seed 7 --record-every 2",
          "description": "SGD momentum 0.9 at 0.05, ELU, L2 1e-4"},
         {"id": "tfdata-noise0.2-drop0.4-u128-seed8",
          "args": "--pipeline tfdata --noise 0.2 --dropout 0.4 --units 128 --seed 8 --record-every 2",
          "description": "stronger noise and dropout, 128 hidden units, tf.data"},
     ]},
]


if __name__ == "__main__":
    main()
