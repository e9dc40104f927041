"""Keras recurrent networks on synthetic sequences, configured from the command line.

``--task forecast``: next value of a noisy sine (regression); ``--task classify``: ramp,
sine or square wave (3 classes). One recurrent layer (LSTM, GRU or SimpleRNN) and a Dense
head on its last output.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--task", default="forecast", choices=("forecast", "classify"))
    p.add_argument("--cell", default="lstm", choices=("lstm", "gru", "simple", "simple-relu"))
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--length", type=int, default=30)
    p.add_argument("--samples", type=int, default=1200)
    p.add_argument("--opt", default="adam")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--clipnorm", type=float, default=None)
    p.add_argument("--recurrent-init", default="orthogonal")
    p.add_argument("--target-scale", type=float, default=1.0)
    p.add_argument("--schedule", default="none", help="none, exp:STEPS,RATE, warmup:EPOCHS, warmup-int:EPOCHS")
    p.add_argument("--out-act", default=None)
    args = p.parse_args()

    keras = common.keras_setup(args.seed)
    from keras import layers

    if args.task == "forecast":
        x, y = common.sine_windows(args.samples, args.length, seed=args.seed)
        y = y * args.target_scale
        classes = None
    else:
        x, y = common.sequence_classes(args.samples, args.length, seed=args.seed)
        classes = 3
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed, stratify=classes is not None)

    if args.cell == "lstm":
        rnn = layers.LSTM(args.units, recurrent_initializer=args.recurrent_init, name="lstm")
    elif args.cell == "gru":
        rnn = layers.GRU(args.units, recurrent_initializer=args.recurrent_init, name="gru")
    else:
        rnn = layers.SimpleRNN(args.units, recurrent_initializer=args.recurrent_init,
                               activation="relu" if args.cell == "simple-relu" else "tanh",
                               name="rnn")
    out_act = args.out_act or ("softmax" if classes else None)
    model = keras.Sequential([keras.Input(shape=x.shape[1:]), rnn,
                              layers.Dense(classes or 1, activation=out_act, name="head")])
    steps_per_epoch = -(-len(x_tr) // args.bs)
    kind, _, value = args.schedule.partition(":")
    lr = args.lr
    callbacks = []
    if kind == "exp":
        every, rate = value.split(",")
        lr = keras.optimizers.schedules.ExponentialDecay(args.lr, int(every), float(rate))
    elif kind == "warmup":
        warm = int(value)
        # per epoch: a linear warm-up over `warm` epochs
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, current: args.lr * min(1.0, (epoch + 1) / warm)))
    elif kind == "warmup-int":
        warm = int(value)
        # per epoch: lr x epoch // warm, meant as a linear warm-up over `warm` epochs
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, current: args.lr * min(1, epoch // warm)))
    kw = {"clipnorm": args.clipnorm} if args.clipnorm else {}
    opt = {"sgd": lambda: keras.optimizers.SGD(lr, **kw),
           "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9, **kw),
           "adam": lambda: keras.optimizers.Adam(lr, **kw),
           "rmsprop": lambda: keras.optimizers.RMSprop(lr, **kw)}[args.opt]()
    if classes:
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        model.compile(optimizer=opt, loss="mse")
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.bs, verbose=0,
                        callbacks=callbacks + common.recording.keras_callbacks(args.out))
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "rnn-exploding-no-clip", "split": "dev", "architecture": "rnn",
     "origin": "AUTOTRAINER: exploding gradient (a recurrent network without gradient clipping)",
     "bug": "a ReLU SimpleRNN with an identity recurrent initializer, SGD and no clipping: "
            "the state grows over the 30 time steps, the gradients explode and the loss "
            "becomes NaN",
     "fix": "clipnorm=1 on the optimizer",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "relu-simplernn-sgd",
          "buggy": "--task forecast --cell simple-relu --recurrent-init identity --opt sgd --lr 0.05 --epochs 6",
          "fixed": "--task forecast --cell simple-relu --recurrent-init identity --opt sgd --lr 0.05 --epochs 6 --clipnorm 1"},
     ]},
    {"family": "rnn-warmup-integer-division", "split": "dev", "architecture": "gru",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a warm-up written with "
               "integer division, so the learning rate is 0)",
     "bug": "LearningRateScheduler(lambda epoch, lr: base * min(1, epoch // 10)) in an "
            "8-epoch run: the learning rate is 0 in every epoch",
     "fix": "the factor min(1, (epoch + 1) / 10)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "gru-classify",
          "buggy": "--task classify --cell gru --lr 0.01 --schedule warmup-int:10 --epochs 8",
          "fixed": "--task classify --cell gru --lr 0.01 --schedule warmup:10 --epochs 8"},
     ]},
    {"family": "healthy-rnn-sequences", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a Keras recurrent network on synthetic sequences that trains well",
     "healthy": [
         {"id": "lstm-forecast-adam", "args": "--task forecast --epochs 6"},
         {"id": "gru-classify-adam", "args": "--task classify --cell gru --epochs 6", "architecture": "gru"},
         {"id": "simplernn-forecast-rmsprop", "args": "--task forecast --cell simple --opt rmsprop --lr 0.001 --epochs 6",
          "architecture": "rnn"},
         {"id": "lstm-classify-exp-decay", "args": "--task classify --cell lstm --schedule exp:60,0.5 --epochs 6"},
         {"id": "gru-forecast-momentum-clip", "args": "--task forecast --cell gru --opt momentum --lr 0.01 --clipnorm 1 --epochs 6",
          "architecture": "gru"},
         {"id": "lstm-classify-bs8", "args": "--task classify --cell lstm --bs 8 --lr 0.001 --epochs 2",
          "description": "batch size 8"},
     ]},
    {"family": "gru-lr-too-high", "split": "dev", "architecture": "gru",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "plain SGD with learning rate 20 on a GRU classifier: every step overshoots, the "
            "loss stays in the tens and jumps, the accuracy stays near chance (no NaN)",
     "fix": "learning rate 0.5",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "classify-sgd",
          "buggy": "--task classify --cell gru --opt sgd --lr 20 --epochs 6",
          "fixed": "--task classify --cell gru --opt sgd --lr 0.5 --epochs 6"},
     ]},
    {"family": "lstm-lr-too-low", "split": "dev", "architecture": "lstm",
     "origin": "AUTOTRAINER: slow convergence; DeepFD fault type: learning rate too low",
     "bug": "Adam with learning rate 1e-5 on an LSTM forecaster: the loss barely moves in "
            "the whole run",
     "fix": "learning rate 2e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "forecast-adam",
          "buggy": "--task forecast --cell lstm --opt adam --lr 1e-5 --epochs 6",
          "fixed": "--task forecast --cell lstm --opt adam --lr 2e-3 --epochs 6"},
     ]},
    {"family": "healthy-rnn-variants", "split": "dev", "architecture": "gru",
     "origin": "healthy run",
     "description": "a Keras recurrent network on synthetic sequences that trains well",
     "healthy": [
         {"id": "gru-forecast-rmsprop-bs16-seed1",
          "args": "--task forecast --cell gru --opt rmsprop --lr 0.002 --bs 16 --epochs 3 --seed 1"},
         {"id": "lstm-classify-momentum-clip-seed2",
          "args": "--task classify --cell lstm --opt momentum --lr 0.05 --clipnorm 1 --epochs 6 --seed 2",
          "architecture": "lstm"},
     ]},
]


if __name__ == "__main__":
    main()
