"""A mixture density network (Bishop 1994) in Keras 3, written the way the Keras example
"Approximating non-Function Mappings with Mixture Density Networks" writes it: Dense layers
into a custom ``MDN`` layer whose three Dense heads give the mixture weights (softmax), the
means and the standard deviations (``elu + 1 + epsilon``, the example's ``nnelu``), the
negative log-likelihood of the mixture written with ``keras.ops`` (log-sum-exp over the
components) as the loss, Adam, trained with ``model.fit``.

Data (generated, as Bishop's inverse problem): t uniform in [0, 1], x = t + 0.3 sin(2 pi t)
+ uniform noise in [-0.1, 0.1]; the network predicts t from x, a one-to-many mapping (up to
three branches for x in about [0.35, 0.65]). 1500 points, 20% held out. The model:
``Dense(--units, tanh)`` (``dense``), ``Dense(--units, tanh)`` (``dense_1``) and the ``MDN``
layer (``mdn``) with ``--mixes`` components, its output the concatenated means, standard
deviations and mixture weights of its three heads (``mdn/mdn_mus``, ``mdn/mdn_sigmas``,
``mdn/mdn_pi``, the recorder's layers 2 to 4). Adam(``--lr``), batches of ``--batch-size``;
``TerminateOnNaN`` stops a run at its first NaN loss. The validation
loss is the held-out NLL; after ``fit`` the result line adds ``val_nll`` and ``val_mae``, the
mean absolute error of the mean of the most likely component (predicting the mean target:
about 0.25). The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.0, 1.0, size=(n, 1))
    x = t + 0.3 * np.sin(2 * np.pi * t) + rng.uniform(-0.1, 0.1, size=(n, 1))
    return x.astype("float32"), t.astype("float32")


def build_mdn_layer(keras, bug):
    from keras import layers, ops

    class MDN(layers.Layer):
        """Means, standard deviations and mixture weights of ``num_mixtures`` Gaussians."""

        def __init__(self, output_dim, num_mixtures, **kwargs):
            super().__init__(**kwargs)
            self.output_dim = output_dim
            self.num_mix = num_mixtures
            self.mdn_mus = layers.Dense(num_mixtures * output_dim, name="mdn_mus")
            if bug == "sigma-linear":
                # BUG (sigma-linear): the standard deviations come out of a linear layer,
                # nothing keeps them positive.
                self.mdn_sigmas = layers.Dense(num_mixtures * output_dim, name="mdn_sigmas")
            else:
                self.mdn_sigmas = layers.Dense(
                    num_mixtures * output_dim, name="mdn_sigmas",
                    activation=lambda z: ops.elu(z) + 1.0 + 1e-6)
            if bug == "pi-no-softmax":
                # BUG (pi-no-softmax): the mixture weights are the head's linear outputs,
                # not normalized by a softmax.
                self.mdn_pi = layers.Dense(num_mixtures, name="mdn_pi")
            else:
                self.mdn_pi = layers.Dense(num_mixtures, name="mdn_pi", activation="softmax")

        def build(self, input_shape):
            self.mdn_mus.build(input_shape)
            self.mdn_sigmas.build(input_shape)
            self.mdn_pi.build(input_shape)
            super().build(input_shape)

        def call(self, x):
            return layers.concatenate([self.mdn_mus(x), self.mdn_sigmas(x), self.mdn_pi(x)],
                                      name="mdn_outputs")

        def compute_output_shape(self, input_shape):
            return (input_shape[0], (2 * self.output_dim + 1) * self.num_mix)

    return MDN


def mdn_nll(ops, mixes, reduction="mean"):
    def loss(y_true, y_pred):
        mus = y_pred[:, :mixes]
        sigmas = y_pred[:, mixes:2 * mixes]
        pis = y_pred[:, 2 * mixes:]
        z = (y_true - mus) / sigmas
        log_comp = -0.5 * z * z - ops.log(sigmas) - 0.5 * np.log(2 * np.pi)
        nll = -ops.logsumexp(ops.log(pis) + log_comp, axis=-1)
        if reduction == "sum":
            return ops.sum(nll)
        return ops.mean(nll)
    return loss


def main():
    p = common.parser(__doc__)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--mixes", type=int, default=5)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None,
                   choices=("sigma-linear", "pi-no-softmax", "shuffled-targets"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops

    x, t = make_data(1500, args.seed)
    n_val = 300
    x_tr, t_tr, x_val, t_val = x[n_val:], t[n_val:], x[:n_val], t[:n_val]
    if args.bug == "shuffled-targets":
        # BUG (shuffled-targets): the targets are shuffled on their own, not with the
        # inputs: every pair is broken.
        t_tr = t_tr[np.random.default_rng(args.seed).permutation(len(t_tr))]

    MDN = build_mdn_layer(keras, args.bug)
    model = keras.Sequential([
        keras.Input(shape=(1,)),
        layers.Dense(args.units, activation="tanh", name="dense"),
        layers.Dense(args.units, activation="tanh", name="dense_1"),
        MDN(1, args.mixes, name="mdn"),
    ], name="mdn_regression")
    optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    model.compile(optimizer=optimizer, loss=mdn_nll(ops, args.mixes))
    callbacks = common.recording.keras_callbacks(
        args.out, task="regression", loss_name="mdn_negative_log_likelihood",
        optimizer=optimizer, batch_size=args.batch_size)
    # as the example's users do: stop at the first NaN loss rather than train on it
    callbacks = callbacks + [keras.callbacks.TerminateOnNaN()]
    history = model.fit(x_tr, t_tr, validation_data=(x_val, t_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: nll %.4f val nll %.4f" % (e + 1, h["loss"][e], h["val_loss"][e]))
    out = model.predict(x_val, batch_size=512, verbose=0)
    k = args.mixes
    best = np.argmax(out[:, 2 * k:], axis=1)
    mu = out[np.arange(len(out)), best]
    mae = float(np.mean(np.abs(mu - t_val[:, 0])))
    mean_mae = float(np.mean(np.abs(t_tr.mean() - t_val[:, 0])))
    print("held-out NLL %.4f, MAE of the most likely mean %.4f (mean target %.4f)" % (
        h["val_loss"][-1], mae, mean_mae))
    steps = int(optimizer.iterations.numpy())
    mdn = model.get_layer("mdn")
    # the layers as the recorder numbers them: the MDN's three heads are its own layers
    names = common.keras_layers(model)[:-1] + [
        "mdn/" + head.name for head in (mdn.mdn_mus, mdn.mdn_sigmas, mdn.mdn_pi)]
    common.report(common.keras_result(history, steps, layers=names,
                                      val_nll=float(h["val_loss"][-1]), val_mae=mae))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmdn-sigma-linear", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong activation of an output layer (the standard "
               "deviation head of a mixture density network left linear); DeepDiagnosis: "
               "numerical errors (log of a negative value)",
     "bug": "the MDN's sigma head is a linear Dense: about half of the standard deviations "
            "are negative at the first step, ops.log(sigma) is NaN, the first loss is NaN and "
            "TerminateOnNaN stops the run after 1 step (the fixed twin: held-out NLL -0.847, "
            "MAE of the most likely mean 0.190 against 0.256 for the mean target, 300 steps)",
     "fix": "activation=lambda z: ops.elu(z) + 1 + 1e-6 on the sigma head (the example's nnelu)",
     "symptom": "numerical_error", "acceptable_symptoms": [],
     "root_cause": {"layer_name": "mdn/mdn_sigmas", "layer_index": 3},
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug sigma-linear --seed 2 --record-every 6",
          "fixed": "--seed 2 --record-every 6"},
     ]},
    {"family": "kmdn-pi-no-softmax", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing activation of an output layer (the mixture "
               "weights without their softmax); Stack Overflow: 'MDN loss is NaN'",
     "bug": "the mixture weights are the pi head's linear outputs: some are negative at the "
            "first step, ops.log(pi) is NaN, the first loss is NaN and TerminateOnNaN stops the "
            "run after 1 step (the fixed twin, seed 4: held-out NLL -0.789, MAE of the most "
            "likely mean 0.233 against 0.253 for the mean target, 300 steps)",
     "fix": "activation=\"softmax\" on the pi head",
     "symptom": "numerical_error", "acceptable_symptoms": ["missing_activation"],
     "root_cause": {"layer_name": "mdn/mdn_pi", "layer_index": 4},
     "pairs": [
         {"id": "seed4",
          "buggy": "--bug pi-no-softmax --seed 4 --record-every 6",
          "fixed": "--seed 4 --record-every 6"},
     ]},
    {"family": "kmdn-shuffled-targets", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: training data (labels misaligned with the inputs); "
               "Stack Overflow: 'shuffled X and y separately'",
     "bug": "the training targets are permuted on their own: the network can only learn the "
            "marginal density of t (uniform on [0, 1], NLL 0), the held-out NLL ends at 0.044 "
            "and the MAE of the most likely mean at 0.246, worse than the mean target's 0.233 "
            "(the fixed twin: -0.642 and 0.206)",
     "fix": "shuffle inputs and targets together (or not at all)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "seed3",
          "buggy": "--bug shuffled-targets --seed 3 --record-every 6",
          "fixed": "--seed 3 --record-every 6"},
     ]},
    {"family": "healthy-kmdn", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a mixture density network on Bishop's inverse problem, that trains well",
     "healthy": [
         {"id": "mix8-seed1",
          "args": "--mixes 8 --seed 1 --record-every 6",
          "description": "8 components: held-out NLL -0.903, MAE of the most likely mean "
                         "0.186 (the mean target: 0.253)"},
     ]},
]


if __name__ == "__main__":
    main()
