"""A digits classifier trained on deliberately corrupted labels with the generalized
cross-entropy loss (Zhang and Sabuncu 2018, "Generalized Cross Entropy Loss for Training Deep
Neural Networks with Noisy Labels", NeurIPS, arXiv:1805.07836).

scikit-learn's digits (64 pixels, 0..16) are split into training and validation images; then
``--noise`` of the training labels (0.3 by default) are replaced on purpose by a different
digit drawn at random (symmetric noise), as in the paper's experiments; the validation labels
stay clean. The pixels are scaled to 0..1. The model is an ``nn.Sequential`` MLP (``fc1``,
``act1``, ``fc2``, ``act2``, ``out``; ``--hidden`` units, ``--act`` relu or sigmoid) giving ten
logits. The loss is a hand-written module, ``GeneralizedCrossEntropy``: (1 - p_y^q) / q of the
softmax probability of the given label, ``--q`` 0.7 (q -> 0 is the cross-entropy, q = 1 the
mean absolute error). SGD with Nesterov momentum 0.9 and ``MultiStepLR`` (times 0.1 at 60%
and 85% of the epochs, stepped once per epoch), batches from a ``DataLoader``. The mistakes of
the families in CASES are selected with ``--bug`` or show in a setting (``--weight-decay``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np


class GeneralizedCrossEntropy(nn.Module):
    """L_q = (1 - p_y^q) / q on the softmax of the logits."""

    def __init__(self, q=0.7):
        super().__init__()
        self.q = q

    def forward(self, logits, target):
        p = torch.softmax(logits, dim=1)
        p_y = p.gather(1, target.unsqueeze(1)).squeeze(1).clamp_min(1e-7)
        return ((1.0 - p_y ** self.q) / self.q).mean()


def corrupt(labels, rate, rng):
    noisy = labels.copy()
    flip = rng.random(len(labels)) < rate
    shift = rng.integers(1, 10, size=flip.sum())
    noisy[flip] = (labels[flip] + shift) % 10
    return noisy, flip


def main():
    p = common.parser(__doc__)
    p.add_argument("--noise", type=float, default=0.3, help="share of training labels flipped")
    p.add_argument("--q", type=float, default=0.7)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--act", default="relu", choices=("relu", "sigmoid"))
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("softmax-output", "unscaled-pixels", "scheduler-per-batch"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    xtr, xva, ytr, yva = common.split(x, y, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    ytr_noisy, flipped = corrupt(ytr, args.noise, rng)
    print("flipped %d of %d training labels" % (flipped.sum(), len(ytr)))
    if args.bug != "unscaled-pixels":
        # BUG (unscaled-pixels): this line is missing, the pixels stay in 0..16.
        xtr, xva = xtr / 16.0, xva / 16.0
    xtr, xva = torch.tensor(xtr, dtype=torch.float32), torch.tensor(xva, dtype=torch.float32)
    ytr_t, yva_t = torch.tensor(ytr_noisy), torch.tensor(yva)
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(xtr, ytr_t), batch_size=args.batch_size, shuffle=True,
                        generator=g)

    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}[args.act]
    layers = [("fc1", nn.Linear(64, args.hidden)), ("act1", act()),
              ("fc2", nn.Linear(args.hidden, args.hidden)), ("act2", act()),
              ("out", nn.Linear(args.hidden, 10))]
    if args.bug == "softmax-output":
        # BUG (softmax-output): a Softmax closes the model, and the GCE loss takes the
        # softmax of these probabilities again.
        layers.append(("softmax", nn.Softmax(dim=1)))
    model = nn.Sequential(__import__("collections").OrderedDict(layers))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                                nesterov=True, weight_decay=args.weight_decay)
    milestones = [int(0.6 * args.epochs), int(0.85 * args.epochs)]
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones,
                                                     gamma=0.1)
    criterion = GeneralizedCrossEntropy(args.q)
    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name=type(criterion).__name__, steps_per_epoch=steps_per_epoch, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            out = model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            if args.bug == "scheduler-per-batch":
                # BUG (scheduler-per-batch): the epoch milestones are counted in batches.
                scheduler.step()
            acc = (out.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vo = model(xva)
                    val_loss = criterion(vo, yva_t).item()
                    val_acc = (vo.argmax(1) == yva_t).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        if args.bug != "scheduler-per-batch":
            scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f val_acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "gcenoisy-softmax-output", "split": "dev", "architecture": "mlp",
     "origin": "DeepLocalize benchmark (Stack Overflow: softmax output fed to a loss that "
               "applies softmax itself); Humbatova et al. 2020: wrong loss function for the "
               "output",
     "bug": "an nn.Softmax closes the model and the GCE loss takes the softmax of these "
            "probabilities again: p_y stays near 0.1, the loss 1.143 in the first epoch and "
            "1.143 in the tenth, accuracy 0.19 (validation 0.20), against the twin's 0.54 "
            "and validation accuracy 0.90 under 30% flipped labels",
     "fix": "return the logits (the loss applies the softmax)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning",
                                                          "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov",
          "buggy": "--bug softmax-output --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "gcenoisy-scheduler-per-batch", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (MultiStepLR with epoch "
               "milestones stepped inside the batch loop); DeepFD: learning rate too low",
     "bug": "MultiStepLR(milestones=[6, 8]) stepped after every batch: the learning rate is "
            "0.001 from the ninth batch on, and the GCE loss only goes from 1.144 to 1.143 in "
            "10 epochs (accuracy 0.10, validation 0.11), against the twin's 0.64 and "
            "validation accuracy 0.83",
     "fix": "scheduler.step() once per epoch",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov-seed1",
          "buggy": "--bug scheduler-per-batch --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "gcenoisy-weight-decay-dominates", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong regularization (weight decay 0.5 for 5e-4); "
               "DeepDiagnosis: a dominating regularization term",
     "bug": "SGD with weight_decay=0.5 (meant 5e-4): the decay pulls every weight to zero "
            "faster than the bounded GCE gradient moves it, the loss stays at 1.143 for 10 "
            "epochs (accuracy 0.11, validation 0.10), against the twin's 0.63 and "
            "validation accuracy 0.83",
     "fix": "weight_decay=5e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence", "unchanged_values",
                                                         "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov-seed2",
          "buggy": "--weight-decay 0.5 --seed 2 --record-every 4",
          "fixed": "--weight-decay 5e-4 --seed 2 --record-every 4"},
     ]},
    {"family": "gcenoisy-sigmoid-stack", "split": "dev", "architecture": "mlp",
     "origin": "DeepDiagnosis / AUTOTRAINER: vanishing gradient (stacked sigmoid activations); "
               "Humbatova et al. 2020: wrong activation function",
     "bug": "sigmoid after both hidden layers: the sigmoids' derivatives (at most 0.25) times "
            "the GCE gradient's factor p_y^q (about 0.2 at the start) leave the first layers "
            "almost no gradient, the loss goes only from 1.145 to 1.141 in 10 epochs and the "
            "validation accuracy stays at 0.10, against the twin's 0.67 and 0.83",
     "fix": "ReLU after the hidden layers",
     "symptom": "vanishing_gradient", "acceptable_symptoms": ["saturation", "not_learning",
                                                               "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-nesterov-seed3",
          "buggy": "--act sigmoid --seed 3 --record-every 4",
          "fixed": "--act relu --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-gcenoisy", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a digits MLP trained with generalized cross-entropy on deliberately "
                    "flipped labels, SGD Nesterov and MultiStepLR, that trains well",
     "healthy": [
         {"id": "noise0.2-h96-seed4",
          "args": "--noise 0.2 --hidden 96 --seed 4 --record-every 4",
          "description": "20% flipped labels, 96 hidden units"},
         {"id": "noise0.4-q0.5-bs32-seed5",
          "args": "--noise 0.4 --q 0.5 --batch-size 32 --seed 5 --record-every 4",
          "description": "40% flipped labels, q 0.5, batches of 32"},
         {"id": "h48-bs32-seed6",
          "args": "--hidden 48 --batch-size 32 --seed 6 --record-every 4",
          "description": "48 hidden units, batches of 32"},
     ]},
]


if __name__ == "__main__":
    main()
