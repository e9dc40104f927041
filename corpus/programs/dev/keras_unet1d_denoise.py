"""A 1-D U-Net in Keras 3 that removes noise from sensor recordings, built by a function.

Recordings of 64 samples are generated here: a drifting baseline, one or two sine components
of random frequency and phase, and a step where a load switches, in millivolts around a 1200 mV
offset; the noisy input adds white noise and a few spikes. Inputs and clean targets are
standardized with the mean and standard deviation of the noisy training recordings (one scalar
pair, so that the model's output is in the same units as its input). ``build_unet`` returns a
functional model: ``enc1`` Conv1D -> MaxPooling1D -> ``enc2`` Conv1D -> MaxPooling1D ->
``bottleneck`` Conv1D -> UpSampling1D -> Concatenate with ``enc2`` -> ``dec2`` Conv1D ->
UpSampling1D -> Concatenate with ``enc1`` -> ``dec1`` Conv1D -> ``denoised`` Conv1D(1, 1). It is
trained with the mean absolute error and Adam under an ``ExponentialDecay`` schedule; 20% of
the recordings are held out. The mistakes of the families in CASES are selected with ``--bug``
or show in a setting (``--lr``, ``--decay-steps``, ``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def recordings(n, length, rng):
    t = np.linspace(0.0, 1.0, length)
    clean = np.empty((n, length), dtype="float64")
    for i in range(n):
        s = 1200.0 + rng.normal(0, 20) + rng.normal(0, 30) * t
        for _ in range(rng.integers(1, 3)):
            s += rng.uniform(40, 120) * np.sin(2 * np.pi * rng.uniform(1, 5) * t
                                               + rng.uniform(0, 2 * np.pi))
        if rng.random() < 0.6:
            s += rng.choice([-1, 1]) * rng.uniform(50, 150) * (t > rng.uniform(0.2, 0.8))
        clean[i] = s
    noisy = clean + rng.normal(0, 35, size=clean.shape)
    spikes = rng.random(clean.shape) < 0.03
    noisy += spikes * rng.normal(0, 150, size=clean.shape)
    return noisy[..., None].astype("float32"), clean[..., None].astype("float32")


def build_unet(keras, length, base, l2, out_activation):
    from keras import layers
    reg = keras.regularizers.l2(l2) if l2 else None

    def conv(filters, name):
        return layers.Conv1D(filters, 5, padding="same", activation="relu",
                             kernel_regularizer=reg, name=name)

    inp = keras.Input(shape=(length, 1), name="noisy")
    e1 = conv(base, "enc1")(inp)
    e2 = conv(2 * base, "enc2")(layers.MaxPooling1D(2)(e1))
    b = conv(4 * base, "bottleneck")(layers.MaxPooling1D(2)(e2))
    d2 = layers.Concatenate()([layers.UpSampling1D(2)(b), e2])
    d2 = conv(2 * base, "dec2")(d2)
    d1 = layers.Concatenate()([layers.UpSampling1D(2)(d2), e1])
    d1 = conv(base, "dec1")(d1)
    out = layers.Conv1D(1, 1, activation=out_activation, kernel_regularizer=reg,
                        name="denoised")(d1)
    return keras.Model(inp, out, name="unet1d")


def main():
    p = common.parser(__doc__)
    p.add_argument("--recordings", type=int, default=1000)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--base", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--decay-steps", type=int, default=500)
    p.add_argument("--decay-rate", type=float, default=0.5)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("sigmoid-output", "raw-millivolts"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    noisy, clean = recordings(args.recordings, args.length, rng)
    n_val = len(noisy) // 5
    x_train, y_train = noisy[:-n_val], clean[:-n_val]
    x_val, y_val = noisy[-n_val:], clean[-n_val:]
    if args.bug != "raw-millivolts":
        mu, sd = float(x_train.mean()), float(x_train.std())
        x_train, y_train = (x_train - mu) / sd, (y_train - mu) / sd
        x_val, y_val = (x_val - mu) / sd, (y_val - mu) / sd
    # else BUG (raw-millivolts): the scaling step was commented out while debugging, the
    # network sees and must produce values around 1200

    # BUG (sigmoid-output): a sigmoid on the output, copied from an image U-Net whose targets
    # were in [0, 1]; the standardized targets are mostly outside it
    out_activation = "sigmoid" if args.bug == "sigmoid-output" else None
    model = build_unet(keras, args.length, args.base, args.l2, out_activation)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate=args.lr, decay_steps=args.decay_steps,
        decay_rate=args.decay_rate)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="mae")
    baseline = float(np.mean(np.abs(x_val - y_val)))
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), shuffle=True, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: mae %.4f val mae %.4f" % (e + 1, h["loss"][e], h["val_loss"][e]))
    pred = model.predict(x_val, verbose=0)
    val_mae = float(np.mean(np.abs(pred - y_val)))
    print("validation MAE %.4f, noisy input MAE %.4f" % (val_mae, baseline))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_mae=val_mae, input_mae=baseline))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kunet1d-sigmoid-output", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): a regression network with a sigmoid "
               "output for targets outside [0, 1]; Humbatova et al. 2020: wrong activation of "
               "the last layer",
     "bug": "a sigmoid on the U-Net's output for standardized targets (about half of them "
            "negative): the training MAE stays at 0.485 after 8 epochs and the validation "
            "MAE ends at 0.489, worse than the noisy input's 0.297, where the fixed twin "
            "reaches 0.151",
     "fix": "a linear output layer",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "denoised", "layer_index": 5},
     "pairs": [
         {"id": "b8-seed1",
          "buggy": "--bug sigmoid-output --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kunet1d-decay-every-step", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020 taxonomy: training process, wrong learning-rate "
               "schedule (decay_steps meant as epochs, applied per step); DeepFD fault type: "
               "learning rate",
     "bug": "ExponentialDecay(3e-3, decay_steps=1, decay_rate=0.8): the learning rate is "
            "below 1e-6 after 40 of the 200 steps, the MAE freezes at 0.4416 from the second "
            "epoch on (validation 0.418, worse than the noisy input's 0.293) where the fixed "
            "twin reaches 0.147 (validation 0.151)",
     "fix": "ExponentialDecay(3e-3, decay_steps=500, decay_rate=0.5)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "b8",
          "buggy": "--decay-steps 1 --decay-rate 0.8 --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kunet1d-l2-dominates", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong; Humbatova et al. "
               "2020: wrong regularization",
     "bug": "kernel_regularizer=l2(0.5) on every convolution: the loss (MAE plus the penalty) "
            "falls from 20.4 to 0.875 as the penalty shrinks the kernels, but the validation "
            "MAE of the denoised signal ends at 0.560, worse than the noisy input's 0.286, "
            "where the fixed twin reaches 0.146",
     "fix": "no weight penalty",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "b8-seed3",
          "buggy": "--l2 0.5 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "kunet1d-adam-lr-too-high", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepLocalize benchmark (Stack Overflow): 'loss stuck at the same value' after "
               "a large learning rate killed the ReLUs; AUTOTRAINER: dying ReLU",
     "bug": "Adam(0.3) under the schedule: the first epoch's MAE is 42.2, the ReLU "
            "convolutions die and the output is constant: the MAE stays at 0.7286 from the "
            "fourth epoch on (validation 0.709, worse than the noisy input's 0.292) where "
            "the fixed twin reaches 0.144 (validation 0.146)",
     "fix": "Adam(3e-3)",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "oscillation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "b8-seed4",
          "buggy": "--lr 0.3 --seed 4 --record-every 4",
          "fixed": "--seed 4 --record-every 4"},
     ]},
    {"family": "healthy-kunet1d", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "the Keras 1-D U-Net denoiser (Conv1D, MaxPooling1D, UpSampling1D, "
                    "Concatenate skips) trained with MAE and Adam under ExponentialDecay",
     "healthy": [
         {"id": "b12-bs64-seed5",
          "args": "--base 12 --batch-size 64 --lr 5e-3 --seed 5 --record-every 4",
          "description": "12 base filters, batches of 64, Adam(5e-3): validation MAE 0.151 "
                         "(noisy input 0.289)"},
         {"id": "decay200-seed6",
          "args": "--decay-rate 0.9 --decay-steps 200 --lr 2e-3 --seed 6 --record-every 4",
          "description": "Adam(2e-3) decayed by 0.9 every 200 steps: validation MAE 0.144 "
                         "(noisy input 0.288)"},
         {"id": "b8-bs16-seed7",
          "args": "--batch-size 16 --lr 2e-3 --epochs 6 --seed 7 --record-every 4",
          "description": "batches of 16, Adam(2e-3), 6 epochs: validation MAE 0.147 (noisy "
                         "input 0.294)"},
     ]},
]


if __name__ == "__main__":
    main()
