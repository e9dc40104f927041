"""A deep fully connected Highway Network (Srivastava, Greff and Schmidhuber 2015, "Training Very
Deep Networks") in Keras 3, written the way the Keras ports of the paper write it (the
functional ``highway_layer`` helper): each layer computes ``H = Dense(units, relu)(x)`` and a
transform gate ``T = Dense(units, sigmoid)(x)`` whose bias starts negative
(``bias_initializer=Constant(--gate-bias)``, -2 by default, so that every layer begins by
carrying its input), and returns ``H * T + x * (1 - T)`` (``Multiply``, a ``Lambda`` for the
carry gate ``1 - T``, ``Add``). A ``Dense`` projection to --units (ReLU) comes first and a
10-way softmax last, under ``sparse_categorical_crossentropy``; SGD with Nesterov momentum 0.9.
Trained with ``fit``.

Data: a covertype-like table generated with ``make_classification``: 4000 rows of 54 features
(30 informative, 10 redundant), 7 classes of two clusters each, 25% held out (stratified),
standardized with the training split's mean and standard deviation.

Layers (functional): ``projection`` (``Dense(--units, relu)``), --depth highway layers
(``highway_<k>_h`` and ``highway_<k>_t`` for k = 0..depth-1, in that order), ``softmax``
(``Dense(7, softmax)``). The result line adds the held-out accuracy. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--gate-bias``, ``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np

NUM_CLASSES = 7


def main():
    p = common.parser(__doc__)
    p.add_argument("--depth", type=int, default=20, help="highway layers")
    p.add_argument("--units", type=int, default=50)
    p.add_argument("--gate-bias", type=float, default=-2.0,
                   help="initial bias of every transform gate")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--bug", default=None, choices=("carry-uses-t", "gate-no-sigmoid"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=4000, n_features=54, n_informative=30,
                               n_redundant=10, n_classes=NUM_CLASSES, n_clusters_per_class=2,
                               class_sep=1.5, random_state=0)
    x_tr, x_val, y_tr, y_val = common.split(x.astype("float32"), y.astype("int64"), val=0.25,
                                            seed=args.seed)
    mean, std = x_tr.mean(axis=0), x_tr.std(axis=0)
    x_tr = (x_tr - mean) / std
    x_val = (x_val - mean) / std

    def highway_layer(value, units, gate_bias, k):
        H = layers.Dense(units, activation="relu", name="highway_%d_h" % k)(value)
        # BUG (gate-no-sigmoid): the transform gate left without its sigmoid, a plain linear
        # layer.
        gate_activation = None if args.bug == "gate-no-sigmoid" else "sigmoid"
        T = layers.Dense(units, activation=gate_activation,
                         bias_initializer=keras.initializers.Constant(gate_bias),
                         name="highway_%d_t" % k)(value)
        if args.bug == "carry-uses-t":
            # BUG (carry-uses-t): the carry term written with the transform gate itself,
            # x * T(x), instead of the carry gate 1 - T(x).
            C = T
        else:
            C = layers.Lambda(lambda t: 1.0 - t, name="highway_%d_carry" % k)(T)
        transformed = layers.Multiply()([H, T])
        carried = layers.Multiply()([value, C])
        return layers.Add()([transformed, carried])

    inputs = keras.Input(shape=(x_tr.shape[1],))
    h = layers.Dense(args.units, activation="relu", name="projection")(inputs)
    for k in range(args.depth):
        h = highway_layer(h, args.units, args.gate_bias, k)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="softmax")(h)
    model = keras.Model(inputs, outputs, name="highway_mlp")

    optimizer = keras.optimizers.SGD(learning_rate=args.lr, momentum=0.9, nesterov=True)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    steps_per_epoch = -(-len(x_tr) // args.batch_size)
    callbacks = common.recording.keras_callbacks(
        args.out, task="classification", loss_name="sparse_categorical_crossentropy",
        num_classes=NUM_CLASSES)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, verbose=0, callbacks=callbacks)
    h = history.history
    for e in range(len(h["loss"])):
        print("epoch %d: loss %.4f acc %.3f val loss %.4f val acc %.3f" % (
            e + 1, h["loss"][e], h["accuracy"][e], h["val_loss"][e], h["val_accuracy"][e]))
    common.report(common.keras_result(history, steps_per_epoch * len(h["loss"]),
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "highway-gate-bias-positive", "split": "dev", "architecture": "mlp",
     "origin": "Srivastava et al. 2015 (the transform gate's bias must start negative); "
               "Humbatova et al. 2020: wrong weight/bias initialization",
     "bug": "every transform gate's bias initialized at +2 instead of -2 (T(x) about 0.88: each "
            "layer mostly transforms and the 20-layer stack acts as a plain deep ReLU net): the "
            "loss sits at 1.947 (ln 7) from the first epoch to the twentieth and the held-out "
            "accuracy is 0.143, chance (the fixed twin: 0.828, validation loss 0.672)",
     "fix": "bias_initializer=Constant(-2.0) on every transform gate",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--gate-bias 2 --seed 0 --record-every 16",
          "fixed": "--seed 0 --record-every 16"},
     ]},
    {"family": "highway-carry-uses-t", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong layer wiring (a gate term); Keras ports of "
               "highway networks: 'highway network does not learn' with x * T(x) as the carry",
     "bug": "the carry term written x * T(x) instead of x * (1 - T(x)): with the gate bias at "
            "-2 every layer scales its input by about 0.12, the signal and the gradients vanish "
            "through the 20 layers, the loss sits at 1.947 (ln 7) for 20 epochs and the held- "
            "out accuracy is 0.144, chance (the fixed twin: 0.827)",
     "fix": "carried = x * (1 - T(x))",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug carry-uses-t --seed 1 --record-every 16",
          "fixed": "--seed 1 --record-every 16"},
     ]},
    {"family": "highway-gate-no-sigmoid", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function; DeepDiagnosis: "
               "numerical errors",
     "bug": "the transform gate without its sigmoid (a linear Dense with bias -2): y = H * T + "
            "x * (1 - T) with T near -2 multiplies the carried input by about 3 per layer, the "
            "activations overflow through the 20 layers and the loss is NaN from the first "
            "epoch; held-out accuracy 0.144 (the fixed twin: 0.792)",
     "fix": "Dense(units, activation=\"sigmoid\") for the transform gate",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug gate-no-sigmoid --seed 2 --record-every 16",
          "fixed": "--seed 2 --record-every 16"},
     ]},
    {"family": "healthy-highway", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a deep fully connected highway network (sigmoid transform gates with "
                    "a negative bias, carry 1 - T) on a generated covertype-like table, SGD "
                    "with Nesterov momentum, that trains well",
     "healthy": [
         {"id": "depth16-units64-seed3",
          "args": "--depth 16 --units 64 --seed 3 --record-every 16",
          "description": "16 highway layers of 64 units, gate bias -2"},
     ]},
]


if __name__ == "__main__":
    main()
