"""Single-image super-resolution with EDSR in Keras 3, written the way the keras.io example
"Enhanced Deep Residual Networks for single-image super-resolution" (Gitesh Chawda, 2022;
after Lim et al. 2017) is, scaled down: a functional model that takes 0..255 RGB images,
``Rescaling(1 / 255)``, a head ``Conv2D`` (``conv2d``), --blocks residual blocks without batch
normalization (``Conv2D`` relu, ``Conv2D``, the branch multiplied by the residual scaling
--res-scale with a ``Rescaling`` layer, as the paper's larger models do, and added back), a
``Conv2D`` closing the body and a global skip (``Add``), the upsampler (``Conv2D`` of
``filters * 2 ** 2`` channels then ``tf.nn.depth_to_space(x, block_size=2)`` in a layer), a
last ``Conv2D`` to 3 channels and ``Rescaling(255)``; the mean absolute error (``"mae"``),
Adam on the example's ``PiecewiseConstantDecay`` (--lr until the boundary at 60% of the steps,
half of it after), the PSNR (``tf.image.psnr``, ``max_val=255``) as the metric, trained with
``model.fit``.

Data, in place of the example's DIV2K crops: 32x32 RGB patches cut at random from the two
photographs bundled with scikit-learn (``load_sample_images``: china.jpg and flower.jpg, 427x640),
the left 80% of each photograph for training (--patches) and the right 20% for the held-out
patches (a fifth as many), only patches whose grey levels vary (standard deviation at least
40) as SR crops are chosen; the low-resolution input of each is the patch resized to 16x16
with ``tf.image.resize(method="area")``, the target the patch itself (x2), both 0..255 as the
example feeds them. The result line adds the held-out PSNR in dB (``val_psnr``, 0..255) and
that of bicubic upsampling of the same inputs (``bicubic_psnr``), which EDSR should beat.

Layers with weights (the recorder's): ``conv2d`` (head), two per residual block, the body's
closing conv, the upsampler's conv and the last conv (--blocks 4: ``conv2d`` to
``conv2d_11``). The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

SIZE = 32
SCALE = 2
MIN_STD = 40.0


def make_patches(n_train, n_val, seed):
    """RGB patches (0..255 float32) of SIZE x SIZE from scikit-learn's two sample images."""
    from sklearn.datasets import load_sample_images
    rng = np.random.default_rng(seed)
    photos = [img.astype("float32") for img in load_sample_images().images]

    def cut(n, part):
        out = np.empty((n, SIZE, SIZE, 3), dtype="float32")
        i = 0
        while i < n:
            img = photos[i % len(photos)]
            h, w, _ = img.shape
            split = int(w * 0.8)
            lo, hi = (0, split - SIZE) if part == "train" else (split, w - SIZE)
            top = rng.integers(0, h - SIZE + 1)
            left = rng.integers(lo, hi + 1)
            patch = img[top:top + SIZE, left:left + SIZE]
            if patch.std() < MIN_STD:
                continue  # flat sky or blur: keep the textured patches, as SR crops do
            if part == "train" and rng.random() < 0.5:
                patch = patch[:, ::-1]  # the example's random horizontal flip
            out[i] = patch
            i += 1
        return out

    return cut(n_train, "train"), cut(n_val, "val")


def build_model(keras, tf, filters, blocks, res_scale, bug=None):
    from keras import layers

    class DepthToSpace(layers.Layer):
        """The pixel shuffle of the upsampler (the example's ``tf.nn.depth_to_space``)."""

        def __init__(self, block_size, **kwargs):
            super().__init__(**kwargs)
            self.block_size = block_size

        def call(self, x):
            return tf.nn.depth_to_space(x, block_size=self.block_size)

    def res_block(inputs):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(inputs)
        if bug == "batchnorm":
            # BUG (batchnorm): batch normalization put back into the residual blocks, as in
            # SRResNet; EDSR removes it (its statistics shift the colours of every image).
            x = layers.BatchNormalization()(x)
        x = layers.Conv2D(filters, 3, padding="same")(x)
        if bug == "batchnorm":
            x = layers.BatchNormalization()(x)
        x = layers.Rescaling(res_scale)(x)  # residual scaling
        return layers.Add()([inputs, x])

    inputs = keras.Input(shape=(None, None, 3))
    if bug == "no-input-rescaling":
        # BUG (no-input-rescaling): the Rescaling(1 / 255) is left out: the network takes
        # 0..255 pixels, while the output is still multiplied by 255.
        x = inputs
    else:
        x = layers.Rescaling(1.0 / 255)(inputs)
    x = x_new = layers.Conv2D(filters, 3, padding="same")(x)
    for _ in range(blocks):
        x_new = res_block(x_new)
    x_new = layers.Conv2D(filters, 3, padding="same")(x_new)
    x = layers.Add()([x, x_new])
    x = layers.Conv2D(filters * (SCALE ** 2), 3, padding="same")(x)
    x = DepthToSpace(SCALE, name="depth_to_space")(x)
    x = layers.Conv2D(3, 3, padding="same")(x)
    outputs = layers.Rescaling(255.0)(x)
    return keras.Model(inputs, outputs, name="edsr")


def main():
    p = common.parser(__doc__)
    p.add_argument("--patches", type=int, default=800, help="training patches")
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--res-scale", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=2e-3, help="before the boundary; half after")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--bug", default=None, choices=("batchnorm", "no-input-rescaling"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    hr_train, hr_val = make_patches(args.patches, args.patches // 5, args.seed)
    lr_train = tf.image.resize(hr_train, [SIZE // SCALE] * 2, method="area").numpy()
    lr_val = tf.image.resize(hr_val, [SIZE // SCALE] * 2, method="area").numpy()

    model = build_model(keras, tf, args.filters, args.blocks, args.res_scale, bug=args.bug)
    steps_per_epoch = -(-len(lr_train) // args.batch_size)
    boundary = int(0.6 * steps_per_epoch * args.epochs)
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        boundaries=[boundary], values=[args.lr, args.lr / 2])

    def PSNR(super_resolution, high_resolution):
        return tf.image.psnr(high_resolution, super_resolution, max_val=255)[0]

    def psnr(y_true, y_pred):
        return tf.image.psnr(y_true, y_pred, max_val=255.0)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="mae",
                  metrics=[psnr])
    callbacks = common.recording.keras_callbacks(args.out, task="regression")
    history = model.fit(lr_train, hr_train, validation_data=(lr_val, hr_val),
                        epochs=args.epochs, batch_size=args.batch_size, shuffle=True,
                        verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.3f psnr %.2f val loss %.3f val psnr %.2f" % (
            e + 1, h["loss"][e], h["psnr"][e], h["val_loss"][e], h["val_psnr"][e]))

    pred = np.clip(model.predict(lr_val, batch_size=64, verbose=0), 0.0, 255.0)
    val_psnr = float(np.mean(tf.image.psnr(hr_val, pred, max_val=255.0).numpy()))
    bicubic = np.clip(tf.image.resize(lr_val, [SIZE, SIZE], method="bicubic").numpy(), 0, 255)
    bicubic_psnr = float(np.mean(tf.image.psnr(hr_val, bicubic, max_val=255.0).numpy()))
    print("held-out PSNR: EDSR %.2f dB, bicubic %.2f dB" % (val_psnr, bicubic_psnr))
    steps = steps_per_epoch * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_psnr=val_psnr, bicubic_psnr=bicubic_psnr))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kedsr-no-input-rescaling", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data preprocessing (missing normalization of "
               "the input); Stack Overflow: 'super-resolution network gives noisy images, loss "
               "in the thousands' with 0..255 inputs",
     "bug": "the model's Rescaling(1 / 255) is left out: the convolutions take 0..255 pixels "
            "while the output is still multiplied by 255, the first-epoch mean absolute error "
            "is 2791 (in 0..255 units; the fixed twin: 27.0) and falls only to 36.7 in 12 "
            "epochs (the fixed twin: 10.7); held-out PSNR 16.77 dB against the fixed twin's "
            "30.87 dB (bicubic upsampling 35.03 dB)",
     "fix": "x = layers.Rescaling(1.0 / 255)(inputs) before the head conv",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-input-rescaling --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kedsr-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; DeepLocalize benchmark "
               "(Stack Overflow): 'loss explodes in the first steps'",
     "bug": "the piecewise-constant schedule's values are 0.05 and 0.025 instead of 2e-3 and "
            "1e-3: the first-epoch mean absolute error is 177269 "
            "(0..255 units; the fixed twin: 26.2) and is still 19.6 after 12 epochs (the "
            "fixed twin: 10.4); held-out PSNR 20.76 dB against the fixed twin's 30.97 dB "
            "(bicubic upsampling 34.49 dB)",
     "fix": "PiecewiseConstantDecay(values=[2e-3, 1e-3])",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.05 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kedsr", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "EDSR (residual blocks without batch normalization, residual scaling 0.1, "
                    "pixel shuffle) super-resolving photograph patches x2, that trains well",
     "healthy": [
         {"id": "seed3",
          "args": "--seed 3 --record-every 4",
          "description": "4 residual blocks of 32 filters, Adam 2e-3 then 1e-3: the MAE "
                         "26.3 to 11.1 in 12 epochs, held-out PSNR 28.97 dB (bicubic 34.53 dB)"},
     ]},
]


if __name__ == "__main__":
    main()
