"""A PyTorch classifier whose ``nn.Sequential`` is built from a configuration list, trained by a
plain loop with ``ReduceLROnPlateau``.

The data are generated here: 2000 sensor records of 16 columns and five classes (scikit-learn's
``make_classification``), each column then put in its own units (scales from 0.1 to about
3000, offsets): the program standardizes them with the training set's mean and standard
deviation. ``--layers`` is the configuration, a comma-separated list: ``W:ACT`` (a ``Linear``
of W units and the activation ``relu``, ``tanh``, ``sigmoid``, ``gelu``), ``bn`` (a
``BatchNorm1d``), ``drop:P`` (``Dropout``); a ``Linear`` to the five classes closes it.
``model.apply(init_weights)`` initializes every ``Linear`` (``--init``: ``default``, ``he``,
``xavier``, ``normal:STD``). Optimizer ``--optimizer`` (``adam``, ``sgd``, ``momentum``,
``adamw``) at ``--lr``, cross-entropy, ``ReduceLROnPlateau`` on the validation loss (factor
``--plateau-factor``, patience ``--plateau-patience``) stepped once per epoch, shuffled
mini-batches drawn by the loop itself. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``, ``--init``, ``--layers``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
CLASSES = 5
ACTS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def sensor_records(n, seed):
    from sklearn.datasets import make_classification
    x, y = make_classification(n_samples=n, n_features=16, n_informative=10, n_redundant=2,
                               n_classes=CLASSES, n_clusters_per_class=1, class_sep=1.3,
                               random_state=seed)
    rng = np.random.default_rng(1000 + seed)
    scales = 10.0 ** rng.uniform(-1.0, 3.5, size=16)
    offsets = scales * rng.uniform(-2.0, 6.0, size=16)
    return (x * scales + offsets).astype(np.float32), y.astype(np.int64)


def build(config, inputs):
    modules, width = [], inputs
    for item in config.split(","):
        kind, _, value = item.partition(":")
        if kind == "bn":
            modules.append(nn.BatchNorm1d(width))
        elif kind == "drop":
            modules.append(nn.Dropout(float(value)))
        else:
            modules += [nn.Linear(width, int(kind)), ACTS[value]()]
            width = int(kind)
    modules.append(nn.Linear(width, CLASSES))
    return nn.Sequential(*modules)


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--layers", default="64:relu,64:relu")
    p.add_argument("--init", default="default")
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "momentum", "adamw"))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--plateau-factor", type=float, default=0.5)
    p.add_argument("--plateau-patience", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("no-scaling", "plateau-per-batch"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = sensor_records(args.samples, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if args.bug != "no-scaling":
        x_tr, x_val = common.standardize(x_tr, x_val)
    # BUG (no-scaling): the standardization is left out: columns in their own units go in.
    X, Y = torch.tensor(x_tr, dtype=torch.float32), torch.from_numpy(y_tr)
    X_val, Y_val = torch.tensor(x_val, dtype=torch.float32), torch.from_numpy(y_val)

    model = build(args.layers, X.shape[1])
    kind, _, value = args.init.partition(":")

    def init_weights(m):
        if isinstance(m, nn.Linear):
            if kind == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif kind == "xavier":
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
            elif kind == "normal":
                nn.init.normal_(m.weight, 0.0, float(value))
                nn.init.zeros_(m.bias)
            elif kind != "default":
                raise SystemExit("unknown init: %s" % args.init)
    model.apply(init_weights)

    optimizer = {"adam": lambda: torch.optim.Adam(model.parameters(), lr=args.lr),
                 "adamw": lambda: torch.optim.AdamW(model.parameters(), lr=args.lr),
                 "sgd": lambda: torch.optim.SGD(model.parameters(), lr=args.lr),
                 "momentum": lambda: torch.optim.SGD(model.parameters(), lr=args.lr,
                                                     momentum=0.9)}[args.optimizer]()
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="min", factor=args.plateau_factor, patience=args.plateau_patience)
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = -(-len(X) // args.batch_size)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=CLASSES,
        batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(X), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = X[idx], Y[idx]
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            if args.bug == "plateau-per-batch":
                # BUG: the plateau scheduler is stepped inside the batch loop with the batch's
                # loss: every few noisy batches count as a plateau of "patience" epochs.
                scheduler.step(loss.item())
            acc = (out.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    v = model(X_val)
                    val_loss = criterion(v, Y_val).item()
                    val_acc = (v.argmax(1) == Y_val).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        if args.bug != "plateau-per-batch":
            scheduler.step(val_loss)
        history.epoch(val_loss, val_acc)
        print("epoch %d: val loss %.4f acc %.3f lr %.3g" % (
            epoch + 1, val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    layers = ["sequential.%d" % i for i, m in enumerate(model) if list(m.parameters())]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cfgmlp-plateau-stepped-per-batch", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (ReduceLROnPlateau stepped "
               "inside the batch loop with the batch loss)",
     "bug": "scheduler.step(loss.item()) inside the batch loop instead of once per epoch with "
            "the validation loss: the noisy batch losses make every couple of steps a "
            "'plateau' of patience 1, the learning rate halves again and again (1.5e-8 after "
            "the first epoch), the weights stop changing and the run ends near 0.34 "
            "validation accuracy of five classes",
     "fix": "scheduler.step(val_loss) once per epoch",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug plateau-per-batch --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "cfgmlp-unscaled-sensor-columns", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization (sensor columns in their own "
               "units, up to a few thousand)",
     "bug": "the standardization is left out: columns with scales up to about 3000 go into the "
            "first Linear layer, the first SGD-momentum steps produce huge logits, the loss "
            "turns NaN in the first epoch and the accuracy stays at chance (0.20)",
     "fix": "standardize the columns with the training set's mean and standard deviation",
     "symptom": "numerical_error",
     "acceptable_symptoms": ["saturation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 0.01 --bug no-scaling --record-every 2",
          "fixed": "--optimizer momentum --lr 0.01 --record-every 2"},
     ]},
    {"family": "cfgmlp-deep-sigmoid-vanishing", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: vanishing gradient (a deep stack of sigmoid layers)",
     "bug": "the configuration list stacks six Linear+Sigmoid layers: the sigmoid's derivative "
            "is at most 1/4, the gradient shrinks layer after layer, the first layers receive "
            "almost nothing and with SGD the loss stays near ln 5 and the accuracy at chance "
            "(0.20)",
     "fix": "ReLU in every hidden layer with He initialization",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-depth6",
          "buggy": "--layers 64:sigmoid,64:sigmoid,64:sigmoid,64:sigmoid,64:sigmoid,64:sigmoid --optimizer sgd --lr 0.05 --record-every 2",
          "fixed": "--layers 64:relu,64:relu,64:relu,64:relu,64:relu,64:relu --init he --optimizer sgd --lr 0.05 --record-every 2"},
     ]},
    {"family": "cfgmlp-init-too-large", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: improper weight initialization (normal "
               "weights of standard deviation 3 applied with model.apply)",
     "bug": "init_weights draws every Linear weight from N(0, 3^2): the tanh units saturate at "
            "+-1, the logits are in the tens, the first epoch's loss is about 27 and after 8 "
            "epochs of Adam the validation accuracy is 0.35 of five classes",
     "fix": "PyTorch's default initialization",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-tanh",
          "buggy": "--layers 64:tanh,64:tanh --init normal:3 --record-every 2",
          "fixed": "--layers 64:tanh,64:tanh --record-every 2"},
     ]},
    {"family": "cfgmlp-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "plain SGD at learning rate 5e-5 (meant 0.05): in 8 epochs the loss falls only "
            "from 1.620 to 1.619 and the accuracy stays at chance (0.20)",
     "fix": "learning rate 0.05",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 5e-5 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.05 --record-every 2"},
     ]},
    {"family": "healthy-cfgmlp", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a configured nn.Sequential classifier of sensor records that trains well",
     "healthy": [
         {"id": "adamw-bn-dropout-seed1",
          "args": "--layers 128:relu,bn,drop:0.2,64:relu --optimizer adamw --lr 2e-3 --seed 1 --record-every 2",
          "description": "AdamW, a BatchNorm1d and dropout in the configuration"},
         {"id": "momentum-gelu-xavier-bs64-seed2",
          "args": "--layers 64:gelu,64:gelu,32:gelu --init xavier --optimizer momentum --lr 0.02 --batch-size 64 --seed 2 --record-every 2",
          "description": "GELU, Xavier initialization, SGD momentum, batches of 64"},
         {"id": "adam-tanh-wide-bs16-seed3",
          "args": "--layers 128:tanh --lr 5e-4 --batch-size 16 --epochs 6 --seed 3 --record-every 2",
          "description": "one wide tanh layer, Adam 5e-4, batches of 16"},
         {"id": "sgd-relu-he-depth4-seed4",
          "args": "--layers 64:relu,64:relu,64:relu,64:relu --init he --optimizer sgd --lr 0.1 --plateau-patience 0 --seed 4 --record-every 2",
          "description": "four ReLU layers with He initialization, plain SGD 0.1, "
                         "ReduceLROnPlateau with patience 0"},
         {"id": "adam-sigmoid-shallow-seed5",
          "args": "--layers 64:sigmoid,32:sigmoid --lr 3e-3 --seed 5 --record-every 2",
          "description": "two sigmoid layers, Adam 3e-3"},
     ]},
]


if __name__ == "__main__":
    main()
