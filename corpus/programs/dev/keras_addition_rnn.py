"""The Keras "addition RNN" example in Keras 3: learn to add two numbers given as a string.

Questions like ``'123+45 '`` (padded with spaces to 2 * --digits + 1 characters) and answers
like ``'168 '`` (padded to --digits + 1) are generated here (no repeated question), one-hot
encoded over the 12 characters ``'0123456789+ '`` by a ``CharacterTable``; the question is
reversed as in the original example. The model is a ``Sequential``: an LSTM encoder
(``encoder``, --hidden units) -> ``RepeatVector(--digits + 1)`` -> an LSTM decoder with
``return_sequences=True`` (``decoder``) -> ``TimeDistributed(Dense(12, softmax))``
(``char_out``), trained with ``categorical_crossentropy`` and Adam; the accuracy is per
character. 10% of the questions are held out for validation. The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``, ``--clipnorm``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


class CharacterTable:
    """Encodes strings as one-hot rows over a fixed set of characters and back."""

    def __init__(self, chars):
        self.chars = sorted(set(chars))
        self.char_indices = {c: i for i, c in enumerate(self.chars)}
        self.indices_char = {i: c for i, c in enumerate(self.chars)}

    def encode(self, text, num_rows):
        x = np.zeros((num_rows, len(self.chars)), dtype="float32")
        for i, c in enumerate(text):
            x[i, self.char_indices[c]] = 1.0
        return x

    def decode(self, x):
        return "".join(self.indices_char[i] for i in x.argmax(axis=-1))


def make_questions(n, digits, rng):
    questions, answers, seen = [], [], set()
    maxlen = digits + 1 + digits
    while len(questions) < n:
        a = int("".join(rng.choice(list("0123456789"), size=rng.integers(1, digits + 1))))
        b = int("".join(rng.choice(list("0123456789"), size=rng.integers(1, digits + 1))))
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        q = "{}+{}".format(a, b)
        questions.append((q + " " * (maxlen - len(q)))[::-1])
        ans = str(a + b)
        answers.append(ans + " " * (digits + 1 - len(ans)))
    return questions, answers


def main():
    p = common.parser(__doc__)
    p.add_argument("--digits", type=int, default=2)
    p.add_argument("--questions", type=int, default=1500)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--optimizer", default="adam", choices=("adam", "rmsprop", "sgd"))
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--clipnorm", type=float, default=None)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("decoder-frozen",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    rng = np.random.default_rng(args.seed)
    chars = "0123456789+ "
    ctable = CharacterTable(chars)
    maxlen = 2 * args.digits + 1
    questions, answers = make_questions(args.questions, args.digits, rng)
    x = np.stack([ctable.encode(q, maxlen) for q in questions])
    y = np.stack([ctable.encode(a, args.digits + 1) for a in answers])
    order = rng.permutation(len(x))
    x, y = x[order], y[order]
    split_at = len(x) - len(x) // 10
    x_train, x_val = x[:split_at], x[split_at:]
    y_train, y_val = y[:split_at], y[split_at:]

    model = keras.Sequential(name="addition_rnn")
    model.add(keras.Input(shape=(maxlen, len(chars))))
    model.add(layers.LSTM(args.hidden, name="encoder"))
    model.add(layers.RepeatVector(args.digits + 1))
    model.add(layers.LSTM(args.hidden, return_sequences=True, name="decoder"))
    model.add(layers.TimeDistributed(layers.Dense(len(chars), activation="softmax"),
                                     name="char_out"))
    if args.bug == "decoder-frozen":
        # BUG (decoder-frozen): left over from an experiment that reused a decoder, the
        # decoder is frozen (and keeps its random weights)
        model.get_layer("decoder").trainable = False
    opt_kw = {"learning_rate": args.lr}
    if args.clipnorm:
        opt_kw["clipnorm"] = args.clipnorm
    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop,
                 "sgd": keras.optimizers.SGD}[args.optimizer](**opt_kw)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        validation_data=(x_val, y_val), verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4g acc %.3f val loss %.4g val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    # a few answers, decoded, and the share of validation questions answered exactly
    pred = model.predict(x_val, verbose=0)
    exact = float(np.mean([ctable.decode(pred[i]) == ctable.decode(y_val[i])
                           for i in range(len(x_val))]))
    char_acc = float(np.mean(pred.argmax(-1) == y_val.argmax(-1)))
    for i in range(3):
        print("Q", questions[order[split_at + i]][::-1], "T", ctable.decode(y_val[i]),
              "P", ctable.decode(pred[i]))
    steps = -(-len(x_train) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_exact=exact, val_char_accuracy=char_acc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kaddrnn-adam-lr-too-high", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): an LSTM sequence-to-sequence model "
               "whose 'accuracy is stuck' with a large Adam learning rate; AUTOTRAINER: "
               "oscillating loss",
     "bug": "Adam(learning_rate=0.3) on the LSTM encoder/decoder: the loss jumps from 3.40 to "
            "about 2.25 and stays there, the per-character accuracy stays at 0.34 (the "
            "validation accuracy ends at 0.300: mostly spaces and leading digits)",
     "fix": "Adam(learning_rate=1e-2)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "d2-h64-seed1",
          "buggy": "--lr 0.3 --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kaddrnn-decoder-frozen", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: a layer frozen by mistake (trainable=False left in); "
               "DeepDiagnosis fault type: untrained layer",
     "bug": "the decoder LSTM is frozen with its random weights: only the encoder and the "
            "output layer learn, the per-character accuracy reaches 0.377 (validation 0.373) "
            "after 8 epochs where the fixed twin reaches 0.559 (validation 0.556)",
     "fix": "leave the decoder trainable",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": {"layer_name": "decoder", "layer_index": 1},
     "pairs": [
         {"id": "d2-h64",
          "buggy": "--bug decoder-frozen --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kaddrnn-adam-lr-too-low", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam(learning_rate=1e-5): in 8 epochs the loss falls only from 2.482 to 2.472 "
            "and the per-character accuracy stays at 0.252 (validation 0.253)",
     "fix": "Adam(learning_rate=1e-2)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "d2-h64-seed2",
          "buggy": "--lr 1e-5 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kaddrnn", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "the Keras addition RNN (LSTM encoder, RepeatVector, LSTM decoder, "
                    "TimeDistributed softmax) that trains well",
     "healthy": [
         {"id": "rmsprop-h48-seed3",
          "args": "--optimizer rmsprop --lr 5e-3 --hidden 48 --seed 3 --record-every 4",
          "description": "RMSprop(5e-3), 48 units"},
         {"id": "adam-clip-bs64-seed4",
          "args": "--clipnorm 1.0 --batch-size 64 --epochs 10 --seed 4 --record-every 4",
          "description": "Adam(1e-2) with clipnorm=1.0, batches of 64"},
     ]},
]


if __name__ == "__main__":
    main()
