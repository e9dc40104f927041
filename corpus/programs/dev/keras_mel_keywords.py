"""Keyword spotting from raw waveforms in Keras 3, written the way the Keras and TensorFlow audio
tutorials write it ("Simple audio recognition: recognizing keywords"; the Keras audio examples
with a spectrogram computed by the model): the model takes the waveform, computes a log-mel
spectrogram inside itself (a ``LogMelSpectrogram`` layer: ``keras.ops.stft``, the power
``re^2 + im^2``, a mel filterbank from ``tf.signal.linear_to_mel_weight_matrix``, then
``log(mel + eps)``), a ``Normalization`` layer adapted on the training spectrograms (as the
tutorial's ``norm_layer.adapt``), a small Conv2D CNN with BatchNormalization,
GlobalAveragePooling2D and a softmax head under sparse categorical cross-entropy, Adam;
validation accuracy once per epoch.

Data (generated here): 1200 clips of 0.5 s at 4 kHz (2000 samples, float32 in [-1, 1]) of 6
"keywords". A keyword is a sequence of 2 or 3 segments (tones or linear chirps) at
keyword-specific frequencies (between 250 and 1800 Hz); each clip says its keyword once at a
random time, with random segment lengths (50 to 110 ms), amplitude (0.2 to 0.9), frequencies
jittered by 3% and Gaussian noise (std 0.02) over the spoken part; the rest of the clip is
zero, as short recordings padded to a fixed length are. 960 clips for training, 240 held out.

Model (functional): ``LogMelSpectrogram`` (frames of 128 samples, stride 64, 32 mel bands,
50 Hz to 2 kHz; no weights), ``Normalization(axis=None)`` (``normalization``),
``Conv2D(16, 3, relu)`` (``conv2d``) + ``BatchNormalization`` (``batch_normalization``) +
``MaxPooling2D``, ``Conv2D(32, 3, relu)`` (``conv2d_1``) + ``BatchNormalization``
(``batch_normalization_1``), ``GlobalAveragePooling2D``, ``Dropout(0.2)`` and a 6-way softmax
(``dense``); Adam(``--lr``). The mistakes of the families in CASES are selected with ``--bug``
or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
RATE, CLIP = 4000, 2000
# (start Hz, end Hz) of each segment of each keyword: equal ends are tones, others chirps
KEYWORDS = [
    [(400, 400), (900, 900)],
    [(900, 900), (400, 400)],
    [(300, 700), (1200, 1200)],
    [(1500, 1500), (600, 600), (1500, 1500)],
    [(700, 1400), (1400, 700)],
    [(250, 250), (1800, 1800), (1000, 1000)],
]


def clips(n, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, CLIP), dtype=np.float32)
    y = rng.integers(0, len(KEYWORDS), size=n)
    for i in range(n):
        segs = []
        for f0, f1 in KEYWORDS[y[i]]:
            length = int(rng.integers(int(0.05 * RATE), int(0.11 * RATE)))
            jitter = 1.0 + rng.uniform(-0.03, 0.03)
            t = np.arange(length) / RATE
            freq = f0 * jitter + (f1 - f0) * jitter * t / t[-1] / 2.0
            segs.append(np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi)))
        word = np.concatenate(segs) * rng.uniform(0.2, 0.9)
        word = word + rng.normal(0.0, 0.02, size=len(word))
        start = int(rng.integers(0, CLIP - len(word)))
        x[i, start:start + len(word)] = word
    return x, y.astype("int32")


def build_model(keras, tf, bug=None):
    from keras import layers, ops

    mel_matrix = tf.signal.linear_to_mel_weight_matrix(32, 65, RATE, 50.0, 2000.0).numpy()

    class LogMelSpectrogram(layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.mel = ops.convert_to_tensor(mel_matrix)

        def call(self, waveform):
            re, im = ops.stft(waveform, sequence_length=128, sequence_stride=64,
                              fft_length=128, window="hann", center=True)
            power = re ** 2 + im ** 2
            mel = ops.matmul(power, self.mel)
            if bug == "log-no-eps":
                # BUG (log-no-eps): the log of the mel power without an epsilon: the padded,
                # silent frames have zero power, log(0) = -inf.
                return ops.expand_dims(ops.log(mel), -1)
            if bug == "magnitude-not-logged":
                # BUG (magnitude-not-logged): the mel magnitude (the square root of the power)
                # fed as it is, not logged: a dynamic range of many orders of magnitude.
                return ops.expand_dims(ops.sqrt(mel), -1)
            return ops.expand_dims(ops.log(mel + 1e-6), -1)

    spectrogram = LogMelSpectrogram(name="log_mel_spectrogram")
    norm = layers.Normalization(axis=None, name="normalization")
    inputs = keras.Input(shape=(CLIP,))
    x = norm(spectrogram(inputs))
    x = layers.Conv2D(16, 3, activation="relu", padding="same", name="conv2d")(x)
    x = layers.BatchNormalization(momentum=0.9, name="batch_normalization")(x)
    x = layers.MaxPooling2D(name="max_pooling2d")(x)
    x = layers.Conv2D(32, 3, activation="relu", padding="same", name="conv2d_1")(x)
    x = layers.BatchNormalization(momentum=0.9, name="batch_normalization_1")(x)
    x = layers.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    x = layers.Dropout(0.2, name="dropout")(x)
    outputs = layers.Dense(len(KEYWORDS), activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs, name="mel_keywords"), spectrogram, norm


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=1200)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("log-no-eps", "magnitude-not-logged"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf

    x, y = clips(args.samples, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, val=0.2, seed=args.seed)
    model, spectrogram, norm = build_model(keras, tf, args.bug)
    norm.adapt(spectrogram(x_tr).numpy())
    opt = keras.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    callbacks = common.recording.keras_callbacks(
        args.out, optimizer=opt, task="classification",
        loss_name="sparse_categorical_crossentropy", num_classes=len(KEYWORDS),
        batch_size=args.batch_size)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmelkw-log-no-eps", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing preprocessing (log-mel features without the "
               "epsilon of the log); Stack Overflow: 'loss is nan with log mel spectrogram'",
     "bug": "ops.log(mel) without an epsilon: the zero-padded, silent frames have zero power, "
            "log(0) = -inf, the normalization makes NaN, the loss is NaN from the first step "
            "and the validation accuracy 0.167 (chance) after 8 epochs (the fixed twin: 0.892)",
     "fix": "ops.log(mel + 1e-6)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug log-no-eps --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kmelkw-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): 'accuracy stuck near chance' with a "
               "learning rate far too high; AUTOTRAINER / DeepDiagnosis: learning rate too high",
     "bug": "Adam(learning_rate=0.3): the training accuracy stays at 0.30 and the validation "
            "accuracy ends at 0.212 (chance 0.167; the fixed twin: 0.804)",
     "fix": "Adam(learning_rate=3e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--lr 0.3 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kmelkw", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a keyword-spotting CNN on a log-mel spectrogram computed inside the model "
                    "from raw waveforms, that trains well",
     "healthy": [
         {"id": "batch48-seed1",
          "args": "--batch-size 48 --seed 1 --record-every 4",
          "description": "batches of 48 clips"},
     ]},
]


if __name__ == "__main__":
    main()
