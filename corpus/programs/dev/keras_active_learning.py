"""Active learning for review classification in Keras 3, written the way the keras.io example
"Review Classification using Active Learning" writes it: a small labelled set, a large
unlabelled pool, a BiLSTM classifier trained with ``model.fit`` (``ModelCheckpoint`` and
``EarlyStopping`` callbacks, the best checkpoint loaded back after each fit), then rounds of
querying the pool and fitting the same model again on the grown training set.

The data are generated here: reviews of 24 token ids (1 = out of vocabulary, 0 = padding) over
a vocabulary of 600 words, positive or negative. Each review is mostly neutral words with one
to three words of its own sentiment and zero to two words of the other one (a "not bad" kind
of noise), and 5% of the labels are flipped. 400 reviews start labelled (balanced), 3000 form
the unlabelled pool, 400 validate (the callbacks' ``val_loss``) and 800 are the held-out test
set.

The model (``Sequential``): ``Embedding(600, --embed)`` (``embedding``),
``Bidirectional(LSTM(--units, return_sequences=True))`` (``bidirectional``),
``GlobalMaxPool1D``, ``Dense(20, relu)`` (``dense``), ``Dropout(0.5)`` and ``Dense(1,
sigmoid)`` (``dense_1``) under ``binary_crossentropy`` and ``RMSprop(--lr)``, compiled again
before each fit as the example does. Each of ``--rounds`` rounds predicts the pool, takes the
``--query`` reviews whose predicted probability is nearest 0.5, asks the oracle (the generated
labels) for their labels, moves them into the training set and fits again. One recorder
follows every fit (``close_at_train_end=False``, epochs numbered on with ``initial_epoch``).
The metric is the test accuracy and AUC after the last round. The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

VOCAB = 600
LENGTH = 24


def make_reviews(n, rng):
    positive = np.arange(2, 32)        # "great", "loved", ...
    negative = np.arange(32, 62)       # "boring", "awful", ...
    neutral = np.arange(62, VOCAB)
    labels = rng.integers(0, 2, n)
    x = np.zeros((n, LENGTH), dtype="int64")
    for i in range(n):
        length = rng.integers(12, LENGTH + 1)
        words = rng.choice(neutral, length)
        own, other = (positive, negative) if labels[i] == 1 else (negative, positive)
        k_own, k_other = rng.integers(2, 5), rng.integers(0, 2)
        slots = rng.choice(length, k_own + k_other, replace=False)
        words[slots[:k_own]] = rng.choice(own, k_own)
        words[slots[k_own:]] = rng.choice(other, k_other)
        words[rng.random(length) < 0.03] = 1  # out of vocabulary
        x[i, :length] = words
    flip = rng.random(n) < 0.05
    labels = np.where(flip, 1 - labels, labels)
    return x, labels.astype("float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--units", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=12, help="epochs of the first fit")
    p.add_argument("--round-epochs", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--query", type=int, default=200)
    p.add_argument("--bug", default=None, choices=("softmax-one-unit",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7000 + args.seed)
    x_all, y_all = make_reviews(400 + 3000 + 400 + 800, rng)
    x_train, y_train = x_all[:400], y_all[:400]
    x_pool, y_pool = x_all[400:3400], y_all[400:3400]
    x_val, y_val = x_all[3400:3800], y_all[3400:3800]
    x_test, y_test = x_all[3800:], y_all[3800:]

    def create_model():
        model = keras.Sequential([
            keras.Input(shape=(LENGTH,), dtype="int64"),
            layers.Embedding(VOCAB, args.embed),
            layers.Bidirectional(layers.LSTM(args.units, return_sequences=True)),
            layers.GlobalMaxPool1D(),
            layers.Dense(20, activation="relu"),
            layers.Dropout(0.5),
            # BUG (softmax-one-unit): activation="softmax" on the single output unit.
            layers.Dense(1, activation="softmax" if args.bug == "softmax-one-unit"
                         else "sigmoid"),
        ])
        return model

    model = create_model()
    recorder = common.recording.keras_callbacks(args.out, close_at_train_end=False)
    checkpoint_path = os.path.join(tempfile.mkdtemp(), "AL_Model.weights.h5")
    histories, steps = [], 0

    def fit(epochs):
        nonlocal steps
        model.compile(loss="binary_crossentropy",
                      optimizer=keras.optimizers.RMSprop(learning_rate=args.lr),
                      metrics=["accuracy"])
        checkpoint = keras.callbacks.ModelCheckpoint(checkpoint_path, save_best_only=True,
                                                     save_weights_only=True)
        early_stopping = keras.callbacks.EarlyStopping(patience=3)
        start = sum(len(h.history["loss"]) for h in histories)
        history = model.fit(x_train, y_train, validation_data=(x_val, y_val),
                            batch_size=args.batch_size, epochs=start + epochs,
                            initial_epoch=start, verbose=0, shuffle=True,
                            callbacks=[checkpoint, early_stopping] + recorder)
        histories.append(history)
        steps += -(-len(x_train) // args.batch_size) * len(history.history["loss"])
        if os.path.exists(checkpoint_path):
            model.load_weights(checkpoint_path)

    def evaluate(tag):
        prob = model.predict(x_test, verbose=0, batch_size=256)[:, 0]
        acc = float(np.mean((prob > 0.5) == (y_test > 0.5)))
        auc = float(roc_auc_score(y_test, prob)) if np.ptp(prob) > 0 else 0.5
        print("%s: %d labelled, test accuracy %.3f auc %.3f" % (tag, len(x_train), acc, auc))
        return acc, auc

    fit(args.epochs)
    evaluate("initial fit")
    for iteration in range(args.rounds):
        # Query the pool: the reviews the model is least sure about.
        prob = model.predict(x_pool, verbose=0, batch_size=256)[:, 0]
        idx = np.argsort(np.abs(prob - 0.5))[:args.query]
        x_new = x_pool[idx]
        y_new = y_pool[idx]
        x_pool = np.delete(x_pool, idx, axis=0)
        y_pool = np.delete(y_pool, idx, axis=0)
        x_train = np.concatenate([x_train, x_new])
        y_train = np.concatenate([y_train, y_new])
        fit(args.round_epochs)
        test_accuracy, test_auc = evaluate("round %d" % (iteration + 1))
    for r in recorder:
        r.close()

    history = histories[0]
    for later in histories[1:]:
        for key, values in later.history.items():
            history.history[key] = history.history[key] + values
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      test_accuracy=test_accuracy, test_auc=test_auc,
                                      labelled=len(x_train)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kactive-softmax-one-unit", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): 'accuracy stuck at 50% in binary "
               "classification' with Dense(1, activation='softmax'); Humbatova et al. 2020: "
               "wrong activation function of the output layer",
     "bug": "Dense(1, activation='softmax') under binary_crossentropy: a softmax over one "
            "unit is always 1, so every prediction is the positive class and the test "
            "accuracy stays at the positives' share (0.49, AUC 0.50 after the third round; "
            "the fixed twin: 0.90); Keras's binary_crossentropy takes the logit under the "
            "softmax and trains it as under a sigmoid, so the training loss falls (0.69 to "
            "0.08) while the training accuracy stays at 0.475",
     "fix": "Dense(1, activation='sigmoid')",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["unchanged_values", "not_learning", "loss_mismatch"],
     "root_cause": {"layer_name": "dense_1", "layer_index": 4},
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug softmax-one-unit --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kactive", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a BiLSTM review classifier trained by active learning (three rounds of "
                    "uncertainty queries, a fit each) that trains well",
     "healthy": [
         {"id": "units24-q150-seed4",
          "args": "--units 24 --query 150 --seed 4 --record-every 4",
          "description": "24 LSTM units a direction, 150 queries a round"},
     ]},
]


if __name__ == "__main__":
    main()
