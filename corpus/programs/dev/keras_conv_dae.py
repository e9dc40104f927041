"""A Keras 3 convolutional denoising autoencoder on the 8x8 digits, fed by a ``tf.data`` pipeline
(``from_tensor_slices``, ``shuffle``, ``map`` adding fresh Gaussian noise to every image each
epoch, ``batch``, ``prefetch``), with a held-out validation set and an ``EarlyStopping``
callback, as the Keras denoising-autoencoder tutorials write it.

Data: scikit-learn's digits reshaped to 8x8x1 and divided by 16 (grey levels 0..16 -> [0, 1]),
a stratified fifth held out for validation; the pipeline's ``map`` returns ``(noisy, clean)``
pairs, the noise of standard deviation ``--noise`` clipped back to [0, 1]; the validation
pairs get their noise once, with a fixed seed. The model (functional API): ``Conv2D`` ``enc1``
(``--filters``, 3x3, same padding, ReLU), ``MaxPooling2D`` to 4x4, ``Conv2D`` ``enc2`` (half the
filters), ``Conv2DTranspose`` ``dec1`` (stride 2 back to 8x8, ``--filters``), ``Conv2D`` ``dec2``
(1 channel, 3x3, sigmoid). ``--loss`` ``binary_crossentropy`` (default) or ``mse``; optimizer
``--optimizer`` (adam, rmsprop, sgd with momentum 0.9, nadam) at ``--lr``; ``EarlyStopping`` on
``val_loss`` with ``--patience`` (``restore_best_weights``), up to ``--epochs``. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``, ``--l2``).
The printed pixel MSE of the validation set is against the clean images, beside the MSE of
predicting the training set's mean image.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--noise", type=float, default=0.2)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--loss", default="binary_crossentropy", choices=("binary_crossentropy", "mse"))
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "sgd", "nadam"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--bug", default=None, choices=("no-rescale", "enc-bias-negative",
                                                   "linear-decoder-bce"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    x, y = common.load("digits")
    images = x.reshape(-1, 8, 8, 1).astype("float32")
    x_tr, x_val, _, _ = common.split(images, y, seed=args.seed)
    # BUG (no-rescale): the grey levels 0..16 go in (and are the targets) as they are.
    scale = 1.0 if args.bug == "no-rescale" else 16.0
    top = 16.0 if args.bug == "no-rescale" else 1.0
    x_tr, x_val = x_tr / scale, x_val / scale

    def add_noise(clean):
        noisy = clean + tf.random.normal(tf.shape(clean), stddev=args.noise * top)
        return tf.clip_by_value(noisy, 0.0, top), clean

    train = (tf.data.Dataset.from_tensor_slices(x_tr)
             .shuffle(len(x_tr), seed=args.seed)
             .map(add_noise)
             .batch(args.batch_size)
             .prefetch(tf.data.AUTOTUNE))
    rng = np.random.default_rng(10_000 + args.seed)
    noisy_val = np.clip(x_val + rng.normal(0, args.noise * top, x_val.shape), 0, top)
    val = tf.data.Dataset.from_tensor_slices((noisy_val.astype("float32"), x_val)).batch(256)

    reg = keras.regularizers.L2(args.l2) if args.l2 > 0 else None
    # BUG (enc-bias-negative): the first convolution's bias starts at -3 ("to make the code
    # sparse"), below every pre-activation the [0, 1] inputs can give.
    enc_bias = (keras.initializers.Constant(-3.0) if args.bug == "enc-bias-negative"
                else "zeros")
    inputs = keras.Input(shape=(8, 8, 1), name="noisy")
    h = layers.Conv2D(args.filters, 3, padding="same", activation="relu", name="enc1",
                      bias_initializer=enc_bias, kernel_regularizer=reg)(inputs)
    h = layers.MaxPooling2D(2, name="pool")(h)
    h = layers.Conv2D(max(1, args.filters // 2), 3, padding="same", activation="relu",
                      name="enc2", kernel_regularizer=reg)(h)
    h = layers.Conv2DTranspose(args.filters, 3, strides=2, padding="same", activation="relu",
                               name="dec1", kernel_regularizer=reg)(h)
    # BUG (linear-decoder-bce): the sigmoid dropped from the last layer (as for an MSE
    # decoder) while the loss stays binary_crossentropy, which expects probabilities.
    out_act = None if args.bug == "linear-decoder-bce" else "sigmoid"
    out = layers.Conv2D(1, 3, padding="same", activation=out_act, name="dec2",
                        kernel_regularizer=reg)(h)
    model = keras.Model(inputs, out, name="conv_dae")

    optimizer = {"adam": lambda: keras.optimizers.Adam(args.lr),
                 "rmsprop": lambda: keras.optimizers.RMSprop(args.lr),
                 "sgd": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
                 "nadam": lambda: keras.optimizers.Nadam(args.lr)}[args.optimizer]()
    model.compile(optimizer=optimizer, loss=args.loss)
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=args.patience,
                                         restore_best_weights=True)
    history = model.fit(train, validation_data=val, epochs=args.epochs, verbose=0,
                        callbacks=[stop] + common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f val loss %.4f" % (e + 1, h["loss"][e], h["val_loss"][e]))
    recon = model.predict(noisy_val.astype("float32"), batch_size=256, verbose=0)
    pixel_mse = float(np.mean((recon - x_val) ** 2)) / top ** 2
    mean_mse = float(np.mean((x_tr.mean(0) - x_val) ** 2)) / top ** 2
    print("validation pixel MSE %.4f (of [0, 1] pixels; the mean image's %.4f), %d epochs"
          % (pixel_mse, mean_mse, len(h["loss"])))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_pixel_mse=pixel_mse, mean_image_mse=mean_mse))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdae-no-rescale", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): an autoencoder with a sigmoid output "
               "trained on unscaled pixels; Humbatova et al. 2020: missing input normalization",
     "bug": "the grey levels 0..16 are neither divided by 16 as inputs nor as targets: the "
            "sigmoid output cannot exceed 1, its units sit at 1 wherever the digit has ink, the "
            "MSE only falls from 52.3 to 51.2 (grey levels squared) and the validation pixel "
            "MSE is 0.200 of [0, 1] pixels (the mean image's 0.074) against 0.016",
     "fix": "x / 16 before the pipeline",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-mse",
          "buggy": "--bug no-rescale --loss mse --record-every 2",
          "fixed": "--loss mse --record-every 2"},
     ]},
    {"family": "kdae-enc-bias-negative", "split": "dev", "architecture": "autoencoder",
     "origin": "AUTOTRAINER: dying ReLU (a bias initializer of -3 on the first convolution)",
     "bug": "bias_initializer=Constant(-3.0) on enc1 'to make the code sparse': no 3x3 patch of "
            "[0, 1] pixels lifts a pre-activation above 0, every enc1 unit is dead from the "
            "first step, nothing "
            "reaches the decoder but its biases; the loss stays at 0.68 to 0.615 and the "
            "validation pixel MSE is 0.142 (the mean image's 0.072) against 0.015",
     "fix": "bias_initializer='zeros'",
     "symptom": "dead_or_zero", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "enc1", "layer_index": 0},
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug enc-bias-negative --seed 1 --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "kdae-linear-decoder-bce", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): binary_crossentropy on an output "
               "layer without sigmoid; Humbatova et al. 2020: wrong activation of the last "
               "layer for the loss",
     "bug": "the sigmoid is dropped from dec2 while the loss stays binary_crossentropy "
            "(from_logits=False): Keras clips the unbounded outputs into (0, 1), the clipped "
            "pixels get no gradient, the validation loss jumps (0.40, then 0.32) and the "
            "training loss ends at 0.352 against 0.272, the validation pixel MSE at 0.033 "
            "against 0.016",
     "fix": "activation='sigmoid' on dec2",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug linear-decoder-bce --seed 2 --record-every 2",
          "fixed": "--seed 2 --record-every 2"},
     ]},
    {"family": "kdae-l2-dominates", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong (L2 0.1 on every "
               "kernel)",
     "bug": "kernel_regularizer L2(0.1) on every convolution: the penalty (first-epoch loss "
            "1.55) drives the kernels towards zero, the decoder gives back about one blurred "
            "image for every input, and the validation pixel MSE is 0.125 (the mean image's "
            "0.074) against 0.015 without it",
     "fix": "no L2 penalty",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--l2 0.1 --seed 3 --record-every 2",
          "fixed": "--seed 3 --record-every 2"},
     ]},
    {"family": "healthy-kdae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a convolutional denoising autoencoder fed by tf.data with EarlyStopping "
                    "that trains well",
     "healthy": [
         {"id": "rmsprop-mse-seed5",
          "args": "--loss mse --optimizer rmsprop --lr 2e-3 --seed 5 --record-every 2",
          "description": "MSE, RMSprop 2e-3"},
         {"id": "momentum-seed6",
          "args": "--optimizer sgd --lr 0.05 --seed 6 --record-every 2",
          "description": "SGD momentum 0.9 at 0.05"},
         {"id": "filters32-bs64-seed7",
          "args": "--filters 32 --batch-size 64 --seed 7 --record-every 2",
          "description": "32 filters, batches of 64"},
         {"id": "nadam-noise03-seed8",
          "args": "--optimizer nadam --lr 2e-3 --noise 0.3 --seed 8 --record-every 2",
          "description": "Nadam 2e-3, noise 0.3"},
         {"id": "filters8-bs16-patience2-seed9",
          "args": "--filters 8 --batch-size 16 --lr 1e-3 --patience 2 --seed 9 --record-every 2",
          "description": "8 filters, batches of 16, Adam 1e-3, EarlyStopping patience 2"},
     ]},
]


if __name__ == "__main__":
    main()
