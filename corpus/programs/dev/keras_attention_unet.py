"""An Attention U-Net (Oktay et al., MIDL 2018, "Attention U-Net: Learning Where to Look for the
Pancreas") in Keras 3, segmenting the discs of generated scenes among other shapes.

The model is written the way the public Keras implementations write it (e.g.
``MoleImg/Attention_UNet``, ``nabsabraham/focal-tversky-unet``'s ``attn_unet``): a functional
U-Net whose encoder has three blocks of two ``Conv2D(3x3) -> BatchNormalization -> ReLU``
(``--filters``, doubled at each level) with ``MaxPooling2D`` between them and a bottleneck
block, and whose decoder upsamples (``Conv2DTranspose`` 2x2, stride 2) and concatenates every
level's skip features after an additive attention gate: ``theta`` (a 2x2 ``Conv2D`` with stride
2 on the skip, down to the gating signal's size), ``phi`` (a 1x1 ``Conv2D`` on the gating
signal, the decoder's coarser features), their sum through ReLU, ``psi`` (a 1x1 ``Conv2D`` to
one channel) and a sigmoid give the attention coefficients, which are upsampled back to the
skip's size and multiplied into the skip (then a 1x1 ``Conv2D`` and ``BatchNormalization``, as
the reference code does). A 1x1 ``Conv2D(1, sigmoid)`` gives the mask. Loss: binary
cross-entropy plus the soft Dice loss (``1 - dice``), Adam (``--lr``), ``model.fit``.

Data (generated here): 32x32 grey scenes of 3 to 5 shapes on a noisy background (Gaussian noise
of std 0.1 around 0.1): one or two filled discs (radius 3 to 6) and one to three distractors,
filled squares (side 6 to 11) or crosses (arm 3 to 6, width 3), each shape of a random
brightness 0.5 to 1.0 (brightness does not tell the classes apart), drawn in random order, a
later shape covering an earlier one. The target is the mask of the visible disc pixels (the
masks are stored as 0/255 bytes, as image files hold them, and divided by 255 when loaded).
800 training scenes and 300 held out (another seed); batches of 16 (50 steps an epoch), 8 epochs
(400 steps). After
every epoch a callback thresholds the held-out predictions at 0.5 and writes the mean Dice and
IoU per image (``val_dice``, ``val_iou``) into the logs; both are on the result line. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SIZE = 32


def scenes(n, seed):
    """Grey scenes (n, 32, 32, 1) float32 and their disc masks as 0/255 bytes (n, 32, 32, 1)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    images = np.zeros((n, SIZE, SIZE), "float32")
    masks = np.zeros((n, SIZE, SIZE), "uint8")
    for i in range(n):
        img = 0.1 + rng.normal(scale=0.1, size=(SIZE, SIZE))
        label = np.zeros((SIZE, SIZE), "uint8")
        kinds = ["disc"] * int(rng.integers(1, 3)) + list(
            rng.choice(["square", "cross"], size=int(rng.integers(1, 4))))
        rng.shuffle(kinds)
        for kind in kinds:
            cy, cx = rng.integers(5, SIZE - 5, size=2)
            if kind == "disc":
                r = rng.uniform(3, 6)
                shape = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            elif kind == "square":
                h = int(rng.integers(6, 12)) // 2
                shape = (np.abs(yy - cy) <= h) & (np.abs(xx - cx) <= h)
            else:
                a = int(rng.integers(3, 7))
                shape = (((np.abs(yy - cy) <= 1) & (np.abs(xx - cx) <= a))
                         | ((np.abs(xx - cx) <= 1) & (np.abs(yy - cy) <= a)))
            img[shape] = rng.uniform(0.5, 1.0) + rng.normal(scale=0.1, size=int(shape.sum()))
            label[shape] = 255 if kind == "disc" else 0
        images[i], masks[i] = img, label
    return images[..., None], masks[..., None]


def build_model(keras, filters, bug):
    from keras import layers

    def conv_block(x, f, name):
        for k in (1, 2):
            x = layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"{name}_conv{k}")(x)
            x = layers.BatchNormalization(name=f"{name}_bn{k}")(x)
            x = layers.Activation("relu", name=f"{name}_relu{k}")(x)
        return x

    def attention_gate(x, g, inter, name):
        """Additive attention gate: the skip x gated by the coarser decoder features g."""
        theta_x = layers.Conv2D(inter, 2, strides=2, padding="same", name=f"{name}_theta")(x)
        phi_g = layers.Conv2D(inter, 1, padding="same", name=f"{name}_phi")(g)
        f = layers.Activation("relu", name=f"{name}_relu")(layers.Add(name=f"{name}_add")(
            [theta_x, phi_g]))
        psi = layers.Conv2D(1, 1, padding="same", name=f"{name}_psi")(f)
        # BUG (psi-softmax): the coefficients from a softmax over the channel axis of the
        # one-channel psi map: every coefficient is exactly 1, the gate passes everything.
        alpha = layers.Activation("softmax" if bug == "psi-softmax" else "sigmoid",
                                  name=f"{name}_alpha")(psi)
        alpha = layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_resample")(alpha)
        y = layers.Multiply(name=f"{name}_gated")([x, alpha])
        y = layers.Conv2D(x.shape[-1], 1, padding="same", name=f"{name}_out")(y)
        return layers.BatchNormalization(name=f"{name}_bn")(y)

    inputs = keras.Input(shape=(SIZE, SIZE, 1), name="image")
    e1 = conv_block(inputs, filters, "enc1")
    e2 = conv_block(layers.MaxPooling2D(name="pool1")(e1), 2 * filters, "enc2")
    e3 = conv_block(layers.MaxPooling2D(name="pool2")(e2), 4 * filters, "enc3")
    b = conv_block(layers.MaxPooling2D(name="pool3")(e3), 8 * filters, "center")

    d = b
    for level, (skip, f) in enumerate(((e3, 4 * filters), (e2, 2 * filters), (e1, filters)), 3):
        gated = attention_gate(skip, d, f, f"att{level}")
        up = layers.Conv2DTranspose(f, 2, strides=2, padding="same", name=f"up{level}")(d)
        # BUG (no-skip): the decoder upsamples the coarse features alone, the (gated) skip
        # connections are dropped from the concatenation.
        merged = up if bug == "no-skip" else layers.Concatenate(name=f"cat{level}")([up, gated])
        d = conv_block(merged, f, f"dec{level}")
    # BUG (softmax-output): a softmax over the one output channel: every pixel's probability
    # is exactly 1, the whole image is predicted as disc.
    outputs = layers.Conv2D(1, 1, activation="softmax" if bug == "softmax-output" else "sigmoid",
                            name="mask")(d)
    return keras.Model(inputs, outputs, name="attention_unet")


def main():
    p = common.parser(__doc__)
    p.add_argument("--n-train", type=int, default=800)
    p.add_argument("--n-val", type=int, default=300)
    p.add_argument("--filters", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("psi-softmax", "no-skip", "softmax-output", "mask-255"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import ops

    x_tr, m_tr = scenes(args.n_train, args.seed)
    x_val, m_val = scenes(args.n_val, args.seed + 1000)
    # BUG (mask-255): the masks are used as stored, 0 and 255, not divided by 255.
    scale = 1.0 if args.bug == "mask-255" else 255.0
    y_tr = m_tr.astype("float32") / scale
    y_val = m_val.astype("float32") / scale

    model = build_model(keras, args.filters, args.bug)
    bce = keras.losses.BinaryCrossentropy()

    def dice_coef(y_true, y_pred, smooth=1.0):
        inter = ops.sum(y_true * y_pred)
        return (2.0 * inter + smooth) / (ops.sum(y_true) + ops.sum(y_pred) + smooth)

    def bce_dice_loss(y_true, y_pred):
        return bce(y_true, y_pred) + 1.0 - dice_coef(y_true, y_pred)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss=bce_dice_loss,
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])

    truth = m_val[..., 0] > 127

    class SegScores(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            pred = model.predict(x_val, batch_size=100, verbose=0)[..., 0] > 0.5
            inter = (pred & truth).sum(axis=(1, 2))
            total = pred.sum(axis=(1, 2)) + truth.sum(axis=(1, 2))
            union = (pred | truth).sum(axis=(1, 2))
            logs["val_dice"] = float(np.mean((2 * inter + 1e-6) / (total + 1e-6)))
            logs["val_iou"] = float(np.mean((inter + 1e-6) / (union + 1e-6)))

    callbacks = [SegScores()] + common.recording.keras_callbacks(
        args.out, task="classification", num_classes=2)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.4f val loss %.4f val dice %.3f val IoU %.3f"
              % (e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_dice"][e],
                 h["val_iou"][e]))
    print("disc pixels in the held-out masks: %.3f" % truth.mean())
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_dice=h["val_dice"][-1], val_iou=h["val_iou"][-1]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kattunet-softmax-output", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): a one-unit output with "
               "activation='softmax' under binary cross-entropy, every prediction the "
               "positive class; Humbatova et al. 2020: wrong activation function of the "
               "output layer",
     "bug": "the output 1x1 Conv2D(1) with activation='softmax' over its single channel: every "
            "pixel's probability is exactly 1, the whole scene is predicted as disc; the "
            "Dice term is constant and Keras's binary cross-entropy trains the logit under "
            "the softmax, so the loss falls (1.306 -> 0.883) while the pixel accuracy stays "
            "at 0.084 (the disc share) and the validation Dice is 0.159, IoU 0.088, from the "
            "first epoch on (the fixed twin: Dice 0.871, IoU 0.816)",
     "fix": "Conv2D(1, 1, activation='sigmoid')",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["unchanged_values", "not_learning", "loss_mismatch"],
     "root_cause": {"layer_name": "mask", "layer_index": 46},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug softmax-output --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "kattunet-mask-255", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data (wrong preprocessing: the targets not "
               "scaled); a common Stack Overflow question kind: a U-Net's Dice/BCE loss "
               "turning negative because the masks, read from PNG files as 0/255, reach a "
               "sigmoid output unscaled",
     "bug": "the masks used as stored, 0 and 255, under binary cross-entropy plus Dice on a "
            "sigmoid output: the cross-entropy of a target of 255 has no minimum in (0, 1) "
            "and drives the output to 1 wherever it can, the loss runs negative (-39 in the "
            "first epoch, -998 in the last), the model marks almost every pixel as disc: "
            "pixel accuracy 0.017, validation Dice 0.178 and IoU 0.100 (the fixed twin: Dice "
            "0.835, IoU 0.763)",
     "fix": "y = masks.astype('float32') / 255.0",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug mask-255 --seed 2 --record-every 8",
          "fixed": "--seed 2 --record-every 8"},
     ]},
    {"family": "healthy-kattunet", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "an Attention U-Net in Keras segmenting the discs of generated scenes "
                    "among squares and crosses, that trains well",
     "healthy": [
         {"id": "filters12-lr2e-3-seed3",
          "args": "--filters 12 --lr 2e-3 --seed 3 --record-every 8",
          "description": "12 base filters, Adam at 2e-3, seed 3: validation Dice 0.864 and "
                         "IoU 0.798 (the discs are 8.8% of the held-out pixels)"},
     ]},
]


if __name__ == "__main__":
    main()
