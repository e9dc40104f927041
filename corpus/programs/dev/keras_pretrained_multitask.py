"""A two-output Keras 3 model on a frozen, pre-trained convolutional encoder.

Stage 1 (pre-training, another task): a denoising autoencoder on scikit-learn's 8x8 digits.
The encoder (a ``keras.Model`` named ``encoder``) is an input BatchNormalization (``in_bn``),
two 3x3 convolutions each with BatchNormalization, ReLU and max-pooling, and a Dense ``tanh``
embedding of ``--embed`` units; a Dense decoder with sigmoid outputs rebuilds the clean image
(pixels / 16) from a noisy input. The images go in as ``--scale`` says: the raw pixels 0..16
(``raw``; ``in_bn`` learns their mean and variance) or divided by 16 (``unit``).

Stage 2 (the task): the encoder is frozen (``encoder.trainable = False``, which also runs its
BatchNormalization layers in inference mode with the statistics learned in stage 1) and called
with ``training=False``; an optional Dense ReLU ``neck`` (``--neck`` units, with an L1 activity
regularizer ``--activity-l1`` and dropout ``--dropout``) feeds two outputs: ``digit`` (10-way
softmax, categorical cross-entropy on one-hot labels with label smoothing
``--label-smoothing``) and ``odd`` (one sigmoid unit: is the digit odd; binary
cross-entropy), weighted by ``--odd-weight``. Trained with ``model.fit`` on the images scaled
as in stage 1. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--activity-l1``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def build_encoder(keras, embed):
    from keras import layers
    inputs = keras.Input(shape=(8, 8, 1), name="pixels")
    h = layers.BatchNormalization(name="in_bn")(inputs)
    for i, filters in enumerate((16, 32), start=1):
        h = layers.Conv2D(filters, 3, padding="same", use_bias=False, name="conv%d" % i)(h)
        h = layers.BatchNormalization(name="bn%d" % i)(h)
        h = layers.ReLU(name="relu%d" % i)(h)
        h = layers.MaxPooling2D(name="pool%d" % i)(h)
    h = layers.Flatten(name="flatten")(h)
    code = layers.Dense(embed, activation="tanh", name="embed")(h)
    return keras.Model(inputs, code, name="encoder")


def main():
    p = common.parser(__doc__)
    p.add_argument("--scale", default="raw", choices=("raw", "unit"))
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--pretrain-epochs", type=int, default=15)
    p.add_argument("--neck", type=int, default=64, help="units of the Dense neck (0: none)")
    p.add_argument("--activity-l1", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--odd-weight", type=float, default=0.5)
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "momentum"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("unscaled-finetune", "freeze-loop", "losses-swapped"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    np = common.np

    x, y = common.load("digits")
    x = x.reshape(-1, 8, 8, 1).astype("float32")
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)

    def scaled(images):
        return images if args.scale == "raw" else images / 16.0

    # ---- stage 1: pre-train the encoder as a denoising autoencoder (no labels used)
    encoder = build_encoder(keras, args.embed)
    decoder = layers.Dense(64, activation="sigmoid", name="decoder")
    pre = keras.Sequential([encoder, decoder, layers.Reshape((8, 8, 1))], name="autoencoder")
    pre.compile(optimizer=keras.optimizers.Adam(3e-3), loss="binary_crossentropy")
    rng = np.random.default_rng(args.seed)
    noisy = np.clip(x_tr + rng.normal(0.0, 2.0, size=x_tr.shape), 0, 16).astype("float32")
    pre_hist = pre.fit(scaled(noisy), x_tr / 16.0, epochs=args.pretrain_epochs, batch_size=32,
                       verbose=0)
    print("pre-training: reconstruction loss %.4f -> %.4f" % (
        pre_hist.history["loss"][0], pre_hist.history["loss"][-1]))

    # ---- stage 2: two outputs on the frozen encoder
    inputs = keras.Input(shape=(8, 8, 1), name="image")
    h = encoder(inputs, training=False)
    if args.neck:
        reg = keras.regularizers.L1(args.activity_l1) if args.activity_l1 else None
        h = layers.Dense(args.neck, activation="relu", activity_regularizer=reg, name="neck")(h)
        if args.dropout:
            h = layers.Dropout(args.dropout, name="dropout")(h)
    digit = layers.Dense(10, activation="softmax", name="digit")(h)
    odd = layers.Dense(1, activation="sigmoid", name="odd")(h)
    model = keras.Model(inputs, [digit, odd], name="multitask")
    if args.bug == "freeze-loop":
        # BUG: "freeze everything but the head", written when the model had one output: the
        # new `odd` output is now the last layer, so the loop also freezes the `digit` head.
        for layer in model.layers[:-1]:
            layer.trainable = False
    else:
        encoder.trainable = False

    losses = [keras.losses.CategoricalCrossentropy(label_smoothing=args.label_smoothing),
              keras.losses.BinaryCrossentropy()]
    if args.bug == "losses-swapped":
        # BUG: the loss list in the wrong order: binary cross-entropy for the 10-way softmax
        # and categorical cross-entropy for the single sigmoid unit (which normalizes that one
        # unit to 1: a loss of 0 and no gradient for the `odd` head).
        losses = losses[::-1]
    optimizer = {"adam": lambda: keras.optimizers.Adam(args.lr),
                 "rmsprop": lambda: keras.optimizers.RMSprop(args.lr),
                 "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9)}[args.optimizer]()
    model.compile(optimizer=optimizer, loss=losses, loss_weights=[1.0, args.odd_weight],
                  metrics=[["accuracy"], ["accuracy"]])

    if args.bug == "unscaled-finetune":
        # BUG: the new pipeline feeds the raw pixels 0..16 to an encoder pre-trained on the
        # pixels divided by 16 (its BatchNormalization layers, frozen, keep stage 1's statistics).
        x_fit, x_check = x_tr, x_val
    else:
        x_fit, x_check = scaled(x_tr), scaled(x_val)
    targets = [np.eye(10, dtype="float32")[y_tr], (y_tr % 2).astype("float32")[:, None]]
    val_targets = [np.eye(10, dtype="float32")[y_val], (y_val % 2).astype("float32")[:, None]]
    history = model.fit(x_fit, targets, validation_data=(x_check, val_targets),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(args.epochs):
        print("epoch %d: loss %.4f val_loss %.4f val digit acc %.3f val odd acc %.3f" % (
            e + 1, h["loss"][e], h["val_loss"][e], h["val_digit_accuracy"][e],
            h["val_odd_accuracy"][e]))
    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    # The layers that own weights as the recorder numbers them (the order the traced train
    # step ran them): the encoder's, the neck, then `odd` before `digit`.
    layers_recorded = (["encoder/" + l.name for l in encoder.layers if l.weights]
                       + (["neck"] if args.neck else []) + ["odd", "digit"])
    result = {"steps": steps_per_epoch * args.epochs, "epochs": args.epochs,
              "first_loss": h["loss"][0], "loss": h["loss"][-1],
              "first_accuracy": h["digit_accuracy"][0], "accuracy": h["digit_accuracy"][-1],
              "val_loss": h["val_loss"][-1], "val_accuracy": h["val_digit_accuracy"][-1],
              "odd_accuracy": h["odd_accuracy"][-1], "val_odd_accuracy": h["val_odd_accuracy"][-1],
              "pretrain_loss": pre_hist.history["loss"][-1],
              "nan": any(not np.isfinite(v) for v in h["loss"]),
              "layers": layers_recorded}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "multitask-unscaled-finetune", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing input normalization (a pre-trained encoder fed "
               "inputs on another scale than the one it was trained on)",
     "bug": "the encoder is pre-trained on the pixels divided by 16 and the second stage feeds "
            "it the raw pixels 0..16: its frozen BatchNormalization layers normalize with "
            "stage 1's statistics, so the activations are many times too large and the tanh "
            "embedding saturates; the digit output ends near 0.69 validation accuracy",
     "fix": "the second stage scales the pixels as the first did",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-unit",
          "buggy": "--scale unit --bug unscaled-finetune --record-every 2",
          "fixed": "--scale unit --record-every 2"},
     ]},
    {"family": "multitask-freeze-loop-digit-head", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: a layer frozen by mistake (transfer learning, a model "
               "with two outputs)",
     "bug": "for layer in model.layers[:-1]: layer.trainable = False, written when the model "
            "had one output: the second output (odd) is now the last layer, so the loop "
            "freezes the digit head together with the encoder; the digit head keeps its random "
            "kernel and the digit accuracy stays at chance while odd trains",
     "fix": "only the encoder frozen (encoder.trainable = False)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "digit", "layer_index": 7},
     "pairs": [
         {"id": "adam-no-neck",
          "buggy": "--neck 0 --bug freeze-loop --record-every 2",
          "fixed": "--neck 0 --record-every 2"},
     ]},
    {"family": "multitask-losses-swapped", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong loss function (the losses of a "
               "two-output model listed in the wrong order)",
     "bug": "loss=[BinaryCrossentropy(), CategoricalCrossentropy()]: binary cross-entropy on "
            "the 10-way softmax (which still learns the digits) and categorical cross-entropy "
            "on the single sigmoid unit of odd, which normalizes that unit to probability 1: "
            "a loss of 0 whatever the label, no gradient, and the odd output stays at chance "
            "(0.48 validation accuracy against the twin's 0.93)",
     "fix": "the losses in the order of the outputs",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-neck64",
          "buggy": "--bug losses-swapped --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "multitask-activity-l1-dominates", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: regularization too strong (an L1 activity regularizer "
               "dominates the loss)",
     "bug": "activity_regularizer=L1(1.0) on the 64-unit ReLU neck (meant 1e-3): the penalty "
            "on the neck's outputs outweighs both task losses, the optimizer drives the neck's "
            "outputs towards zero and both outputs stay at chance (digit 0.10, odd 0.51)",
     "fix": "L1(1e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--activity-l1 1.0 --record-every 2",
          "fixed": "--activity-l1 1e-3 --record-every 2"},
     ]},
    {"family": "healthy-multitask", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "two outputs on a frozen pre-trained encoder that train well",
     "healthy": [
         {"id": "raw-dropout05-smoothing",
          "args": "--dropout 0.5 --label-smoothing 0.1 --record-every 2",
          "description": "raw pixels into the frozen encoder (its input BatchNormalization "
                         "learned their statistics in pre-training), dropout 0.5, label "
                         "smoothing 0.1"},
         {"id": "unit-no-neck-rmsprop-seed1",
          "args": "--scale unit --neck 0 --optimizer rmsprop --lr 1e-2 --epochs 8 --seed 1 --record-every 2",
          "description": "pixels / 16, both heads directly on the frozen embedding, RMSprop"},
         {"id": "raw-neck32-momentum-seed2",
          "args": "--neck 32 --optimizer momentum --lr 0.05 --activity-l1 1e-4 --odd-weight 1.0 --embed 24 --seed 2 --record-every 2",
          "description": "raw pixels, a 32-unit neck with a small L1 activity penalty, SGD "
                         "momentum, both losses weighted 1"},
     ]},
]


if __name__ == "__main__":
    main()
