"""A Keras 3 functional Conv1D text classifier of token sequences, compiled with RMSprop,
Adagrad or Nadam and trained with callbacks (ReduceLROnPlateau, EarlyStopping).

The sequences are generated here: 40 tokens from a vocabulary of 300 (0 is padding and never
used), four classes. Eight marker tokens m0..m7 form the classes' motifs: class c is marked by
1 or 2 occurrences of the bigrams (m_c, m_{c+4}) and (m_{c+4}, m_{(c+1) mod 4}) at random
places; 3 to 5 bigrams of any class's tokens in the wrong order ((m_{c'+4}, m_{c'})) are
scattered as distractors. Which tokens occur is not enough: the order within a bigram decides,
which a convolution over the embedded sequence sees.

The model (functional API): ``Embedding`` (``embed``, ``--embed`` dimensions), ``Conv1D``
(``conv``, ``--filters`` filters of width 3, ReLU, bias initialized by ``--conv-bias``),
``GlobalMaxPooling1D``, ``Dense`` (``dense``, ReLU), ``Dropout`` (``--dropout``) and a 4-way
softmax (``out``), trained with sparse categorical cross-entropy. Optimizer ``--optimizer``
(``rmsprop``, ``adagrad``, ``nadam``, ``adam``) at ``--lr`` (leave it out: the optimizer's
Keras default). Callbacks: ``--plateau F,P`` (ReduceLROnPlateau on ``val_accuracy``, factor F,
patience P) and ``--early-stop P`` (EarlyStopping on ``val_loss``). The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``, ``--conv-bias``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
VOCAB, LENGTH, CLASSES = 300, 40, 4
MARKERS = np.arange(1, 9)


def motif_sequences(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(9, VOCAB, size=(n, LENGTH))
    y = rng.integers(0, CLASSES, size=n)
    for i in range(n):
        c = int(y[i])
        true = [(MARKERS[c], MARKERS[c + 4]), (MARKERS[c + 4], MARKERS[(c + 1) % 4])]
        pairs = [true[int(rng.integers(0, 2))] for _ in range(int(rng.integers(1, 3)))]
        for _ in range(int(rng.integers(3, 6))):
            o = int(rng.integers(0, CLASSES))
            pairs.append((MARKERS[o + 4], MARKERS[o]))
        starts = rng.choice(np.arange(0, LENGTH - 1, 2), size=len(pairs), replace=False)
        for (a, b), s in zip(pairs, starts):
            x[i, s], x[i, s + 1] = a, b
    return x.astype("int32"), y.astype("int32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--embed", type=int, default=16)
    p.add_argument("--filters", type=int, default=32)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--conv-bias", type=float, default=0.0, help="Conv1D bias initial value")
    p.add_argument("--optimizer", default="rmsprop",
                   choices=("rmsprop", "adagrad", "nadam", "adam"))
    p.add_argument("--lr", type=float, default=None, help="default: the optimizer's own")
    p.add_argument("--plateau", default=None, help="F,P: ReduceLROnPlateau factor, patience")
    p.add_argument("--early-stop", type=int, default=0, help="EarlyStopping patience (0: off)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("logits-output", "plateau-mode-min"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    x, y = motif_sequences(args.samples, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)

    tokens = keras.Input(shape=(LENGTH,), dtype="int32", name="tokens")
    h = layers.Embedding(VOCAB, args.embed, name="embed")(tokens)
    h = layers.Conv1D(args.filters, 3, activation="relu", name="conv",
                      bias_initializer=keras.initializers.Constant(args.conv_bias))(h)
    h = layers.GlobalMaxPooling1D(name="pool")(h)
    h = layers.Dense(args.hidden, activation="relu", name="dense")(h)
    h = layers.Dropout(args.dropout, name="dropout")(h)
    # BUG (logits-output): the output layer has no activation (it "returns logits"), and the
    # loss below is the default sparse_categorical_crossentropy, which expects probabilities.
    out_act = None if args.bug == "logits-output" else "softmax"
    out = layers.Dense(CLASSES, activation=out_act, name="out")(h)
    model = keras.Model(tokens, out, name="motif_conv")

    kw = {} if args.lr is None else {"learning_rate": args.lr}
    optimizer = {"rmsprop": keras.optimizers.RMSprop, "adagrad": keras.optimizers.Adagrad,
                 "nadam": keras.optimizers.Nadam, "adam": keras.optimizers.Adam
                 }[args.optimizer](**kw)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    callbacks = common.recording.keras_callbacks(args.out)
    if args.plateau:
        factor, patience = args.plateau.split(",")
        # BUG (plateau-mode-min): mode="min" copied from a callback that watched val_loss:
        # on val_accuracy every improvement counts as a plateau and cuts the learning rate.
        mode = "min" if args.bug == "plateau-mode-min" else "max"
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor="val_accuracy", mode=mode, factor=float(factor), patience=int(patience),
            min_lr=1e-7, verbose=0))
    if args.early_stop:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss",
                                                       patience=args.early_stop))
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    for e, (vl, va) in enumerate(zip(history.history["val_loss"],
                                     history.history["val_accuracy"])):
        print("epoch %d: val loss %.4f acc %.3f" % (e + 1, vl, va))
    print("final learning rate %.3g" % float(model.optimizer.learning_rate))
    steps = -(-len(y_tr) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "convtext-logits-no-softmax", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss configuration (a linear output layer under "
               "sparse_categorical_crossentropy with from_logits=False)",
     "bug": "the output Dense layer has no activation (written to 'return logits') and the "
            "model is compiled with the default sparse_categorical_crossentropy, which takes "
            "the outputs as probabilities: it normalizes and clips the raw outputs, the loss "
            "settles at ln 4 and the accuracy stays at chance (0.25)",
     "fix": "activation='softmax' on the output layer",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop",
          "buggy": "--lr 3e-3 --bug logits-output --record-every 2",
          "fixed": "--lr 3e-3 --record-every 2"},
     ]},
    {"family": "convtext-adagrad-default-lr", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low (keras.optimizers."
               "Adagrad() with its default learning rate 0.001)",
     "bug": "keras.optimizers.Adagrad() without a learning rate: Keras' default 0.001, "
            "shrinking further as Adagrad accumulates squared gradients; in 8 epochs the loss "
            "falls only from 1.390 to 1.385 and the accuracy stays at chance",
     "fix": "Adagrad(learning_rate=0.05)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adagrad",
          "buggy": "--optimizer adagrad --record-every 2",
          "fixed": "--optimizer adagrad --lr 0.05 --record-every 2"},
     ]},
    {"family": "convtext-plateau-mode-min-accuracy", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (ReduceLROnPlateau on "
               "val_accuracy with mode='min')",
     "bug": "ReduceLROnPlateau(monitor='val_accuracy', mode='min', factor=0.2, patience=0), "
            "the mode copied from a callback that watched val_loss: every epoch whose accuracy "
            "improves counts as no improvement, the learning rate is cut by 5 after each "
            "epoch from the second on, and training stalls with a loss near 0.98 (the twin's "
            "0.04; validation accuracy 0.925 against 0.993)",
     "fix": "mode='max' for an accuracy",
     "symptom": "slow_convergence", "acceptable_symptoms": ["unchanged_values", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop",
          "buggy": "--plateau 0.2,0 --bug plateau-mode-min --record-every 2",
          "fixed": "--plateau 0.2,0 --record-every 2"},
     ]},
    {"family": "convtext-dying-relu-conv-bias", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "the Conv1D layer's bias_initializer is Constant(-3): the embedded tokens are "
            "small (uniform within 0.05), every pre-activation is near -3, the ReLU outputs 0 "
            "everywhere, the max-pooled features are 0, no gradient reaches the convolution "
            "or the embedding and the run stays at chance (0.25)",
     "fix": "zero biases (Keras' default)",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "conv", "layer_index": 1},
     "pairs": [
         {"id": "nadam",
          "buggy": "--optimizer nadam --lr 2e-3 --conv-bias -3 --record-every 2",
          "fixed": "--optimizer nadam --lr 2e-3 --record-every 2"},
     ]},
    {"family": "convtext-nadam-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Nadam at learning rate 0.3 (meant 3e-3): the first updates overshoot, the first "
            "epoch's loss is about 2.9 and the run ends at chance (0.25) with the loss above "
            "ln 4",
     "fix": "learning rate 3e-3",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient",
                             "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "nadam",
          "buggy": "--optimizer nadam --lr 0.3 --record-every 2",
          "fixed": "--optimizer nadam --lr 3e-3 --record-every 2"},
     ]},
    {"family": "healthy-convtext", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Conv1D classifier of token sequences that trains well",
     "healthy": [
         {"id": "rmsprop-default",
          "args": "--record-every 2",
          "description": "RMSprop at Keras' default learning rate, no callbacks"},
         {"id": "nadam-plateau-early-stop-seed1",
          "args": "--optimizer nadam --lr 3e-3 --plateau 0.5,1 --early-stop 2 --seed 1 --record-every 2",
          "description": "Nadam with ReduceLROnPlateau (mode max) and EarlyStopping"},
         {"id": "adam-bs64-filters64-seed2",
          "args": "--optimizer adam --lr 2e-3 --batch-size 64 --filters 64 --seed 2 --record-every 2",
          "description": "Adam, 64 filters, batches of 64"},
         {"id": "adagrad-embed32-dropout04-seed3",
          "args": "--optimizer adagrad --lr 0.1 --embed 32 --dropout 0.4 --seed 3 --record-every 2",
          "description": "Adagrad at 0.1, 32-dimensional embeddings, dropout 0.4"},
         {"id": "rmsprop-plateau-bs16-seed4",
          "args": "--lr 5e-4 --plateau 0.3,0 --batch-size 16 --seed 4 --record-every 2",
          "description": "RMSprop 5e-4 with ReduceLROnPlateau on val_accuracy (mode max, "
                         "patience 0), batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
