"""A multi-class MLP on tabular data in PyTorch, written the way tutorials write it: a reusable
``train(model, loader, opt, loss_fn, epochs)`` function with optional gradient clipping, an
``evaluate(model, loader, loss_fn)`` function, and weights set by ``model.apply(init_weights)``
with ``torch.nn.init`` calls.

Data: scikit-learn's ``wine`` (13 features, 3 classes) or ``classification`` (make_classification:
1500 rows, 16 features, 10 of them informative, 5 classes). The inputs are standardized with a
``StandardScaler`` fitted on the training rows (``--scaling standard``) or fed raw into a first
``nn.BatchNorm1d`` layer that normalizes them (``--scaling batchnorm``). The model is an
``nn.Sequential`` of named layers (``input_bn`` when present, ``fc1``... ``fcN``, ``out``) with
ReLU (or ``--act``) and dropout; ``init_weights`` sets every ``Linear`` weight by ``--init``
(``xavier``: ``xavier_uniform_``, ``kaiming``: ``kaiming_uniform_``, ``normal``:
``nn.init.normal_`` with its default standard deviation of 1) and the biases to zero.
``evaluate`` is called once before training (the untrained accuracy, as tutorials print it)
and after every epoch; ``train`` puts the model in training mode at the start of each epoch,
steps the optimizer per batch, clips the gradient norm at ``--clip`` when given, and reports
the epoch's mean loss and accuracy. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--init``, ``--lr``).
"""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np
BUG = None
INIT = "xavier"


def load_data(name, seed):
    from sklearn.datasets import load_wine, make_classification
    if name == "wine":
        data = load_wine()
        return data.data, data.target
    return make_classification(n_samples=1500, n_features=16, n_informative=10, n_redundant=2,
                               n_classes=5, n_clusters_per_class=1, class_sep=1.2,
                               random_state=seed)


def make_mlp(n_in, hidden, n_out, act="relu", dropout=0.0, input_bn=False):
    layers = OrderedDict()
    if input_bn:
        layers["input_bn"] = nn.BatchNorm1d(n_in)
    sizes = [n_in] + hidden
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        layers["fc%d" % i] = nn.Linear(a, b)
        layers["act%d" % i] = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}[act]()
        if dropout:
            layers["drop%d" % i] = nn.Dropout(dropout)
    layers["out"] = nn.Linear(sizes[-1], n_out)
    return nn.Sequential(layers)


def init_weights(m):
    if isinstance(m, nn.Linear):
        if INIT == "xavier":
            nn.init.xavier_uniform_(m.weight)
        elif INIT == "kaiming":
            nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
        elif INIT == "normal":
            nn.init.normal_(m.weight)
        nn.init.zeros_(m.bias)


def evaluate(model, loader, loss_fn):
    model.eval()
    total = correct = n = 0
    with torch.no_grad():
        for xb, yb in loader:
            out = model(xb)
            total += loss_fn(out, yb).item() * len(xb)
            correct += (out.argmax(1) == yb).sum().item()
            n += len(xb)
    return total / n, correct / n


def train(model, loader, opt, loss_fn, epochs, clip=None, val_loader=None, recorder=None,
          history=None):
    for epoch in range(epochs):
        if BUG != "no-train-mode":
            model.train()
        # BUG (no-train-mode): model.train() is never called: the model stays in the eval mode
        # that evaluate() left it in (BatchNorm normalizes with its running statistics, which
        # are never updated, and dropout is off).
        running, right, seen = 0.0, 0, 0
        for i, (xb, yb) in enumerate(loader):
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            acc = (out.argmax(1) == yb).float().mean()
            running += loss.item() * len(xb)
            right += (out.argmax(1) == yb).sum().item()
            seen += len(xb)
            val_loss = val_acc = None
            if i == len(loader) - 1 and val_loader is not None:
                mode = model.training
                val_loss, val_acc = evaluate(model, val_loader, loss_fn)
                model.train(mode)
            if recorder is not None:
                recorder.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                              val_accuracy=val_acc)
            if history is not None:
                history.step(loss.item(), acc.item())
        if history is not None:
            history.epoch(val_loss, val_acc)
        print(f"epoch {epoch + 1}/{epochs} loss {running / seen:.4f} acc {right / seen:.3f} "
              f"val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    return history


def main():
    global BUG, INIT
    p = common.parser(__doc__)
    p.add_argument("--data", default="classification", choices=("wine", "classification"))
    p.add_argument("--scaling", default="standard", choices=("standard", "batchnorm"))
    p.add_argument("--hidden", default="64,32", help="hidden layer widths")
    p.add_argument("--act", default="relu", choices=("relu", "tanh", "elu"))
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--init", default="xavier", choices=("xavier", "kaiming", "normal"))
    p.add_argument("--optimizer", default="adam", choices=("adam", "adamw", "sgd", "momentum",
                                                          "rmsprop"))
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--clip", type=float, default=None, help="clip the gradient norm at this")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("no-train-mode", "stale-optimizer"))
    args = p.parse_args()
    BUG, INIT = args.bug, args.init
    common.torch_setup(args.seed)

    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    X, y = load_data(args.data, args.seed)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, stratify=y,
                                                      random_state=args.seed)
    if args.scaling == "standard":
        scaler = StandardScaler().fit(X_train)
        X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    train_ds = TensorDataset(torch.tensor(X_train, dtype=torch.float32),
                             torch.tensor(y_train, dtype=torch.long))
    val_ds = TensorDataset(torch.tensor(X_val, dtype=torch.float32),
                           torch.tensor(y_val, dtype=torch.long))
    train_loader = DataLoader(train_ds, batch_size=args.batch_size, shuffle=True,
                              generator=torch.Generator().manual_seed(args.seed))
    val_loader = DataLoader(val_ds, batch_size=128)
    n_classes = len(np.unique(y))

    def build():
        return make_mlp(X.shape[1], common.ints(args.hidden), n_classes, act=args.act,
                        dropout=args.dropout, input_bn=args.scaling == "batchnorm")

    model = build()
    model.apply(init_weights)
    params = model.parameters()
    if args.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=args.lr)
    elif args.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    elif args.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=args.lr)
    elif args.optimizer == "momentum":
        opt = torch.optim.SGD(params, lr=args.lr, momentum=0.9)
    else:
        opt = torch.optim.RMSprop(params, lr=args.lr)
    if args.bug == "stale-optimizer":
        # BUG: the model is built again (a notebook cell re-run to start from fresh weights)
        # after the optimizer was given the first model's parameters: the optimizer updates
        # a model that is no longer trained, the trained one never changes.
        model = build()
        model.apply(init_weights)
    loss_fn = nn.CrossEntropyLoss()

    val_loss, val_acc = evaluate(model, val_loader, loss_fn)
    print(f"before training: val_loss {val_loss:.4f} val_acc {val_acc:.3f}")
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=opt, task="classification", loss_name="CrossEntropyLoss",
        steps_per_epoch=len(train_loader), num_classes=n_classes, batch_size=args.batch_size)
    history = train(model, train_loader, opt, loss_fn, args.epochs, clip=args.clip,
                    val_loader=val_loader, recorder=rec, history=common.History())
    rec.close()
    layers = [name for name, m in model.named_children()
              if isinstance(m, (nn.Linear, nn.BatchNorm1d))]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "tabtrain-normal-init-std1", "split": "dev", "architecture": "mlp",
     "origin": "DeepDiagnosis: improper weight initialization (init_weights calls "
               "nn.init.normal_(m.weight) without a std: N(0, 1) weights)",
     "bug": "N(0, 1) weights in a ReLU MLP of 128, 128 and 64 units: each layer multiplies "
            "the activations by about sqrt(fan_in / 2), the logits are in the hundreds, the "
            "first epoch's loss is 935 and the run ends at a loss of 43 and validation "
            "accuracy 0.73 of five classes against the twin's 0.91 (loss 0.07)",
     "fix": "nn.init.kaiming_uniform_(m.weight, nonlinearity='relu')",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["saturation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam-wide",
          "buggy": "--hidden 128,128,64 --init normal --record-every 2",
          "fixed": "--hidden 128,128,64 --init kaiming --record-every 2"},
     ]},
    {"family": "tabtrain-no-train-mode", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: BatchNorm used in inference mode during training "
               "(train() never calls model.train() after evaluate() called model.eval())",
     "bug": "the wine features go in raw (proline up to about 1700) to a first BatchNorm1d "
            "meant to normalize them, but the untrained-accuracy evaluate() left the model in "
            "eval mode and train() never calls model.train(): the BatchNorm uses its initial "
            "running statistics (mean 0, variance 1) throughout and normalizes nothing; the "
            "first epoch's loss is 34 and the run ends at validation accuracy 0.50 of three "
            "classes (loss 2.5) against the twin's 0.94",
     "fix": "model.train() at the start of every epoch in train()",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": {"layer_name": "input_bn", "layer_index": 0},
     "pairs": [
         {"id": "wine-batchnorm-adam",
          "buggy": "--data wine --scaling batchnorm --bug no-train-mode --record-every 2",
          "fixed": "--data wine --scaling batchnorm --record-every 2"},
     ]},
    {"family": "tabtrain-stale-optimizer", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: parameters not updated (the optimizer built from the "
               "parameters of a model instance that was then replaced)",
     "bug": "the model is built again after torch.optim.Adam(model.parameters()) was created: "
            "the optimizer steps the first model's parameters, the trained model never "
            "changes, the loss stays at 1.62 and the validation accuracy at 0.29 of five "
            "classes against the twin's 0.87",
     "fix": "create the optimizer after the model it trains (or build the model once)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--bug stale-optimizer --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "tabtrain-sgd-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "plain SGD at 1e-4 (meant 0.05): in 10 epochs the loss falls only from 1.766 to "
            "1.744 and the validation accuracy stays at 0.17 of five classes against the "
            "twin's 0.89",
     "fix": "learning rate 0.05",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-sgd",
          "buggy": "--optimizer sgd --lr 1e-4 --record-every 2",
          "fixed": "--optimizer sgd --lr 0.05 --record-every 2"},
     ]},
    {"family": "healthy-tabtrain", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a tabular MLP trained by a reusable train() function that trains well",
     "healthy": [
         {"id": "wine-adam-bs16-seed1",
          "args": "--data wine --batch-size 16 --seed 1 --record-every 2",
          "description": "wine, Adam 1e-3, Xavier weights, batches of 16"},
         {"id": "classification-momentum-clip-kaiming-seed2",
          "args": "--optimizer momentum --lr 0.01 --clip 1.0 --init kaiming --seed 2 --record-every 2",
          "description": "SGD momentum 0.01 with the gradient norm clipped at 1, Kaiming weights"},
         {"id": "classification-rmsprop-dropout-bs64-seed3",
          "args": "--optimizer rmsprop --hidden 128,64 --batch-size 64 --dropout 0.2 --seed 3 --record-every 2",
          "description": "RMSprop 1e-3, 128 and 64 units with dropout 0.2, batches of 64"},
         {"id": "wine-batchnorm-adamw-seed4",
          "args": "--data wine --scaling batchnorm --optimizer adamw --lr 3e-3 --seed 4 --record-every 2",
          "description": "raw wine features normalized by a first BatchNorm1d in training mode, AdamW 3e-3"},
         {"id": "classification-tanh-sgd-clip-seed5",
          "args": "--act tanh --optimizer sgd --lr 0.1 --clip 5 --hidden 32 --seed 5 --record-every 2",
          "description": "one tanh layer of 32 units, plain SGD 0.1, gradient norm clipped at 5"},
     ]},
]


if __name__ == "__main__":
    main()
