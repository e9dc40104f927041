"""A Keras Sequential CNN on scikit-learn's 8x8 digits, configured from the command line.

Conv2D(8) - MaxPooling - Conv2D(16) - MaxPooling - Flatten - Dense(32) - Dense(10). The
``--finetune`` variant first trains the network (not recorded) on the digits 0-4, then puts
a new head on the convolutional base and fine-tunes it on the digits 5-9 with the base frozen.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--scale", default="pixels", choices=("pixels", "pixels255", "standard"))
    p.add_argument("--act", default="relu")
    p.add_argument("--out-act", default="softmax")
    p.add_argument("--loss", default="sparse_categorical_crossentropy")
    p.add_argument("--from-logits", action="store_true")
    p.add_argument("--opt", default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--bn", action="store_true")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--init", default="glorot_uniform")
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--finetune", action="store_true")
    p.add_argument("--bug", default=None, choices=("model-frozen",))
    args = p.parse_args()

    keras = common.keras_setup(args.seed)
    from keras import layers
    np = common.np

    x, y = common.load("digits")
    x = x.reshape(-1, 8, 8, 1)
    if args.scale == "pixels":
        x = x / 16.0
    elif args.scale == "pixels255":
        x = x * (255.0 / 16.0)
    else:
        x = (x - x.mean()) / x.std()
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    act = None if args.act == "none" else args.act
    reg = keras.regularizers.l2(args.l2) if args.l2 else None

    def conv_base():
        base = [keras.Input(shape=(8, 8, 1))]
        for i, filters in enumerate((8, 16), start=1):
            base.append(layers.Conv2D(filters, 3, padding="same", kernel_initializer=args.init,
                                      kernel_regularizer=reg, name="conv%d" % i,
                                      activation=None if args.bn else act))
            if args.bn:
                base.append(layers.BatchNormalization(name="bn%d" % i))
                if act:
                    base.append(layers.Activation(act, name="act%d" % i))
            base.append(layers.MaxPooling2D(name="pool%d" % i))
        base.append(layers.Flatten(name="flatten"))
        base.append(layers.Dense(32, activation=act, kernel_initializer=args.init,
                                 kernel_regularizer=reg, name="dense"))
        if args.dropout:
            base.append(layers.Dropout(args.dropout, name="dropout"))
        return base

    classes = 10
    if args.finetune:
        pre = keras.Sequential(conv_base() + [layers.Dense(5, activation="softmax", name="pre_head")])
        pre.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
        first = y_tr < 5
        pre.fit(x_tr[first], y_tr[first], epochs=15, batch_size=32, verbose=0)
        keep_tr, keep_val = y_tr >= 5, y_val >= 5
        x_tr, y_tr, x_val, y_val = x_tr[keep_tr], y_tr[keep_tr] - 5, x_val[keep_val], y_val[keep_val] - 5
        classes = 5
        model = keras.Sequential([keras.Input(shape=(8, 8, 1))] + pre.layers[:-1] + [
            layers.Dense(classes, activation="softmax", name="head")])
        if args.bug == "model-frozen":
            # BUG: meant to freeze the pre-trained layers, but the loop runs over all of
            # them, the new head included.
            for layer in model.layers:
                layer.trainable = False
        else:
            for layer in model.layers[:-1]:
                layer.trainable = False
    else:
        model = keras.Sequential(conv_base() + [
            layers.Dense(classes, activation=None if args.out_act == "linear" else args.out_act,
                         kernel_initializer=args.init, kernel_regularizer=reg, name="out")])

    if args.loss == "sparse_categorical_crossentropy":
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=args.from_logits)
    else:
        loss = args.loss
        if args.loss in ("mse", "categorical_crossentropy"):
            y_tr, y_val = np.eye(classes)[y_tr], np.eye(classes)[y_val]
    opt = {"sgd": lambda: keras.optimizers.SGD(args.lr),
           "momentum": lambda: keras.optimizers.SGD(args.lr, momentum=0.9),
           "adam": lambda: keras.optimizers.Adam(args.lr),
           "rmsprop": lambda: keras.optimizers.RMSprop(args.lr)}[args.opt]()
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])
    steps_per_epoch = -(-len(x_tr) // args.bs)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.bs, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cnn-finetune-frozen-head", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: a layer frozen by mistake (transfer learning)",
     "bug": "the loop that freezes the pre-trained layers runs over model.layers instead of "
            "model.layers[:-1]: the new softmax head is frozen as well and nothing trains",
     "fix": "only the pre-trained layers frozen",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "head", "layer_index": 3},
     "pairs": [
         {"id": "freeze-loop",
          "buggy": "--finetune --lr 0.01 --epochs 6 --bug model-frozen",
          "fixed": "--finetune --lr 0.01 --epochs 6"},
     ]},
    {"family": "cnn-raw-pixels", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing input normalization (0-255 pixels); Stack "
               "Overflow 55328966 (DeepLocalize benchmark) had the same bug in an MLP",
     "bug": "pixels fed as 0..255 grey levels: the first loss is in the hundreds, the ReLU "
            "units die and the network predicts one class",
     "fix": "pixels scaled to 0..1",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--scale pixels255 --opt momentum --lr 0.01",
          "fixed": "--scale pixels --opt momentum --lr 0.01"},
     ]},
    {"family": "healthy-cnn-digits", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Keras CNN on the 8x8 digits that trains well",
     "healthy": [
         {"id": "adam", "args": "--lr 0.002"},
         {"id": "bn-momentum", "args": "--bn --opt momentum --lr 0.02"},
         {"id": "dropout-rmsprop", "args": "--dropout 0.3 --opt rmsprop --lr 0.001 --epochs 5"},
         {"id": "standardized-sgd", "args": "--scale standard --opt sgd --lr 0.05 --epochs 5"},
         {"id": "l2-adam", "args": "--l2 1e-4 --lr 0.002"},
         {"id": "adam-bs4", "args": "--bs 4 --lr 0.001 --epochs 1", "description": "batch size 4"},
         {"id": "finetune-momentum", "args": "--finetune --opt momentum --lr 0.05 --epochs 6",
          "description": "fine-tuning with the pre-trained layers frozen on purpose"},
     ]},
]


if __name__ == "__main__":
    main()
