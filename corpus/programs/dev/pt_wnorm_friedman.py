"""A PyTorch MLP regressor of make_friedman1 whose Linear layers are weight-normalized
(``torch.nn.utils.parametrizations.weight_norm``), trained with ``nn.L1Loss`` and Adam.

Data: ``make_friedman1`` (600 samples, 10 features in [0, 1] of which five matter, noise
0.5), the first 80% train, the rest validate. The features and the target are standardized
with the training part's statistics. The model (``WNormRegressor``, an ``nn.Module``): three
weight-normalized ``Linear`` layers ``fc1``, ``fc2`` (``--width`` units, an activation
``--act``) and ``out``. The training loop draws its own shuffled mini-batches from a
``torch.randperm`` each epoch and reports the validation mean absolute error once per epoch.
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.parametrizations import weight_norm  # noqa: E402

np = common.np

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "none": nn.Identity}


class WNormRegressor(nn.Module):
    def __init__(self, width, act):
        super().__init__()
        self.fc1 = weight_norm(nn.Linear(10, width))
        self.fc2 = weight_norm(nn.Linear(width, width))
        self.out = weight_norm(nn.Linear(width, 1))
        self.act = ACTIVATIONS[act]()

    def forward(self, x):
        return self.out(self.act(self.fc2(self.act(self.fc1(x))))).squeeze(1)


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--act", default="relu", choices=tuple(ACTIVATIONS))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--bug", default=None,
                   choices=("missing-zero-grad", "first-layer-frozen", "activation-none"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    from sklearn.datasets import make_friedman1
    x, y = make_friedman1(n_samples=args.n, noise=0.5, random_state=args.seed)
    cut = int(0.8 * args.n)
    x_mean, x_std = x[:cut].mean(0), x[:cut].std(0)
    y_mean, y_std = y[:cut].mean(), y[:cut].std()
    x = torch.tensor((x - x_mean) / x_std, dtype=torch.float32)
    y = torch.tensor((y - y_mean) / y_std, dtype=torch.float32)
    x_tr, y_tr, x_va, y_va = x[:cut], y[:cut], x[cut:], y[cut:]

    # BUG (activation-none): the activation is looked up from a config whose value is "none"
    # (the config key was misspelled, the default nn.Identity stays): no non-linearity at all.
    act = "none" if args.bug == "activation-none" else args.act
    model = WNormRegressor(args.width, act)
    if args.bug == "first-layer-frozen":
        # BUG: meant to freeze only the weight's direction for a warm-up that was dropped,
        # the whole first layer (magnitude, direction and bias) stays frozen for the run.
        for prm in model.fc1.parameters():
            prm.requires_grad_(False)
    optimizer = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=args.lr)
    criterion = nn.L1Loss()
    steps_per_epoch = (cut + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="L1Loss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        batches = torch.split(torch.randperm(cut, generator=g), args.batch_size)
        for b, idx in enumerate(batches):
            # BUG (missing-zero-grad): the zero_grad() call is missing, gradients add up.
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            loss = criterion(model(x_tr[idx]), y_tr[idx])
            loss.backward()
            optimizer.step()
            val_loss = None
            if b == len(batches) - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = criterion(model(x_va), y_va).item()
                model.train()
            rec.step(loss, inputs=x_tr[idx], targets=y_tr[idx], val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: train MAE %.4f val MAE %.4f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss))
    rec.close()
    common.report(history.result(layers=["fc1", "fc2", "out"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "wnfried-missing-zero-grad", "split": "dev", "architecture": "regression",
     "origin": "DeepDiagnosis / DeepFD fault type: missing optimizer.zero_grad() (gradients "
               "accumulated across steps); Humbatova et al. 2020: wrong optimizer usage",
     "bug": "optimizer.zero_grad() missing from the batch loop: the gradients of every step add "
            "up, Adam follows their running sum and the training MAE rises from 0.75 in the "
            "first epoch to 0.79 after 25 epochs (validation 0.90) while the twin reaches "
            "0.11 (validation 0.15), standardized target",
     "fix": "optimizer.zero_grad() at the start of every step",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug missing-zero-grad --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "wnfried-activation-none", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: missing activation function (DeepLocalize benchmark "
               "posts of a network without non-linearity)",
     "bug": "the activation is nn.Identity (a misspelled config key left the default): the "
            "three weight-normalized layers form one linear map, the training MAE stops at "
            "0.38 (validation 0.47) after 25 epochs against the ReLU twin's 0.16 (0.23)",
     "fix": "nn.ReLU between the layers",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug activation-none --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "wnfried-first-layer-frozen", "split": "dev", "architecture": "regression",
     "origin": "Humbatova et al. 2020: layer not trained by mistake (requires_grad_(False) on a "
               "layer that should train)",
     "bug": "every parameter of fc1 (weight_norm's magnitude and direction and the bias) has "
            "requires_grad False for the whole run: the first layer keeps its random weights, "
            "the training MAE ends at 0.31 (validation 0.38) against the twin's 0.14 (0.22)",
     "fix": "leave fc1 trainable",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": {"layer_name": "fc1", "layer_index": 0},
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug first-layer-frozen --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "wnfried-adam-lr-too-low", "split": "dev", "architecture": "regression",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 3e-3): in 25 epochs (batches of 64) the training MAE only "
            "goes from 0.84 to 0.83 (validation 0.80 to 0.78) against the twin's 0.15 (0.17), "
            "standardized target",
     "fix": "learning rate 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-bs64",
          "buggy": "--lr 1e-5 --batch-size 64 --record-every 4",
          "fixed": "--lr 3e-3 --batch-size 64 --record-every 4"},
     ]},
    {"family": "healthy-wnfried", "split": "dev", "architecture": "regression",
     "origin": "healthy run",
     "description": "a weight-normalized MLP regressor of make_friedman1 with L1 loss that trains well",
     "healthy": [
         {"id": "gelu-w48-seed1",
          "args": "--act gelu --width 48 --seed 1 --record-every 4",
          "description": "GELU, 48 units"},
         {"id": "w64-bs16-seed3",
          "args": "--width 64 --batch-size 16 --seed 3 --record-every 4",
          "description": "64 units, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
