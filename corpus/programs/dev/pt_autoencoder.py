"""A dense autoencoder on scikit-learn's 8x8 digits (PyTorch): 64 -> 32 -> 8 -> 32 -> 64.

Reconstruction of the pixels, trained with MSE or binary cross-entropy; the recorded run
uses the flattened images as both inputs and targets.
"""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--scale", default="pixels", choices=("pixels", "none", "standard"))
    p.add_argument("--act", default="relu")
    p.add_argument("--out-act", default="sigmoid", choices=("sigmoid", "none", "relu"))
    p.add_argument("--loss", default="mse", choices=("mse", "bce"))
    p.add_argument("--code", type=int, default=8)
    p.add_argument("--opt", default="adam")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--wd", type=float, default=0.0)
    args = p.parse_args()

    torch = common.torch_setup(args.seed)
    from torch import nn

    x, y = common.load("digits")
    if args.scale == "pixels":
        x = x / 16.0
    elif args.scale == "standard":
        x = (x - x.mean()) / x.std()
    x_tr, x_val, _, _ = common.split(x, y, seed=args.seed)

    act = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "sigmoid": nn.Sigmoid}[args.act]
    out_act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "none": None}[args.out_act]
    layers = OrderedDict([
        ("enc1", nn.Linear(64, 32)), ("enc1_act", act()),
        ("enc2", nn.Linear(32, args.code)), ("enc2_act", act()),
        ("dec1", nn.Linear(args.code, 32)), ("dec1_act", act()),
        ("dec2", nn.Linear(32, 64))])
    if out_act:
        layers["dec2_act"] = out_act()
    model = nn.Sequential(layers)

    X_tr = torch.tensor(x_tr, dtype=torch.float32)
    X_val = torch.tensor(x_val, dtype=torch.float32)
    loss_fn = nn.MSELoss() if args.loss == "mse" else nn.BCELoss()
    opt = {"sgd": lambda: torch.optim.SGD(model.parameters(), lr=args.lr, weight_decay=args.wd),
           "momentum": lambda: torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                               weight_decay=args.wd),
           "adam": lambda: torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=args.wd),
           "rmsprop": lambda: torch.optim.RMSprop(model.parameters(), lr=args.lr,
                                                  weight_decay=args.wd)}[args.opt]()
    steps_per_epoch = (len(X_tr) + args.bs - 1) // args.bs
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=opt, task="regression", loss_name=type(loss_fn).__name__,
        steps_per_epoch=steps_per_epoch, batch_size=args.bs)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(X_tr), generator=g)
        for b in range(steps_per_epoch):
            xb = X_tr[order[b * args.bs:(b + 1) * args.bs]]
            opt.zero_grad()
            loss = loss_fn(model(xb), xb)
            loss.backward()
            opt.step()
            val_loss = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(model(X_val), X_val))
                model.train()
            rec.step(loss, inputs=xb, targets=xb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "autoencoder-unscaled-pixels", "split": "dev", "architecture": "autoencoder",
     "origin": "Humbatova et al. 2020: missing input normalization (reconstruction targets "
               "outside the output activation's range)",
     "bug": "the digits' pixels kept as 0..16 while the decoder ends in a sigmoid (0..1): the "
            "output saturates at 1 and the MSE stays near 50",
     "fix": "pixels divided by 16",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-adam", "buggy": "--scale none", "fixed": "--scale pixels"},
     ]},
    {"family": "healthy-autoencoder-digits", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a dense autoencoder that trains well",
     "healthy": [
         {"id": "adam-mse-seed1", "args": "--lr 0.005 --seed 1"},
         {"id": "adam-bce", "args": "--loss bce"},
         {"id": "rmsprop-tanh", "args": "--act tanh --opt rmsprop --lr 0.003"},
         {"id": "elu-code4-bs16", "args": "--code 4 --act elu --bs 16 --epochs 2"},
         {"id": "standardized-linear-out", "args": "--scale standard --out-act none --lr 0.002"},
     ]},
    {"family": "autoencoder-tanh-raw-pixels", "split": "dev", "architecture": "autoencoder",
     "origin": "DeepDiagnosis: saturated activation (a stack of tanh layers on raw inputs); "
               "Humbatova et al. 2020: missing input normalization",
     "bug": "the digits' raw pixels (0..16) into a tanh autoencoder with a linear output: "
            "the encoder's tanh units are pinned at +-1, the gradients through them vanish and "
            "the reconstruction stays at the mean image",
     "fix": "pixels standardized",
     "symptom": "saturation",
     "acceptable_symptoms": ["vanishing_gradient", "not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "digits-adam",
          "buggy": "--scale none --act tanh --out-act none",
          "fixed": "--scale standard --act tanh --out-act none"},
     ]},
    {"family": "healthy-autoencoder-variants", "split": "dev", "architecture": "autoencoder",
     "origin": "healthy run",
     "description": "a dense autoencoder that trains well",
     "healthy": [
         {"id": "elu-adam-bs16-seed2", "args": "--act elu --opt adam --lr 0.005 --bs 16 --epochs 3 --seed 2"},
     ]},
]


if __name__ == "__main__":
    main()
