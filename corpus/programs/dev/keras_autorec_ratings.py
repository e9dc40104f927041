"""I-AutoRec (Sedhain et al. 2015, "AutoRec: Autoencoders Meet Collaborative Filtering"), the
item-based autoencoder recommender, written the way the public Keras re-implementations write it
(e.g. the "AutoRec" Keras notebooks on MovieLens): every item's vector of user ratings is the
input and the target, one sigmoid hidden layer, an identity output, a masked mean squared error
that counts only the observed ratings (a custom loss: ``mask = y_true != 0``), an L2 penalty on
both weight matrices and Adam, trained with ``model.fit``.

Data, generated here: a ratings matrix of ``--users`` users by ``--items`` items from latent
factors (rank 2: user and item factors drawn Gaussian, user and item biases), the rating
``3.2 + b_u + b_i + p_u . q_i`` plus noise, rounded and clipped to the stars 1..5; ``--density``
of the entries are observed (the others are 0, "not rated"); a tenth of the observed ratings is
held out for validation. The training matrix (items x users) is the input of both ``fit`` and
validation; the validation targets are the held-out ratings at their places (0 elsewhere), so
the validation loss is the masked MSE of the held-out ratings.

The model: ``Dense(--hidden, sigmoid)`` (``encoder``) and ``Dense(users)`` (``decoder``, linear),
both with ``kernel_regularizer=l2(--l2)``; Adam(``--lr``), batches of ``--batch-size`` items.
After ``fit`` the result line adds the held-out RMSE in stars (``val_rmse``) and that of
predicting the training mean (``mean_rmse``). The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--l2``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def ratings(users, items, density, seed, rank=2):
    """(items x users) training and held-out rating matrices, 0 where not observed."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0, 0.8, (users, rank))
    q = rng.normal(0, 0.8, (items, rank))
    bu = rng.normal(0, 0.8, users)
    bi = rng.normal(0, 0.6, items)
    full = 3.2 + bu[None, :] + bi[:, None] + q @ p.T + rng.normal(0, 0.3, (items, users))
    full = np.clip(np.rint(full), 1, 5)
    observed = rng.random((items, users)) < density
    held = observed & (rng.random((items, users)) < 0.1)
    train = np.where(observed & ~held, full, 0.0).astype("float32")
    val = np.where(held, full, 0.0).astype("float32")
    return train, val


def main():
    p = common.parser(__doc__)
    p.add_argument("--users", type=int, default=240)
    p.add_argument("--items", type=int, default=200)
    p.add_argument("--density", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=200)
    p.add_argument("--l2", type=float, default=1e-3, help="L2 factor on both kernels")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--bug", default=None, choices=("no-mask",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops, regularizers

    train, val = ratings(args.users, args.items, args.density, args.seed)
    print("%d training and %d held-out ratings, %d users x %d items" % (
        (train > 0).sum(), (val > 0).sum(), args.users, args.items))

    def masked_mse(y_true, y_pred):
        mask = ops.cast(ops.not_equal(y_true, 0.0), "float32")
        return ops.sum(ops.square(y_true - y_pred) * mask, axis=-1) / \
            ops.maximum(ops.sum(mask, axis=-1), 1.0)

    reg = regularizers.l2(args.l2)
    model = keras.Sequential([
        keras.Input(shape=(args.users,)),
        layers.Dense(args.hidden, activation="sigmoid", kernel_regularizer=reg, name="encoder"),
        layers.Dense(args.users, kernel_regularizer=reg, name="decoder"),
    ], name="i_autorec")
    # BUG (no-mask): the plain MSE: every unobserved 0 counts as a rating of 0.
    loss = "mean_squared_error" if args.bug == "no-mask" else masked_mse
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=args.lr), loss=loss)
    callbacks = common.recording.keras_callbacks(
        args.out, task="regression",
        loss_name="mean_squared_error" if args.bug == "no-mask" else "masked_mse")
    history = model.fit(train, train, validation_data=(train, val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(0, len(h["loss"]), 10):
        print("epoch %d: loss %.4f val loss %.4f" % (e + 1, h["loss"][e], h["val_loss"][e]))
    pred = model.predict(train, batch_size=256, verbose=0)
    held = val > 0
    rmse = float(np.sqrt(np.mean((np.clip(pred[held], 1, 5) - val[held]) ** 2)))
    mean_rmse = float(np.sqrt(np.mean((train[train > 0].mean() - val[held]) ** 2)))
    print("held-out RMSE %.3f (training mean: %.3f)" % (rmse, mean_rmse))
    steps = -(-args.items // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_rmse=rmse, mean_rmse=mean_rmse))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kautorec-no-mask", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: wrong loss function (missing masking of the unobserved "
               "entries); Stack Overflow: 'autoencoder recommender predicts zeros'",
     "bug": "the plain mean squared error instead of the masked one: the unobserved zeros "
            "(nine entries in ten) count as ratings of 0 and pull every prediction towards 0; "
            "the loss falls from 1.517 to 0.759 but the held-out RMSE is 2.574 (predicting the "
            "training mean: 1.193; the fixed twin: 0.920)",
     "fix": "loss=masked_mse (mask = y_true != 0)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug no-mask --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kautorec-l2-dominates", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: suboptimal hyperparameter (regularization factor); "
               "AutoRec's lambda taken over from the paper's summed loss to a mean loss",
     "bug": "l2(1.0) on both kernels: the penalty dominates the loss (388 in the first epoch, "
            "6.05 in the sixtieth), the weights are held near 0 and the held-out RMSE is 2.182 "
            "(predicting the training mean: 1.183; the fixed twin at l2(1e-3): 0.849)",
     "fix": "kernel_regularizer=l2(1e-3)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--l2 1.0 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kautorec", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "I-AutoRec with a masked MSE on generated ratings, that trains well",
     "healthy": [
         {"id": "h300-seed3",
          "args": "--hidden 300 --seed 3 --record-every 4",
          "description": "300 sigmoid hidden units, l2(1e-3), Adam at 1e-3"},
     ]},
]


if __name__ == "__main__":
    main()
