"""A Keras 3 functional model with two outputs on generated used-car listings: a classification
head (the car's condition grade) and a regression head (its price), compiled with a dict of
losses, one per output, and ``loss_weights``, as multi-output Keras tutorials write it.

Data (generated here): 3000 listings with 8 columns in their own units (age in years, mileage
in km, engine size in litres, power in kW, doors, previous owners, accidents, days since the
last service). The condition grade (``A`` to ``D``, four classes) follows from age, mileage,
accidents and service with noise; the price (in units of 10000 euros, about 0.05 to 7) from
power, engine, age, mileage, the grade and noise. A stratified fifth is held out for
validation. The inputs are scaled inside the model by a ``keras.layers.Normalization`` layer
(``norm``) whose statistics ``adapt()`` takes from the training rows. The model: ``norm``, two
Dense ReLU layers ``trunk1`` and ``trunk2`` (``--width`` and half of it, optional L2
``--l2`` on their kernels), then the heads ``condition`` (softmax over the four grades) and
``price`` (one linear unit). ``model.compile(loss={"condition":
"sparse_categorical_crossentropy", "price": "mse"}, loss_weights={"condition": 1.0,
"price": --price-weight})``, ``model.fit`` on a dict of targets with ``validation_data``.
``--halve-every N`` adds a ``LearningRateScheduler`` that halves the learning rate every N
epochs. The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--l2``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def listings(n, seed):
    rng = np.random.default_rng(seed)
    age = rng.uniform(0, 20, n)
    mileage = np.clip(age * rng.normal(14000, 5000, n) + rng.normal(0, 5000, n), 0, None)
    engine = rng.choice([1.0, 1.2, 1.4, 1.6, 2.0, 2.5, 3.0, 4.0], n)
    power = engine * rng.uniform(45, 75, n)
    doors = rng.choice([3.0, 5.0], n)
    owners = np.clip(np.round(age / 5 + rng.normal(0, 0.8, n)), 1, None)
    accidents = rng.poisson(0.03 * age)
    service = rng.gamma(2.0, 120.0, n)
    wear = (age / 20 + mileage / 250000 + 0.4 * accidents + service / 800
            + rng.normal(0, 0.15, n))
    grade = np.digitize(wear, np.quantile(wear, [0.25, 0.5, 0.75]))
    price = (0.9 + power / 60 + 0.3 * engine) * np.exp(-age / 9) * (1.0 - 0.15 * grade) \
        * (1 - mileage / 600000) + rng.normal(0, 0.08, n)
    x = np.stack([age, mileage, engine, power, doors, owners, accidents, service], axis=1)
    return x.astype("float32"), grade.astype("int64"), np.clip(price, 0.05, None).astype("float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--price-weight", type=float, default=0.5)
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "nadam", "sgd"))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--halve-every", type=int, default=0,
                   help="halve the learning rate every N epochs (LearningRateScheduler)")
    p.add_argument("--bug", default=None, choices=("no-adapt", "schedule-precedence",
                                                   "price-sigmoid"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.model_selection import train_test_split

    x, grade, price = listings(3000, args.seed)
    # targets as columns, one row per listing
    grade, price = grade.reshape(-1, 1), price.reshape(-1, 1)
    (x_tr, x_val, g_tr, g_val, p_tr, p_val) = train_test_split(
        x, grade, price, test_size=0.2, random_state=args.seed, stratify=grade)

    norm = layers.Normalization(name="norm")
    # BUG (no-adapt): the adapt() call is missing, so the layer keeps its initial statistics
    # (mean 0, variance 1) and passes kilometres, kW and days through as they are.
    if args.bug != "no-adapt":
        norm.adapt(x_tr)
    reg = keras.regularizers.L2(args.l2) if args.l2 > 0 else None
    inputs = keras.Input(shape=(x.shape[1],), name="listing")
    h = norm(inputs)
    h = layers.Dense(args.width, activation="relu", kernel_regularizer=reg, name="trunk1")(h)
    h = layers.Dense(args.width // 2, activation="relu", kernel_regularizer=reg,
                     name="trunk2")(h)
    condition = layers.Dense(4, activation="softmax", name="condition")(h)
    # BUG (price-sigmoid): the regression head copied from a binary classifier keeps its
    # sigmoid: the predicted price cannot exceed 1 (10000 euros).
    price_act = "sigmoid" if args.bug == "price-sigmoid" else None
    price_out = layers.Dense(1, activation=price_act, name="price")(h)
    model = keras.Model(inputs, {"condition": condition, "price": price_out}, name="cars")

    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                 "nadam": keras.optimizers.Nadam,
                 "sgd": lambda learning_rate: keras.optimizers.SGD(learning_rate, momentum=0.9)
                 }[args.optimizer](learning_rate=args.lr)
    model.compile(optimizer=optimizer,
                  loss={"condition": "sparse_categorical_crossentropy", "price": "mse"},
                  loss_weights={"condition": 1.0, "price": args.price_weight},
                  metrics={"condition": ["accuracy"], "price": ["mae"]})
    callbacks = common.recording.keras_callbacks(args.out)
    if args.halve_every:
        if args.bug == "schedule-precedence":
            # BUG (schedule-precedence): the parentheses around the exponent are missing:
            # lr * 0.5 ** epoch // N floors the learning rate itself to 0.0 from the first epoch.
            schedule = lambda epoch: args.lr * 0.5 ** epoch // args.halve_every  # noqa: E731
        else:
            schedule = lambda epoch: args.lr * 0.5 ** (epoch // args.halve_every)  # noqa: E731
        callbacks = [keras.callbacks.LearningRateScheduler(schedule)] + callbacks
    history = model.fit(x_tr, {"condition": g_tr, "price": p_tr},
                        validation_data=(x_val, {"condition": g_val, "price": p_val}),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f val loss %.4f val grade acc %.3f val price mae %.3f" % (
            e + 1, h["loss"][e], h["val_loss"][e], h["val_condition_accuracy"][e],
            h["val_price_mae"][e]))
    pred = model.predict(x_val, batch_size=256, verbose=0)["price"][:, 0]
    r2 = float(1 - np.mean((pred - p_val[:, 0]) ** 2) / np.var(p_val))
    print("validation price R^2 %.3f" % r2)
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    result = {"steps": steps, "epochs": len(h["loss"]),
              "first_loss": h["loss"][0], "loss": h["loss"][-1],
              "first_accuracy": h["condition_accuracy"][0],
              "accuracy": h["condition_accuracy"][-1],
              "val_loss": h["val_loss"][-1], "val_accuracy": h["val_condition_accuracy"][-1],
              "val_price_mae": h["val_price_mae"][-1], "val_price_r2": r2,
              "nan": any(not np.isfinite(v) for v in h["loss"]),
              # the layers that own weights as the recorder numbers them: the trunk, then the
              # outputs in the order Keras flattens the dict of outputs (sorted by name)
              "layers": ["norm", "trunk1", "trunk2", "price", "condition"]}
    common.report(result)


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cars2-normalization-not-adapted", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow): a keras.layers.Normalization layer "
               "whose adapt() was never called, 'huge loss' on raw tabular columns; Humbatova "
               "et al. 2020: missing input normalization",
     "bug": "norm.adapt(x_train) is missing: the Normalization layer keeps mean 0 and variance "
            "1 and passes mileage (up to 540000 km), days and kW through as they are; the "
            "first epoch's loss is 2.2e7, the last 33.0, the validation grade accuracy 0.28 of "
            "four classes and the price R^2 -3.27 against 0.84 and 0.978",
     "fix": "norm.adapt(x_train) before building the model",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug no-adapt --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "cars2-schedule-lr-zero", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (an operator-precedence "
               "slip in a LearningRateScheduler function); DeepFD: learning rate zero",
     "bug": "LearningRateScheduler(lambda epoch: lr * 0.5 ** epoch // 4): the floor division "
            "applies to the learning rate itself (3e-3 // 4 = 0.0), nothing moves from the "
            "first step, the loss stays at 2.571 in all 12 epochs, the validation grade "
            "accuracy at 0.17 and the price R^2 at -0.91 against 0.84 and 0.987",
     "fix": "lambda epoch: lr * 0.5 ** (epoch // 4)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-halve4-seed1",
          "buggy": "--halve-every 4 --lr 3e-3 --bug schedule-precedence --seed 1 --record-every 2",
          "fixed": "--halve-every 4 --lr 3e-3 --seed 1 --record-every 2"},
     ]},
    {"family": "cars2-l2-dominates", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong; Humbatova et al. "
               "2020: wrong regularization factor (kernel_regularizer=L2(3.0))",
     "bug": "L2(3.0) on both trunk kernels: the first epoch's loss is 114.6 (the twin's "
            "1.49), the penalty drives the trunk to zero and both heads fall back to "
            "constants: the "
            "validation grade accuracy ends at 0.25 of four classes and the price R^2 at 0.00, "
            "against 0.84 and 0.975 without the penalty",
     "fix": "no kernel regularizer (or L2(1e-4))",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--l2 3.0 --seed 2 --record-every 2",
          "fixed": "--seed 2 --record-every 2"},
     ]},
    {"family": "cars2-price-head-sigmoid", "split": "dev", "architecture": "regression",
     "origin": "DeepLocalize benchmark (Stack Overflow): a regression output left with "
               "activation='sigmoid' for targets above 1, 'the predictions are stuck'; "
               "Humbatova et al. 2020: wrong activation of the last layer",
     "bug": "the price head keeps a sigmoid from a binary classifier while the prices (in "
            "10000 euros) reach 6.9 and 39% exceed 1: its output cannot pass 1, the price MSE stops near "
            "0.8, the validation price MAE is 0.53 and R^2 0.20 against 0.12 and 0.975 (the "
            "grade head is unaffected: 0.86)",
     "fix": "Dense(1) without activation for the price",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "price", "layer_index": 3},
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--bug price-sigmoid --seed 3 --record-every 2",
          "fixed": "--seed 3 --record-every 2"},
     ]},
    {"family": "healthy-cars2", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a two-output functional model (condition grade and price) with a loss per "
                    "output and loss_weights that trains well",
     "healthy": [
         {"id": "rmsprop-bs64-seed4",
          "args": "--optimizer rmsprop --lr 1e-3 --batch-size 64 --seed 4 --record-every 2",
          "description": "RMSprop 1e-3, batches of 64"},
         {"id": "momentum-seed5",
          "args": "--optimizer sgd --lr 0.01 --seed 5 --record-every 2",
          "description": "SGD momentum 0.9 at 0.01"},
         {"id": "nadam-width128-pw1-seed6",
          "args": "--optimizer nadam --lr 2e-3 --width 128 --price-weight 1.0 --seed 6 --record-every 2",
          "description": "Nadam 2e-3, a trunk of 128 and 64, equal loss weights"},
         {"id": "width32-halve4-pw02-bs16-seed7",
          "args": "--width 32 --halve-every 4 --lr 3e-3 --price-weight 0.2 --batch-size 16 --seed 7 --record-every 2",
          "description": "a trunk of 32 and 16, Adam 3e-3 halved every 4 epochs, price weight "
                         "0.2, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
