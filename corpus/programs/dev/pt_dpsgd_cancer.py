"""Differentially private training written by hand (DP-SGD as Opacus does it, without Opacus):
a small PyTorch MLP classifies scikit-learn's breast cancer set.

Per batch, the per-sample gradients come from ``torch.func``: ``functional_call`` of the model
with its parameters as a dict, ``vmap(grad(loss_of_one_sample))`` over the batch. Each sample's
gradient is clipped to a total norm of ``--max-norm`` (all parameters together), the clipped
gradients are summed, Gaussian noise of standard deviation ``--noise * --max-norm`` is added to
the sum, the result divided by the batch size is written into ``p.grad`` and
``torch.optim.SGD`` steps (``--momentum``). The loss and accuracy shown are those of an
ordinary forward pass of the batch (``model(xb)``) taken before the private step. The 30
features are standardized with the training part's mean and standard deviation (80/20 split).

The model (``Classifier``): ``fc1`` (30 -> ``--hidden``), ReLU, ``fc2`` (-> ``--hidden`` / 2),
ReLU, ``out`` (-> 1 logit), ``BCEWithLogitsLoss``. The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.func import functional_call, grad, vmap  # noqa: E402

np = common.np


class Classifier(nn.Module):
    def __init__(self, hidden, sigmoid_out=False):
        super().__init__()
        self.fc1 = nn.Linear(30, hidden)
        self.fc2 = nn.Linear(hidden, hidden // 2)
        self.out = nn.Linear(hidden // 2, 1)
        self.sigmoid_out = sigmoid_out

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        x = self.out(x)
        # BUG (sigmoid-then-logits-loss): a sigmoid at the end, kept from an inference script,
        # while the loss is BCEWithLogitsLoss, which applies its own sigmoid.
        return torch.sigmoid(x) if self.sigmoid_out else x


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.5)
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--max-norm", type=float, default=1.0)
    p.add_argument("--noise", type=float, default=0.8, help="noise multiplier")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("raw-features", "sigmoid-then-logits-loss", "grad-accumulates"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("breast_cancer")
    xtr, xva, ytr, yva = common.split(x, y, seed=args.seed)
    if args.bug != "raw-features":
        xtr, xva = common.standardize(xtr, xva)
    # BUG (raw-features): the features go in their own units (areas up to 2500, smoothness
    # about 0.1): the StandardScaler step was left out.
    xtr, xva = (torch.tensor(a, dtype=torch.float32) for a in (xtr, xva))
    ytr, yva = (torch.tensor(a, dtype=torch.float32).unsqueeze(1) for a in (ytr, yva))

    model = Classifier(args.hidden, sigmoid_out=args.bug == "sigmoid-then-logits-loss")
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    criterion = nn.BCEWithLogitsLoss()

    def sample_loss(params, buffers, xi, yi):
        out = functional_call(model, (params, buffers), (xi.unsqueeze(0),))
        return criterion(out, yi.unsqueeze(0))

    per_sample_grads = vmap(grad(sample_loss), in_dims=(None, None, 0, 0))

    n = len(xtr)
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    gen = torch.Generator().manual_seed(args.seed)
    noise_gen = torch.Generator().manual_seed(1000 + args.seed)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", num_classes=2, loss_name="BCEWithLogitsLoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(n, generator=gen)
        for b in range(steps_per_epoch):
            idx = order[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = xtr[idx], ytr[idx]
            out = model(xb)
            loss = criterion(out, yb)
            with torch.no_grad():
                prob = out if args.bug == "sigmoid-then-logits-loss" else torch.sigmoid(out)
                acc = ((prob > 0.5).float() == yb).float().mean().item()

            params = {k: v.detach() for k, v in model.named_parameters()}
            buffers = {k: v.detach() for k, v in model.named_buffers()}
            grads = per_sample_grads(params, buffers, xb, yb)
            norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in grads.values()))
            factor = (args.max_norm / (norms + 1e-6)).clamp(max=1.0)
            if args.bug != "grad-accumulates":
                optimizer.zero_grad()
            for name, p_ in model.named_parameters():
                g = grads[name]
                clipped = (g * factor.view(-1, *([1] * (g.dim() - 1)))).sum(0)
                noise = torch.normal(0.0, args.noise * args.max_norm, size=clipped.shape,
                                     generator=noise_gen)
                private = (clipped + noise) / len(xb)
                # BUG (grad-accumulates): no optimizer.zero_grad(): the private gradient is
                # added to the one left from the previous step, as backward() would do.
                if p_.grad is None:
                    p_.grad = private
                else:
                    p_.grad += private
            optimizer.step()

            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vo = model(xva)
                    val_loss = criterion(vo, yva).item()
                    vp = vo if args.bug == "sigmoid-then-logits-loss" else torch.sigmoid(vo)
                    val_acc = ((vp > 0.5).float() == yva).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f val_acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(layers=["fc1", "fc2", "out"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "dpsgdbc-raw-features", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow: a network on unscaled tabular features "
               "does not learn); Humbatova et al. 2020: missing input normalization",
     "bug": "the StandardScaler step left out: the 30 features go in their own units (areas up "
            "to 2500); under per-sample clipping at 1.0 the private steps cannot undo the huge "
            "logits: after 8 epochs the training loss is 8.18 (first epoch 5.98), accuracy 0.65, "
            "validation loss 14.9 and accuracy 0.63 (the majority class), against the twin's "
            "0.09 and 0.96",
     "fix": "standardize the features with the training part's mean and standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-lr0.5-seed1",
          "buggy": "--bug raw-features --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "dpsgdbc-sigmoid-then-logits-loss", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow: sigmoid output with a from-logits loss); "
               "Humbatova et al. 2020: wrong loss function for the output",
     "bug": "the model ends in torch.sigmoid and the loss is BCEWithLogitsLoss, which applies "
            "another sigmoid: the loss can only fall to about 0.47 (0.66 at the start) while the "
            "accuracy reaches 0.97; the twin's loss is 0.09",
     "fix": "return the logit and keep BCEWithLogitsLoss",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-lr0.5",
          "buggy": "--bug sigmoid-then-logits-loss --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "dpsgdbc-grad-accumulates", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad(); DeepFD fault type: "
               "wrong gradient update",
     "bug": "no optimizer.zero_grad() before the private gradient is added into p.grad: the "
            "clipped, noised gradients of all earlier steps accumulate, with SGD momentum 0.9 "
            "the weights run away and the training loss ends at 27718 (first epoch 0.59), "
            "validation loss 50677, against the twin's 0.14",
     "fix": "optimizer.zero_grad() before writing the private gradient",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-lr0.1",
          "buggy": "--bug grad-accumulates --momentum 0.9 --lr 0.1 --record-every 4",
          "fixed": "--momentum 0.9 --lr 0.1 --record-every 4"},
     ]},
    {"family": "dpsgdbc-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER: oscillating loss; DeepFD fault type: learning rate too high",
     "bug": "SGD at 50 (meant 0.5), batches of 64: each private step moves the weights far, "
            "the loss jumps from 30 in the first epoch to 1991 in the eighth, validation loss "
            "4750 and accuracy 0.88, against the twin's 0.07 and 0.97",
     "fix": "learning rate 0.5",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient", "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-bs64-seed2",
          "buggy": "--lr 50 --batch-size 64 --seed 2 --record-every 4",
          "fixed": "--lr 0.5 --batch-size 64 --seed 2 --record-every 4"},
     ]},
    {"family": "dpsgdbc-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "SGD at 1e-3 (meant 0.5): in 8 epochs the training loss moves only from 0.712 to "
            "0.708, accuracy 0.32, validation accuracy 0.33, against the twin's 0.96",
     "fix": "learning rate 0.5",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--lr 1e-3 --record-every 4",
          "fixed": "--lr 0.5 --record-every 4"},
     ]},
    {"family": "healthy-dpsgdbc", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a breast cancer MLP trained by hand-written DP-SGD that trains well",
     "healthy": [
         {"id": "momentum-h48-seed1",
          "args": "--momentum 0.9 --lr 0.1 --hidden 48 --seed 1 --record-every 4",
          "description": "SGD momentum 0.9 at 0.1, 48 hidden units"},
         {"id": "h64-bs64-lr1-seed2",
          "args": "--hidden 64 --batch-size 64 --lr 1.0 --seed 2 --record-every 4",
          "description": "64 hidden units, batches of 64, SGD at 1.0"},
         {"id": "noise1.2-lr0.3-seed3",
          "args": "--noise 1.2 --lr 0.3 --seed 3 --record-every 4",
          "description": "noise multiplier 1.2, SGD at 0.3"},
     ]},
]


if __name__ == "__main__":
    main()
