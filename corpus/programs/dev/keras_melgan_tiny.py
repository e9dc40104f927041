"""A small MelGAN (Kumar et al., "MelGAN: Generative Adversarial Networks for Conditional
Waveform Synthesis", NeurIPS 2019) in Keras 3, written the way the keras.io example
"MelGAN-based spectrogram inversion using feature matching" (Darshan Deshpande) writes it,
scaled down: a fully convolutional generator that turns a log-mel spectrogram into a waveform,
a multi-scale discriminator whose every block returns its feature maps, the least-squares
adversarial loss (``MeanSquaredError`` against ones and zeros) plus the feature-matching loss
(``MeanAbsoluteError`` between the discriminator's features of the real and the generated
waveform, weight ``--fm-weight`` 10), and a ``MelGAN(keras.Model)`` with its own ``compile``
(two optimizers, the three loss functions) and a ``train_step`` that runs the generator and
both discriminator passes under a generator tape and a discriminator tape and steps each
network with its own ``Adam(--lr, beta_1=0.5, beta_2=0.9)`` (the paper's betas).

Data (generated here): clips of 1024 samples at 4 kHz (0.256 s) of a harmonic tone: a
fundamental on one of eight notes of a pentatonic scale from C3 to E4 (130.8 to 329.6 Hz,
detuned by up to 1%) and its first harmonics, 2 to 4 partials in all (amplitudes falling by a
random ratio of 0.35 to 0.8, random phases, none above 1.9 kHz), a linear attack of 5 to 40 ms and an exponential
decay (time constant 40 to 250 ms), scaled to a peak of 0.5 to 0.9, plus Gaussian noise of std
0.003 to 0.015, clipped to [-1, 1]; ``--n-train`` 640 clips for training and 128 from another
seed held out. The generator's input is the clip's log-mel spectrogram, computed with
``tf.signal`` as the example's ``MelSpec`` layer does (``tf.signal.stft`` with frames of 128
samples, a hop of 32 and ``pad_end``, the magnitude, a 32-band mel filterbank from
``tf.signal.linear_to_mel_weight_matrix`` between 60 Hz and 2 kHz, ``log10`` of the mel
energies clipped at 1e-5, as the paper's code): 32 frames of 32 bands. As MelGAN trains, each
training example is a random segment of the clip, ``--segment`` 512 samples and its 16 frames
(drawn in the ``tf.data`` pipeline); the held-out clips are scored whole.

Generator (functional, ``generator``): ``Conv1D(64, 7)`` (``g_conv_in``), LeakyReLU, then three
upsampling blocks (``conv_block``: ``Conv1DTranspose(channels, 2 * factor, strides=factor)``
(``g_bK_up``), LeakyReLU, a residual stack of three units, each a LeakyReLU, a dilated
``Conv1D(channels, 3)`` (dilations 1, 3 and 9, ``g_bK_resJ_dil``), a LeakyReLU, a
``Conv1D(channels, 3)`` (``g_bK_resJ_conv``) and the unit's input added, then a LeakyReLU) of
32, 16 and 8 channels and factors 4, 4 and 2 (product 32, the hop length), and
``Conv1D(1, 7, activation="tanh")`` (``g_conv_out``); LeakyReLU with Keras' default slope 0.3.
The example's weight normalization (TensorFlow Addons, which Keras 3 does not have) is left
out. Discriminator (functional, ``discriminator``): two scales, the waveform and the waveform
average-pooled by 2, each judged by a ``discriminator_block`` model of its own (``d1``,
``d2``): ``Conv1D(16, 15)``, ``Conv1D(32, 21, strides=4)``, ``Conv1D(32, 21, strides=4)``,
``Conv1D(32, 5)`` (``dK_c1`` to ``dK_c4``) each followed by a LeakyReLU whose output is a
feature map, and ``Conv1D(1, 3)`` (``dK_score``), the score map (the example's grouped
convolutions are plain ones here: TensorFlow runs grouped ``Conv1D`` on the CPU through XLA,
ten times slower). Batches of ``--batch-size`` 16 (40 steps an epoch), ``--epochs`` 16 (640
steps).

Measured after every epoch on the 128 held-out clips: the mean absolute difference between the
log-mel spectrograms of the generated and the true waveforms (``val_mel_l1``, in log10 units;
a silent output scores about 4.3, the untrained generator 0.8 to 0.95, ``start_mel_l1``), the
spectral convergence of their magnitude spectrograms (``||S - S_gen||_F / ||S||_F``,
``val_spectral_convergence``; 1.0 for silence) and the held-out generator loss (adversarial
plus weighted feature matching, ``val_gen_loss``).

Recorded (``--out``): the model overrides ``train_step``, so the recorder runs in callback mode
(the layers' outputs of their last call in the step: the discriminator's on the generated
clips; the weights; the gradients the two optimizers apply), with the generator's total loss
(``gen_loss``, a Mean tracker, as the example's) as the loss declared
``objective="adversarial"`` and ``val_gen_loss`` as its validation row. The result line's
``loss`` is ``gen_loss``, ``val_loss`` the held-out generator loss, and it adds
``val_mel_l1``, ``val_spectral_convergence`` and the discriminator's ``disc_loss``. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``, ``--fm-weight``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

RATE, CLIP = 4000, 1024
FRAME, HOP, N_MELS = 128, 32, 32
# the pentatonic notes C3, D3, E3, G3, A3, C4, D4, E4 (Hz)
NOTES = (130.81, 146.83, 164.81, 196.00, 220.00, 261.63, 293.66, 329.63)


def tones(n, seed):
    """n clips of CLIP samples: harmonic tones with an attack/decay envelope and light noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(CLIP) / RATE
    out = np.empty((n, CLIP), dtype=np.float32)
    for i in range(n):
        f0 = NOTES[rng.integers(len(NOTES))] * rng.uniform(0.99, 1.01)
        ratio = rng.uniform(0.35, 0.8)
        wave = np.zeros(CLIP)
        for k in range(1, int(rng.integers(2, 5)) + 1):
            if k * f0 > 1900.0:
                break
            amp = ratio ** (k - 1) * rng.uniform(0.6, 1.0)
            wave += amp * np.sin(2 * math.pi * k * f0 * t + rng.uniform(0, 2 * math.pi))
        attack = rng.uniform(0.005, 0.040)
        env = np.minimum(t / attack, 1.0) * np.exp(-np.maximum(t - attack, 0.0)
                                                   / rng.uniform(0.040, 0.250))
        wave = wave * env
        wave = wave / np.abs(wave).max() * rng.uniform(0.5, 0.9)
        wave = wave + rng.normal(scale=rng.uniform(0.003, 0.015), size=CLIP)
        out[i] = np.clip(wave, -1.0, 1.0)
    return out


def main():
    p = common.parser(__doc__)
    p.add_argument("--n-train", type=int, default=640)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--fm-weight", type=float, default=10.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--segment", type=int, default=512)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--bug", default=None,
                   choices=("fm-sign", "gen-tape-disc-loss", "no-tanh"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    mel_filterbank = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=N_MELS, num_spectrogram_bins=FRAME // 2 + 1, sample_rate=RATE,
        lower_edge_hertz=60.0, upper_edge_hertz=2000.0)

    def magnitude(audio):
        return tf.abs(tf.signal.stft(audio, FRAME, HOP, FRAME, pad_end=True))

    def log_mel(audio):
        """(batch, CLIP) waveforms -> (batch, frames, N_MELS) log10 mel spectrograms."""
        mel = tf.matmul(magnitude(audio), mel_filterbank)
        return tf.math.log(tf.maximum(mel, 1e-5)) / math.log(10.0)

    train_audio = tones(args.n_train, args.seed)
    val_audio = tones(128, args.seed + 1000)
    train_mel = log_mel(train_audio).numpy()
    val_mel = log_mel(val_audio).numpy()
    print("log-mel input: %d frames x %d bands, range %.2f to %.2f" % (
        train_mel.shape[1], train_mel.shape[2], train_mel.min(), train_mel.max()))

    def residual_stack(x, filters, prefix):
        for j, dilation in enumerate((1, 3, 9)):
            h = layers.LeakyReLU()(x)
            h = layers.Conv1D(filters, 3, dilation_rate=dilation, padding="same",
                              name="%s_res%d_dil" % (prefix, j))(h)
            h = layers.LeakyReLU()(h)
            h = layers.Conv1D(filters, 3, padding="same", name="%s_res%d_conv" % (prefix, j))(h)
            x = layers.Add()([x, h])
        return x

    def conv_block(x, channels, factor, prefix):
        x = layers.Conv1DTranspose(channels, 2 * factor, strides=factor, padding="same",
                                   name="%s_up" % prefix)(x)
        x = layers.LeakyReLU()(x)
        x = residual_stack(x, channels, prefix)
        return layers.LeakyReLU()(x)

    def create_generator():
        inp = keras.Input((None, N_MELS))
        x = layers.Conv1D(64, 7, padding="same", name="g_conv_in")(inp)
        x = layers.LeakyReLU()(x)
        x = conv_block(x, 32, 4, "g_b1")
        x = conv_block(x, 16, 4, "g_b2")
        x = conv_block(x, 8, 2, "g_b3")
        # BUG (no-tanh): the output layer without its tanh, a linear waveform
        out_act = None if args.bug == "no-tanh" else "tanh"
        x = layers.Conv1D(1, 7, padding="same", activation=out_act, name="g_conv_out")(x)
        return keras.Model(inp, x, name="generator")

    def discriminator_block(prefix):
        """One scale's discriminator: its feature maps and its score map."""
        inp = keras.Input((None, 1))
        c1 = layers.LeakyReLU()(layers.Conv1D(16, 15, 1, "same", name=prefix + "_c1")(inp))
        c2 = layers.LeakyReLU()(layers.Conv1D(32, 21, 4, "same", name=prefix + "_c2")(c1))
        c3 = layers.LeakyReLU()(layers.Conv1D(32, 21, 4, "same", name=prefix + "_c3")(c2))
        c4 = layers.LeakyReLU()(layers.Conv1D(32, 5, 1, "same", name=prefix + "_c4")(c3))
        score = layers.Conv1D(1, 3, 1, "same", name=prefix + "_score")(c4)
        return keras.Model(inp, [c1, c2, c3, c4, score], name=prefix)

    def create_discriminator():
        inp = keras.Input((None, 1))
        out_map1 = discriminator_block("d1")(inp)
        pool1 = layers.AveragePooling1D(4, 2, padding="same")(inp)
        out_map2 = discriminator_block("d2")(pool1)
        return keras.Model(inp, [out_map1, out_map2], name="discriminator")

    mse = keras.losses.MeanSquaredError()
    mae = keras.losses.MeanAbsoluteError()

    def generator_loss(real_pred, fake_pred):
        gen_loss = []
        for i in range(len(fake_pred)):
            gen_loss.append(mse(tf.ones_like(fake_pred[i][-1]), fake_pred[i][-1]))
        return tf.reduce_mean(gen_loss)

    def feature_matching_loss(real_pred, fake_pred):
        fm_loss = []
        for i in range(len(fake_pred)):
            for j in range(len(fake_pred[i]) - 1):
                fm_loss.append(mae(real_pred[i][j], fake_pred[i][j]))
        return tf.reduce_mean(fm_loss)

    def discriminator_loss(real_pred, fake_pred):
        real_loss, fake_loss = [], []
        for i in range(len(real_pred)):
            real_loss.append(mse(tf.ones_like(real_pred[i][-1]), real_pred[i][-1]))
            fake_loss.append(mse(tf.zeros_like(fake_pred[i][-1]), fake_pred[i][-1]))
        return tf.reduce_mean(real_loss) + tf.reduce_mean(fake_loss)

    fm_weight = args.fm_weight

    class MelGAN(keras.Model):
        def __init__(self, generator, discriminator, **kwargs):
            super().__init__(**kwargs)
            self.generator = generator
            self.discriminator = discriminator

        def compile(self, gen_optimizer, disc_optimizer, generator_loss,
                    feature_matching_loss, discriminator_loss):
            super().compile()
            self.gen_optimizer = gen_optimizer
            self.disc_optimizer = disc_optimizer
            self.generator_loss = generator_loss
            self.feature_matching_loss = feature_matching_loss
            self.discriminator_loss = discriminator_loss
            self.gen_loss_tracker = keras.metrics.Mean(name="gen_loss")
            self.disc_loss_tracker = keras.metrics.Mean(name="disc_loss")

        @property
        def metrics(self):
            return [self.gen_loss_tracker, self.disc_loss_tracker]

        def losses_of(self, mel, audio, training):
            gen_audio_wave = self.generator(mel, training=training)
            real_pred = self.discriminator(audio, training=training)
            fake_pred = self.discriminator(gen_audio_wave, training=training)
            gen_loss = self.generator_loss(real_pred, fake_pred)
            fm_loss = self.feature_matching_loss(real_pred, fake_pred)
            if args.bug == "fm-sign":
                # BUG (fm-sign): the feature-matching term subtracted from the generator's loss
                gen_fm_loss = gen_loss - fm_weight * fm_loss
            else:
                gen_fm_loss = gen_loss + fm_weight * fm_loss
            disc_loss = self.discriminator_loss(real_pred, fake_pred)
            return gen_fm_loss, disc_loss

        def train_step(self, batch):
            x_batch_train, y_batch_train = batch
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                gen_fm_loss, disc_loss = self.losses_of(x_batch_train, y_batch_train, True)
            # BUG (gen-tape-disc-loss): the generator's gradients taken of the discriminator's
            # loss (the line copied from the discriminator's below)
            gen_target = disc_loss if args.bug == "gen-tape-disc-loss" else gen_fm_loss
            grads_gen = gen_tape.gradient(gen_target, self.generator.trainable_weights)
            grads_disc = disc_tape.gradient(disc_loss, self.discriminator.trainable_weights)
            self.gen_optimizer.apply_gradients(zip(grads_gen, self.generator.trainable_weights))
            self.disc_optimizer.apply_gradients(
                zip(grads_disc, self.discriminator.trainable_weights))
            self.gen_loss_tracker.update_state(gen_fm_loss)
            self.disc_loss_tracker.update_state(disc_loss)
            return {"gen_loss": self.gen_loss_tracker.result(),
                    "disc_loss": self.disc_loss_tracker.result()}

    generator = create_generator()
    discriminator = create_discriminator()
    gan = MelGAN(generator, discriminator)
    gan.compile(
        gen_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5, beta_2=0.9),
        disc_optimizer=keras.optimizers.Adam(args.lr, beta_1=0.5, beta_2=0.9),
        generator_loss=generator_loss, feature_matching_loss=feature_matching_loss,
        discriminator_loss=discriminator_loss)

    val_mag = magnitude(val_audio).numpy()

    class HeldOut(keras.callbacks.Callback):
        """Spectrogram distances and the generator's loss on the held-out clips."""

        def __init__(self):
            super().__init__()
            self.rows = []

        def spectral(self):
            gen = self.model.generator.predict(val_mel, batch_size=64, verbose=0)[..., 0]
            mel_l1 = float(np.mean(np.abs(log_mel(gen).numpy() - val_mel)))
            mag = magnitude(gen).numpy()
            sc = float(np.mean(np.linalg.norm((val_mag - mag).reshape(len(gen), -1), axis=1)
                               / np.linalg.norm(val_mag.reshape(len(gen), -1), axis=1)))
            return gen, mel_l1, sc

        def on_train_begin(self, logs=None):
            _, self.start_mel_l1, self.start_sc = self.spectral()
            print("before training: held-out mel L1 %.4f spectral convergence %.4f" % (
                self.start_mel_l1, self.start_sc), flush=True)

        def on_epoch_end(self, epoch, logs=None):
            m = self.model
            gen, mel_l1, sc = self.spectral()
            val_g, _ = m.losses_of(tf.constant(val_mel), tf.constant(val_audio[..., None]),
                                   False)
            val_g = float(val_g)
            logs["val_gen_loss"] = val_g
            self.rows.append({"gen_loss": float(logs["gen_loss"]),
                              "disc_loss": float(logs["disc_loss"]), "val_gen_loss": val_g,
                              "val_mel_l1": mel_l1, "val_spectral_convergence": sc,
                              "peak": float(np.abs(gen).max())})
            print("epoch %d: gen_loss %.4f disc_loss %.4f | held-out gen_loss %.4f mel L1 %.4f "
                  "spectral convergence %.4f peak %.3f" % (
                      epoch + 1, logs["gen_loss"], logs["disc_loss"], val_g, mel_l1, sc,
                      self.rows[-1]["peak"]), flush=True)

    silent = float(np.mean(np.abs(log_mel(np.zeros_like(val_audio)).numpy() - val_mel)))
    print("held-out mel L1 of a silent output: %.4f" % silent)
    held_out = HeldOut()
    seg_frames = args.segment // HOP

    def random_segment(mel, audio):
        # MelGAN trains on random segments of the clips: --segment samples and their frames
        start = tf.random.uniform((), 0, mel.shape[0] - seg_frames + 1, dtype=tf.int32)
        return (mel[start:start + seg_frames],
                audio[start * HOP:(start + seg_frames) * HOP])

    train = (tf.data.Dataset.from_tensor_slices((train_mel, train_audio[..., None]))
             .shuffle(1024, seed=args.seed).map(random_segment).batch(args.batch_size))
    gan.fit(train, epochs=args.epochs, verbose=0,
            callbacks=[held_out] + common.recording.keras_callbacks(
                args.out, loss_key="gen_loss", objective="adversarial"))

    rows = held_out.rows
    steps_per_epoch = -(-args.n_train // args.batch_size)
    common.report({
        "steps": steps_per_epoch * len(rows), "epochs": len(rows),
        "first_loss": rows[0]["gen_loss"], "loss": rows[-1]["gen_loss"],
        "val_loss": rows[-1]["val_gen_loss"], "val_mel_l1": rows[-1]["val_mel_l1"],
        "val_spectral_convergence": rows[-1]["val_spectral_convergence"],
        "start_mel_l1": held_out.start_mel_l1, "start_spectral_convergence": held_out.start_sc,
        "silent_mel_l1": silent,
        "disc_loss": rows[-1]["disc_loss"],
        "nan": any(not np.isfinite(v) for r in rows for v in r.values()),
        "layers": [l.name for net in (generator, discriminator.get_layer("d1"),
                                      discriminator.get_layer("d2"))
                   for l in net.layers if l.weights]})


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmelgan-fm-sign", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (a term of the generator's loss "
               "with its sign turned around: the feature-matching distance subtracted, so the "
               "generator maximizes it); GitHub issues of MelGAN / HiFi-GAN ports whose "
               "generator total adds the terms with the wrong sign",
     "bug": "gen_fm_loss = gen_loss - 10 * fm_loss: the generator is rewarded for moving the "
            "discriminator's features of its audio away from those of the true clip; from the "
            "first epoch its tanh output is pinned at +-1 (peak 1.000), the discriminator's "
            "loss falls to 0.0013, the generator's loss goes from -0.19 to -0.14 (held-out "
            "-0.11) and the held-out mel L1 is 1.239 in every epoch (before training 0.928) "
            "with a spectral convergence of 6.58 (before training 1.36), against the fixed "
            "twin's 0.487 and 0.722",
     "fix": "gen_fm_loss = gen_loss + 10 * fm_loss",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug fm-sign --seed 2 --record-every 16",
          "fixed": "--seed 2 --record-every 16"},
     ]},
    {"family": "kmelgan-gen-tape-disc-loss", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (the generator's tape asked for "
               "the gradient of the discriminator's loss, the line copied from the "
               "discriminator's update); GitHub issues of Keras GAN ports that differentiate "
               "the wrong loss for the generator",
     "bug": "grads_gen = gen_tape.gradient(disc_loss, generator.trainable_weights): the "
            "generator descends the discriminator's least-squares loss, pushing the scores of "
            "its own audio towards 0 ('generated'), and gets nothing from the feature-matching "
            "term; the discriminator's loss falls to 0.0017, the held-out mel L1 goes from "
            "0.679 after the first epoch to 1.185 in the 16th (before training 0.925) with a "
            "spectral convergence of 2.93 (1.36) and the output's peak at 1.000, against the "
            "fixed twin's 0.563 and 0.942; the logged gen_loss (the adversarial plus "
            "feature-matching total, which nothing minimizes) goes from 1.49 to 2.08",
     "fix": "grads_gen = gen_tape.gradient(gen_fm_loss, generator.trainable_weights)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug gen-tape-disc-loss --seed 3 --record-every 16",
          "fixed": "--seed 3 --record-every 16"},
     ]},
    {"family": "kmelgan-adam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepDiagnosis: learning rate too high (Adam at 0.02 for both "
               "players of a GAN vocoder)",
     "bug": "Adam(learning_rate=0.02) for the generator and the discriminator: in the first "
            "epoch the generator's tanh output is driven to +-1 and stays there (held-out mel "
            "L1 3.270 and spectral convergence 5.50 in every epoch, before training 0.910 and "
            "1.72); the two losses jump by orders of magnitude from epoch to epoch (the "
            "generator's epoch means 53, 7.5, 1602, 36, ..., 547 in the 16th; the "
            "discriminator's 46, 0.083, 1577, 13, ..., 541), against the fixed twin's held-out "
            "mel L1 0.537 and spectral convergence 0.898",
     "fix": "Adam(learning_rate=1e-3, beta_1=0.5, beta_2=0.9) for both",
     "symptom": "oscillation", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--lr 0.02 --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "healthy-kmelgan", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small MelGAN (a Conv1DTranspose generator with dilated residual stacks, "
                    "a two-scale discriminator, least-squares adversarial and feature-matching "
                    "losses in a custom train_step) on generated harmonic tones, whose audio "
                    "comes to match the held-out spectrograms",
     "healthy": [
         {"id": "fm25-seed4",
          "args": "--fm-weight 25 --seed 4 --record-every 16",
          "description": "feature-matching weight 25: held-out mel L1 0.512 (before training "
                         "0.855), spectral convergence 0.852 (before training 2.34)"},
     ]},
]


if __name__ == "__main__":
    main()
