"""A Keras text-like classifier: Embedding -> LSTM or GRU -> Dense(softmax).

Synthetic documents of token ids (common.token_task, 4 topics), padded to a fixed length,
``validation_split=0.2``; the optimizer, learning rate and its schedule from the command line.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--rnn", default="lstm", choices=("lstm", "gru"))
    p.add_argument("--vocab", type=int, default=200)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--docs", type=int, default=1600)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--clipnorm", type=float, default=None)
    p.add_argument("--schedule", default="none", help="none, cosine")
    p.add_argument("--out-act", default="softmax")
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    x, y = common.token_task(args.docs, args.length, args.vocab, seed=args.seed, classes=4)
    rnn = layers.LSTM if args.rnn == "lstm" else layers.GRU
    model = keras.Sequential([
        keras.Input(shape=(args.length,), dtype="int32"),
        layers.Embedding(args.vocab, 24, name="embedding"),
        rnn(args.units, name=args.rnn),
        layers.Dense(4, activation=args.out_act, name="topic")])
    n_train = len(x) - int(len(x) * 0.2)
    steps_per_epoch = -(-n_train // args.batch_size)
    lr = args.lr
    if args.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(args.lr, steps_per_epoch * args.epochs)
    kw = {"clipnorm": args.clipnorm} if args.clipnorm else {}
    opt = {"sgd": lambda: keras.optimizers.SGD(lr, momentum=0.9, **kw),
           "adam": lambda: keras.optimizers.Adam(lr, **kw),
           "rmsprop": lambda: keras.optimizers.RMSprop(lr, **kw),
           "adagrad": lambda: keras.optimizers.Adagrad(lr, **kw)}[args.optimizer]()
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, validation_split=0.2, epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "text-rnn-lr-too-low", "split": "test", "architecture": "gru",
     "origin": "AUTOTRAINER: slow convergence; DeepFD fault type: learning rate too low",
     "bug": "Adam at learning rate 1e-5: the loss stays near ln 4 for the whole run",
     "fix": "learning rate 5e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "gru-adam", "buggy": "--rnn gru --lr 1e-5", "fixed": "--rnn gru --lr 5e-3"},
     ]},
    {"family": "healthy-text-rnn", "split": "test", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a Keras embedding + recurrent text classifier that trains well",
     "healthy": [
         {"id": "lstm-adam", "args": ""},
         {"id": "gru-rmsprop", "args": "--rnn gru --optimizer rmsprop --lr 0.003", "architecture": "gru"},
         {"id": "lstm-cosine", "args": "--schedule cosine --lr 0.01"},
         {"id": "gru-vocab1000-bs8", "args": "--rnn gru --vocab 1000 --batch-size 8 --epochs 2 --lr 0.003",
          "architecture": "gru"},
     ]},
]


if __name__ == "__main__":
    main()
