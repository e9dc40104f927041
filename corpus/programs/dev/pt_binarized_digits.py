"""A binarized-weight MLP (BinaryConnect style) on scikit-learn's 8x8 digits, its weights
binarized by a hand-written ``torch.autograd.Function``: the sign in the forward pass, a
straight-through estimator in the backward pass (the gradient passed through where the
latent weight lies in [-1, 1], zero outside).

The digits (1797 images, pixels 0..16) are split 80/20 and standardized with the training
part's statistics. The model (``BinaryMLP``): two ``BinaryLinear`` layers (``fc1``, ``fc2``,
``--hidden`` units, their real-valued latent weights binarized on every forward), each
followed by ``BatchNorm1d`` (``bn1``, ``bn2``) and ``Hardtanh``, and a full-precision
``Linear`` classifier (``classifier``); cross-entropy. Adam (or ``--optimizer``) updates the
latent weights, which are clipped to [-1, 1] after every step as BinaryConnect does. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np


class SignSTE(torch.autograd.Function):
    """sign(w) forward; the identity, clipped to |w| <= 1, backward."""

    @staticmethod
    def forward(ctx, w):
        ctx.save_for_backward(w)
        return torch.where(w >= 0, torch.ones_like(w), -torch.ones_like(w))

    @staticmethod
    def backward(ctx, grad):
        (w,) = ctx.saved_tensors
        return grad * (w.abs() <= 1).to(grad.dtype)


class BinaryLinear(nn.Linear):
    def forward(self, x):
        return F.linear(x, SignSTE.apply(self.weight), self.bias)


class BinaryMLP(nn.Module):
    def __init__(self, hidden, softmax_output=False):
        super().__init__()
        self.fc1 = BinaryLinear(64, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = BinaryLinear(hidden, hidden)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.classifier = nn.Linear(hidden, 10)
        self.act = nn.Hardtanh()
        self.softmax_output = softmax_output

    def forward(self, x):
        x = self.act(self.bn1(self.fc1(x)))
        x = self.act(self.bn2(self.fc2(x)))
        x = self.classifier(x)
        if self.softmax_output:
            # BUG (softmax-then-ce): probabilities handed to nn.CrossEntropyLoss, which
            # applies log_softmax again.
            x = torch.softmax(x, dim=1)
        return x


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--optimizer", default="Adam", choices=("Adam", "AdamW", "RMSprop"))
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("softmax-then-ce", "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_va, y_tr, y_va = common.split(x, y, seed=args.seed)
    x_tr, x_va = common.standardize(x_tr, x_va)
    x_tr = torch.tensor(x_tr, dtype=torch.float32)
    x_va = torch.tensor(x_va, dtype=torch.float32)
    y_tr = torch.tensor(y_tr, dtype=torch.long)
    y_va = torch.tensor(y_va, dtype=torch.long)

    model = BinaryMLP(args.hidden, softmax_output=args.bug == "softmax-then-ce")
    optimizer = getattr(torch.optim, args.optimizer)(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = (len(x_tr) + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size, num_classes=10)

    def evaluate():
        model.eval()
        with torch.no_grad():
            out = model(x_va)
            loss = criterion(out, y_va).item()
            acc = (out.argmax(1) == y_va).float().mean().item()
        return loss, acc

    # a sanity check of the untrained network before training
    print("untrained val loss %.3f acc %.3f" % evaluate())
    model.train()

    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_tr), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_tr[idx], y_tr[idx]
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): optimizer.zero_grad() left out: the gradients of every
            # batch add up in .grad.
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for layer in (model.fc1, model.fc2):
                    layer.weight.clamp_(-1.0, 1.0)
            acc = (out.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                was_training = model.training
                val_loss, val_acc = evaluate()
                model.train(was_training)
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb,
                     val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f val acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(layers=["fc1", "bn1", "fc2", "bn2", "classifier"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "bnnste-softmax-then-ce", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark / Humbatova et al. 2020: wrong loss for the output "
               "(a softmax in forward() and nn.CrossEntropyLoss, which applies log_softmax "
               "again)",
     "bug": "the model returns torch.softmax(logits) and nn.CrossEntropyLoss is applied to "
            "these probabilities: the loss cannot fall below about 1.46 and after 8 epochs "
            "the training loss is 1.49 (validation 1.51) against the twin's 0.08 (0.19), "
            "while the accuracy still reaches 0.98 (validation 0.96)",
     "fix": "return the logits; CrossEntropyLoss applies the softmax itself",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug softmax-then-ce --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "bnnste-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradients accumulate "
               "over the batches)",
     "bug": "optimizer.zero_grad() is left out of the batch loop: .grad holds the sum of all "
            "earlier batches' gradients; the training loss is 0.82 in the first epoch and "
            "7.0 in the eighth, accuracy 0.67 (validation loss 7.1, accuracy 0.63) against "
            "the twin's 0.07 and 0.97 (validation 0.95)",
     "fix": "optimizer.zero_grad() before every forward",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug no-zero-grad --seed 4 --record-every 4",
          "fixed": "--seed 4 --record-every 4"},
     ]},
    {"family": "bnnste-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.5 (meant 0.01): the latent weights jump between the clipping bounds "
            "and the binarized weights flip sign wholesale; the training loss is 7.3 in the "
            "first epoch and 7.9 in the eighth, accuracy 0.65 (validation loss 6.4, accuracy "
            "0.66) against the twin's 0.05 and 0.99 (validation 0.94)",
     "fix": "learning rate 0.01",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--lr 0.5 --seed 5 --record-every 4",
          "fixed": "--lr 0.01 --seed 5 --record-every 4"},
     ]},
    {"family": "bnnste-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 1e-3): the latent weights hardly move and almost no binarized "
            "weight changes sign; after 8 epochs the training loss is 2.16 and the accuracy "
            "0.21 (validation 0.23) against the twin's 0.13 and 0.98 (validation 0.96)",
     "fix": "learning rate 1e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--lr 1e-5 --record-every 4",
          "fixed": "--lr 1e-3 --record-every 4"},
     ]},
    {"family": "healthy-bnnste", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a binarized-weight MLP with a straight-through estimator that trains well",
     "healthy": [
         {"id": "adamw-w64-bs32-seed1",
          "args": "--optimizer AdamW --hidden 64 --batch-size 32 --seed 1 --record-every 4",
          "description": "AdamW 0.01, 64 units, batches of 32"},
         {"id": "rmsprop-seed2",
          "args": "--optimizer RMSprop --lr 3e-3 --seed 2 --record-every 4",
          "description": "RMSprop 3e-3"},
         {"id": "adam-w256-bs128-seed3",
          "args": "--lr 3e-3 --hidden 256 --batch-size 128 --seed 3 --record-every 4",
          "description": "Adam 3e-3, 256 units, batches of 128"},
     ]},
]


if __name__ == "__main__":
    main()
