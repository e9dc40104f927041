"""A small convolutional network on scikit-learn's 8x8 digits (PyTorch), configured from the command line.

conv(1->8) - ReLU - maxpool - conv(8->16) - ReLU - maxpool - flatten - fc(64->32) - ReLU -
fc(32->10), optionally with BatchNorm and dropout. ``--finetune`` is the transfer-learning
variant: the network is first trained (not recorded) on the digits 0-4, then its last layer
is replaced by a fresh head and the run that is recorded fine-tunes it on the digits 5-9
with the convolutional layers frozen.
"""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def build(args, nn, classes):
    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": None}[args.act]
    layers = OrderedDict()
    if args.input_bn:
        # a BatchNorm2d on the raw pixels, meant to normalize them
        layers["bn0"] = nn.BatchNorm2d(1)
    layers["conv1"] = nn.Conv2d(1, 8, 3, padding=1)
    if args.bn:
        layers["bn1"] = nn.BatchNorm2d(8)
    if act:
        layers["act1"] = act()
    for i in range(1, args.depth + 1):
        # --depth: more 3x3 convolutions (8 -> 8 channels) at full resolution
        layers["conv1_%d" % i] = nn.Conv2d(8, 8, 3, padding=1)
        if act:
            layers["act1_%d" % i] = act()
    layers["pool1"] = nn.MaxPool2d(2)
    layers["conv2"] = nn.Conv2d(8, 16, 3, padding=1)
    if args.bn:
        layers["bn2"] = nn.BatchNorm2d(16)
    if act:
        layers["act2"] = act()
    layers["pool2"] = nn.MaxPool2d(2)
    layers["flatten"] = nn.Flatten()
    layers["fc1"] = nn.Linear(16 * 2 * 2, 32)
    if act:
        layers["act3"] = act()
    if args.dropout:
        layers["drop"] = nn.Dropout(args.dropout)
    layers["fc2"] = nn.Linear(32, classes)
    if args.out_act == "softmax":
        layers["softmax"] = nn.Softmax(dim=1)
    model = nn.Sequential(layers)
    kind, _, value = args.init.partition(":")
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if kind == "zeros":
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
            elif kind == "normal":
                nn.init.normal_(m.weight, 0.0, float(value))
            elif kind == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    if args.bias_init:
        name, _, value = args.bias_init.partition(":")
        nn.init.constant_(getattr(model, name).bias, float(value))
    return model


def optimizer(params, args, torch):
    kw = {"lr": args.lr, "weight_decay": args.wd}
    return {"sgd": lambda: torch.optim.SGD(params, **kw),
            "momentum": lambda: torch.optim.SGD(params, momentum=0.9, **kw),
            "adam": lambda: torch.optim.Adam(params, **kw),
            "adamw": lambda: torch.optim.AdamW(params, **kw),
            "rmsprop": lambda: torch.optim.RMSprop(params, **kw)}[args.opt]()


def main():
    p = common.parser(__doc__)
    p.add_argument("--scale", default="pixels", choices=("pixels", "pixels255", "standard"))
    p.add_argument("--act", default="relu")
    p.add_argument("--out-act", default="none")
    p.add_argument("--loss", default="ce", choices=("ce", "mse", "bce_logits"))
    p.add_argument("--outputs", type=int, default=10)
    p.add_argument("--opt", default="adam")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wd", type=float, default=0.0)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--bn", action="store_true")
    p.add_argument("--input-bn", action="store_true",
                   help="a BatchNorm2d on the raw pixels (bn0), before conv1")
    p.add_argument("--depth", type=int, default=0,
                   help="extra 3x3 convolutions (8 channels) after conv1")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--init", default="default")
    p.add_argument("--bias-init", default=None)
    p.add_argument("--schedule", default="none", help="none, step:EVERY,GAMMA, cosine")
    p.add_argument("--finetune", action="store_true")
    p.add_argument("--bug", default=None,
                   choices=("head-frozen", "head-not-in-optimizer", "missing-zero-grad",
                            "bn0-eval"))
    p.add_argument("--pretrain-epochs", type=int, default=15)
    args = p.parse_args()

    torch = common.torch_setup(args.seed)
    from torch import nn

    x, y = common.load("digits")
    x = x.reshape(-1, 1, 8, 8)
    if args.scale == "pixels":
        x = x / 16.0
    elif args.scale == "pixels255":
        x = x * (255.0 / 16.0)
    else:
        x = (x - x.mean()) / x.std()
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)

    if args.finetune:
        # Pre-training on the digits 0-4 (not recorded), then a new head for 5-9.
        model = build(args, nn, 5)
        pre = y_tr < 5
        X_pre = torch.tensor(x_tr[pre], dtype=torch.float32)
        Y_pre = torch.tensor(y_tr[pre])
        pre_opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(args.seed + 1)
        for _ in range(args.pretrain_epochs):
            order = torch.randperm(len(X_pre), generator=g)
            for b in range(0, len(X_pre), 32):
                idx = order[b:b + 32]
                pre_opt.zero_grad()
                nn.functional.cross_entropy(model(X_pre[idx]), Y_pre[idx]).backward()
                pre_opt.step()
        keep_tr, keep_val = y_tr >= 5, y_val >= 5
        x_tr, y_tr = x_tr[keep_tr], y_tr[keep_tr] - 5
        x_val, y_val = x_val[keep_val], y_val[keep_val] - 5
        classes = 5
        if args.bug == "head-not-in-optimizer":
            # BUG: the optimizer is created before the head is replaced, so it holds the old
            # head's parameters; the new head gets gradients but is never updated.
            for param in model.parameters():
                param.requires_grad = False
            params = [q for q in model.parameters()]
            model.fc2 = nn.Linear(32, classes)
        elif args.bug == "head-frozen":
            model.fc2 = nn.Linear(32, classes)
            # BUG: "freeze everything but the last layer" by position: [:-1] stops one
            # tensor short, so the new head's weight is frozen too (only its bias trains).
            for param in list(model.parameters())[:-1]:
                param.requires_grad = False
            params = [q for q in model.parameters() if q.requires_grad]
        else:
            model.fc2 = nn.Linear(32, classes)
            for param in list(model.parameters())[:-2]:
                param.requires_grad = False
            params = [q for q in model.parameters() if q.requires_grad]
    else:
        classes = args.outputs
        model = build(args, nn, classes)
        params = model.parameters()

    X_tr = torch.tensor(x_tr, dtype=torch.float32)
    X_val = torch.tensor(x_val, dtype=torch.float32)
    if args.loss == "ce":
        Y_tr, Y_val = torch.tensor(y_tr), torch.tensor(y_val)
        loss_fn = nn.CrossEntropyLoss()
    elif args.loss == "mse":
        Y_tr = nn.functional.one_hot(torch.tensor(y_tr), classes).float()
        Y_val = nn.functional.one_hot(torch.tensor(y_val), classes).float()
        loss_fn = nn.MSELoss()
    else:
        # one output unit and the class index as a float target
        Y_tr = torch.tensor(y_tr, dtype=torch.float32).reshape(-1, 1)
        Y_val = torch.tensor(y_val, dtype=torch.float32).reshape(-1, 1)
        loss_fn = nn.BCEWithLogitsLoss()
    labels_val = torch.tensor(y_val)

    opt = optimizer(params, args, torch)
    steps_per_epoch = (len(X_tr) + args.bs - 1) // args.bs
    kind, _, value = args.schedule.partition(":")
    sched = None
    if kind == "step":
        every, gamma = value.split(",")
        sched = torch.optim.lr_scheduler.StepLR(opt, int(every), float(gamma))
    elif kind == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs)

    def predict(out):
        if out.shape[1] == 1:
            return out.reshape(-1).round().clamp(0, 9).long()
        return out.argmax(1)

    def target_labels(t):
        return t.argmax(1) if t.dim() > 1 and t.shape[1] > 1 else t.reshape(-1).long()

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=opt, task="classification", loss_name=type(loss_fn).__name__,
        steps_per_epoch=steps_per_epoch, num_classes=max(classes, 2) if args.outputs > 1 else 10,
        batch_size=args.bs)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        if args.bug == "bn0-eval":
            # BUG: a "freeze BatchNorm statistics" recipe applied to the input BatchNorm: in
            # eval mode it normalizes with its initial running statistics (mean 0, variance
            # 1), which never update, so the raw pixels pass through unscaled.
            model.bn0.eval()
        order = torch.randperm(len(X_tr), generator=g)
        for b in range(steps_per_epoch):
            idx = order[b * args.bs:(b + 1) * args.bs]
            xb, yb = X_tr[idx], Y_tr[idx]
            if args.bug != "missing-zero-grad":
                opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            opt.step()
            acc = (predict(out.detach()) == target_labels(yb)).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(X_val)
                    val_loss = float(loss_fn(vout, Y_val))
                    val_acc = float((predict(vout) == labels_val).float().mean())
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        if sched is not None:
            sched.step()
        history.epoch(val_loss, val_acc)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cnn-mse-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD fault type: loss function (MSE on a softmax output)",
     "bug": "nn.Softmax after the last layer and MSELoss against one-hot labels: the loss "
            "starts at 0.09 and hardly moves, the accuracy stays at chance",
     "fix": "CrossEntropyLoss on the logits (the softmax removed)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--out-act softmax --loss mse --opt momentum --lr 0.05 --epochs 4",
          "fixed": "--opt momentum --lr 0.05 --epochs 4"},
     ]},
    {"family": "cnn-finetune-frozen-head", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: a layer frozen by mistake / parameters not given to "
               "the optimizer (transfer learning)",
     "bug": "fine-tuning a pre-trained CNN on new classes with a new head fc2, but the head "
            "never trains",
     "fix": "only the pre-trained layers frozen; the new head trained",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "fc2", "layer_index": 3},
     "pairs": [
         {"id": "freeze-by-position",
          "bug": "the layers are frozen with `for p in list(model.parameters())[:-1]`, one "
                 "tensor short of the intended [:-2]: the new head's weight is frozen too, "
                 "only its bias trains",
          "buggy": "--finetune --lr 0.01 --epochs 6 --bug head-frozen",
          "fixed": "--finetune --lr 0.01 --epochs 6"},
         {"id": "optimizer-before-new-head-momentum",
          "bug": "the optimizer is created before the head is replaced, so it holds the old "
                 "head's parameters: the new head gets gradients but is never updated",
          "buggy": "--finetune --opt momentum --lr 0.05 --epochs 6 --bug head-not-in-optimizer",
          "fixed": "--finetune --opt momentum --lr 0.05 --epochs 6"},
     ]},
    {"family": "cnn-raw-pixels", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing input normalization (0-255 pixels); Stack "
               "Overflow 55328966 (DeepLocalize benchmark) had the same bug in an MLP",
     "bug": "pixels fed as 0..255 grey levels instead of 0..1: the first losses are huge and "
            "SGD with momentum leaves most ReLU units dead",
     "fix": "pixels divided by their maximum (0..1)",
     "symptom": "saturation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--scale pixels255 --opt momentum --lr 0.02 --epochs 6",
          "fixed": "--scale pixels --opt momentum --lr 0.02 --epochs 6"},
     ]},
    {"family": "healthy-cnn-digits", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a CNN on the 8x8 digits that trains well",
     "healthy": [
         {"id": "adam", "args": "--lr 0.003 --epochs 4"},
         {"id": "momentum-seed1", "args": "--opt momentum --lr 0.03 --epochs 4 --seed 1"},
         {"id": "bn-sgd", "args": "--bn --opt sgd --lr 0.1 --epochs 4"},
         {"id": "dropout-rmsprop", "args": "--dropout 0.3 --opt rmsprop --lr 0.001 --epochs 5"},
         {"id": "momentum-step", "args": "--opt momentum --lr 0.05 --schedule step:2,0.3 --epochs 5",
          "description": "step decay x0.3 every 2 epochs"},
         {"id": "tanh-adam", "args": "--act tanh --lr 0.003 --epochs 4"},
         {"id": "adam-bs8", "args": "--lr 0.001 --bs 8 --epochs 2", "description": "batch size 8"},
         {"id": "adamw-cosine", "args": "--opt adamw --lr 0.003 --wd 0.05 --schedule cosine --epochs 5"},
         {"id": "finetune-rmsprop", "args": "--finetune --opt rmsprop --lr 0.003 --epochs 6",
          "description": "fine-tuning with the pre-trained convolutional layers frozen on purpose"},
     ]},
    {"family": "cnn-deep-relu-large-init", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: exploding gradient; DeepFD fault type: weight initialization "
               "(too large for a deep ReLU network)",
     "bug": "every convolution and Linear weight drawn from N(0, 1) in a CNN with seven ReLU "
            "layers (four extra 3x3 convolutions after conv1): each layer multiplies the "
            "activations by about 8, the first loss and gradients are enormous and the run "
            "overflows",
     "fix": "He (Kaiming-normal) initialization",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["numerical_error", "dead_or_zero", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--depth 4 --init normal:1 --opt momentum --lr 0.01 --epochs 4",
          "fixed": "--depth 4 --init he --opt momentum --lr 0.01 --epochs 4"},
     ]},
    {"family": "cnn-deep-sigmoid-vanishing", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: vanishing gradient (deep sigmoid network), in a CNN",
     "bug": "seven sigmoid layers (four extra 3x3 convolutions after conv1) trained with SGD "
            "and momentum: the gradient shrinks at every sigmoid on the way back, the first "
            "layers do not learn and the loss stays at ln 10",
     "fix": "ReLU layers with He initialization",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--depth 4 --act sigmoid --opt momentum --lr 0.02 --epochs 4",
          "fixed": "--depth 4 --act relu --init he --opt momentum --lr 0.02 --epochs 4"},
     ]},
    {"family": "cnn-dying-relu-negative-bias", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: dying ReLU (a layer's bias initialized to a large negative value)",
     "bug": "conv2's bias initialized to -3 (meant as a small positive constant): every conv2 "
            "ReLU unit outputs 0 for every input, no gradient flows through conv2 and the "
            "classifier sees only zeros",
     "fix": "conv2's default bias initialization",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient", "unchanged_values"],
     "root_cause": {"layer_name": "conv2", "layer_index": 1},
     "pairs": [
         {"id": "digits-adam",
          "buggy": "--bias-init conv2:-3 --lr 2e-3 --epochs 5",
          "fixed": "--lr 2e-3 --epochs 5"},
     ]},
    {"family": "cnn-input-bn-frozen", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: BatchNorm layer in inference mode during training",
     "bug": "a BatchNorm2d (bn0) meant to normalize the raw 0..255 pixels is put in eval mode "
            "every epoch (a 'freeze BatchNorm' recipe): it normalizes with its initial running "
            "statistics (0, 1), which never update, the raw pixels pass through unscaled and "
            "SGD with momentum overflows",
     "fix": "the BatchNorm layer left in training mode",
     "symptom": "numerical_error",
     "acceptable_symptoms": ["saturation", "exploding_gradient", "not_learning"],
     "root_cause": {"layer_name": "bn0", "layer_index": 0},
     "pairs": [
         {"id": "digits-momentum",
          "buggy": "--input-bn --scale pixels255 --bug bn0-eval --opt momentum --lr 0.02 --epochs 5",
          "fixed": "--input-bn --scale pixels255 --opt momentum --lr 0.02 --epochs 5"},
     ]},
    {"family": "healthy-cnn-variants", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a deeper or differently configured CNN on the 8x8 digits that trains well",
     "healthy": [
         {"id": "deep-he-sgd-bs16-seed2",
          "args": "--depth 4 --init he --opt sgd --lr 0.05 --bs 16 --epochs 3 --seed 2",
          "description": "seven ReLU layers with He initialization, plain SGD, batch size 16"},
         {"id": "depth2-tanh-rmsprop-seed1",
          "args": "--depth 2 --act tanh --opt rmsprop --lr 0.002 --epochs 4 --seed 1"},
     ]},
    {"family": "healthy-raw-pixels", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "the digits as scikit-learn ships them (grey levels 0..16) or as 0..255, fed without scaling into a convolution followed by BatchNorm, train as well as scaled ones: unnormalized inputs are not a fault on their own",
     "healthy": [
         {"id": "cnn-255-bn-adam", "args": "--scale pixels255 --bn"},
         {"id": "cnn-255-bn-momentum-seed1", "args": "--scale pixels255 --bn --opt momentum --lr 0.02 --seed 1"},
     ]},
]


if __name__ == "__main__":
    main()
