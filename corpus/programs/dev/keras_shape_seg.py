"""A Keras 3 segmentation model of generated shapes: strided ``Conv2D`` downsampling,
``Conv2DTranspose`` upsampling and a sigmoid mask, compiled with a custom Dice + binary
cross-entropy loss written with ``keras.ops``, the way the "segmentation with a Dice loss"
examples write it (a ``keras.Sequential`` encoder-decoder, the loss and a Dice metric as plain
functions, ``model.fit`` on numpy arrays).

Data (generated here): 16x16 grey-scale tiles stored as uint8 images with their masks stored as
0/255 images, as PNG masks are. Each tile has a mid-grey background with a brightness gradient
and sensor noise, and one to three objects (discs, squares or ellipses of 2 to 4 pixels'
radius); each object is either brighter or darker than the background (as cells in
phase-contrast images can be), so no single threshold on the grey level finds them all. The
mask marks every object's pixels (about 20% of a tile). 1000 tiles for training, 250 for
validation. The tiles are divided by 255 and centred on the training mean; the masks are
divided by 255.

Model: ``Conv2D(--filters, 3, relu)`` ``enc``, ``Conv2D(2 --filters, 3, strides 2, relu)``
``down``, ``Conv2D(2 --filters, 3, relu)`` ``mid``, ``Conv2DTranspose(--filters, 3, strides 2,
relu)`` ``up``, ``Conv2D(1, 1, sigmoid)`` ``mask``; loss ``dice_bce`` (mean binary
cross-entropy + 1 - soft Dice of the batch), metrics the pixel accuracy and ``dice_coef``. The
learning rate is a ``CosineDecay`` over the whole run. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
SIZE = 16


def make_tiles(n, seed):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    images = np.empty((n, SIZE, SIZE, 1), dtype="uint8")
    masks = np.empty((n, SIZE, SIZE, 1), dtype="uint8")
    for i in range(n):
        gx, gy = rng.uniform(-0.15, 0.15, 2)
        image = 0.5 + gx * (xx / SIZE - 0.5) + gy * (yy / SIZE - 0.5)
        mask = np.zeros((SIZE, SIZE), dtype=bool)
        for _ in range(int(rng.integers(1, 4))):
            r = rng.uniform(2, 4)
            cy, cx = rng.uniform(2, SIZE - 2, 2)
            kind = int(rng.integers(0, 3))
            if kind == 0:
                inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r ** 2
            elif kind == 1:
                inside = (np.abs(yy - cy) <= r * 0.8) & (np.abs(xx - cx) <= r * 0.8)
            else:
                inside = ((yy - cy) / r) ** 2 + ((xx - cx) / (0.6 * r)) ** 2 <= 1
            contrast = rng.uniform(0.2, 0.35) * (1 if rng.random() < 0.5 else -1)
            image = np.where(inside, image + contrast, image)
            mask |= inside
        image = image + rng.normal(0, 0.04, image.shape)
        images[i, :, :, 0] = np.clip(image * 255, 0, 255).astype("uint8")
        masks[i, :, :, 0] = mask.astype("uint8") * 255
    return images, masks


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "nadam"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("masks-0-255", "no-activation", "cosine-decay-one-epoch"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops

    images, masks = make_tiles(1250, args.seed)
    x = images.astype("float32") / 255.0
    x = x - x[:1000].mean()
    if args.bug == "masks-0-255":
        # BUG: the masks are loaded as they are stored, 0 and 255; the division was left out.
        y = masks.astype("float32")
    else:
        y = masks.astype("float32") / 255.0
    x_train, y_train, x_val, y_val = x[:1000], y[:1000], x[1000:], y[1000:]

    def dice_coef(y_true, y_pred, smooth=1.0):
        inter = ops.sum(y_true * y_pred)
        return (2.0 * inter + smooth) / (ops.sum(y_true) + ops.sum(y_pred) + smooth)

    def dice_bce(y_true, y_pred):
        y_pred = ops.clip(y_pred, 1e-7, 1.0 - 1e-7)
        bce = -ops.mean(y_true * ops.log(y_pred) + (1.0 - y_true) * ops.log(1.0 - y_pred))
        return bce + 1.0 - dice_coef(y_true, y_pred)

    # BUG (no-activation): the activation was passed as a variable that stayed None, so every
    # hidden convolution is linear and the model is one linear filter bank before the sigmoid.
    act = None if args.bug == "no-activation" else "relu"
    reg = keras.regularizers.l2(args.l2) if args.l2 else None
    model = keras.Sequential([
        keras.Input(shape=(SIZE, SIZE, 1)),
        layers.Conv2D(args.filters, 3, padding="same", activation=act, kernel_regularizer=reg,
                      name="enc"),
        layers.Conv2D(2 * args.filters, 3, strides=2, padding="same", activation=act,
                      kernel_regularizer=reg, name="down"),
        layers.Conv2D(2 * args.filters, 3, padding="same", activation=act,
                      kernel_regularizer=reg, name="mid"),
        layers.Conv2DTranspose(args.filters, 3, strides=2, padding="same", activation=act,
                               kernel_regularizer=reg, name="up"),
        layers.Conv2D(1, 1, activation="sigmoid", name="mask"),
    ], name="segmenter")
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    # BUG (cosine-decay-one-epoch): decay_steps was given one epoch's steps instead of the
    # whole run's; after the first epoch the rate is 0 (alpha=0) for good.
    decay_steps = steps_per_epoch if args.bug == "cosine-decay-one-epoch" \
        else steps_per_epoch * args.epochs
    schedule = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=decay_steps)
    opt = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
           "nadam": keras.optimizers.Nadam}[args.optimizer]
    model.compile(optimizer=opt(learning_rate=schedule), loss=dice_bce,
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), dice_coef])
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                        batch_size=args.batch_size, epochs=args.epochs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e, vl in enumerate(h["val_loss"]):
        print("epoch %d: loss %.4f acc %.3f dice %.3f val_loss %.4f val_acc %.3f val_dice %.3f"
              % (e + 1, h["loss"][e], h["accuracy"][e], h["dice_coef"][e], vl,
                 h["val_accuracy"][e], h["val_dice_coef"][e]))
    # Dice and pixel accuracy of the thresholded masks against the true 0/1 masks
    pred = model.predict(x_val, verbose=0) > 0.5
    truth = masks[1000:] > 0
    dice = float(2 * np.sum(pred & truth) / max(1, np.sum(pred) + np.sum(truth)))
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model), val_dice=dice,
                                      val_pixel_accuracy=float(np.mean(pred == truth))))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kshapeseg-masks-0-255", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): 'negative loss' of a Keras "
               "segmentation model whose masks were loaded as 0/255; Humbatova et al. 2020: "
               "labels not matching the loss",
     "bug": "the masks go in as stored, 0 and 255, under a binary cross-entropy + Dice loss: "
            "the cross-entropy of a target of 255 has no minimum inside (0, 1), the loss "
            "falls from -187 to -645 (validation -672) by predicting foreground everywhere "
            "and the thresholded masks reach a validation Dice of 0.29 against the true masks",
     "fix": "masks / 255.0: loss 1.18 -> 0.185, validation Dice 0.92, pixel accuracy 0.973 "
            "(validation loss 0.180)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug masks-0-255 --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kshapeseg-no-activation", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (model: missing activation function); DeepFD fault "
               "type: wrong/missing activation",
     "bug": "every hidden convolution and the transposed convolution are linear (the "
            "activation passed as a variable that stayed None): a linear filter bank before "
            "the sigmoid cannot mark objects both brighter and darker than the background; "
            "the loss only falls from 1.335 to 1.142, validation loss 1.146 and pixel "
            "accuracy 0.891 (all background: about 0.83)",
     "fix": "activation='relu': loss 1.244 -> 0.224, validation loss 0.206, pixel accuracy "
            "0.971",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--seed 1 --bug no-activation --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kshapeseg-cosine-decay-one-epoch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training process: wrong learning-rate schedule); "
               "DeepLocalize benchmark (Stack Overflow): Keras model 'stops learning after the "
               "first epoch' with a decay schedule counted in steps",
     "bug": "CosineDecay(decay_steps=one epoch's steps) where the whole run's were meant: "
            "the rate reaches 0 at the end of the first epoch and stays there; with RMSprop "
            "at 2e-3 the loss goes from 1.320 to 1.212 and the validation loss ends at 1.202, "
            "pixel accuracy 0.864 (all background: about 0.83)",
     "fix": "decay_steps=steps per epoch x epochs: loss 1.174 -> 0.243, validation loss "
            "0.235, pixel accuracy 0.964",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning",
                                                           "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop",
          "buggy": "--optimizer rmsprop --lr 2e-3 --bug cosine-decay-one-epoch --record-every 4",
          "fixed": "--optimizer rmsprop --lr 2e-3 --record-every 4"},
     ]},
    {"family": "kshapeseg-l2-dominates", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong; AUTOTRAINER: "
               "not converging",
     "bug": "kernel_regularizer=l2(1.0) on the four hidden convolutions: the penalty (a loss "
            "of 18.9 in the first epoch) drives the kernels to zero and the model predicts "
            "background everywhere: validation Dice 0.00, pixel accuracy 0.831 (the "
            "background's share)",
     "fix": "l2(1e-4): loss 1.19 -> 0.208, validation pixel accuracy 0.971",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--l2 1.0 --record-every 4",
          "fixed": "--l2 1e-4 --record-every 4"},
     ]},
    {"family": "healthy-kshapeseg", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Conv2D / Conv2DTranspose segmentation model under a Dice + BCE loss "
                    "that trains well",
     "healthy": [
         {"id": "nadam-filters12-seed3",
          "args": "--optimizer nadam --lr 2e-3 --filters 12 --seed 3 --record-every 4",
          "description": "Nadam at 2e-3, 12 filters"},
         {"id": "adam-bs16-seed4",
          "args": "--batch-size 16 --epochs 8 --seed 4 --record-every 4",
          "description": "Adam at 3e-3, batches of 16"},
         {"id": "adam-filters6-bs64-seed5",
          "args": "--filters 6 --lr 5e-3 --batch-size 64 --epochs 14 --seed 5 --record-every 4",
          "description": "Adam at 5e-3, 6 filters, batches of 64"},
     ]},
]


if __name__ == "__main__":
    main()
