"""Zero-DCE (Guo et al. 2020, "Zero-Reference Deep Curve Estimation for Low-Light Image
Enhancement") in Keras 3, written the way the keras.io example "Zero-DCE for low-light image
enhancement" is: a DCE-Net of seven ``Conv2D(3x3, same)`` layers with the skip concatenations
``[conv4, conv3]``, ``[conv5, conv2]`` and ``[conv6, conv1]``, the last one giving 24 ``tanh``
curve parameters (eight iterations of three channels); ``get_enhanced_image`` applies the
light-enhancement curve ``x + r (x^2 - x)`` (LE(x) = x + a x (1 - x) with a = -r) eight times;
and a ``ZeroDCE(keras.Model)`` whose ``compile`` makes its own ``Adam`` and loss trackers and
whose ``train_step`` minimises only the example's non-reference losses under a
``GradientTape``: ``200 *`` illumination smoothness (total variation of the curve maps), the
spatial consistency loss (4x4-pooled neighbour differences of the enhanced image against the
input's), ``5 *`` colour constancy and ``10 *`` exposure control (16x16 patches towards 0.6).
No clean image is ever given to the loss.

The data are generated here: --images colour images of 32x32 (smooth random colour fields, a
few low-frequency waves per channel around a grey level, with one or two bright discs or
rectangles), in [0.05, 0.95]; the low-light input is each image darkened by a random gamma
(``x ** gamma``, gamma in [2, 3.5]) and a random exposure factor in [0.5, 0.8], as uint8-like
values scaled by 1/255 (``image / 255.0`` as the example's ``load_data``). 80% train, 20%
validate. The metric is the PSNR (peak 1) of the enhanced validation image against the
original (``val_psnr``), beside the PSNR of the low-light input itself (``input_psnr``).

The network (``dce_net``): ``Conv2D(--filters, relu)`` x 6 (``conv2d`` .. ``conv2d_5``) and
``Conv2D(24, tanh)`` (``conv2d_6``); ``Adam(--lr)``, batches of --batch-size, --epochs epochs.

Recorded (``--out``): the ``fit``. ``ZeroDCE`` overrides ``train_step``, so the recorder runs
in callback mode (weights of the seven convolutions, their applied gradients, forward and
activation rows, the logged ``total_loss`` as the loss (``loss_key="total_loss"``), the learning rate, the validation
loss). The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
SIZE = 32


def make_images(n, seed):
    """Well-exposed colour images and their low-light versions, both as uint8."""
    rng = np.random.default_rng(7000 + seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    clean = np.zeros((n, SIZE, SIZE, 3))
    for i in range(n):
        base = rng.uniform(0.35, 0.65)
        img = np.full((SIZE, SIZE, 3), base)
        for c in range(3):
            for _ in range(3):
                fy, fx = rng.uniform(0.5, 2.5, 2)
                ph = rng.uniform(0, 2 * np.pi)
                img[:, :, c] += rng.uniform(0.03, 0.12) * np.sin(
                    2 * np.pi * (fy * yy + fx * xx) + ph)
        for _ in range(rng.integers(1, 3)):
            colour = rng.uniform(0.5, 0.95, 3)
            cy, cx = rng.uniform(0.2, 0.8, 2)
            r = rng.uniform(0.08, 0.2)
            if rng.random() < 0.5:
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
            else:
                mask = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r * 1.5)
            img[mask] = 0.5 * img[mask] + 0.5 * colour
        clean[i] = np.clip(img, 0.05, 0.95)
    gamma = rng.uniform(2.0, 3.5, (n, 1, 1, 1))
    exposure = rng.uniform(0.5, 0.8, (n, 1, 1, 1))
    low = exposure * clean ** gamma
    return (np.round(clean * 255).astype("uint8"), np.round(low * 255).astype("uint8"))


def trace_layer_names(model, prefix=""):
    """The names the recorder gives the layers that own weights (nested models with '/')."""
    import keras
    names = []
    for sub in model._flatten_layers(include_self=False, recursive=False):
        if isinstance(sub, keras.Model):
            names += trace_layer_names(sub, prefix + sub.name + "/")
        elif sub.weights:
            names.append(prefix + sub.name)
    return names


def main():
    p = common.parser(__doc__)
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("relu-curve-output", "no-rescale", "exposure-sign"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    clean, low = make_images(args.images, args.seed)
    n_train = int(0.8 * args.images)
    # BUG (no-rescale): the low-light images are fed as 0..255 (load_data's image / 255.0 left
    # out), so the curve x + r (x^2 - x) works on values up to 255.
    scale = 1.0 if args.bug == "no-rescale" else 1.0 / 255.0
    low_images = low.astype("float32") * scale
    clean_images = clean.astype("float32") / 255.0
    train_low, val_low = low_images[:n_train], low_images[n_train:]
    val_clean = clean_images[n_train:]

    def build_dce_net():
        input_img = keras.Input(shape=[None, None, 3])
        conv1 = layers.Conv2D(args.filters, (3, 3), strides=(1, 1), activation="relu",
                              padding="same")(input_img)
        conv2 = layers.Conv2D(args.filters, (3, 3), strides=(1, 1), activation="relu",
                              padding="same")(conv1)
        conv3 = layers.Conv2D(args.filters, (3, 3), strides=(1, 1), activation="relu",
                              padding="same")(conv2)
        conv4 = layers.Conv2D(args.filters, (3, 3), strides=(1, 1), activation="relu",
                              padding="same")(conv3)
        int_con1 = layers.Concatenate(axis=-1)([conv4, conv3])
        conv5 = layers.Conv2D(args.filters, (3, 3), strides=(1, 1), activation="relu",
                              padding="same")(int_con1)
        int_con2 = layers.Concatenate(axis=-1)([conv5, conv2])
        conv6 = layers.Conv2D(args.filters, (3, 3), strides=(1, 1), activation="relu",
                              padding="same")(int_con2)
        int_con3 = layers.Concatenate(axis=-1)([conv6, conv1])
        # BUG (relu-curve-output): activation="relu" copied from the layers above: the curve
        # parameters r >= 0 can only darken (x + r (x^2 - x) <= x).
        out_act = "relu" if args.bug == "relu-curve-output" else "tanh"
        x_r = layers.Conv2D(24, (3, 3), strides=(1, 1), activation=out_act,
                            padding="same")(int_con3)
        return keras.Model(inputs=input_img, outputs=x_r, name="dce_net")

    def color_constancy_loss(x):
        mean_rgb = tf.reduce_mean(x, axis=(1, 2), keepdims=True)
        mr, mg, mb = mean_rgb[:, :, :, 0], mean_rgb[:, :, :, 1], mean_rgb[:, :, :, 2]
        d_rg = tf.square(mr - mg)
        d_rb = tf.square(mr - mb)
        d_gb = tf.square(mb - mg)
        return tf.sqrt(tf.square(d_rg) + tf.square(d_rb) + tf.square(d_gb))

    def exposure_loss(x, mean_val=0.6):
        x = tf.reduce_mean(x, axis=3, keepdims=True)
        mean = tf.nn.avg_pool2d(x, ksize=16, strides=16, padding="VALID")
        # BUG (exposure-sign): the difference is not squared but negated, so the "loss"
        # rewards patches far below the target exposure.
        if args.bug == "exposure-sign":
            return tf.reduce_mean(mean - mean_val)
        return tf.reduce_mean(tf.square(mean - mean_val))

    def illumination_smoothness_loss(x):
        batch_size = tf.shape(x)[0]
        h_x = tf.shape(x)[1]
        w_x = tf.shape(x)[2]
        count_h = (tf.shape(x)[2] - 1) * tf.shape(x)[3]
        count_w = tf.shape(x)[2] * (tf.shape(x)[3] - 1)
        h_tv = tf.reduce_sum(tf.square((x[:, 1:, :, :] - x[:, : h_x - 1, :, :])))
        w_tv = tf.reduce_sum(tf.square((x[:, :, 1:, :] - x[:, :, : w_x - 1, :])))
        batch_size = tf.cast(batch_size, dtype=tf.float32)
        count_h = tf.cast(count_h, dtype=tf.float32)
        count_w = tf.cast(count_w, dtype=tf.float32)
        return 2 * (h_tv / count_h + w_tv / count_w) / batch_size

    class SpatialConsistencyLoss(keras.losses.Loss):
        def __init__(self, **kwargs):
            super().__init__(reduction="none")
            self.left_kernel = tf.constant(
                [[[[0, 0, 0]], [[-1, 1, 0]], [[0, 0, 0]]]], dtype=tf.float32)
            self.right_kernel = tf.constant(
                [[[[0, 0, 0]], [[0, 1, -1]], [[0, 0, 0]]]], dtype=tf.float32)
            self.up_kernel = tf.constant(
                [[[[0, -1, 0]], [[0, 1, 0]], [[0, 0, 0]]]], dtype=tf.float32)
            self.down_kernel = tf.constant(
                [[[[0, 0, 0]], [[0, 1, 0]], [[0, -1, 0]]]], dtype=tf.float32)

        def call(self, y_true, y_pred):
            original_mean = tf.reduce_mean(y_true, 3, keepdims=True)
            enhanced_mean = tf.reduce_mean(y_pred, 3, keepdims=True)
            original_pool = tf.nn.avg_pool2d(original_mean, ksize=4, strides=4, padding="VALID")
            enhanced_pool = tf.nn.avg_pool2d(enhanced_mean, ksize=4, strides=4, padding="VALID")

            def d(img, kernel):
                return tf.nn.conv2d(img, kernel, strides=[1, 1, 1, 1], padding="SAME")

            d_left = tf.square(d(original_pool, self.left_kernel)
                               - d(enhanced_pool, self.left_kernel))
            d_right = tf.square(d(original_pool, self.right_kernel)
                                - d(enhanced_pool, self.right_kernel))
            d_up = tf.square(d(original_pool, self.up_kernel) - d(enhanced_pool, self.up_kernel))
            d_down = tf.square(d(original_pool, self.down_kernel)
                               - d(enhanced_pool, self.down_kernel))
            return d_left + d_right + d_up + d_down

    class ZeroDCE(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dce_model = build_dce_net()

        def compile(self, learning_rate, **kwargs):
            super().compile(**kwargs)
            self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
            self.spatial_constancy_loss = SpatialConsistencyLoss(reduction="none")
            self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
            self.illumination_smoothness_loss_tracker = keras.metrics.Mean(
                name="illumination_smoothness_loss")
            self.spatial_constancy_loss_tracker = keras.metrics.Mean(
                name="spatial_constancy_loss")
            self.color_constancy_loss_tracker = keras.metrics.Mean(name="color_constancy_loss")
            self.exposure_loss_tracker = keras.metrics.Mean(name="exposure_loss")

        @property
        def metrics(self):
            return [
                self.total_loss_tracker,
                self.illumination_smoothness_loss_tracker,
                self.spatial_constancy_loss_tracker,
                self.color_constancy_loss_tracker,
                self.exposure_loss_tracker,
            ]

        def get_enhanced_image(self, data, output):
            x = data
            for i in range(8):
                r = output[:, :, :, 3 * i: 3 * i + 3]
                x = x + r * (tf.square(x) - x)
            return x

        def call(self, data):
            dce_net_output = self.dce_model(data)
            return self.get_enhanced_image(data, dce_net_output)

        def compute_losses(self, data, output):
            enhanced_image = self.get_enhanced_image(data, output)
            loss_illumination = 200 * illumination_smoothness_loss(output)
            loss_spatial_constancy = tf.reduce_mean(
                self.spatial_constancy_loss(enhanced_image, data))
            loss_color_constancy = 5 * tf.reduce_mean(color_constancy_loss(enhanced_image))
            loss_exposure = 10 * tf.reduce_mean(exposure_loss(enhanced_image))
            total_loss = (loss_illumination + loss_spatial_constancy + loss_color_constancy
                          + loss_exposure)
            return {
                "total_loss": total_loss,
                "illumination_smoothness_loss": loss_illumination,
                "spatial_constancy_loss": loss_spatial_constancy,
                "color_constancy_loss": loss_color_constancy,
                "exposure_loss": loss_exposure,
            }

        def _track(self, losses):
            self.total_loss_tracker.update_state(losses["total_loss"])
            self.illumination_smoothness_loss_tracker.update_state(
                losses["illumination_smoothness_loss"])
            self.spatial_constancy_loss_tracker.update_state(losses["spatial_constancy_loss"])
            self.color_constancy_loss_tracker.update_state(losses["color_constancy_loss"])
            self.exposure_loss_tracker.update_state(losses["exposure_loss"])
            return {metric.name: metric.result() for metric in self.metrics}

        def train_step(self, data):
            with tf.GradientTape() as tape:
                output = self.dce_model(data)
                losses = self.compute_losses(data, output)
            gradients = tape.gradient(losses["total_loss"], self.dce_model.trainable_weights)
            self.optimizer.apply_gradients(zip(gradients, self.dce_model.trainable_weights))
            return self._track(losses)

        def test_step(self, data):
            output = self.dce_model(data)
            losses = self.compute_losses(data, output)
            return self._track(losses)

    zero_dce_model = ZeroDCE(name="zero_dce")
    zero_dce_model.compile(learning_rate=args.lr)
    train_dataset = tf.data.Dataset.from_tensor_slices(train_low).batch(
        args.batch_size, drop_remainder=True)
    val_dataset = tf.data.Dataset.from_tensor_slices(val_low).batch(
        args.batch_size, drop_remainder=True)
    history = zero_dce_model.fit(train_dataset, validation_data=val_dataset,
                                 epochs=args.epochs, verbose=0,
                                 callbacks=common.recording.keras_callbacks(
                                     args.out, loss_key="total_loss", task="regression"))
    h = history.history
    for e in range(len(h["total_loss"])):
        print("epoch %d: total %.4f illum %.4f spatial %.4f colour %.4f exposure %.4f "
              "val total %.4f" % (
                  e + 1, h["total_loss"][e], h["illumination_smoothness_loss"][e],
                  h["spatial_constancy_loss"][e], h["color_constancy_loss"][e],
                  h["exposure_loss"][e], h["val_total_loss"][e]))

    def psnr(a, b):
        mse = np.mean((np.clip(a, 0, 1) - b) ** 2, axis=(1, 2, 3))
        return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-10))))

    enhanced = np.asarray(zero_dce_model.predict(val_low, batch_size=args.batch_size,
                                                  verbose=0))
    enhanced = np.nan_to_num(enhanced, nan=0.0, posinf=1.0, neginf=0.0)
    val_psnr = psnr(enhanced, val_clean)
    input_psnr = psnr(val_low / 255.0 if args.bug == "no-rescale" else val_low, val_clean)
    print("validation: psnr %.2f dB (low-light input %.2f dB), mean brightness %.3f "
          "(original %.3f)" % (val_psnr, input_psnr, float(np.mean(np.clip(enhanced, 0, 1))),
                               float(np.mean(val_clean))))

    steps = (n_train // args.batch_size) * len(h["total_loss"])
    result = {"steps": steps, "epochs": len(h["total_loss"]),
              "first_loss": float(h["total_loss"][0]), "loss": float(h["total_loss"][-1]),
              "val_loss": float(h["val_total_loss"][-1]),
              "val_psnr": val_psnr, "input_psnr": input_psnr,
              "nan": any(not np.isfinite(v) for v in h["total_loss"]),
              "layers": trace_layer_names(zero_dce_model)}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "zerodce-relu-curve-output", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong activation function of the last layer (relu "
               "copied from the hidden layers onto the layer that must give signed curve "
               "parameters); DeepFD fault type: wrong activation",
     "bug": "the DCE-Net's last Conv2D (24 curve parameters) has activation='relu' instead of "
            "tanh: r >= 0 can only darken (x + r (x^2 - x) <= x), the exposure loss pushes r to "
            "0, the ReLU outputs 0 everywhere and pass no gradient; the enhanced image is the "
            "low-light input (total loss 2.54 in the first epoch, 2.30 in the eighth, the "
            "exposure term stuck at 2.29), a validation PSNR of 8.08 dB, the input's own 8.08 "
            "dB (the fixed twin: 20.77 dB)",
     "fix": "activation='tanh' on the last Conv2D, as the example has",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": {"layer_name": "dce_net/conv2d_6", "layer_index": 6},
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug relu-curve-output --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "zerodce-no-rescale", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing preprocessing (pixels not scaled, the "
               "example's image / 255.0 left out); DeepLocalize benchmark (Stack Overflow): "
               "NaN loss with unnormalised 0-255 images",
     "bug": "the low-light images are fed as 0..255: the curve x + r (x^2 - x), applied eight "
            "times, overflows, the losses are NaN from the first epoch and the enhanced "
            "images are NaN (0 after nan_to_num): a validation PSNR of 5.52 dB (the fixed "
            "twin: 19.85 dB)",
     "fix": "images / 255.0",
     "symptom": "numerical_error", "acceptable_symptoms": ["saturation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug no-rescale --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "zerodce-exposure-sign", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (a term of a hand-written "
               "composite loss whose square was left out, so its sign rewards the wrong "
               "direction); DeepFD fault type: wrong loss",
     "bug": "exposure_loss returns mean(mean - 0.6) instead of mean(square(mean - 0.6)): "
            "minimising it darkens every patch, the total loss falls from -3.94 to -5.92 "
            "while the images go black (mean brightness 0.001): a validation PSNR of 5.75 "
            "dB, below the low-light input's 8.07 dB (the fixed twin: 21.32 dB)",
     "fix": "tf.reduce_mean(tf.square(mean - mean_val))",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed4",
          "buggy": "--bug exposure-sign --seed 4 --record-every 4",
          "fixed": "--seed 4 --record-every 4"},
     ]},
    {"family": "healthy-zerodce", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Zero-DCE DCE-Net with its own train_step and the non-reference losses "
                    "(recorded in callback mode), that trains well",
     "healthy": [
         {"id": "f24-lr2e-3-bs20-seed3",
          "args": "--filters 24 --lr 2e-3 --batch-size 20 --seed 3 --record-every 4",
          "description": "24 filters, Adam(2e-3), batches of 20"},
     ]},
]


if __name__ == "__main__":
    main()
