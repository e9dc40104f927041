"""A fully connected network on a small tabular data set (PyTorch), configured from the command line.

The usual script: load the data, split off 20% for validation, scale, build an
``nn.Sequential`` MLP, train with mini-batches, evaluate once per epoch. Every buggy run of
the families in CASES is this script with one setting or one line wrong (``--bug``), and its
fixed twin is the same command with that one thing corrected.
"""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

def build_model(n_in, n_out, args, torch, nn):
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leaky": nn.LeakyReLU,
            "elu": nn.ELU, "gelu": nn.GELU}
    layers = OrderedDict()
    if args.input_bn:
        layers["bn0"] = nn.BatchNorm1d(n_in)
    width = n_in
    for i, h in enumerate(common.ints(args.hidden), start=1):
        layers["fc%d" % i] = nn.Linear(width, h)
        if args.bn:
            layers["bn%d" % i] = nn.BatchNorm1d(h)
        if args.act != "none":
            layers["act%d" % i] = acts[args.act]()
        if args.dropout > 0:
            layers["drop%d" % i] = nn.Dropout(args.dropout)
        width = h
    layers["out"] = nn.Linear(width, n_out)
    if args.out_act == "sigmoid":
        layers["out_act"] = nn.Sigmoid()
    elif args.out_act == "softmax":
        layers["out_act"] = nn.Softmax(dim=1)
    elif args.out_act == "relu":
        layers["out_act"] = nn.ReLU()
    elif args.out_act == "tanh":
        layers["out_act"] = nn.Tanh()
    model = nn.Sequential(layers)

    kind, _, value = args.init.partition(":")
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if kind == "zeros":
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
            elif kind == "normal":
                nn.init.normal_(m.weight, 0.0, float(value))
            elif kind == "constant":
                nn.init.constant_(m.weight, float(value))
            elif kind == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif kind == "xavier":
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
    if args.bias_init is not None:
        name, _, value = args.bias_init.partition(":")
        nn.init.constant_(getattr(model, name).bias, float(value))
    return model


def make_optimizer(params, args, torch):
    if args.opt == "sgd":
        return torch.optim.SGD(params, lr=args.lr, weight_decay=args.wd)
    if args.opt == "momentum":
        return torch.optim.SGD(params, lr=args.lr, momentum=0.9, weight_decay=args.wd)
    if args.opt == "nesterov":
        return torch.optim.SGD(params, lr=args.lr, momentum=0.9, nesterov=True,
                               weight_decay=args.wd)
    if args.opt == "adam":
        return torch.optim.Adam(params, lr=args.lr, weight_decay=args.wd)
    if args.opt == "adamw":
        return torch.optim.AdamW(params, lr=args.lr, weight_decay=args.wd)
    if args.opt == "rmsprop":
        return torch.optim.RMSprop(params, lr=args.lr, weight_decay=args.wd)
    if args.opt == "adagrad":
        return torch.optim.Adagrad(params, lr=args.lr, weight_decay=args.wd)
    raise SystemExit("unknown optimizer " + args.opt)


def make_schedule(opt, args, steps_per_epoch, torch):
    kind, _, value = args.schedule.partition(":")
    total = args.epochs * steps_per_epoch
    if kind == "none":
        return None
    if kind == "step":           # per epoch: lr x gamma every N epochs
        every, gamma = value.split(",")
        return torch.optim.lr_scheduler.StepLR(opt, step_size=int(every), gamma=float(gamma))
    if kind == "cosine":         # per batch, down to 0 at the end
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if kind == "warmup":         # per batch: linear warm-up over N steps, then constant
        warmup = int(value)
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
    if kind == "warmup-int":     # per batch: the same warm-up written with integer division
        warmup = int(value)
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, s // warmup))
    raise SystemExit("unknown schedule " + args.schedule)


def main():
    p = common.parser(__doc__)
    p.add_argument("--data", default="wine")
    p.add_argument("--scale", default="standard", choices=("standard", "none", "pixels", "pixels255"))
    p.add_argument("--target-scale", default="standard", choices=("standard", "none"))
    p.add_argument("--hidden", default="32,16")
    p.add_argument("--act", default="relu")
    p.add_argument("--out-act", default="none")
    p.add_argument("--outputs", type=int, default=None, help="output units (default: classes)")
    p.add_argument("--loss", default=None, help="ce, bce, mse, mae, nll (default: ce or mse)")
    p.add_argument("--labels", default="index", choices=("index", "one-based", "one-hot"))
    p.add_argument("--opt", default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wd", type=float, default=0.0)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--init", default="default")
    p.add_argument("--bias-init", default=None, help="LAYER:VALUE, e.g. fc2:-3")
    p.add_argument("--schedule", default="none")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--bn", action="store_true", help="BatchNorm1d after every hidden Linear")
    p.add_argument("--input-bn", action="store_true", help="BatchNorm1d on the raw inputs")
    p.add_argument("--clip", type=float, default=None)
    p.add_argument("--bug", default=None,
                   choices=("missing-zero-grad", "bn-eval", "target-shape", "shuffled-labels"))
    args = p.parse_args()

    torch = common.torch_setup(args.seed)
    from torch import nn

    x, y = common.load(args.data, seed=args.seed)
    regression = args.data in ("diabetes", "friedman", "regression")
    if args.bug == "shuffled-labels":
        # BUG: the labels are shuffled on their own, so they no longer belong to their rows.
        y = y[common.np.random.default_rng(args.seed).permutation(len(y))]
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if args.scale == "standard":
        x_tr, x_val = common.standardize(x_tr, x_val)
    elif args.scale == "pixels":
        x_tr, x_val = x_tr / 16.0, x_val / 16.0
    elif args.scale == "pixels255":  # the digits as 0..255 grey levels, as MNIST stores them
        x_tr, x_val = x_tr * (255.0 / 16.0), x_val * (255.0 / 16.0)
    if regression and args.target_scale == "standard":
        mu, sd = y_tr.mean(), y_tr.std()
        y_tr, y_val = (y_tr - mu) / sd, (y_val - mu) / sd

    classes = None if regression else int(max(y.max() + 1, 2))
    n_out = args.outputs or (1 if regression else classes)
    loss_kind = args.loss or ("mse" if regression else "ce")
    if args.labels == "one-based":
        # BUG (when set): labels kept as they come in the file, 1..K instead of 0..K-1.
        y_tr, y_val = y_tr + 1, y_val + 1

    X_tr = torch.tensor(x_tr, dtype=torch.float32)
    X_val = torch.tensor(x_val, dtype=torch.float32)
    if regression:
        Y_tr = torch.tensor(y_tr, dtype=torch.float32).reshape(-1, 1)
        Y_val = torch.tensor(y_val, dtype=torch.float32).reshape(-1, 1)
        if args.bug == "target-shape":
            # BUG: targets of shape (N,) against outputs of shape (N, 1): MSELoss broadcasts
            # them to (N, N) (with only a UserWarning), so every output is fit to every target.
            Y_tr, Y_val = Y_tr.reshape(-1), Y_val.reshape(-1)
    elif loss_kind in ("ce", "nll") and args.labels != "one-hot":
        Y_tr = torch.tensor(y_tr, dtype=torch.long)
        Y_val = torch.tensor(y_val, dtype=torch.long)
    elif n_out == 1:
        Y_tr = torch.tensor(y_tr, dtype=torch.float32).reshape(-1, 1)
        Y_val = torch.tensor(y_val, dtype=torch.float32).reshape(-1, 1)
    else:
        Y_tr = nn.functional.one_hot(torch.tensor(y_tr), n_out).float()
        Y_val = nn.functional.one_hot(torch.tensor(y_val), n_out).float()
    labels_val = torch.tensor(y_val)

    model = build_model(X_tr.shape[1], n_out, args, torch, nn)
    loss_fn = {"ce": nn.CrossEntropyLoss(), "bce": nn.BCELoss(),
               "bce_logits": nn.BCEWithLogitsLoss(), "mse": nn.MSELoss(), "mae": nn.L1Loss(),
               "nll": nn.NLLLoss()}[loss_kind]
    opt = make_optimizer(model.parameters(), args, torch)
    steps_per_epoch = (len(X_tr) + args.bs - 1) // args.bs
    sched = make_schedule(opt, args, steps_per_epoch, torch)
    per_batch = args.schedule.split(":")[0] in ("cosine", "warmup", "warmup-int")

    def accuracy(out, target):
        if regression:
            return None
        if out.shape[1] == 1:
            pred = (out > 0.5).long().reshape(-1) if args.out_act == "sigmoid" \
                else (out > 0).long().reshape(-1)
            if args.labels == "one-based":
                pred = pred + 1
        else:
            pred = out.argmax(1)
        labels = target.argmax(1) if target.dim() > 1 and target.shape[1] > 1 else target.reshape(-1)
        return (pred == labels.long()).float().mean()

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=opt, task="regression" if regression else "classification",
        loss_name=type(loss_fn).__name__, steps_per_epoch=steps_per_epoch, num_classes=classes,
        batch_size=args.bs)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        if args.bug == "bn-eval":
            # BUG: "freeze" the BatchNorm layers as in a fine-tuning recipe: they stay in
            # inference mode and normalize with their initial running statistics (0 and 1).
            for m in model.modules():
                if isinstance(m, nn.BatchNorm1d):
                    m.eval()
        order = torch.randperm(len(X_tr), generator=g)
        for b in range(steps_per_epoch):
            idx = order[b * args.bs:(b + 1) * args.bs]
            xb, yb = X_tr[idx], Y_tr[idx]
            if args.bug != "missing-zero-grad":
                opt.zero_grad()
            # BUG (missing-zero-grad): no opt.zero_grad(), gradients add up over the steps.
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            if args.clip:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            if sched is not None and per_batch:
                sched.step()
            acc = accuracy(out.detach(), yb)
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(X_val)
                    val_loss = float(loss_fn(vout, Y_val))
                    val_acc = None if regression else float(accuracy(vout, labels_val))
                model.train()
                if args.bug == "bn-eval":
                    for m in model.modules():
                        if isinstance(m, nn.BatchNorm1d):
                            m.eval()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), None if acc is None else acc.item())
        if sched is not None and not per_batch:
            sched.step()
        history.epoch(val_loss, val_acc)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "mlp-bce-multiclass", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong loss function; Humbatova et al. 2020: "
               "wrong loss function (binary cross-entropy for a multi-class label)",
     "bug": "one output unit and binary cross-entropy (with logits) on the class index 0..K-1 "
            "of a K-class problem: targets above 1 make the loss unbounded below, it goes "
            "negative and keeps falling while accuracy stays near chance",
     "fix": "K output units and CrossEntropyLoss on the class index",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"], "root_cause": "model",
     "pairs": [
         {"id": "blobs-adam",
          "buggy": "--data blobs --outputs 1 --loss bce_logits --opt adam --lr 0.01 --epochs 9",
          "fixed": "--data blobs --opt adam --lr 0.01 --epochs 9"},
     ]},
    {"family": "mlp-binary-labels-one-two", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: labels that do not match the output (binary classes "
               "labelled 1 and 2, as the classes of Stack Overflow 50306988)",
     "bug": "a binary task whose labels were kept as 1 and 2 (no LabelEncoder) under binary "
            "cross-entropy: the target 2 makes the loss negative and unbounded",
     "fix": "labels mapped to 0 and 1",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "moons-sgd",
          "buggy": "--data moons --labels one-based --outputs 1 --loss bce_logits --opt sgd "
                   "--lr 0.1 --epochs 9",
          "fixed": "--data moons --outputs 1 --loss bce_logits --opt sgd --lr 0.1 --epochs 9"},
     ]},
    {"family": "mlp-double-softmax", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (cross-entropy applied to an "
               "already softmaxed output: nn.Softmax before nn.CrossEntropyLoss)",
     "bug": "nn.Softmax as the last module and nn.CrossEntropyLoss, which applies "
            "log-softmax again: the loss cannot fall below a floor and its gradients are tiny",
     "fix": "the nn.Softmax module removed (CrossEntropyLoss on the logits)",
     "symptom": "loss_mismatch",
     "acceptable_symptoms": ["slow_convergence", "not_learning", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-sgd",
          "buggy": "--data digits --scale pixels --hidden 64 --out-act softmax --opt sgd "
                   "--lr 0.1 --epochs 4",
          "fixed": "--data digits --scale pixels --hidden 64 --opt sgd --lr 0.1 --epochs 4"},
     ]},
    {"family": "mlp-mse-softmax", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD fault type: loss function (MSE on a softmax output)",
     "bug": "mean squared error between softmax probabilities and one-hot labels with SGD: "
            "the gradients through the softmax are tiny and the loss barely moves",
     "fix": "CrossEntropyLoss on the logits (softmax removed)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-sgd",
          "buggy": "--data digits --scale pixels --hidden 32 --out-act softmax --loss mse "
                   "--labels one-hot --opt sgd --lr 0.1 --epochs 4",
          "fixed": "--data digits --scale pixels --hidden 32 --opt sgd --lr 0.1 --epochs 4"},
     ]},
    {"family": "mlp-unscaled-features", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing input normalization; DeepDiagnosis / UMLAUT: "
               "inputs not normalized",
     "bug": "raw tabular features (wine: proline up to 1680, magnesium up to 162) into a ReLU "
            "MLP trained with SGD: the first updates are huge, the hidden units die and the "
            "network predicts one class",
     "fix": "features standardized (mean 0, std 1, fitted on the training split)",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "wine-sgd",
          "buggy": "--data wine --scale none --opt momentum --lr 0.01 --bs 16 --epochs 11",
          "fixed": "--data wine --opt momentum --lr 0.01 --bs 16 --epochs 11"},
     ]},
    {"family": "mlp-no-activation", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (no non-linearity anywhere)",
     "bug": "Linear layers stacked without any activation on concentric circles: the network "
            "is a linear classifier and stays at chance",
     "fix": "ReLU after each hidden Linear layer",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "circles-adam",
          "buggy": "--data circles --act none --hidden 16,16 --lr 0.01 --epochs 8",
          "fixed": "--data circles --hidden 16,16 --lr 0.01 --epochs 8"},
     ]},
    {"family": "mlp-tanh-raw-features", "split": "dev", "architecture": "mlp",
     "origin": "DeepDiagnosis: saturated activation (a stack of tanh layers on raw features)",
     "bug": "three tanh layers on the raw breast-cancer features (areas up to 2500): every "
            "unit of the first layer is pinned at +-1, the gradients through it vanish",
     "fix": "features standardized",
     "symptom": "saturation",
     "acceptable_symptoms": ["vanishing_gradient", "not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "breast-cancer-momentum",
          "buggy": "--data breast_cancer --scale none --act tanh --hidden 32,32,32 "
                   "--opt momentum --lr 0.01 --bs 16 --epochs 6",
          "fixed": "--data breast_cancer --act tanh --hidden 32,32,32 --opt momentum "
                   "--lr 0.01 --bs 16 --epochs 6"},
     ]},
    {"family": "mlp-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "optimizer.zero_grad() missing from the loop: every step adds the new gradient to "
            "all previous ones, the gradient norms grow with the step count and the updates "
            "blow the loss up",
     "fix": "optimizer.zero_grad() before the forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--data digits --scale pixels --hidden 32 --opt momentum --lr 0.05 "
                   "--epochs 4 --bug missing-zero-grad",
          "fixed": "--data digits --scale pixels --hidden 32 --opt momentum --lr 0.05 --epochs 4"},
         {"id": "classification-sgd",
          "buggy": "--data classification --opt sgd --lr 0.1 --epochs 6 --bug missing-zero-grad",
          "fixed": "--data classification --opt sgd --lr 0.1 --epochs 6"},
     ]},
    {"family": "mlp-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "SGD with learning rate 5 on a ReLU MLP: the first updates throw the weights far "
            "away, the loss jumps and the network ends at chance",
     "fix": "learning rate 0.2",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "dead_or_zero",
                                                       "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-sgd",
          "buggy": "--data classification --opt sgd --lr 5 --epochs 6",
          "fixed": "--data classification --opt sgd --lr 0.2 --epochs 6"},
     ]},
    {"family": "mlp-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: slow convergence; DeepFD fault type: learning rate too low",
     "bug": "Adam with learning rate 1e-6: the loss barely moves in the whole run",
     "fix": "learning rate 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --opt adam --lr 1e-6 --epochs 6",
          "fixed": "--data classification --opt adam --lr 3e-3 --epochs 6"},
     ]},
    {"family": "mlp-warmup-integer-division", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a warm-up written with "
               "integer division, so the learning rate is 0)",
     "bug": "LambdaLR warm-up factor min(1, step // 400) instead of (step + 1) / 400: the "
            "factor is 0 for the whole 200-step run, the weights never change",
     "fix": "the warm-up factor min(1, (step + 1) / 400)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --opt adam --lr 0.01 --epochs 8 --schedule warmup-int:400",
          "fixed": "--data classification --opt adam --lr 0.01 --epochs 8 --schedule warmup:400"},
     ]},
    {"family": "mlp-zero-init", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD fault type: weight initialization (all weights and biases zero)",
     "bug": "every Linear layer initialized to zero: the hidden ReLU outputs are exactly 0, no "
            "gradient reaches the hidden weights, only the output bias learns the class prior",
     "fix": "PyTorch's default (Kaiming-uniform) initialization",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "unchanged_values", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "blobs-adam",
          "buggy": "--data blobs --init zeros --lr 3e-3 --epochs 6",
          "fixed": "--data blobs --lr 3e-3 --epochs 6"},
     ]},
    {"family": "mlp-init-too-large", "split": "dev", "architecture": "mlp",
     "origin": "DeepDiagnosis: improper weight initialization (too large), saturated tanh units",
     "bug": "weights drawn from N(0, 3) in a tanh MLP: the pre-activations are in the tens, "
            "the tanh units are saturated at +-1 and the loss starts near 10",
     "fix": "PyTorch's default initialization",
     "symptom": "saturation",
     "acceptable_symptoms": ["vanishing_gradient", "not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-sgd",
          "buggy": "--data classification --act tanh --init normal:3 --opt momentum --lr 0.01 "
                   "--epochs 6",
          "fixed": "--data classification --act tanh --opt momentum --lr 0.01 --epochs 6"},
     ]},
    {"family": "mlp-dying-relu-negative-bias", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "fc2's bias initialized to -3 (meant as a small positive constant): every fc2 ReLU "
            "unit outputs 0 for every input, no gradient flows through fc2",
     "fix": "fc2's default bias initialization",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "fc2", "layer_index": 1},
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --bias-init fc2:-3 --lr 3e-3 --epochs 6",
          "fixed": "--data classification --lr 3e-3 --epochs 6"},
     ]},
    {"family": "mlp-deep-sigmoid-vanishing", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: vanishing gradient (deep sigmoid network)",
     "bug": "six sigmoid hidden layers trained with SGD: the gradient shrinks by a factor of "
            "about 4 per layer, the first layers do not learn and the loss stays at ln 3",
     "fix": "ReLU hidden layers with He initialization",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-momentum",
          "buggy": "--data classification --act sigmoid --hidden 32,32,32,32,32,32 "
                   "--opt momentum --lr 0.02 --epochs 4",
          "fixed": "--data classification --act relu --init he --hidden 32,32,32,32,32,32 "
                   "--opt momentum --lr 0.02 --epochs 4"},
     ]},
    {"family": "mlp-huge-weight-decay", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: regularization too strong (weight decay dominates the loss)",
     "bug": "weight_decay=1.0: the decay pulls every weight to zero faster than the data "
            "gradient moves it, the network outputs the same for every input",
     "fix": "weight_decay=1e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --opt adam --wd 1.0 --lr 3e-3 --epochs 6",
          "fixed": "--data classification --opt adam --wd 1e-4 --lr 3e-3 --epochs 6"},
         {"id": "wine-momentum",
          "buggy": "--data wine --opt momentum --wd 1.0 --lr 0.05 --bs 8 --epochs 9",
          "fixed": "--data wine --opt momentum --wd 1e-4 --lr 0.05 --bs 8 --epochs 9"},
     ]},
    {"family": "mlp-bn-frozen-input", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: BatchNorm layer in inference mode during training",
     "bug": "a BatchNorm1d meant to normalize the raw features is put in eval mode every epoch "
            "(a 'freeze BatchNorm' recipe): it normalizes with its initial running statistics "
            "(0, 1), the raw features (up to 2500) pass through unscaled and SGD blows up",
     "fix": "the BatchNorm layer left in training mode",
     "symptom": "saturation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient"],
     "root_cause": {"layer_name": "bn0", "layer_index": 0},
     "pairs": [
         {"id": "breast-cancer-sgd",
          "buggy": "--data breast_cancer --scale none --input-bn --bug bn-eval --opt sgd "
                   "--lr 0.01 --bs 16 --epochs 6",
          "fixed": "--data breast_cancer --scale none --input-bn --opt sgd --lr 0.01 --bs 16 "
                   "--epochs 6"},
     ]},
    {"family": "mlp-sigmoid-output-regression", "split": "dev", "architecture": "regression",
     "origin": "Stack Overflow 48221692 (DeepLocalize benchmark), new port: Friedman #1 targets",
     "benchmark": "DeepLocalize SO 48221692",
     "bug": "a sigmoid on the output unit of a regression whose targets lie between 0 and 30: "
            "the output saturates at 1 and the loss stays near the targets' second moment",
     "fix": "a linear output unit",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "out", "layer_index": 2},
     "pairs": [
         {"id": "friedman-adam",
          "buggy": "--data friedman --target-scale none --out-act sigmoid --lr 0.01 --epochs 6",
          "fixed": "--data friedman --target-scale none --lr 0.01 --epochs 6"},
     ]},
    {"family": "mlp-tiny-batch-high-lr", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: oscillating loss (batch size 2 with a high learning rate)",
     "bug": "batches of 2 with SGD at learning rate 0.5: every step jumps, the loss swings "
            "up and down instead of falling",
     "fix": "learning rate 0.01",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "iris-sgd",
          "buggy": "--data iris --bs 2 --opt sgd --lr 0.5 --epochs 4",
          "fixed": "--data iris --bs 2 --opt sgd --lr 0.01 --epochs 4"},
     ]},
    {"family": "mlp-shuffled-labels", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong labels (labels shuffled apart from their inputs)",
     "bug": "the labels are permuted on their own before the split, so they no longer belong "
            "to their rows: nothing can be learned beyond memorizing the training rows, the "
            "validation accuracy stays at chance",
     "fix": "inputs and labels kept together",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "classification-adam",
          "buggy": "--data classification --bug shuffled-labels --lr 3e-3 --epochs 6 --seed 1",
          "fixed": "--data classification --lr 3e-3 --epochs 6 --seed 1"},
     ]},
    {"family": "mlp-regression-target-shape", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: wrong tensor shape (targets of shape (N,) against "
               "outputs of shape (N, 1), broadcast by MSELoss)",
     "bug": "MSELoss(output (N, 1), target (N,)) broadcasts to (N, N): every prediction is "
            "pulled to every target of the batch, the model learns the batch mean",
     "fix": "targets reshaped to (N, 1)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "diabetes-adam",
          "buggy": "--data diabetes --bug target-shape --lr 3e-3 --bs 16 --epochs 8",
          "fixed": "--data diabetes --lr 3e-3 --bs 16 --epochs 8"},
     ]},
    {"family": "healthy-mlp-tabular", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an MLP classifier that trains well",
     "healthy": [
         {"id": "iris-adam-bs8", "args": "--data iris --opt adam --lr 0.01 --bs 8 --epochs 15"},
         {"id": "iris-sgd-bs4", "args": "--data iris --opt sgd --lr 0.05 --bs 4 --epochs 8"},
         {"id": "iris-sgd-bs1", "args": "--data iris --hidden 8 --opt sgd --lr 0.01 --bs 1 --epochs 2",
          "description": "batch size 1: a very noisy loss"},
         {"id": "wine-rmsprop", "args": "--data wine --opt rmsprop --lr 0.003 --bs 8 --epochs 11"},
         {"id": "wine-adagrad-tanh", "args": "--data wine --act tanh --opt adagrad --lr 0.05 --bs 16 --epochs 19"},
         {"id": "breast-cancer-adamw-dropout",
          "args": "--data breast_cancer --opt adamw --lr 0.003 --wd 0.01 --dropout 0.3 --bs 16 --epochs 6"},
         {"id": "breast-cancer-sigmoid-bce",
          "args": "--data breast_cancer --outputs 1 --out-act sigmoid --loss bce --opt adam --lr 0.003 --epochs 11",
          "description": "a sigmoid output with BCELoss: confident (saturated) outputs once trained"},
         {"id": "digits-momentum-bn",
          "args": "--data digits --scale pixels --hidden 64,32 --bn --opt momentum --lr 0.05 --epochs 4"},
         {"id": "digits-nesterov-step",
          "args": "--data digits --scale pixels --hidden 64 --opt nesterov --lr 0.05 --schedule step:2,0.5 --epochs 4",
          "description": "step decay: the learning rate halves every 2 epochs"},
         {"id": "digits-sgd-cosine",
          "args": "--data digits --scale standard --hidden 64,32 --opt sgd --lr 0.1 --schedule cosine --epochs 4",
          "description": "cosine decay to 0 at the end of the run"},
         {"id": "classification-adam-warmup",
          "args": "--data classification --opt adam --lr 0.003 --schedule warmup:100 --epochs 8",
          "description": "a linear warm-up over the first 100 steps"},
         {"id": "blobs-leaky-he", "args": "--data blobs --act leaky --init he --opt momentum --lr 0.01 --epochs 6"},
         {"id": "moons-elu", "args": "--data moons --act elu --hidden 16,16 --opt adam --lr 0.01 --epochs 8"},
         {"id": "circles-gelu-seed1", "args": "--data circles --act gelu --hidden 16,16 --opt adam --lr 0.01 --epochs 8 --seed 1"},
         {"id": "imbalanced-adam",
          "args": "--data imbalanced --opt adam --lr 0.003 --epochs 6",
          "description": "class imbalance 9:1: accuracy is high from the start, the loss falls little"},
         {"id": "noisy-labels-adam",
          "args": "--data noisy --opt adam --lr 0.003 --epochs 8",
          "description": "25% of the labels flipped: the loss plateaus high, accuracy about 0.7"},
         {"id": "classification-sgd-high-lr",
          "args": "--data classification --opt sgd --lr 0.5 --epochs 4",
          "description": "an aggressive but stable learning rate: a jumpy loss that still falls"},
         {"id": "digits-logreg-long",
          "args": "--data digits --scale pixels --hidden '' --opt sgd --lr 0.05 --bs 32 --epochs 22",
          "description": "logistic regression (one Linear layer), 990 steps: a long healthy run"},
     ]},
    {"family": "healthy-mlp-regression", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "an MLP regression that trains well",
     "healthy": [
         {"id": "diabetes-adam", "args": "--data diabetes --opt adam --lr 0.003 --bs 16 --epochs 8"},
         {"id": "friedman-rmsprop", "args": "--data friedman --opt rmsprop --lr 0.001 --epochs 6"},
         {"id": "regression-momentum-tanh", "args": "--data regression --act tanh --opt momentum --lr 0.01 --epochs 8"},
         {"id": "friedman-adam-bs8", "args": "--data friedman --opt adam --lr 0.001 --bs 8 --epochs 2"},
     ]},
    {"family": "healthy-raw-pixels", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "the digits as scikit-learn ships them (grey levels 0..16) or as 0..255, fed without scaling, train as well as scaled ones: unnormalized inputs are not a fault on their own",
     "healthy": [
         {"id": "mlp-adam", "args": "--data digits --scale none"},
         {"id": "mlp-adam-h64-seed2", "args": "--data digits --scale none --hidden 64 --seed 2"},
         {"id": "mlp-momentum-seed1", "args": "--data digits --scale none --opt momentum --lr 0.01 --seed 1"},
     ]},
]


if __name__ == "__main__":
    main()
