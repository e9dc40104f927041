"""A dense Keras autoencoder for the 8x8 digits, and a classifier on its encoder.

``--mode reconstruct``: encoder Dense(48)-Dense(12), decoder Dense(48)-Dense(64, sigmoid),
trained to reconstruct the images (the recorded run).
``--mode classify``: the autoencoder is first trained (not recorded); then a softmax layer is
put on the encoder, the encoder is frozen, and the classifier is trained (the recorded run).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--mode", default="reconstruct", choices=("reconstruct", "classify"))
    p.add_argument("--pixels", default="unit", choices=("unit", "standard"))
    p.add_argument("--loss", default="binary_crossentropy")
    p.add_argument("--activation", default="relu")
    p.add_argument("--code", type=int, default=12)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--bug", default=None, choices=("all-frozen",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    x, y = common.load("digits")
    x = (x / 16.0).astype("float32") if args.pixels == "unit" else \
        ((x - x.mean(0)) / (x.std(0) + 1e-8)).astype("float32")
    x_train, x_test, y_train, y_test = common.split(x, y, val=0.2, seed=args.seed)

    encoder = keras.Sequential([keras.Input(shape=(64,)),
                                layers.Dense(48, activation=args.activation, name="enc_1"),
                                layers.Dense(args.code, activation=args.activation, name="code")],
                               name="encoder")
    decoder = keras.Sequential([keras.Input(shape=(args.code,)),
                                layers.Dense(48, activation=args.activation, name="dec_1"),
                                layers.Dense(64, activation="sigmoid", name="pixels")],
                               name="decoder")

    def optimizer():
        return {"sgd": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
                "adam": lambda: keras.optimizers.Adam(args.lr),
                "rmsprop": lambda: keras.optimizers.RMSprop(args.lr)}[args.optimizer]()

    callbacks = common.recording.keras_callbacks(args.out)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    if args.mode == "reconstruct":
        inputs = keras.Input(shape=(64,))
        h = inputs
        for layer in encoder.layers + decoder.layers:
            h = layer(h)
        model = keras.Model(inputs, h, name="autoencoder")
        model.compile(optimizer=optimizer(), loss=args.loss)
        history = model.fit(x_train, x_train, validation_data=(x_test, x_test),
                            epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                            callbacks=callbacks)
    else:
        inputs = keras.Input(shape=(64,))
        h = inputs
        for layer in encoder.layers + decoder.layers:
            h = layer(h)
        pretrain = keras.Model(inputs, h)
        pretrain.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
        pretrain.fit(x_train, x_train, epochs=15, batch_size=32, verbose=0)
        inputs = keras.Input(shape=(64,))
        h = inputs
        for layer in encoder.layers:
            h = layer(h)
        outputs = layers.Dense(10, activation="softmax", name="classes")(h)
        model = keras.Model(inputs, outputs, name="classifier")
        if args.bug == "all-frozen":
            # BUG: `model.trainable = False` instead of `encoder.trainable = False`: the new
            # softmax layer is frozen as well, so nothing is trained
            model.trainable = False
        else:
            encoder.trainable = False
        model.compile(optimizer=optimizer(), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x_train, y_train, validation_data=(x_test, y_test),
                            epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                            callbacks=callbacks)
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "autoencoder-bce-standardized", "split": "test", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss for the data (binary cross-entropy on "
               "targets outside [0, 1])",
     "bug": "the pixels are standardized (negative values, up to ~8) but the autoencoder is "
            "trained with binary_crossentropy against a sigmoid output: the loss goes negative "
            "without bound",
     "fix": "pixels scaled to 0..1",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-adam", "buggy": "--pixels standard", "fixed": "--pixels unit"},
     ]},
    {"family": "encoder-transfer-all-frozen", "split": "test", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: a layer frozen by mistake (transfer learning)",
     "bug": "model.trainable = False instead of encoder.trainable = False: the new softmax "
            "layer on the pre-trained encoder is frozen too and nothing trains",
     "fix": "encoder.trainable = False",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "classes", "layer_index": 2},
     "pairs": [
         {"id": "digits-adam", "buggy": "--mode classify --lr 0.01 --bug all-frozen",
          "fixed": "--mode classify --lr 0.01"},
     ]},
    {"family": "healthy-autoencoder", "split": "test", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a Keras autoencoder that trains well",
     "healthy": [
         {"id": "adam-bce-seed1", "args": "--seed 1"},
         {"id": "rmsprop-mse", "args": "--loss mse --optimizer rmsprop --lr 0.003"},
         {"id": "elu-code6-sgd", "args": "--activation elu --code 6 --optimizer sgd --lr 0.2"},
     ]},
]


if __name__ == "__main__":
    main()
