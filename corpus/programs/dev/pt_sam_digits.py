"""A small PyTorch CNN over scikit-learn's digits trained with Sharpness-Aware Minimization
(Foret et al. 2021), with the ``SAM`` optimizer wrapper as the popular PyTorch implementation
writes it around SGD with momentum.

Data: scikit-learn's digits (8x8, pixels 0..16) scaled to [0, 1] as 1x8x8 images, 20% of them
(stratified) to validate. The network (``DigitCNN``): ``conv1`` (1 -> 16, 3x3, padding 1) and
``conv2`` (16 -> 32, 3x3, padding 1), each with ReLU, a 2x2 max pool, ``fc1`` (512 -> 64, ReLU)
and ``fc2`` (10 logits), ``nn.CrossEntropyLoss``.

``SAM(params, torch.optim.SGD, rho=--rho, lr=--lr, momentum=0.9, weight_decay=5e-4)``: each
training step computes the loss and its gradient at the weights w, ``first_step`` adds
``e_w = rho * grad / ||grad||`` (the global L2 norm of all the gradients) to every weight, a
second forward and backward pass computes the gradient at the perturbed point w + e_w, and
``second_step`` puts the weights back to w and lets the base SGD step with that gradient. One
``rec.step`` per optimizer step (after ``second_step``); the training loss and accuracy are the
first pass's. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--rho``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np


class SAM(torch.optim.Optimizer):
    def __init__(self, params, base_optimizer, rho=0.05, restore=True, **kwargs):
        assert rho >= 0.0, f"Invalid rho, should be non-negative: {rho}"
        defaults = dict(rho=rho, **kwargs)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer(self.param_groups, **kwargs)
        self.param_groups = self.base_optimizer.param_groups
        self.defaults.update(self.base_optimizer.defaults)
        self.restore = restore

    @torch.no_grad()
    def first_step(self, zero_grad=False):
        grad_norm = self._grad_norm()
        for group in self.param_groups:
            scale = group["rho"] / (grad_norm + 1e-12)
            for p in group["params"]:
                if p.grad is None:
                    continue
                self.state[p]["old_p"] = p.data.clone()
                e_w = p.grad * scale.to(p)
                p.add_(e_w)  # climb to the local maximum "w + e(w)"
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad=False):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if self.restore:
                    p.data = self.state[p]["old_p"]  # get back to "w" from "w + e(w)"
                # BUG (no-restore): the line above left out: the base optimizer steps from
                # the perturbed point w + e(w), so every step also climbs rho along the
                # normalized gradient and the ascent is never undone.
        self.base_optimizer.step()  # do the actual "sharpness-aware" update
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def step(self, closure=None):
        raise NotImplementedError("SAM needs first_step and second_step")

    def _grad_norm(self):
        shared_device = self.param_groups[0]["params"][0].device
        norm = torch.norm(
            torch.stack([p.grad.norm(p=2).to(shared_device)
                         for group in self.param_groups for p in group["params"]
                         if p.grad is not None]),
            p=2)
        return norm


class DigitCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--rho", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("no-zero-grad", "no-restore"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    x_tr, x_val, y_tr, y_val = common.split(x, y.astype(np.int64), val=0.2, seed=args.seed)
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr)),
                        batch_size=args.batch_size, shuffle=True, generator=g)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = DigitCNN()
    optimizer = SAM(model.parameters(), torch.optim.SGD, rho=args.rho, lr=args.lr,
                    momentum=0.9, weight_decay=5e-4, restore=args.bug != "no-restore")
    criterion = nn.CrossEntropyLoss()

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): optimizer.zero_grad() left out of the loop (first_step and
            # second_step keep their default zero_grad=False): the second pass's gradient is
            # added to the first's, and every step's to all the earlier ones.
            # first forward-backward pass
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.first_step(zero_grad=args.bug != "no-zero-grad")
            # second forward-backward pass, at the perturbed weights
            criterion(model(xb), yb).backward()
            optimizer.second_step()

            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(xv)
                    val_loss = criterion(vl, yv).item()
                    val_acc = (vl.argmax(1) == yv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sam-no-restore", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong optimizer implementation (a hand-written SAM "
               "second_step that does not restore the unperturbed weights)",
     "bug": "second_step does not put the weights back to w before the base SGD step: every "
            "step keeps the ascent e(w) = rho g / ||g||, and the CNN stays at chance, loss 2.30 "
            "(ln 10), accuracy 0.107, validation 0.100, against the twin's 0.967",
     "fix": "p.data = self.state[p][\"old_p\"] for every parameter in second_step",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-momentum-rho005",
          "buggy": "--bug no-restore --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "sam-no-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / Humbatova et al. 2020: missing optimizer.zero_grad() (gradients "
               "accumulate across batches), here in a two-pass SAM loop",
     "bug": "no optimizer.zero_grad() in the loop and first_step() with its default "
            "zero_grad=False: the second pass's gradient adds to the first's and every step's "
            "to all the earlier ones; the training loss rises from 2.19 in the first epoch to "
            "237 in the 8th, accuracy 0.103 (validation 0.100, loss 259) against the twin's "
            "0.981",
     "fix": "optimizer.zero_grad() at the start of every step and first_step(zero_grad=True)",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-momentum-seed1",
          "buggy": "--bug no-zero-grad --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "sam-rho-too-large", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: suboptimal hyperparameter (SAM's neighbourhood size rho "
               "40 times the usual 0.05)",
     "bug": "rho 2.0 (meant 0.05): the second gradient is taken so far from w that it does not "
            "describe w; loss 2.31 (ln 10) to the end, accuracy 0.092, validation 0.100, "
            "against the twin's 0.981",
     "fix": "rho 0.05",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-momentum-seed2",
          "buggy": "--rho 2.0 --seed 2 --record-every 4",
          "fixed": "--rho 0.05 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-sam", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a small CNN over the digits trained well with SAM around SGD momentum",
     "healthy": [
         {"id": "rho01-bs32-seed3",
          "args": "--rho 0.1 --batch-size 32 --seed 3 --record-every 4",
          "description": "rho 0.1, batches of 32, SGD momentum 0.9 at 0.05"},
         {"id": "lr002-seed4",
          "args": "--lr 0.02 --seed 4 --record-every 4",
          "description": "rho 0.05, SGD momentum 0.9 at 0.02"},
     ]},
]


if __name__ == "__main__":
    main()
