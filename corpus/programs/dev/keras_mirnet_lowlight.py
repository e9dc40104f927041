"""Low-light image enhancement with MIRNet (Zamir et al., ECCV 2020, "Learning Enriched
Features for Real Image Restoration and Enhancement") in Keras 3, written the way the keras.io
example "Low-light image enhancement using MIRNet" (Soumik Rakshit, 2021) writes it, scaled
down: a functional model built by plain functions, a ``Conv2D`` in, one recursive residual
group (a ``Conv2D``, one multi-scale residual block, a ``Conv2D``, the group's skip), a
``Conv2D`` to 3 channels and the global residual ``Add`` with the input image.

The multi-scale residual block keeps three parallel streams, at full, half and quarter
resolution (--channels, twice and four times as many channels), made by down-sampling modules
(two branches: ``Conv2D 1x1 relu``, ``Conv2D 3x3 relu``, ``MaxPooling2D``, ``Conv2D 1x1`` and
``MaxPooling2D``, ``Conv2D 1x1``, added); each stream goes through a dual attention unit (two
``Conv2D 3x3``, channel attention: global average pooling, a squeezing and an exciting 1x1
``Conv2D`` with a sigmoid; spatial attention: the channels' mean and max, a 1x1 ``Conv2D`` with
a sigmoid; the two attended maps concatenated, a 1x1 ``Conv2D`` and the unit's skip); the
half and quarter streams are brought back to full resolution by up-sampling modules
(``UpSampling2D`` in place of the pooling, halving the channels) and the three are joined by
selective kernel feature fusion: the streams summed, global average pooling, a squeezing
``Dense`` (relu), one ``Dense`` per stream giving the stream's channel descriptor, and a
softmax over the three streams of each channel's descriptors (the paper's attention; the
example puts its softmax over the channels of each descriptor instead), the streams weighted
and summed; a dual attention unit on the fused map and a ``Conv2D 3x3`` close the block with
the block's skip (one round of exchange, where the paper's block has two and fuses at every
scale, to keep the run short).

Loss: the Charbonnier loss ``mean(sqrt((y_true - y_pred)^2 + eps^2))`` with eps 1e-3; Adam on a
``CosineDecay`` schedule from --lr (the example's ReduceLROnPlateau replaced by a schedule);
the PSNR (``tf.image.psnr``, peak 1) as the metric; ``model.fit``.

Data (generated here, in place of the LOL data set): --images RGB scenes of 32x32 in [0, 1]: a
smooth background gradient, two to four flat-coloured rectangles and discs, a sinusoidal
texture over one of them, blurred slightly; the low-light input of each is ``gain *
clean ** gamma`` with gamma in [1.8, 3.0] and gain in [0.25, 0.5], plus Gaussian noise of std
0.02, clipped to [0, 1] and quantized to 8 bits (``/ 255.0``); the target is the clean scene.
20% validate. The result line adds the held-out PSNR (``val_psnr``) and that of the low-light
input itself (``input_psnr``). The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
SIZE = 32


def make_scenes(n, seed):
    """Clean RGB scenes in [0, 1] and their darkened, noisy versions (8-bit levels / 255)."""
    rng = np.random.default_rng(9100 + seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    clean = np.zeros((n, SIZE, SIZE, 3), dtype="float64")
    for i in range(n):
        c0, c1 = rng.uniform(0.2, 0.8, 3), rng.uniform(0.2, 0.8, 3)
        angle = rng.uniform(0, 2 * np.pi)
        t = (np.cos(angle) * xx + np.sin(angle) * yy + 1.0) / 2.0
        img = c0 * t[..., None] + c1 * (1 - t[..., None])
        for k in range(rng.integers(2, 5)):
            colour = rng.uniform(0.05, 1.0, 3)
            cy, cx = rng.uniform(0.1, 0.9, 2)
            r = rng.uniform(0.08, 0.25)
            if rng.random() < 0.5:
                mask = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r * rng.uniform(0.5, 1.5))
            else:
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
            if k == 0:
                f = rng.uniform(3, 8)
                tex = 0.5 + 0.5 * np.sin(2 * np.pi * f * (xx + yy * rng.uniform(-1, 1)))
                img[mask] = colour * (0.6 + 0.4 * tex[mask][:, None])
            else:
                img[mask] = colour
        # a slight blur (3x3 box) so that edges are not single-pixel steps
        pad = np.pad(img, ((1, 1), (1, 1), (0, 0)), mode="edge")
        img = sum(pad[dy:dy + SIZE, dx:dx + SIZE] for dy in range(3) for dx in range(3)) / 9.0
        clean[i] = np.clip(img, 0.0, 1.0)
    gamma = rng.uniform(1.8, 3.0, size=(n, 1, 1, 1))
    gain = rng.uniform(0.25, 0.5, size=(n, 1, 1, 1))
    low = gain * clean ** gamma + rng.normal(scale=0.02, size=clean.shape)
    low = np.round(np.clip(low, 0.0, 1.0) * 255.0)          # 8-bit levels, as loaded
    return clean.astype("float32"), low.astype("float32")


def build_model(keras, tf, channels, bug=None):
    from keras import layers

    def channel_pooling(x):
        avg = tf.reduce_mean(x, axis=-1, keepdims=True)
        mx = tf.reduce_max(x, axis=-1, keepdims=True)
        return tf.concat([avg, mx], axis=-1)

    def spatial_attention_block(x):
        pooled = layers.Lambda(channel_pooling)(x)
        att = layers.Conv2D(1, 1, activation="sigmoid")(pooled)
        return layers.Multiply()([x, att])

    def channel_attention_block(x):
        c = x.shape[-1]
        gap = layers.GlobalAveragePooling2D(keepdims=True)(x)
        s = layers.Conv2D(max(c // 8, 2), 1, activation="relu")(gap)
        s = layers.Conv2D(c, 1, activation="sigmoid")(s)
        return layers.Multiply()([x, s])

    def dual_attention_unit_block(x):
        c = x.shape[-1]
        f = layers.Conv2D(c, 3, padding="same", activation="relu")(x)
        f = layers.Conv2D(c, 3, padding="same")(f)
        ca = channel_attention_block(f)
        sa = spatial_attention_block(f)
        cat = layers.Concatenate(axis=-1)([ca, sa])
        cat = layers.Conv2D(c, 1)(cat)
        return layers.Add()([x, cat])

    def down_sampling_module(x):
        c = x.shape[-1]
        main = layers.Conv2D(c, 1, activation="relu")(x)
        main = layers.Conv2D(c, 3, padding="same", activation="relu")(main)
        main = layers.MaxPooling2D()(main)
        main = layers.Conv2D(c * 2, 1)(main)
        skip = layers.MaxPooling2D()(x)
        skip = layers.Conv2D(c * 2, 1)(skip)
        return layers.Add()([skip, main])

    def up_sampling_module(x):
        c = x.shape[-1]
        main = layers.Conv2D(c, 1, activation="relu")(x)
        main = layers.Conv2D(c, 3, padding="same", activation="relu")(main)
        main = layers.UpSampling2D()(main)
        main = layers.Conv2D(c // 2, 1)(main)
        skip = layers.UpSampling2D()(x)
        skip = layers.Conv2D(c // 2, 1)(skip)
        return layers.Add()([skip, main])

    def selective_kernel_feature_fusion(f1, f2, f3):
        c = f1.shape[-1]
        combined = layers.Add()([f1, f2, f3])
        gap = layers.GlobalAveragePooling2D()(combined)
        z = layers.Dense(max(c // 8, 4), activation="relu")(gap)
        d1 = layers.Dense(c)(z)
        d2 = layers.Dense(c)(z)
        d3 = layers.Dense(c)(z)
        stacked = layers.Lambda(lambda t: tf.stack(t, axis=1))([d1, d2, d3])  # (batch, 3, c)
        # BUG (skff-softmax-channels): the attention's softmax is taken over the channels of
        # each stream's descriptor (axis -1) instead of over the three streams (axis 1).
        axis = -1 if bug == "skff-softmax-channels" else 1
        weights = layers.Softmax(axis=axis)(stacked)
        w1, w2, w3 = [layers.Reshape((1, 1, c))(layers.Lambda(lambda t, k=k: t[:, k])(weights))
                      for k in range(3)]
        return layers.Add()([layers.Multiply()([f1, w1]), layers.Multiply()([f2, w2]),
                             layers.Multiply()([f3, w3])])

    def multi_scale_residual_block(x):
        level1 = x
        level2 = down_sampling_module(level1)
        level3 = down_sampling_module(level2)
        level1_dau = dual_attention_unit_block(level1)
        level2_dau = dual_attention_unit_block(level2)
        level3_dau = dual_attention_unit_block(level3)
        skff = selective_kernel_feature_fusion(
            level1_dau, up_sampling_module(level2_dau),
            up_sampling_module(up_sampling_module(level3_dau)))
        skff = dual_attention_unit_block(skff)
        conv = layers.Conv2D(channels, 3, padding="same")(skff)
        return layers.Add()([x, conv])

    def recursive_residual_group(x):
        h = layers.Conv2D(channels, 3, padding="same")(x)
        h = multi_scale_residual_block(h)
        h = layers.Conv2D(channels, 3, padding="same")(h)
        return layers.Add()([x, h])

    inputs = keras.Input(shape=(None, None, 3))
    x = layers.Conv2D(channels, 3, padding="same")(inputs)
    x = recursive_residual_group(x)
    conv = layers.Conv2D(3, 3, padding="same")(x)
    if bug == "no-global-residual":
        # BUG (no-global-residual): the model returns the last conv's output; the global
        # residual Add([inputs, conv]) of MIRNet is dropped.
        outputs = conv
    else:
        outputs = layers.Add()([inputs, conv])
    return keras.Model(inputs, outputs, name="mirnet")


def main():
    p = common.parser(__doc__)
    p.add_argument("--images", type=int, default=400)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3, help="the cosine schedule's start")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("skff-softmax-channels", "no-global-residual", "no-input-scaling"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    clean, low = make_scenes(args.images, args.seed)
    n_val = args.images // 5
    x_train, x_val = low[n_val:] / 255.0, low[:n_val] / 255.0
    y_train, y_val = clean[n_val:], clean[:n_val]
    if args.bug == "no-input-scaling":
        # BUG (no-input-scaling): the low-light images are fed as loaded, 0..255 levels,
        # while the targets (and the global residual's output) are in [0, 1].
        x_train, x_val = low[n_val:], low[:n_val]
    input_psnr = float(np.mean(tf.image.psnr(y_val, low[:n_val] / 255.0, max_val=1.0).numpy()))

    model = build_model(keras, tf, args.channels, bug=args.bug)
    steps_per_epoch = -(-len(x_train) // args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(
        args.lr, decay_steps=steps_per_epoch * args.epochs, alpha=0.05)

    def charbonnier_loss(y_true, y_pred):
        return tf.reduce_mean(tf.sqrt(tf.square(y_true - y_pred) + tf.square(1e-3)))

    def psnr(y_true, y_pred):
        return tf.image.psnr(y_pred, y_true, max_val=1.0)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule),
                  loss=charbonnier_loss, metrics=[psnr])
    callbacks = common.recording.keras_callbacks(args.out, task="regression")
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f psnr %.2f val loss %.4f val psnr %.2f" % (
            e + 1, h["loss"][e], h["psnr"][e], h["val_loss"][e], h["val_psnr"][e]))
    pred = np.clip(model.predict(x_val, batch_size=64, verbose=0), 0.0, 1.0)
    val_psnr = float(np.mean(tf.image.psnr(y_val, pred, max_val=1.0).numpy()))
    print("held-out PSNR: MIRNet %.2f dB, the low-light input %.2f dB" % (val_psnr, input_psnr))
    steps = steps_per_epoch * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_psnr=val_psnr, input_psnr=input_psnr))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmirnet-no-input-scaling", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data preprocessing (missing normalization of "
               "the input); Stack Overflow: 'image enhancement model outputs garbage' with "
               "0..255 inputs and [0, 1] targets",
     "bug": "the low-light images are fed as loaded, 0..255 levels, while the targets and the "
            "global residual's output are in [0, 1]: the first-epoch Charbonnier loss is 19.8 "
            "(the fixed twin: 0.192) and falls only to 2.72 in 10 epochs (the fixed twin: "
            "0.0561); held-out PSNR 6.10 dB, below the low-light input's own 7.59 dB, against "
            "the fixed twin's 23.18 dB",
     "fix": "x_train, x_val = low[n_val:] / 255.0, low[:n_val] / 255.0",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-input-scaling --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kmirnet-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high; Stack Overflow: 'loss "
               "explodes to millions in the first epoch' of an image restoration network",
     "bug": "the cosine schedule starts at 0.05 instead of 2e-3: the first-epoch mean "
            "Charbonnier loss is 1.78e6 (the fixed twin: 0.153), 4.5e6 in the fifth epoch and "
            "still 4.8e5 in the tenth (the fixed twin: 0.0555); held-out PSNR 5.66 dB against "
            "the fixed twin's 24.30 dB (the low-light input: 7.47 dB)",
     "fix": "CosineDecay(2e-3, ...)",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.05 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kmirnet", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small MIRNet (multi-scale residual block, selective kernel feature "
                    "fusion, dual attention units, global residual) brightening generated "
                    "low-light scenes with the Charbonnier loss, that trains well",
     "healthy": [
         {"id": "lr3e-3-seed3",
          "args": "--lr 3e-3 --seed 3 --record-every 4",
          "description": "Adam from 3e-3 on a cosine decay: the Charbonnier loss 0.167 to "
                         "0.0554 in 10 epochs, held-out PSNR 23.77 dB (the low-light input "
                         "7.49 dB)"},
     ]},
]


if __name__ == "__main__":
    main()
