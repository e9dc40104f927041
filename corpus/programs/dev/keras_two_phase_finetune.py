"""Two-phase transfer learning with Keras 3 in one run: a small CNN base pretrained on the digits
0 to 4, then frozen (``base.trainable = False``) while a new head learns the digits 5 to 9, then
unfrozen and fine-tuned end to end at a ten times lower learning rate, as the Keras
transfer-learning guide does it (two ``model.fit`` calls, the second with ``initial_epoch``).

The data: scikit-learn's 8x8 digits, pixels divided by 16, the digits 0 to 4 for pretraining
(``pre.fit``, not recorded: a model of its own) and the digits 5 to 9 (labels 0 to 4) for the
task, a stratified fifth of them held out. The base (``keras.Sequential`` named ``base``):
``conv1`` (Conv2D 16, 3x3, ReLU) -> MaxPooling2D -> ``conv2`` (Conv2D ``--filters``, 3x3, ReLU)
-> Flatten. The task model: ``base`` -> ``fc`` (Dense 32, ReLU) -> ``digit``
(Dense 5, softmax), ``sparse_categorical_crossentropy``, ``keras.optimizers.Adam``: phase 1
(``--head-epochs``) at ``--lr`` with the base frozen, phase 2 (``--tune-epochs``) recompiled at
``--lr / 10`` with the base trainable. Both fits go into one trace (the recorder is created with
``close_at_train_end=False`` and closed after the second fit). The mistakes of the families in
CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--filters", type=int, default=24)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pretrain-epochs", type=int, default=5)
    p.add_argument("--head-epochs", type=int, default=4)
    p.add_argument("--tune-epochs", type=int, default=4)
    p.add_argument("--bug", default=None,
                   choices=("tune-lr-times-ten", "head-no-softmax"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]
    y = digits.target
    old, new = y < 5, y >= 5

    base = keras.Sequential([
        keras.Input(shape=(8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
        layers.MaxPooling2D(),
        layers.Conv2D(args.filters, 3, padding="same", activation="relu", name="conv2"),
        layers.Flatten(),
    ], name="base")
    pre = keras.Sequential([base, layers.Dense(5, activation="softmax", name="old_digit")])
    pre.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                metrics=["accuracy"])
    pre_hist = pre.fit(x[old], y[old], epochs=args.pretrain_epochs, batch_size=32, verbose=0)
    print("pretraining on 0-4: loss %.4g acc %.3f" % (pre_hist.history["loss"][-1],
                                                     pre_hist.history["accuracy"][-1]))

    x_tr, x_val, y_tr, y_val = train_test_split(x[new], y[new] - 5, test_size=0.2,
                                                stratify=y[new], random_state=args.seed)
    base.trainable = False
    # BUG (head-no-softmax): the new head's last Dense without activation="softmax" while the
    # loss still expects probabilities.
    act = None if args.bug == "head-no-softmax" else "softmax"
    model = keras.Sequential([base, layers.Dense(32, activation="relu", name="fc"),
                              layers.Dense(5, activation=act, name="digit")])
    loss = "sparse_categorical_crossentropy"
    metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(optimizer=keras.optimizers.Adam(args.lr), loss=loss, metrics=metrics)
    callbacks = common.recording.keras_callbacks(args.out, close_at_train_end=False)
    head = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.head_epochs,
                     batch_size=args.batch_size, verbose=0, callbacks=callbacks)

    base.trainable = True
    # BUG (tune-lr-times-ten): the fine-tuning rate written as lr * 10 instead of lr / 10.
    tune_lr = args.lr * 10 if args.bug == "tune-lr-times-ten" else args.lr / 10
    model.compile(optimizer=keras.optimizers.Adam(tune_lr), loss=loss, metrics=metrics)
    tune = model.fit(x_tr, y_tr, validation_data=(x_val, y_val),
                     epochs=args.head_epochs + args.tune_epochs,
                     initial_epoch=len(head.history["loss"]), batch_size=args.batch_size,
                     verbose=0, callbacks=callbacks)
    for recorder in callbacks:
        recorder.close()

    history = head
    for key, values in tune.history.items():
        history.history[key] = history.history[key] + values
    h = history.history
    for e, vl in enumerate(h["val_loss"]):
        print("epoch %d (%s): loss %.4g acc %.3f val loss %.4g val acc %.3f"
              % (e + 1, "head" if e < args.head_epochs else "tune", h["loss"][e],
                 h["accuracy"][e], vl, h["val_accuracy"][e]))
    steps = -(-len(x_tr) // args.batch_size) * len(h["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      head_val_accuracy=float(h["val_accuracy"][
                                          args.head_epochs - 1])))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kxfer2p-tune-lr-times-ten", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: learning rate too high (fine-tuning an unfrozen "
               "pretrained base); DeepLocalize benchmark (Stack Overflow): 'accuracy drops "
               "to chance when I unfreeze the base model'",
     "bug": "the fine-tuning rate written as lr * 10 instead of lr / 10: the head trains "
            "with the base frozen to a validation accuracy of 0.961 at Adam 1e-2, then the "
            "unfrozen network under Adam 0.1 falls to chance: loss 1.618 (ln 5 = 1.609) and "
            "validation accuracy 0.200 after the fine-tuning epochs, where the fixed twin "
            "(1e-3) ends at 0.978",
     "fix": "Adam(lr / 10) for the fine-tuning fit",
     "symptom": "not_learning",
     "acceptable_symptoms": ["oscillation", "exploding_gradient", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "f24-lr1e-2-seed1",
          "buggy": "--lr 1e-2 --bug tune-lr-times-ten --seed 1 --record-every 4",
          "fixed": "--lr 1e-2 --seed 1 --record-every 4"},
     ]},
    {"family": "kxfer2p-head-no-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): a new classification head 'Dense(5)' "
               "without softmax under sparse_categorical_crossentropy, 'loss stuck at 1.609'",
     "bug": "the new head's Dense(5) without activation='softmax' under "
            "sparse_categorical_crossentropy (from_logits=False): the loss falls from 2.54 "
            "in the first epoch to 1.609 (ln 5) and stays there, the validation accuracy is "
            "0.200 in both phases, where the fixed twin ends at 0.978",
     "fix": "Dense(5, activation='softmax')",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "unchanged_values",
                                                         "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "f24-seed0",
          "buggy": "--bug head-no-softmax --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "kxfer2p-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam(1e-5) for the head and 1e-6 for the fine-tuning: after 4 + 4 epochs the "
            "loss has fallen only from 1.56 to 1.43 and the validation accuracy is 0.51 on "
            "five digits, where the fixed twin (3e-3, then 3e-4) ends at 0.989",
     "fix": "Adam(3e-3), then Adam(3e-4)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "f24-seed2",
          "buggy": "--lr 1e-5 --seed 2 --record-every 4",
          "fixed": "--lr 3e-3 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kxfer2p", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a pretrained CNN base, frozen for a new head and then fine-tuned, that "
                    "trains well",
     "healthy": [
         {"id": "f16-bs64-seed3",
          "args": "--filters 16 --batch-size 64 --seed 3 --record-every 4",
          "description": "conv2 of 16 filters, batches of 64"},
         {"id": "f24-head3-tune5-lr2e-3-seed4",
          "args": "--head-epochs 3 --tune-epochs 5 --lr 2e-3 --seed 4 --record-every 4",
          "description": "3 frozen-base epochs, 5 fine-tuning epochs, Adam(2e-3)"},
     ]},
]


if __name__ == "__main__":
    main()
