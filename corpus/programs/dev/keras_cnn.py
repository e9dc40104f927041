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
    p.add_argument("--input-bn", default=None, choices=(None, "train", "frozen"),
                   help="a BatchNormalization layer (bn0) on the raw pixels")
    p.add_argument("--depth", type=int, default=0,
                   help="extra 3x3 convolutions (8 filters) after conv1")
    p.add_argument("--bias-init", default=None, help="LAYER:VALUE")
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
    init = args.init
    if init.startswith("normal:"):
        init = keras.initializers.RandomNormal(stddev=float(init.split(":")[1]))

    def conv_base():
        base = [keras.Input(shape=(8, 8, 1))]
        if args.input_bn:
            # trainable=False puts a Keras BatchNormalization layer in inference mode: it then
            # normalizes with its moving statistics (initially mean 0, variance 1).
            base.append(layers.BatchNormalization(trainable=args.input_bn == "train",
                                                  name="bn0"))
        for i, filters in enumerate((8, 16), start=1):
            base.append(layers.Conv2D(filters, 3, padding="same", kernel_initializer=init,
                                      kernel_regularizer=reg, name="conv%d" % i,
                                      activation=None if args.bn else act))
            if args.bn:
                base.append(layers.BatchNormalization(name="bn%d" % i))
                if act:
                    base.append(layers.Activation(act, name="act%d" % i))
            if i == 1:
                for k in range(1, args.depth + 1):
                    base.append(layers.Conv2D(8, 3, padding="same", kernel_initializer=init,
                                              kernel_regularizer=reg, name="conv1_%d" % k,
                                              activation=act))
            base.append(layers.MaxPooling2D(name="pool%d" % i))
        base.append(layers.Flatten(name="flatten"))
        base.append(layers.Dense(32, activation=act, kernel_initializer=init,
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
                         kernel_initializer=init, kernel_regularizer=reg, name="out")])
    if args.bias_init:
        name, _, value = args.bias_init.partition(":")
        layer = model.get_layer(name)
        layer.bias.assign(np.full(layer.bias.shape, float(value), dtype="float32"))

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
    {"family": "cnn-deep-relu-large-init", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: exploding gradient; DeepFD fault type: weight initialization "
               "(too large for a deep ReLU network)",
     "bug": "RandomNormal(stddev=1) kernels in a CNN with seven ReLU layers (four extra 3x3 "
            "convolutions after conv1): the activations grow by about 8 per layer, the first "
            "losses and gradients are enormous and the units die",
     "fix": "he_normal kernels",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["numerical_error", "dead_or_zero", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--depth 4 --init normal:1 --opt momentum --lr 0.01",
          "fixed": "--depth 4 --init he_normal --opt momentum --lr 0.01"},
     ]},
    {"family": "cnn-deep-sigmoid-vanishing", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: vanishing gradient (deep sigmoid network), in a CNN",
     "bug": "seven sigmoid layers (four extra 3x3 convolutions after conv1) trained with SGD "
            "and momentum: the gradient vanishes on the way back and the loss stays at ln 10",
     "fix": "ReLU layers with he_normal kernels",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--depth 4 --act sigmoid --opt momentum --lr 0.02",
          "fixed": "--depth 4 --act relu --init he_normal --opt momentum --lr 0.02"},
     ]},
    {"family": "cnn-dying-relu-negative-bias", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "conv2's bias set to -3 after building the model: its ReLU units output 0 for "
            "every input and pass no gradient",
     "fix": "the default zero bias",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "conv2", "layer_index": 1},
     "pairs": [
         {"id": "digits-adam",
          "buggy": "--bias-init conv2:-3 --lr 3e-3",
          "fixed": "--lr 3e-3"},
     ]},
    {"family": "cnn-input-bn-frozen", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: BatchNorm layer in inference mode during training",
     "bug": "a BatchNormalization layer (bn0) meant to normalize the raw 0..255 pixels is "
            "built with trainable=False, which in Keras 3 also runs it in inference mode: it "
            "normalizes with its initial moving statistics (0, 1), the raw pixels pass through "
            "unscaled, the first losses are in the hundreds and the units die",
     "fix": "the BatchNormalization layer trainable (training mode)",
     "symptom": "saturation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient"],
     "root_cause": {"layer_name": "bn0", "layer_index": 0},
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--input-bn frozen --scale pixels255 --opt momentum --lr 0.01",
          "fixed": "--input-bn train --scale pixels255 --opt momentum --lr 0.01"},
     ]},
    {"family": "cnn-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "plain SGD with learning rate 1.5 on a ReLU CNN: every step overshoots, the loss "
            "jumps around ln 10 and the network ends at chance",
     "fix": "learning rate 0.1",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "dead_or_zero",
                                                       "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-sgd",
          "buggy": "--opt sgd --lr 1.5",
          "fixed": "--opt sgd --lr 0.1"},
     ]},
    {"family": "healthy-cnn-variants", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a deeper or differently configured Keras CNN on the 8x8 digits that trains well",
     "healthy": [
         {"id": "deep-he-adam-bs16-seed1",
          "args": "--depth 4 --init he_normal --opt adam --lr 0.002 --bs 16 --epochs 3 --seed 1",
          "description": "seven ReLU layers with he_normal kernels, batch size 16"},
         {"id": "input-bn-rmsprop-seed2",
          "args": "--input-bn train --opt rmsprop --lr 0.002 --epochs 4 --seed 2",
          "description": "a BatchNormalization layer on the input, in training mode"},
     ]},
]


if __name__ == "__main__":
    main()
