"""A Keras Sequential MLP on a small tabular data set, configured from the command line.

The usual Keras script: load, split off 20% for validation, scale, stack Dense layers,
``compile`` and ``fit`` with ``validation_data``. Every buggy run of the families in CASES is
this script with one setting or one line wrong, and its fixed twin the same command with
that one thing corrected.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="wine")
    p.add_argument("--scale", default="standard", choices=("standard", "none", "pixels", "pixels255"))
    p.add_argument("--target-scale", default="standard", choices=("standard", "none"))
    p.add_argument("--hidden", default="32,16")
    p.add_argument("--act", default="relu", help="relu, tanh, sigmoid, elu, none (linear)")
    p.add_argument("--out-act", default=None, help="default: softmax, sigmoid or linear")
    p.add_argument("--outputs", type=int, default=None)
    p.add_argument("--loss", default=None)
    p.add_argument("--labels", default="index", choices=("index", "one-based", "one-hot", "scaled"))
    p.add_argument("--opt", default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--momentum", type=float, default=0.9, help="for --opt momentum/nesterov")
    p.add_argument("--init", default="glorot_uniform", help="a Keras initializer, or normal:STD")
    p.add_argument("--bias-init", default=None, help="LAYER:VALUE")
    p.add_argument("--l2", type=float, default=0.0)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--bn", action="store_true")
    p.add_argument("--input-bn", default=None, choices=(None, "train", "frozen"),
                   help="a BatchNormalization layer on the raw inputs")
    p.add_argument("--schedule", default="none",
                   help="none, step:EVERY,GAMMA (epochs), exp:STEPS,RATE, cosine")
    p.add_argument("--clipnorm", type=float, default=None)
    args = p.parse_args()

    keras = common.keras_setup(args.seed)
    from keras import layers
    np = common.np

    x, y = common.load(args.data, seed=args.seed)
    regression = args.data in ("diabetes", "friedman", "regression")
    if args.data == "xor":
        x_tr, x_val, y_tr, y_val = x, x, y, y      # four points: train and evaluate on them
    else:
        x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if args.scale == "standard":
        x_tr, x_val = common.standardize(x_tr, x_val)
    elif args.scale == "pixels":
        x_tr, x_val = x_tr / 16.0, x_val / 16.0
    elif args.scale == "pixels255":
        x_tr, x_val = x_tr * (255.0 / 16.0), x_val * (255.0 / 16.0)
    if regression and args.target_scale == "standard":
        mu, sd = y_tr.mean(), y_tr.std()
        y_tr, y_val = (y_tr - mu) / sd, (y_val - mu) / sd
    classes = None if regression else int(y.max() + 1)
    n_out = args.outputs or (1 if regression else (1 if classes == 2 else classes))
    out_act = args.out_act or ("linear" if regression else ("sigmoid" if n_out == 1 else "softmax"))
    if args.loss:
        loss = args.loss
    elif regression:
        loss = "mse"
    else:
        loss = "binary_crossentropy" if n_out == 1 else "sparse_categorical_crossentropy"
    if args.labels == "one-based":
        y_tr, y_val = y_tr + 1, y_val + 1
    elif args.labels == "one-hot":
        y_tr, y_val = np.eye(classes)[y_tr], np.eye(classes)[y_val]
    elif args.labels == "scaled":
        # BUG: the label column was scaled together with the pixel columns.
        y_tr = y_tr / 16.0

    reg = keras.regularizers.l2(args.l2) if args.l2 else None
    init = args.init
    if init.startswith("normal:"):
        init = keras.initializers.RandomNormal(stddev=float(init.split(":")[1]))
    model = keras.Sequential()
    model.add(keras.Input(shape=(x_tr.shape[1],)))
    if args.input_bn:
        # trainable=False puts a Keras BatchNormalization layer in inference mode: it then
        # normalizes with its moving statistics (initially mean 0, variance 1).
        model.add(layers.BatchNormalization(trainable=args.input_bn == "train"))
    for h in common.ints(args.hidden):
        model.add(layers.Dense(h, activation=None if args.bn else
                               (None if args.act == "none" else args.act),
                               kernel_initializer=init, kernel_regularizer=reg))
        if args.bn:
            model.add(layers.BatchNormalization())
            if args.act != "none":
                model.add(layers.Activation(args.act))
        if args.dropout:
            model.add(layers.Dropout(args.dropout))
    model.add(layers.Dense(n_out, activation=out_act, kernel_initializer=init,
                           kernel_regularizer=reg))
    if args.bias_init:
        name, _, value = args.bias_init.partition(":")
        layer = model.get_layer(name)
        layer.bias.assign(np.full(layer.bias.shape, float(value), dtype="float32"))

    steps_per_epoch = -(-len(x_tr) // args.bs)
    kind, _, value = args.schedule.partition(":")
    lr = args.lr
    callbacks = []
    if kind == "exp":
        every, rate = value.split(",")
        lr = keras.optimizers.schedules.ExponentialDecay(args.lr, int(every), float(rate))
    elif kind == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(args.lr, args.epochs * steps_per_epoch)
    elif kind == "step":
        every, gamma = value.split(",")
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, current: args.lr * float(gamma) ** (epoch // int(every))))
    kw = {"clipnorm": args.clipnorm} if args.clipnorm else {}
    opt = {"sgd": lambda: keras.optimizers.SGD(lr, **kw),
           "momentum": lambda: keras.optimizers.SGD(lr, momentum=args.momentum, **kw),
           "nesterov": lambda: keras.optimizers.SGD(lr, momentum=args.momentum, nesterov=True,
                                                    **kw),
           "adam": lambda: keras.optimizers.Adam(lr, **kw),
           "adamw": lambda: keras.optimizers.AdamW(lr, **kw),
           "rmsprop": lambda: keras.optimizers.RMSprop(lr, **kw),
           "adagrad": lambda: keras.optimizers.Adagrad(lr, **kw)}[args.opt]()
    metrics = [] if regression else ["accuracy"]
    model.compile(optimizer=opt, loss=loss, metrics=metrics)
    history = model.fit(x_tr, y_tr, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.bs, verbose=0,
                        callbacks=callbacks + common.recording.keras_callbacks(args.out))
    common.report(common.keras_result(history, steps_per_epoch * args.epochs,
                                      layers=common.keras_layers(model)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "mlp-bce-multiclass", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong loss function; Humbatova et al. 2020: "
               "wrong loss function (binary cross-entropy for a multi-class label)",
     "bug": "Dense(1, sigmoid) and binary_crossentropy on the class index 0..2 of the three "
            "wine classes: the target 2 makes the loss negative and unbounded, the sigmoid "
            "output is pushed to 1",
     "fix": "Dense(3, softmax) and sparse_categorical_crossentropy",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "wine-adam",
          "buggy": "--data wine --outputs 1 --loss binary_crossentropy --lr 0.003 --bs 8 --epochs 11",
          "fixed": "--data wine --lr 0.003 --bs 8 --epochs 11"},
     ]},
    {"family": "mlp-binary-labels-one-two", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: labels that do not match the output (binary classes "
               "labelled 1 and 2, as the classes of Stack Overflow 50306988)",
     "bug": "binary labels 1 and 2 under a sigmoid output and binary_crossentropy: the loss "
            "goes negative without bound and the output saturates at 1",
     "fix": "labels mapped to 0 and 1",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "moons-adam",
          "buggy": "--data moons --labels one-based --lr 0.003 --epochs 8",
          "fixed": "--data moons --lr 0.003 --epochs 8"},
     ]},
    {"family": "mlp-unscaled-features", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization; Stack Overflow 44066044 "
               "(DeepLocalize benchmark) had the same unscaled inputs",
     "bug": "raw breast-cancer features (areas up to 2500) into a ReLU MLP trained with SGD: "
            "the first losses are in the hundreds, the units die and the network predicts the "
            "majority class",
     "fix": "features standardized",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "breast-cancer-sgd",
          "buggy": "--data breast_cancer --scale none --opt sgd --lr 0.01 --epochs 8",
          "fixed": "--data breast_cancer --opt sgd --lr 0.01 --epochs 8"},
     ]},
    {"family": "mlp-no-activation", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (no non-linearity anywhere)",
     "bug": "Dense layers without activation on concentric circles: a linear classifier, at "
            "chance",
     "fix": "activation='relu' on the hidden Dense layers",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "circles-adam",
          "buggy": "--data circles --act none --hidden 16,16 --lr 0.01 --epochs 8",
          "fixed": "--data circles --hidden 16,16 --lr 0.01 --epochs 8"},
     ]},
    {"family": "mlp-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Adam with learning rate 1.0: the first steps throw the weights far away, the "
            "loss jumps into the tens and the network ends at chance",
     "fix": "learning rate 3e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "dead_or_zero",
                                                       "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --opt adam --lr 1.0 --epochs 6",
          "fixed": "--data classification --opt adam --lr 0.003 --epochs 6"},
     ]},
    {"family": "mlp-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: slow convergence; DeepFD fault type: learning rate too low",
     "bug": "SGD with learning rate 1e-4: the loss barely moves",
     "fix": "learning rate 0.05",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-sgd",
          "buggy": "--data classification --opt sgd --lr 1e-4 --epochs 6",
          "fixed": "--data classification --opt sgd --lr 0.05 --epochs 6"},
     ]},
    {"family": "mlp-zero-init", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD fault type: weight initialization (all weights zero)",
     "bug": "kernel_initializer='zeros' on every Dense layer: the ReLU outputs are exactly 0 "
            "and no gradient reaches the hidden kernels",
     "fix": "the default glorot_uniform initializer",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "unchanged_values", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --init zeros --lr 3e-3 --epochs 6",
          "fixed": "--data classification --lr 3e-3 --epochs 6"},
     ]},
    {"family": "mlp-init-too-large", "split": "dev", "architecture": "mlp",
     "origin": "DeepDiagnosis: improper weight initialization (too large), saturated sigmoid units",
     "bug": "RandomNormal(stddev=3) kernels in a sigmoid MLP: the units are saturated at 0 or 1 "
            "from the first step",
     "fix": "the default glorot_uniform initializer",
     "symptom": "saturation",
     "acceptable_symptoms": ["vanishing_gradient", "not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --act sigmoid --init normal:3 --lr 0.003 --epochs 6",
          "fixed": "--data classification --act sigmoid --lr 0.003 --epochs 6"},
     ]},
    {"family": "mlp-dying-relu-negative-bias", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "the second Dense layer's bias set to -3 after building the model: its ReLU units "
            "output 0 for every input and pass no gradient",
     "fix": "the default zero bias",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "dense_1", "layer_index": 1},
     "pairs": [
         {"id": "blobs-adam",
          "buggy": "--data blobs --bias-init dense_1:-3 --lr 3e-3 --epochs 6",
          "fixed": "--data blobs --lr 3e-3 --epochs 6"},
     ]},
    {"family": "mlp-deep-sigmoid-vanishing", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: vanishing gradient (deep sigmoid network)",
     "bug": "six sigmoid hidden layers trained with SGD: the gradient vanishes on the way "
            "back and the loss stays at ln 3",
     "fix": "ReLU hidden layers with He initialization",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-momentum",
          "buggy": "--data classification --act sigmoid --hidden 32,32,32,32,32,32 "
                   "--opt momentum --lr 0.02 --epochs 4",
          "fixed": "--data classification --act relu --init he_normal "
                   "--hidden 32,32,32,32,32,32 --opt momentum --lr 0.02 --epochs 4"},
     ]},
    {"family": "mlp-huge-weight-decay", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: regularization too strong (an L2 term dominates the loss)",
     "bug": "kernel_regularizer=l2(1.0) on every Dense layer: the penalty dominates the loss "
            "and keeps the kernels near zero, the predictions stay at chance",
     "fix": "l2(1e-4)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --l2 1.0 --lr 3e-3 --epochs 6",
          "fixed": "--data classification --l2 1e-4 --lr 3e-3 --epochs 6"},
     ]},
    {"family": "mlp-bn-frozen-input", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: BatchNorm layer in inference mode during training",
     "bug": "BatchNormalization(trainable=False) on the raw features, meant to standardize "
            "them: a non-trainable Keras BatchNormalization runs in inference mode with its "
            "initial moving statistics, so the raw features (up to 2500) pass through",
     "fix": "a trainable BatchNormalization",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": {"layer_name": "batch_normalization", "layer_index": 0},
     "pairs": [
         {"id": "breast-cancer-sgd",
          "buggy": "--data breast_cancer --scale none --input-bn frozen --opt sgd --lr 0.01 "
                   "--bs 16 --epochs 8",
          "fixed": "--data breast_cancer --scale none --input-bn train --opt sgd --lr 0.01 "
                   "--bs 16 --epochs 8"},
     ]},
    {"family": "mlp-sigmoid-output-regression", "split": "dev", "architecture": "regression",
     "origin": "Stack Overflow 48221692 (DeepLocalize benchmark), new port: Friedman #1 targets",
     "benchmark": "DeepLocalize SO 48221692",
     "bug": "Dense(1, activation='sigmoid') for targets between 0 and 30: the output saturates "
            "at 1",
     "fix": "a linear output",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "dense_2", "layer_index": 2},
     "pairs": [
         {"id": "friedman-adam",
          "buggy": "--data friedman --target-scale none --out-act sigmoid --lr 0.01 --epochs 6",
          "fixed": "--data friedman --target-scale none --out-act linear --lr 0.01 --epochs 6"},
     ]},
    {"family": "so-31556268-xor-mae", "split": "dev", "architecture": "mlp",
     "origin": "Stack Overflow 31556268 (DeepLocalize benchmark)",
     "benchmark": "DeepLocalize SO 31556268",
     "bug": "XOR with a 2-4-1 sigmoid network, mean absolute error and SGD (lr 0.05, momentum "
            "0.11, Nesterov): the MAE gradient is the sign of the error times the sigmoid "
            "slope, the outputs settle near 0.5 and the network does not learn XOR",
     "fix": "mean squared error with Adam (the accepted answer)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "xor",
          "buggy": "--data xor --hidden 4 --act sigmoid --loss mean_absolute_error "
                   "--opt nesterov --momentum 0.11 --lr 0.05 --bs 4 --epochs 225",
          "fixed": "--data xor --hidden 4 --act sigmoid --loss mse --opt adam --lr 0.05 "
                   "--bs 4 --epochs 225"},
     ]},
    {"family": "mlp-logits-without-softmax", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss configuration (a linear output under "
               "sparse_categorical_crossentropy with from_logits=False)",
     "bug": "the output Dense layer has no activation but the loss expects probabilities "
            "(from_logits defaults to False): Keras clips the raw scores to [1e-7, 1] and "
            "the loss stalls",
     "fix": "activation='softmax' on the output layer",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-sgd",
          "buggy": "--data digits --scale pixels --hidden 32 --out-act linear --opt sgd --lr 0.05 --epochs 4",
          "fixed": "--data digits --scale pixels --hidden 32 --out-act softmax --opt sgd --lr 0.05 --epochs 4"},
         {"id": "iris-adam",
          "buggy": "--data iris --hidden 16 --out-act linear --lr 0.01 --bs 8 --epochs 11",
          "fixed": "--data iris --hidden 16 --out-act softmax --lr 0.01 --bs 8 --epochs 11"},
     ]},
    {"family": "healthy-mlp-tabular", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Keras MLP classifier that trains well",
     "healthy": [
         {"id": "iris-adam-bs4", "args": "--data iris --hidden 16 --lr 0.01 --bs 4 --epochs 8"},
         {"id": "wine-sgd-bs8", "args": "--data wine --opt sgd --lr 0.05 --bs 8 --epochs 11"},
         {"id": "wine-rmsprop-tanh", "args": "--data wine --act tanh --opt rmsprop --lr 0.003 --bs 16 --epochs 19"},
         {"id": "breast-cancer-adam-dropout", "args": "--data breast_cancer --dropout 0.3 --lr 0.003 --bs 16 --epochs 6"},
         {"id": "breast-cancer-nesterov-bn", "args": "--data breast_cancer --bn --opt nesterov --lr 0.01 --bs 16 --epochs 6"},
         {"id": "digits-adam-step", "args": "--data digits --scale pixels --hidden 64 --lr 0.003 --schedule step:2,0.5 --epochs 4",
          "description": "step decay: the learning rate halves every 2 epochs"},
         {"id": "digits-momentum-cosine", "args": "--data digits --scale pixels --hidden 64,32 --opt momentum --lr 0.05 --schedule cosine --epochs 4",
          "description": "cosine decay to 0"},
         {"id": "classification-adamw-elu", "args": "--data classification --act elu --opt adamw --lr 0.003 --epochs 6"},
         {"id": "classification-adagrad", "args": "--data classification --opt adagrad --lr 0.05 --epochs 6"},
         {"id": "blobs-sgd-exp-decay", "args": "--data blobs --opt momentum --lr 0.02 --schedule exp:50,0.7 --epochs 6",
          "description": "exponential decay of the learning rate every 50 steps"},
         {"id": "moons-adam-bs2", "args": "--data moons --hidden 16,16 --lr 0.003 --bs 2 --epochs 1",
          "description": "batch size 2: a very noisy loss"},
         {"id": "imbalanced-adam", "args": "--data imbalanced --lr 0.003 --epochs 6",
          "description": "class imbalance 9:1"},
         {"id": "noisy-labels-adam", "args": "--data noisy --lr 0.003 --epochs 8",
          "description": "25% of the labels flipped: the loss plateaus high"},
         {"id": "circles-selu-seed2", "args": "--data circles --act selu --init lecun_normal --hidden 16,16 --lr 0.01 --epochs 8 --seed 2"},
         {"id": "digits-sgd-long", "args": "--data digits --scale pixels --hidden '' --opt sgd --lr 0.05 --bs 32 --epochs 22",
          "description": "softmax regression (one Dense layer), 990 steps: a long healthy run"},
     ]},
    {"family": "healthy-mlp-regression", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a Keras MLP regression that trains well",
     "healthy": [
         {"id": "diabetes-rmsprop", "args": "--data diabetes --opt rmsprop --lr 0.001 --bs 16 --epochs 8"},
         {"id": "friedman-adam-bs8", "args": "--data friedman --lr 0.002 --bs 8 --epochs 2"},
         {"id": "regression-sgd-tanh", "args": "--data regression --act tanh --opt momentum --lr 0.01 --epochs 8"},
     ]},
    {"family": "regression-tanh-raw-features", "split": "dev", "architecture": "regression",
     "origin": "DeepDiagnosis: saturated activation (a stack of tanh layers on raw features); "
               "Humbatova et al. 2020: missing input normalization",
     "bug": "the diabetes data's raw features (blood serum values in the hundreds) into a tanh "
            "regression network: the first layer's units are pinned at +-1, their gradients "
            "vanish and the predictions stay near the mean target",
     "fix": "features standardized",
     "symptom": "saturation",
     "acceptable_symptoms": ["vanishing_gradient", "not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "diabetes-momentum",
          "buggy": "--data diabetes --scale none --act tanh --opt momentum --lr 0.01 --bs 16 --epochs 8",
          "fixed": "--data diabetes --act tanh --opt momentum --lr 0.01 --bs 16 --epochs 8"},
     ]},
    {"family": "healthy-regression-variants", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a Keras regression network that trains well",
     "healthy": [
         {"id": "friedman-tanh-momentum-bs16-seed1",
          "args": "--data friedman --act tanh --opt momentum --lr 0.01 --bs 16 --epochs 6 --seed 1"},
     ]},
    {"family": "healthy-raw-pixels", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "the digits as scikit-learn ships them (grey levels 0..16) or as 0..255, fed without scaling, train as well as scaled ones: unnormalized inputs are not a fault on their own",
     "healthy": [
         {"id": "mlp-adam", "args": "--data digits --scale none"},
         {"id": "mlp-rmsprop-seed1", "args": "--data digits --scale none --opt rmsprop --seed 1"},
     ]},
]


if __name__ == "__main__":
    main()
