"""Mean-Teacher semi-supervised learning (Tarvainen and Valpola, 2017) on scikit-learn's 8x8
digits, in PyTorch.

Of the 1497 training images only ``--labelled`` keep their labels (the same number of each
digit); the others are used without labels; 300 images validate. The student (``Student``:
``conv1`` 1 -> ``--width`` 3x3, ReLU, ``conv2`` -> 2 ``--width``, ReLU, max-pool, ``fc`` -> 10
logits) sees, each step, a labelled batch and an unlabelled batch, both augmented (a random
shift of one pixel and Gaussian pixel noise), concatenated into one forward pass. The loss is
the cross-entropy on the labelled part plus a consistency term: the mean squared difference
between the student's and the teacher's softmax outputs on the unlabelled batch (the teacher
sees its own augmentation of it), weighted by ``--consistency`` times the ramp-up
``exp(-5 (1 - t)^2)`` over the first ``--rampup`` epochs. The teacher is a copy of the student
whose weights are an exponential moving average (``--ema``) of the student's, updated by hand
after each optimizer step, never trained. Adam. Pixels are divided by 16. The student is
recorded; the mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``, ``--consistency``).
"""

import copy
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np


class Student(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc = nn.Linear(2 * width * 16, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))


def augment(x, gen):
    shift = torch.randint(-1, 2, (2,), generator=gen).tolist()
    x = torch.roll(x, shifts=shift, dims=(2, 3))
    return x + 0.05 * torch.randn(x.shape, generator=gen)


def main():
    p = common.parser(__doc__)
    p.add_argument("--labelled", type=int, default=200)
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--ema", type=float, default=0.99)
    p.add_argument("--consistency", type=float, default=10.0)
    p.add_argument("--rampup", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32, help="labelled images per step")
    p.add_argument("--unlabelled-batch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("missing-zero-grad",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    rng = np.random.default_rng(args.seed)
    perm = rng.permutation(len(x))
    x, y = x[perm], y[perm]
    x = x / 16.0
    x = torch.tensor(x, dtype=torch.float32).view(-1, 1, 8, 8)
    y = torch.tensor(y)
    xva, yva, xtr, ytr = x[:300], y[:300], x[300:], y[300:]
    per_class = args.labelled // 10
    lab_idx = torch.cat([torch.nonzero(ytr == c).flatten()[:per_class] for c in range(10)])
    xl, yl = xtr[lab_idx], ytr[lab_idx]
    xu = xtr  # every training image, its label unused

    student = Student(args.width)
    teacher = copy.deepcopy(student)
    for p_ in teacher.parameters():
        p_.requires_grad_(False)
    optimizer = torch.optim.Adam(student.parameters(), lr=args.lr)

    steps_per_epoch = len(xu) // args.unlabelled_batch
    gen = torch.Generator().manual_seed(args.seed)
    rec = common.recording.torch_recorder(
        student, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    step = 0
    for epoch in range(args.epochs):
        student.train()
        order = torch.randperm(len(xu), generator=gen)
        for b in range(steps_per_epoch):
            li = torch.randint(0, len(xl), (args.batch_size,), generator=gen)
            xb, yb = xl[li], yl[li]
            ub = xu[order[b * args.unlabelled_batch:(b + 1) * args.unlabelled_batch]]
            t = min(1.0, step / float(args.rampup * steps_per_epoch))
            weight = args.consistency * math.exp(-5.0 * (1.0 - t) ** 2)

            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            out = student(torch.cat([augment(xb, gen), augment(ub, gen)]))
            logits_l, logits_u = out[:len(xb)], out[len(xb):]
            with torch.no_grad():
                teacher_prob = F.softmax(teacher(augment(ub, gen)), dim=1)
            ce = F.cross_entropy(logits_l, yb)
            consistency = F.mse_loss(F.softmax(logits_u, dim=1), teacher_prob)
            loss = ce + weight * consistency
            # BUG (missing-zero-grad): no optimizer.zero_grad(): gradients accumulate.
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                alpha = min(1.0 - 1.0 / (step + 1), args.ema)
                for tp, sp in zip(teacher.parameters(), student.parameters()):
                    tp.mul_(alpha).add_(sp, alpha=1.0 - alpha)
            step += 1
            acc = (logits_l.argmax(1) == yb).float().mean().item()

            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                student.eval()
                with torch.no_grad():
                    vo = student(xva)
                    val_loss = F.cross_entropy(vo, yva).item()
                    val_acc = (vo.argmax(1) == yva).float().mean().item()
                    teacher_acc = (teacher(xva).argmax(1) == yva).float().mean().item()
                student.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f val_acc %.3f teacher %.3f w %.2f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, teacher_acc, weight))
    rec.close()
    common.report(history.result(layers=["conv1", "conv2", "fc"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "mtdig-missing-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad(); AUTOTRAINER / DeepFD: "
               "wrong gradient update",
     "bug": "no optimizer.zero_grad() in the step: the student's gradients of every earlier "
            "step accumulate, Adam follows their running sum; after 8 epochs the loss is 2.25 "
            "(2.27 in the first), labelled-batch accuracy 0.17, validation accuracy 0.26 "
            "(teacher 0.36), against the twin's 1.10 and 0.87",
     "fix": "optimizer.zero_grad() before the student's forward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug missing-zero-grad --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "mtdig-consistency-dominates", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong regularization weight (a consistency term "
               "weighted 2000 instead of 10)",
     "bug": "the consistency weight ramps up to 2000 (meant 10): pulling the student's softmax "
            "towards the teacher's swamps the cross-entropy, the predictions stay nearly "
            "uniform and the loss moves only from 2.28 to 2.20 in 8 epochs, validation loss "
            "2.07 and accuracy 0.75, against the twin's 1.03, 0.45 and 0.93",
     "fix": "consistency weight 10",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--consistency 2000 --seed 1 --record-every 4",
          "fixed": "--consistency 10 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-mtdig", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Mean-Teacher student CNN on digits with 200 or 300 labels that trains well",
     "healthy": [
         {"id": "w12-seed2",
          "args": "--width 12 --seed 2 --record-every 4",
          "description": "12 and 24 filters"},
         {"id": "lab300-ema0.95-bs48-seed3",
          "args": "--labelled 300 --ema 0.95 --batch-size 48 --seed 3 --record-every 4",
          "description": "300 labels, EMA 0.95, labelled batches of 48"},
     ]},
]


if __name__ == "__main__":
    main()
