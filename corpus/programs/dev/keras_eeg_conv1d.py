"""A Keras 3 1D CNN classifying multi-channel EEG trials by the action thought of, written the way
the keras.io example "Electroencephalogram Signal Classification for action identification"
writes it: the recordings cut into fixed windows with one label each, standardized, and a
``Sequential``-style stack of ``Conv1D`` + ``BatchNormalization`` blocks with pooling, a global
average pooling and ``Dense`` layers with a softmax over the actions, trained with
``model.fit`` on ``sparse_categorical_crossentropy``.

Data (generated here): 2 s trials at 128 Hz (256 samples) of 8 scalp channels (Fp1, C3, Cz, C4,
P3, P4, O1, O2) in microvolts, each one of three actions: ``rest`` (strong occipital alpha and
central mu rhythm), ``left-hand`` and ``right-hand`` motor imagery (the mu (8-12 Hz) and beta
(18-26 Hz) rhythms suppressed over the opposite hemisphere's motor and parietal channels: C4/P4
for the left hand, C3/P3 for the right). Every channel is band-limited 1-40 Hz noise of about
8 uV with 1/f amplitude, plus the alpha and beta bands at class- and channel-dependent power
(times a log-normal factor per trial), plus an electrode DC offset of up to +-150 uV per trial
and channel. ``--trials`` per class, 25% held out (stratified). Preprocessing as the example
does it: each trial's channels have their mean removed (the DC offset) and are divided by the
standard deviation of each channel over the training trials. The model (input ``(time,
channels)``, channels last): ``Conv1D(--filters, 7, relu)`` ``conv1d``,
``BatchNormalization`` ``batch_normalization``, ``MaxPooling1D(2)``, ``Conv1D(2 * --filters, 5,
relu)`` ``conv1d_1``, ``BatchNormalization`` ``batch_normalization_1``, ``MaxPooling1D(2)``,
``Conv1D(2 * --filters, 3, relu)`` ``conv1d_2``, ``GlobalAveragePooling1D``, ``Dense(32,
relu)`` ``dense``, ``Dropout(0.3)`` and ``Dense(3, softmax)`` ``dense_1``; Adam(``--lr``),
batches of ``--batch-size``. The mistakes of the families in CASES are selected with ``--bug``
or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

CHANNELS = ("Fp1", "C3", "Cz", "C4", "P3", "P4", "O1", "O2")
ACTIONS = ("rest", "left-hand", "right-hand")
RATE = 128
LENGTH = 256

# alpha/mu (8-12 Hz) and beta (18-26 Hz) amplitude in uV per action and channel
ALPHA = {
    "rest":       (2, 6, 6, 6, 6, 6, 10, 10),
    "left-hand":  (2, 7, 4, 2, 7, 2.5, 7, 7),
    "right-hand": (2, 2, 4, 7, 2.5, 7, 7, 7),
}
BETA = {
    "rest":       (1, 3, 3, 3, 2, 2, 2, 2),
    "left-hand":  (1, 4, 3, 1, 2.5, 1, 2, 2),
    "right-hand": (1, 1, 3, 4, 1, 2.5, 2, 2),
}


def band_noise(rng, n, low, high, pink=False):
    """(n, 8, LENGTH) Gaussian noise band-limited to [low, high] Hz, unit rms."""
    white = rng.standard_normal((n, len(CHANNELS), LENGTH))
    spec = np.fft.rfft(white, axis=-1)
    freqs = np.fft.rfftfreq(LENGTH, 1.0 / RATE)
    gain = ((freqs >= low) & (freqs <= high)).astype(float)
    if pink:
        gain = gain / np.sqrt(np.maximum(freqs, 1.0))
    s = np.fft.irfft(spec * gain, n=LENGTH, axis=-1)
    return s / s.std(axis=-1, keepdims=True)


def eeg_trials(per_class, seed):
    """per_class trials of each action, (n, 8, 256) in microvolts (channels first), labels."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, action in enumerate(ACTIONS):
        alpha = np.array(ALPHA[action])[None, :, None]
        beta = np.array(BETA[action])[None, :, None]
        gain = rng.lognormal(0.0, 0.3, size=(per_class, 1, 1))
        x = (8.0 * band_noise(rng, per_class, 1, 40, pink=True)
             + gain * alpha * band_noise(rng, per_class, 8, 12)
             + gain * beta * band_noise(rng, per_class, 18, 26)
             + rng.uniform(-150, 150, size=(per_class, len(CHANNELS), 1)))
        xs.append(x)
        ys.append(np.full(per_class, k))
    return np.concatenate(xs), np.concatenate(ys).astype("int64")


def build_model(keras, input_shape, filters, classes):
    from keras import layers
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv1D(filters, 7, activation="relu", name="conv1d"),
        layers.BatchNormalization(name="batch_normalization"),
        layers.MaxPooling1D(2, name="max_pooling1d"),
        layers.Conv1D(2 * filters, 5, activation="relu", name="conv1d_1"),
        layers.BatchNormalization(name="batch_normalization_1"),
        layers.MaxPooling1D(2, name="max_pooling1d_1"),
        layers.Conv1D(2 * filters, 3, activation="relu", name="conv1d_2"),
        layers.GlobalAveragePooling1D(name="global_average_pooling1d"),
        layers.Dense(32, activation="relu", name="dense"),
        layers.Dropout(0.3, name="dropout"),
        layers.Dense(classes, activation="softmax", name="dense_1"),
    ], name="eeg_conv1d")


def main():
    p = common.parser(__doc__)
    p.add_argument("--trials", type=int, default=200, help="trials per action")
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--bug", default=None,
                   choices=("not-standardized", "channels-first", "signals-shuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)

    x, y = eeg_trials(args.trials, seed=100 + args.seed)
    if args.bug == "signals-shuffled":
        # BUG (signals-shuffled): the trials are shuffled but their labels are not.
        np.random.default_rng(args.seed).shuffle(x)
    if args.bug != "channels-first":
        x = x.transpose(0, 2, 1)  # (trials, time, channels) for a channels_last Conv1D
    # BUG (channels-first): without the transpose above the (trials, channels, time) arrays
    # go into the channels_last model: it convolves across the 8 electrodes.
    x_tr, x_val, y_tr, y_val = common.split(x.astype("float32"), y, val=0.25, seed=args.seed)
    if args.bug != "not-standardized":
        # BUG (not-standardized): without these lines the microvolts go in as recorded, DC
        # offsets of up to 150 uV included.
        time_axis = 2 if args.bug == "channels-first" else 1
        x_tr = x_tr - x_tr.mean(axis=time_axis, keepdims=True)
        x_val = x_val - x_val.mean(axis=time_axis, keepdims=True)
        std = x_tr.std(axis=(0, time_axis), keepdims=True)
        x_tr, x_val = x_tr / std, x_val / std
    print("train %s, held out %s, input range %.1f..%.1f" % (
        x_tr.shape, x_val.shape, x_tr.min(), x_tr.max()))

    model = build_model(keras, x_tr.shape[1:], args.filters, len(ACTIONS))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = common.recording.keras_callbacks(
        args.out, task="classification", loss_name="sparse_categorical_crossentropy",
        num_classes=len(ACTIONS))
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "keegcnn-not-standardized", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): inputs not normalized; Humbatova et al. "
               "2020: preprocessing of training data, missing normalization",
     "bug": "the trials go in as recorded, in microvolts with electrode DC offsets of up to "
            "+-150 uV (inputs -208..198): the offsets swamp the rhythms, held-out accuracy "
            "0.280 (three actions: chance 0.333) and validation loss 1.290 after 15 epochs, "
            "training accuracy 0.627 (the fixed twin: 0.953 and 0.162)",
     "fix": "remove each trial's channel means and divide by the training channels' standard "
            "deviation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug not-standardized --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "keegcnn-signals-shuffled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data, labels misaligned with the inputs (the "
               "inputs shuffled without their labels); Stack Overflow: 'validation accuracy "
               "stuck at chance after shuffling the data'",
     "bug": "np.random.shuffle on the trials only: the labels no longer belong to the signals, "
            "the model memorizes the training set (accuracy 0.680) while the held-out accuracy "
            "is 0.360 and the validation loss 1.149, above ln 3 (the fixed twin: 0.993 and "
            "0.103)",
     "fix": "shuffle the trials and the labels with the same permutation (or not at all: "
            "the split shuffles)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug signals-shuffled --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-keegcnn", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Conv1D/BatchNormalization classifier of standardized EEG trials, that "
                    "trains well",
     "healthy": [
         {"id": "filters24-seed1",
          "args": "--filters 24 --seed 1 --record-every 4",
          "description": "24 and 48 filters, 15 epochs: held-out accuracy 0.967"},
     ]},
]


if __name__ == "__main__":
    main()
