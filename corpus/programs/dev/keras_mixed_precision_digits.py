"""A small Keras CNN on scikit-learn's 8x8 digits trained under mixed precision.

Written the way the mixed-precision guides write it: ``keras.mixed_precision.set_global_policy(
"mixed_float16")`` before the model is built, a functional ``Conv2D``/``MaxPooling2D`` stack whose
computations run in float16 with float32 weights, and the output layer forced back to float32
(``Dense(10, activation="softmax", dtype="float32")``) so that the softmax and the loss are
computed in full precision. ``model.compile`` wraps the optimizer (SGD with Nesterov-free
momentum, ``--momentum``) in a ``LossScaleOptimizer`` by itself. The digits (pixels 0..16) are
divided by 16, reshaped to 8x8x1 and one-hot encoded with ``keras.utils.to_categorical``; a
stratified fifth is held out for validation (``validation_data``).

Layers with weights: ``conv_a``, ``conv_b``, ``hidden``, ``probs``. The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--bug", default=None,
                   choices=("mse-softmax", "raw-pixels-x16", "frozen-conv"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers

    keras.mixed_precision.set_global_policy("mixed_float16")

    x, y = common.load("digits")
    x_train, x_val, y_train, y_val = common.split(x, y, val=0.2, seed=args.seed)
    if args.bug == "raw-pixels-x16":
        # BUG (raw-pixels-x16): the pixels are 'scaled to 0..255' like MNIST instead of to
        # 0..1: multiplied by 16 (0..256) instead of divided by it.
        x_train, x_val = x_train * 16.0, x_val * 16.0
    else:
        x_train, x_val = x_train / 16.0, x_val / 16.0
    x_train = x_train.reshape(-1, 8, 8, 1).astype("float32")
    x_val = x_val.reshape(-1, 8, 8, 1).astype("float32")
    y_train_1h = keras.utils.to_categorical(y_train, 10)
    y_val_1h = keras.utils.to_categorical(y_val, 10)

    inputs = keras.Input(shape=(8, 8, 1))
    h = layers.Conv2D(args.filters, 3, padding="same", activation="relu", name="conv_a")(inputs)
    h = layers.Conv2D(args.filters * 2, 3, padding="same", activation="relu", name="conv_b")(h)
    h = layers.MaxPooling2D(2)(h)
    h = layers.Flatten()(h)
    h = layers.Dense(args.hidden, activation="relu", name="hidden")(h)
    # the softmax in float32: float16 probabilities underflow for confident predictions
    outputs = layers.Dense(10, activation="softmax", dtype="float32", name="probs")(h)
    model = keras.Model(inputs, outputs)
    if args.bug == "frozen-conv":
        # BUG (frozen-conv): a snippet meant for fine-tuning a pretrained backbone, copied into
        # a model trained from scratch: every layer but the output is frozen.
        for layer in model.layers[:-1]:
            layer.trainable = False

    optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=args.momentum)
    # BUG (mse-softmax): mean squared error on the softmax probabilities and one-hot labels.
    loss = "mean_squared_error" if args.bug == "mse-softmax" else "categorical_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = model.fit(x_train, y_train_1h, validation_data=(x_val, y_val_1h),
                        epochs=args.epochs, batch_size=args.batch_size, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4g val loss %.4g val acc %.3f" % (
            e + 1, history.history["loss"][e], vl, history.history["val_accuracy"][e]))
    print("optimizer:", type(model.optimizer).__name__,
          "loss scale %s" % getattr(model.optimizer, "dynamic_scale", None).numpy()
          if hasattr(model.optimizer, "dynamic_scale") else "")
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kmpdig-mse-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): loss='mean_squared_error' on a softmax "
               "classifier, 'accuracy is low and improves very slowly'; Humbatova et al. 2020: "
               "wrong loss function",
     "bug": "mean squared error on the float32 softmax and one-hot labels under SGD(0.05, "
            "momentum 0.9): the loss only falls from 0.0896 to 0.0397 in 8 epochs and the "
            "validation accuracy is 0.828 where the fixed twin (categorical cross-entropy) "
            "reaches 0.975",
     "fix": "loss='categorical_crossentropy'",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "f16-seed0",
          "buggy": "--bug mse-softmax --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "kmpdig-raw-pixels-x16", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): image inputs not normalized ('loss is "
               "nan'); Humbatova et al. 2020: missing/wrong input normalization",
     "bug": "the 0..16 pixels multiplied by 16 (0..256) instead of divided by it, under "
            "mixed_float16 and SGD(0.05, momentum 0.9): the loss is NaN from the first epoch, "
            "the dynamic loss scale falls from 32768 to 0 and the validation accuracy stays at "
            "0.100 where the fixed twin reaches 0.986",
     "fix": "x / 16.0",
     "symptom": "numerical_error",
     "acceptable_symptoms": ["saturation", "exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "f16-seed1",
          "buggy": "--bug raw-pixels-x16 --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kmpdig-sgd-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "SGD(learning_rate=1e-4, momentum 0.9): in 8 epochs the loss falls only from 2.299 "
            "to 2.280 and the validation accuracy is 0.169 where the fixed twin (0.05) reaches "
            "0.986",
     "fix": "SGD(learning_rate=0.05, momentum=0.9)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "f16-seed2",
          "buggy": "--lr 1e-4 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "kmpdig-frozen-backbone", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: layers frozen by mistake (a fine-tuning snippet, "
               "'for layer in model.layers[:-1]: layer.trainable = False', in a model trained "
               "from scratch)",
     "bug": "every layer but the output frozen at its random initialization: only the float32 "
            "softmax layer learns, the loss falls from 2.298 to 1.989 in 8 epochs and the "
            "validation accuracy is 0.708 where the fixed twin reaches 0.978 (loss 0.0033)",
     "fix": "leave every layer trainable",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "f16-seed3",
          "buggy": "--bug frozen-conv --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-kmpdig", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small Keras CNN on the 8x8 digits under the mixed_float16 policy (float32 "
                    "softmax output, LossScaleOptimizer around SGD with momentum) that trains "
                    "well",
     "healthy": [
         {"id": "bs16-lr2e-2-seed4",
          "args": "--lr 0.02 --batch-size 16 --epochs 5 --seed 4 --record-every 4",
          "description": "SGD(0.02, momentum 0.9), batches of 16, 5 epochs: validation "
                         "accuracy 0.978"},
         {"id": "f8-bs64-mom05-seed5",
          "args": "--lr 0.1 --momentum 0.5 --batch-size 64 --filters 8 --epochs 12 --seed 5 --record-every 4",
          "description": "8 and 16 filters, SGD(0.1, momentum 0.5), batches of 64, 12 epochs: "
                         "validation accuracy 0.972"},
         {"id": "h32-lr3e-2-seed6",
          "args": "--lr 0.03 --hidden 32 --seed 6 --record-every 4",
          "description": "a hidden Dense layer of 32, SGD(0.03, momentum 0.9): validation "
                         "accuracy 0.989"},
     ]},
]


if __name__ == "__main__":
    main()
