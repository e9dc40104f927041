"""Knowledge distillation in PyTorch (Hinton, Vinyals and Dean, "Distilling the Knowledge in a
Neural Network", 2015): a teacher MLP is trained first on the digits, then a smaller student
learns from the teacher's temperature-softened outputs and the true labels.

The digits (8x8, grey levels 0..16) are scaled to [0, 1] and split 80/20. The teacher
(``teacher``: 64 -> 256 -> 256 -> 10, ReLU and dropout) is trained for ``--teacher-epochs``
with Adam and cross-entropy; it is not recorded. The student (``Student``: ``fc1``, ``fc2``
and ``out``, ``--width`` units, ReLU) is trained with

    loss = alpha * T^2 * KLDivLoss(log_softmax(student / T), softmax(teacher / T))
           + (1 - alpha) * CrossEntropy(student, labels)

(``nn.KLDivLoss(reduction="batchmean")``, ``--temperature`` T, ``--alpha``), the teacher in
eval mode under ``torch.no_grad()``; only the student's training is recorded. The result line
adds the teacher's validation accuracy (``teacher_val_accuracy``). The mistakes of the families
in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np


def make_teacher():
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 256), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(256, 10))


class Student(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc1 = nn.Linear(64, width)
        self.fc2 = nn.Linear(width, width)
        self.out = nn.Linear(width, 10)

    def forward(self, x):
        return self.out(F.relu(self.fc2(F.relu(self.fc1(x)))))


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    model.train()
    return acc


def train_teacher(teacher, loader, epochs):
    opt = torch.optim.Adam(teacher.parameters(), lr=1e-3)
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(teacher(xb), yb).backward()
            opt.step()


def main():
    p = common.parser(__doc__)
    p.add_argument("--teacher-epochs", type=int, default=15)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--temperature", type=float, default=4.0)
    p.add_argument("--alpha", type=float, default=0.7)
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam", "rmsprop"))
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("optimizer-on-teacher", "no-zero-grad",
                            "soft-targets-misaligned"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_val, y_tr, y_val = common.split(x / 16.0, y, seed=args.seed)
    x_tr, x_val = (torch.tensor(a, dtype=torch.float32) for a in (x_tr, x_val))
    y_tr, y_val = (torch.tensor(a, dtype=torch.int64) for a in (y_tr, y_val))
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(TensorDataset(x_tr, y_tr, torch.arange(len(y_tr))),
                        batch_size=args.batch_size, shuffle=True, generator=g)

    teacher = make_teacher()
    train_teacher(teacher, DataLoader(TensorDataset(x_tr, y_tr), batch_size=64, shuffle=True,
                                      generator=torch.Generator().manual_seed(args.seed)),
                  args.teacher_epochs)
    teacher.eval()
    teacher_acc = accuracy(teacher, x_val, y_val)
    print("teacher: val_acc %.3f" % teacher_acc)
    with torch.no_grad():
        teacher_logits = teacher(x_tr)       # precomputed once, one row per training sample

    student = Student(args.width)
    # BUG (optimizer-on-teacher): the optimizer line copied from train_teacher() keeps
    # teacher.parameters(): the student is never updated.
    params = teacher.parameters() if args.bug == "optimizer-on-teacher" else student.parameters()
    optimizer = {"sgd": lambda: torch.optim.SGD(params, lr=args.lr, momentum=0.9),
                 "adam": lambda: torch.optim.Adam(params, lr=args.lr),
                 "rmsprop": lambda: torch.optim.RMSprop(params, lr=args.lr)}[args.optimizer]()
    kl = nn.KLDivLoss(reduction="batchmean")
    T, alpha = args.temperature, args.alpha
    rec = common.recording.torch_recorder(
        student, args.out, optimizer=optimizer, task="classification", loss_name="KLDivLoss",
        steps_per_epoch=len(loader), num_classes=10, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        student.train()
        for b, (xb, yb, idx) in enumerate(loader):
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): the student's loop never clears the gradients.
            if args.bug == "soft-targets-misaligned":
                # BUG: the precomputed teacher outputs are sliced by the batch's position, as
                # if the loader did not shuffle; the soft targets belong to other samples.
                soft = teacher_logits[b * args.batch_size:b * args.batch_size + len(yb)]
            else:
                soft = teacher_logits[idx]
            logits = student(xb)
            loss = (alpha * T * T * kl(F.log_softmax(logits / T, dim=1),
                                       F.softmax(soft / T, dim=1))
                    + (1 - alpha) * F.cross_entropy(logits, yb))
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == len(loader) - 1:
                student.eval()
                with torch.no_grad():
                    vout = student(x_val)
                    val_loss = F.cross_entropy(vout, y_val).item()
                    val_acc = (vout.argmax(1) == y_val).float().mean().item()
                student.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f val_acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(teacher_val_accuracy=teacher_acc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "distill-optimizer-on-teacher", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong parameters given to the optimizer (the optimizer "
               "line copied from the teacher's training, the layers never trained); DeepFD "
               "fault type: optimizer",
     "bug": "torch.optim.SGD(teacher.parameters(), ...) for the student's training: the teacher "
            "gets no gradients (its outputs are precomputed under no_grad) and the student is "
            "never updated; the training loss stays at 9.88 from the first epoch to the last and "
            "the validation accuracy at 0.100 of ten digits, against the twin's 0.956 (the "
            "teacher's 0.969)",
     "fix": "the optimizer over student.parameters()",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--bug optimizer-on-teacher --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "distill-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "the student's loop never calls optimizer.zero_grad() (SGD momentum 0.9 at 0.05, "
            "seed 1): the gradients of all the batches add up, the epoch loss climbs from 10.8 "
            "in the first epoch to 3043 in the eighth and the validation accuracy ends at 0.103 "
            "of ten digits (validation cross-entropy 1118), against the twin's 0.944",
     "fix": "optimizer.zero_grad() before every forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--bug no-zero-grad --seed 1 --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "distill-soft-targets-misaligned", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong labels / targets not matching the inputs (teacher "
               "outputs precomputed in dataset order, sliced by batch position while the "
               "loader shuffles)",
     "bug": "the precomputed teacher logits are sliced by the batch's position "
            "(teacher_logits[b * batch_size:...]) while the DataLoader shuffles: the soft "
            "targets, weighted 0.7 x T^2, belong to other samples than the labels; the training "
            "loss only falls from 9.58 to 9.48 and the validation accuracy ends at 0.575 of ten "
            "digits, against the twin's 0.961 (seed 5)",
     "fix": "index the precomputed outputs with the samples' indices (teacher_logits[idx])",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence", "loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed5",
          "buggy": "--bug soft-targets-misaligned --seed 5 --record-every 2",
          "fixed": "--seed 5 --record-every 2"},
     ]},
    {"family": "distill-sgd-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "SGD momentum 0.9 at 1e-3 (meant 0.05) for the student: in 8 epochs the training "
            "loss falls only from 9.88 to 9.64 and the validation accuracy ends at 0.19 of ten "
            "digits, against the twin's 0.956",
     "fix": "learning rate 0.05",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--lr 1e-3 --record-every 2",
          "fixed": "--lr 0.05 --record-every 2"},
     ]},
    {"family": "healthy-distill", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a student MLP distilled from a teacher MLP on the digits that trains well",
     "healthy": [
         {"id": "adam-w64-seed2",
          "args": "--optimizer adam --lr 1e-3 --width 64 --seed 2 --record-every 2",
          "description": "a student of 64 units, Adam 1e-3"},
         {"id": "rmsprop-t2-alpha0.5-seed3",
          "args": "--optimizer rmsprop --lr 1e-3 --temperature 2 --alpha 0.5 --seed 3 --record-every 2",
          "description": "RMSprop 1e-3, temperature 2, the two terms weighted equally"},
         {"id": "sgd-bs64-lr0.1-seed4",
          "args": "--batch-size 64 --lr 0.1 --seed 4 --record-every 2",
          "description": "SGD momentum 0.1, batches of 64"},
     ]},
]


if __name__ == "__main__":
    main()
