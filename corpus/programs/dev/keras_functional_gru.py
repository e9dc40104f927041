"""A token-sequence classifier with the Keras 3 functional API: Embedding, GRU, Dropout, Dense.

The data are generated here: sequences of ``--length`` filler tokens (ids 4..``--vocab``-1)
with a few marker tokens (ids 1..3) at random places; the label is the class of the LAST
marker in the sequence, so the recurrent state has to be overwritten at every marker and kept
over the filler. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--clipnorm``, ``--decay-steps``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

CLASSES = 3


def last_marker_sequences(n, length, vocab, seed):
    rng = common.np.random.default_rng(seed)
    x = rng.integers(CLASSES + 1, vocab, size=(n, length))
    y = common.np.empty(n, dtype="int64")
    for i in range(n):
        k = int(rng.integers(1, 5))
        pos = common.np.sort(rng.choice(length, size=k, replace=False))
        marks = rng.integers(0, CLASSES, size=k)
        x[i, pos] = marks + 1
        y[i] = marks[-1]
    return x.astype("int32"), y


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=1500)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--vocab", type=int, default=40)
    p.add_argument("--embed", type=int, default=16)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "momentum"))
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--clipnorm", type=float, default=None, help="global_clipnorm")
    p.add_argument("--cosine", action="store_true", help="cosine decay of the learning rate")
    p.add_argument("--bug", default=None, choices=("bce-class-index", "decay-steps-epochs",
                                                   "sorted-unshuffled"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    np = common.np

    x, y = last_marker_sequences(args.samples, args.length, args.vocab, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    shuffle = True
    if args.bug == "sorted-unshuffled":
        # BUG: the training set is grouped by class (as it was collected) and fit() is told
        # not to shuffle: every epoch sees all of class 0, then all of 1, then all of 2.
        order = np.argsort(y_tr, kind="stable")
        x_tr, y_tr = x_tr[order], y_tr[order]
        shuffle = False

    tokens = keras.Input(shape=(args.length,), dtype="int32", name="tokens")
    h = layers.Embedding(args.vocab, args.embed, name="embedding")(tokens)
    h = layers.GRU(args.units, name="gru")(h)
    if args.dropout:
        h = layers.Dropout(args.dropout, name="dropout")(h)
    if args.bug == "bce-class-index":
        # BUG: one sigmoid unit and binary cross-entropy on the class index 0, 1, 2
        probs = layers.Dense(1, activation="sigmoid", name="classifier")(h)
        loss, metrics = "binary_crossentropy", [keras.metrics.BinaryAccuracy(name="accuracy")]
    else:
        probs = layers.Dense(CLASSES, activation="softmax", name="classifier")(h)
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    model = keras.Model(tokens, probs, name="last_marker")

    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    lr = args.lr
    if args.bug == "decay-steps-epochs":
        # BUG: decay_steps counts optimizer steps, not epochs: the learning rate reaches 0
        # after `epochs` steps and stays there.
        lr = keras.optimizers.schedules.CosineDecay(args.lr, decay_steps=args.epochs)
    elif args.cosine:
        lr = keras.optimizers.schedules.CosineDecay(
            args.lr, decay_steps=args.epochs * steps_per_epoch)
    kw = {"global_clipnorm": args.clipnorm} if args.clipnorm else {}
    optimizer = {"adam": lambda: keras.optimizers.Adam(lr, **kw),
                 "rmsprop": lambda: keras.optimizers.RMSprop(lr, **kw),
                 "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9, **kw)}[args.optimizer]()
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=shuffle, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tokens-gru-bce-class-index", "split": "dev", "architecture": "gru",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong loss function; Humbatova et al. 2020: "
               "binary cross-entropy for a multi-class label",
     "bug": "one sigmoid output unit and binary_crossentropy on the class index 0, 1, 2: the "
            "label 2 lies outside [0, 1], the loss is unbounded below and goes negative (to "
            "about -13): the output is pushed to 1 for every sequence, so it can never tell "
            "class 0 from the others' mix",
     "fix": "three softmax units with sparse_categorical_crossentropy",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug bce-class-index",
          "fixed": ""},
     ]},
    {"family": "tokens-gru-cosine-decay-steps", "split": "dev", "architecture": "gru",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (decay_steps in epochs where "
               "the schedule counts steps, so the learning rate is 0 after a few steps)",
     "bug": "CosineDecay(lr, decay_steps=epochs): the schedule counts optimizer steps, the "
            "learning rate is 0 from step 5 of 190 on and the weights stop changing",
     "fix": "decay_steps=epochs x steps_per_epoch",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug decay-steps-epochs",
          "fixed": "--cosine"},
     ]},
    {"family": "tokens-gru-clipnorm-tiny", "split": "dev", "architecture": "gru",
     "origin": "Humbatova et al. 2020: wrong optimizer hyperparameter (gradient clipping "
               "threshold 1e-6 instead of 1.0)",
     "bug": "SGD with momentum and global_clipnorm=1e-6: every gradient is scaled to a norm of "
            "1e-6, the updates are about a millionth of the fixed run's and the loss does not "
            "move from ln 3",
     "fix": "global_clipnorm=1.0",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 0.1 --clipnorm 1e-6",
          "fixed": "--optimizer momentum --lr 0.1 --clipnorm 1.0"},
     ]},
    {"family": "tokens-gru-sorted-unshuffled", "split": "dev", "architecture": "gru",
     "origin": "Humbatova et al. 2020: training data not shuffled (a training set ordered by "
               "class)",
     "bug": "the training set sorted by label and fit(shuffle=False): each epoch is a run of "
            "class 0, then 1, then 2; every stretch pulls the model towards predicting its "
            "class, the loss jumps at every class change and the final epoch's mean loss stays "
            "near 0.9 (validation accuracy about 0.76 where the shuffled run reaches 1.0)",
     "fix": "fit(shuffle=True) (the default)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug sorted-unshuffled --lr 0.003",
          "fixed": "--lr 0.003"},
     ]},
    {"family": "tokens-gru-lr-too-high", "split": "dev", "architecture": "gru",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "RMSprop with learning rate 0.5: every update overshoots, the loss starts near 6.5 "
            "and stays in the units, far above ln 3 at the start of the fixed run",
     "fix": "learning rate 0.003",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop",
          "buggy": "--optimizer rmsprop --lr 0.5",
          "fixed": "--optimizer rmsprop --lr 0.003"},
     ]},
    {"family": "healthy-tokens-gru", "split": "dev", "architecture": "gru",
     "origin": "healthy run",
     "description": "a Keras functional-API GRU classifier of token sequences that trains well",
     "healthy": [
         {"id": "rmsprop-bs16-dropout", "args": "--optimizer rmsprop --lr 0.003 --batch-size 16 --epochs 3 --dropout 0.2"},
         {"id": "momentum-clip-seed1", "args": "--optimizer momentum --lr 0.05 --clipnorm 5 --epochs 6 --seed 1"},
         {"id": "adam-long-seed2", "args": "--length 30 --units 24 --epochs 5 --seed 2"},
     ]},
]


if __name__ == "__main__":
    main()
