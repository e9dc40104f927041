"""A character-level molecule VAE in Keras 3, after Gomez-Bombarelli et al., "Automatic
Chemical Design Using a Data-Driven Continuous Representation of Molecules" (ACS Central
Science 2018), written the way its public Keras code (aspuru-guzik-group/chemical_vae,
``models.py`` and ``train_vae.py``) and the keras.io VAE example write it: one-hot SMILES
strings padded with spaces, a 1-D convolutional encoder (``Conv1D`` with tanh, each followed by
``BatchNormalization``), ``Flatten``, a ``Dense`` tanh layer, the ``z_mean`` and ``z_log_var``
heads, a ``Sampling`` layer (the reparameterization ``z_mean + exp(0.5 * z_log_var) * eps``,
``eps`` from ``keras.random.normal`` with its own ``SeedGenerator``), and a decoder that
repeats a ``Dense`` tanh projection of ``z`` over the string (``RepeatVector``) into two
``GRU`` layers and a ``TimeDistributed(Dense(chars, softmax))`` over the characters. As in
chemical_vae the KL divergence is an output of the model of its own: the model's outputs are
``[x_pred, kl]``, ``kl`` a ``Concatenate`` of ``z_mean`` and ``z_log_var`` whose loss function
(``kl_loss(truth_dummy, mean_log_var)``) is the KL to the unit Gaussian averaged over the
latent units (``-0.5 * mean(1 + log_var - mean^2 - exp(log_var))``), beside
``categorical_crossentropy`` on ``x_pred`` (averaged over the string's positions, padding
included, as chemical_vae does), ``loss_weights=[1, --kl-weight]`` (0.1 by default); the KL
term is annealed from 0 by a callback (``KLAnnealing``, chemical_vae's ``WeightAnnealer``: a
``keras.Variable`` multiplied into the KL loss, ramped linearly from 0 to 1 over the first
``--kl-warmup`` epochs, 5). ``model.fit(x, [x, zeros])`` with Adam(``--lr``, 3e-3), batches
of ``--batch-size`` (32: 63 steps an epoch), ``--epochs`` (20).

The data are generated here: SMILES-like strings of a small grammar over the atoms C, N, O, S
and F: a first atom, 2 to 4 fragments drawn from 17 (``C``, ``CC``, ``N``, ``O``, ``S``,
``C=C``, the branched ``C(=O)``, ``C(C)``, ``C(O)``, ``C(N)``, ``C(F)``, ``C(=O)N``,
``N(C)``, and the rings ``C1CCC1``, ``C1CCOC1``, ``C2CCNC2``, ``C1=CCC1``, at most one ring a
molecule) and an ending (nothing, ``C``, ``O``, ``N``, ``F``, ``C(=O)O`` or ``S``), e.g.
``OC(=O)NC2CCNC2N`` or ``CC(C)C1=CCC1S``; at most 20 characters (12.7 on average), padded
with spaces to 20. The alphabet is the 11 characters `` CNOSF=()12`` (the pad first). 2000
molecules train (``--n-train``), 500 (another seed) are held out. ``is_valid`` is the
grammar's checker: the string starts with an atom, brackets are balanced, not nested, not
empty and open only after an atom, a ring digit or a closing bracket, a ``=`` stands before
an atom only, ring digits come in pairs with at least two atoms between, and no space is
inside the string.

Layers with weights, in model order: ``conv_1``, ``bn_1``, ``conv_2``, ``bn_2``, ``conv_3``,
``bn_3`` (``--filters`` 32, 32, 48 of widths 5, 5, 7, valid padding), ``enc_dense``
(``--hidden``, 128), ``z_mean``, ``z_log_var`` (``--latent``, 24), ``dec_dense``
(``--hidden``), ``gru_1``, ``gru_2`` (``--gru-units``, 96) and ``x_pred``. Metrics: the
per-position character accuracy of ``x_pred`` (``x_pred_accuracy``, padding included); after
every epoch a callback decodes the held-out molecules from their ``z_mean`` (greedy, the
argmax at every position) and counts the share of their own characters (the padding left out)
decoded right (``val_accuracy``), the share decoded whole (``val_exact``), and the share of
500 strings decoded from ``z ~ N(0, I)`` (a fixed draw) that the checker accepts
(``valid_prior``). A decoder that ignores ``z`` can do no better on ``val_accuracy`` than the
per-position majority character (0.34 to 0.35; printed). ``val_loss`` is Keras' held-out
total loss (the reconstruction plus the weighted KL term). The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--kl-weight``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

CHARS = " CNOSF=()12"
MAX_LEN = 20
ATOMS = "CNOSF"
START_P = np.array([0.5, 0.2, 0.15, 0.05, 0.1])
RINGS = ("C1CCC1", "C1CCOC1", "C2CCNC2", "C1=CCC1")
FRAGMENTS = ("C", "CC", "N", "O", "S", "C=C", "C(=O)", "C(C)", "C(O)", "C(N)", "C(F)",
             "C(=O)N", "N(C)") + RINGS
ENDS = ("", "C", "O", "N", "F", "C(=O)O", "S")


def molecule(rng):
    """One SMILES-like string of the grammar (at most MAX_LEN characters)."""
    while True:
        parts = [ATOMS[rng.choice(5, p=START_P)]]
        ring = False
        for _ in range(int(rng.integers(2, 5))):
            frag = FRAGMENTS[rng.integers(len(FRAGMENTS))]
            if frag in RINGS:
                if ring:
                    continue
                ring = True
            parts.append(frag)
        parts.append(ENDS[rng.integers(len(ENDS))])
        s = "".join(parts)
        if len(s) <= MAX_LEN:
            return s


def is_valid(s):
    """The grammar's checker (trailing padding removed first)."""
    s = s.rstrip(" ")
    if not s or " " in s or s[0] not in ATOMS:
        return False
    depth, branch_atoms = 0, 0
    open_ring = {}                      # digit -> main-chain atom count at its opening
    atoms = 0
    prev = ""
    for ch in s:
        if ch in ATOMS:
            if depth == 0:
                atoms += 1
            else:
                branch_atoms += 1
        elif ch == "=":
            if prev not in ATOMS + "12()":
                return False
        elif ch == "(":
            if depth or prev not in ATOMS + "12)":
                return False
            depth, branch_atoms = 1, 0
        elif ch == ")":
            if depth != 1 or branch_atoms == 0 or prev not in ATOMS:
                return False
            depth = 0
        elif ch in "12":
            if prev not in ATOMS + "12" or depth:
                return False
            if ch in open_ring:
                if atoms - open_ring.pop(ch) < 2:
                    return False
            else:
                open_ring[ch] = atoms
        else:
            return False
        prev = ch
    return depth == 0 and not open_ring and prev not in "=("


def one_hot(strings):
    idx = {c: i for i, c in enumerate(CHARS)}
    x = np.zeros((len(strings), MAX_LEN, len(CHARS)), dtype="float32")
    for n, s in enumerate(strings):
        for t, ch in enumerate(s.ljust(MAX_LEN)):
            x[n, t, idx[ch]] = 1.0
    return x


def decode(probs):
    return ["".join(CHARS[i] for i in row) for row in probs.argmax(-1)]


def main():
    p = common.parser(__doc__)
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--filters", type=common.ints, default=[32, 32, 48])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--latent", type=int, default=24)
    p.add_argument("--gru-units", type=int, default=96)
    p.add_argument("--kl-weight", type=float, default=0.1)
    p.add_argument("--kl-warmup", type=int, default=5)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None,
                   choices=("kl-sign", "std-not-halved", "softmax-time-axis"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops

    rng = np.random.default_rng(args.seed)
    train = [molecule(rng) for _ in range(args.n_train)]
    rng_val = np.random.default_rng(1000 + args.seed)
    held = [molecule(rng_val) for _ in range(500)]
    assert all(is_valid(s) for s in train + held)
    x_train, x_val = one_hot(train), one_hot(held)
    n_chars = len(CHARS)

    class Sampling(layers.Layer):
        """Uses (z_mean, z_log_var) to sample z, the vector encoding a molecule."""

        def __init__(self, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(shape=ops.shape(z_mean), seed=self.seed_generator)
            if args.bug == "std-not-halved":
                # BUG (std-not-halved): exp(z_log_var) taken as the standard deviation: the
                # variance is squared.
                return z_mean + ops.exp(z_log_var) * epsilon
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

    # encoder
    x_in = keras.Input(shape=(MAX_LEN, n_chars), name="smiles")
    h = x_in
    widths = (5, 5, 7)
    for i, (filters, width) in enumerate(zip(args.filters, widths), start=1):
        h = layers.Conv1D(filters, width, activation="tanh", name="conv_%d" % i)(h)
        h = layers.BatchNormalization(name="bn_%d" % i)(h)
    h = layers.Flatten(name="flatten")(h)
    h = layers.Dense(args.hidden, activation="tanh", name="enc_dense")(h)
    z_mean = layers.Dense(args.latent, name="z_mean")(h)
    z_log_var = layers.Dense(args.latent, name="z_log_var")(h)
    z = Sampling(seed=args.seed, name="sampling")([z_mean, z_log_var])

    # decoder
    d = layers.Dense(args.hidden, activation="tanh", name="dec_dense")(z)
    d = layers.RepeatVector(MAX_LEN, name="repeat")(d)
    d = layers.GRU(args.gru_units, return_sequences=True, name="gru_1")(d)
    d = layers.GRU(args.gru_units, return_sequences=True, name="gru_2")(d)
    if args.bug == "softmax-time-axis":
        # BUG (softmax-time-axis): the softmax taken over axis 1, the string's positions,
        # instead of the characters.
        d = layers.TimeDistributed(layers.Dense(n_chars), name="x_logits")(d)
        x_pred = layers.Softmax(axis=1, name="x_pred")(d)
    else:
        x_pred = layers.TimeDistributed(layers.Dense(n_chars, activation="softmax"),
                                        name="x_pred")(d)
    kl_out = layers.Concatenate(name="kl")([z_mean, z_log_var])
    model = keras.Model(x_in, [x_pred, kl_out], name="smiles_vae")

    kl_anneal = keras.Variable(0.0 if args.kl_warmup > 0 else 1.0, trainable=False,
                               name="kl_anneal")
    latent = args.latent

    def kl_loss(_, mean_log_var):
        mean, log_var = mean_log_var[:, :latent], mean_log_var[:, latent:]
        kl = -0.5 * ops.mean(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)
        if args.bug == "kl-sign":
            # BUG (kl-sign): the KL term with its sign turned around.
            kl = -kl
        return kl_anneal * kl

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr),
                  loss=["categorical_crossentropy", kl_loss],
                  loss_weights=[1.0, args.kl_weight],
                  metrics=[["accuracy"], []])

    class KLAnnealing(keras.callbacks.Callback):
        """chemical_vae's WeightAnnealer: the KL weight ramps from 0 to 1 over the warm-up."""

        def on_epoch_begin(self, epoch, logs=None):
            if args.kl_warmup > 0:
                kl_anneal.assign(min(1.0, epoch / args.kl_warmup))

    encoder = keras.Model(x_in, z_mean)
    decoder_in = keras.Input(shape=(args.latent,))
    dd = model.get_layer("dec_dense")(decoder_in)
    dd = model.get_layer("repeat")(dd)
    dd = model.get_layer("gru_1")(dd)
    dd = model.get_layer("gru_2")(dd)
    if args.bug == "softmax-time-axis":
        dd = model.get_layer("x_pred")(model.get_layer("x_logits")(dd))
    else:
        dd = model.get_layer("x_pred")(dd)
    decoder = keras.Model(decoder_in, dd)
    z_prior = np.random.default_rng(2000 + args.seed).normal(
        size=(500, args.latent)).astype("float32")
    real = x_val.argmax(-1) != 0
    scores = {"val_accuracy": [], "val_exact": [], "valid_prior": []}

    class Reconstruction(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rec = decoder.predict(encoder.predict(x_val, batch_size=500, verbose=0),
                                  batch_size=500, verbose=0)
            same = rec.argmax(-1) == x_val.argmax(-1)
            scores["val_accuracy"].append(float(same[real].mean()))
            scores["val_exact"].append(float(same.all(axis=1).mean()))
            samples = decode(decoder.predict(z_prior, batch_size=500, verbose=0))
            scores["valid_prior"].append(float(np.mean([is_valid(s) for s in samples])))

    dummy_train = np.zeros((len(x_train), 2 * args.latent), dtype="float32")
    dummy_val = np.zeros((len(x_val), 2 * args.latent), dtype="float32")
    callbacks = [KLAnnealing(), Reconstruction()] + common.recording.keras_callbacks(
        args.out, task="classification", loss_name="categorical_crossentropy",
        num_classes=n_chars, loss_added=True)
    history = model.fit(x_train, [x_train, dummy_train],
                        validation_data=(x_val, [x_val, dummy_val]),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f recon %.4f kl %.4f char acc %.3f | val loss %.4f "
              "recon acc %.3f exact %.3f valid prior %.3f"
              % (e + 1, h["loss"][e], h["x_pred_loss"][e], h["kl_loss"][e],
                 h["x_pred_accuracy"][e], h["val_loss"][e], scores["val_accuracy"][e],
                 scores["val_exact"][e], scores["valid_prior"][e]))
    samples = decode(decoder.predict(z_prior[:8], verbose=0))
    print("samples from the prior:", " | ".join(s.rstrip() for s in samples))
    # the per-position character frequencies of the training strings: the best a decoder
    # that ignores z can do
    unigram = x_train.mean(0).argmax(-1)
    print("per-position majority character: val accuracy %.3f"
          % float((unigram[None, :] == x_val.argmax(-1))[real].mean()))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    result = {"steps": steps, "epochs": len(h["loss"]), "first_loss": float(h["loss"][0]),
              "loss": float(h["loss"][-1]),
              "first_accuracy": float(h["x_pred_accuracy"][0]),
              "accuracy": float(h["x_pred_accuracy"][-1]),
              "reconstruction_loss": float(h["x_pred_loss"][-1]),
              "kl_loss": float(h["kl_loss"][-1]),
              "val_loss": float(h["val_loss"][-1]),
              "val_accuracy": scores["val_accuracy"][-1],
              "val_exact": scores["val_exact"][-1],
              "valid_prior": scores["valid_prior"][-1],
              "nan": any(not np.isfinite(v) for v in h["loss"]),
              "layers": common.keras_layers(model)}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ksmivae-kl-weight-collapse", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: training, suboptimal hyperparameter (the weight of a "
               "loss term); the posterior collapse ('KL vanishing') of sequence VAEs "
               "(Bowman et al. 2016), asked about on Stack Overflow and Cross Validated as "
               "'my VAE decodes the same output for every input'",
     "bug": "loss_weights=[1, 5] for [x_pred, kl] instead of [1, 0.1]: once the annealing "
            "lets the KL term in, the encoder gives up encoding (the KL term, averaged over "
            "the latent units, 0.02 against the twin's 0.95) and the decoder writes the same "
            "carbon chains whatever z is: the reconstruction loss stays at 1.30 (1.45 in the "
            "first epoch, the total 1.45 -> 1.41), held-out characters decoded right 0.403, "
            "near the per-position majority character's 0.347, none decoded whole, and 0.118 "
            "of the strings decoded from the prior grammatical (the twin: reconstruction loss "
            "1.45 -> 0.57, 0.716 of the held-out characters, 0.024 whole, 0.488 grammatical)",
     "fix": "loss_weights=[1, 0.1] (the KL weight the model was tuned with)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--kl-weight 5 --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "ksmivae-adam-lr-too-high", "split": "dev", "architecture": "autoencoder",
     "origin": "AUTOTRAINER: learning rate too high (oscillating loss); DeepFD / DeepDiagnosis "
               "fault type: learning rate",
     "bug": "Adam(learning_rate=0.03) instead of 3e-3: the first epoch's loss is 1.73 (the "
            "twin's 1.48), the second epoch's 3.2e13 as z_mean and z_log_var are thrown far "
            "out when the KL term comes in, then the loss goes up and down between 2.99 and "
            "19.3 (502 in epoch 18) and ends at 4.96 with the reconstruction loss never below "
            "1.42; 0.289 of the held-out characters decoded right, below the per-position "
            "majority character's 0.337 (the twin: loss 1.48 -> 0.646, 0.667 of the "
            "characters, 0.51 of the prior's strings grammatical)",
     "fix": "Adam(learning_rate=3e-3)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--lr 0.03 --seed 2 --record-every 16",
          "fixed": "--seed 2 --record-every 16"},
     ]},
    {"family": "ksmivae-kl-sign", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss function (a term of the loss with the wrong "
               "sign); Stack Overflow: 'VAE loss becomes negative and then NaN' with the KL "
               "term's sign turned around",
     "bug": "the KL loss function returns +0.5 * mean(1 + log_var - mean^2 - exp(log_var)), "
            "the KL divergence with its sign turned around: training maximizes it; the first "
            "epoch (KL weight 0 in the annealing) is the twin's (loss 1.467), in the second "
            "the loss is -1.6e8 (the KL term -2.1e9) and from the third every loss is NaN; "
            "no held-out character is decoded (the twin: loss 1.467 -> 0.705, 0.631 of the "
            "held-out characters decoded right, 0.436 of the prior's strings grammatical)",
     "fix": "kl = -0.5 * mean(1 + log_var - mean^2 - exp(log_var)), minimized",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug kl-sign --seed 0 --record-every 16",
          "fixed": "--seed 0 --record-every 16"},
     ]},
    {"family": "healthy-ksmivae", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a character-level SMILES VAE (conv encoder, RepeatVector + GRU decoder, "
                    "the KL as a model output of its own with an annealed weight) on "
                    "generated molecule-like strings, that learns to reconstruct them",
     "healthy": [
         {"id": "latent32-warmup3-seed3",
          "args": "--latent 32 --kl-warmup 3 --seed 3 --record-every 16",
          "description": "32 latent units, the KL annealed over 3 epochs, seed 3: loss 1.449 "
                         "-> 0.676, 0.674 of the held-out characters decoded right (the "
                         "per-position majority character: 0.341), 0.392 of the prior's "
                         "strings grammatical"},
     ]},
]


if __name__ == "__main__":
    main()
