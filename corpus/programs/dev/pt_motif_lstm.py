"""A character-level LSTM that classifies DNA-like strings by the promoter motif they carry,
trained with ``torch.optim.Adamax``, a linear warmup, value clipping and early stopping.

The strings are generated here: 20 characters of the alphabet ``ACGT`` drawn at random, into
which one motif is written at a random position: ``TATAAT`` (class 0), ``GATAAG`` (class 1) or
``CCAATC`` (class 2). The strings are turned into index tensors with a ``char_to_ix`` dict, and
the program keeps its tensors and batches them itself with ``torch.randperm``. The model
(``MotifLSTM``): ``nn.Embedding`` (``embed``), one ``nn.LSTM(batch_first=True)`` layer
(``lstm``, ``--hidden`` units) and a ``Linear`` (``out``) on the last hidden state,
``nn.CrossEntropyLoss``. ``torch.optim.Adamax`` with a ``LambdaLR`` linear warmup over
``--warmup`` optimizer steps (stepped per batch), ``clip_grad_value_`` at ``--clip-value``, and
early stopping written out by hand: the best validation accuracy and its ``state_dict`` are
kept, training stops after ``--patience`` epochs without improvement and the best weights are
loaded back. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``).
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

ALPHABET = "ACGT"
MOTIFS = ("TATAAT", "GATAAG", "CCAATC")


def make_strings(n, length, seed):
    rng = np.random.default_rng(seed)
    strings, labels = [], []
    for _ in range(n):
        label = int(rng.integers(len(MOTIFS)))
        chars = list(rng.choice(list(ALPHABET), size=length))
        at = int(rng.integers(0, length - 6 + 1))
        chars[at:at + 6] = MOTIFS[label]
        strings.append("".join(chars))
        labels.append(label)
    return strings, labels


class MotifLSTM(nn.Module):
    def __init__(self, vocab, embed_dim, hidden, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, classes)

    def forward(self, x):
        h, _ = self.lstm(self.embed(x))
        return self.out(h[:, -1])


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=1500)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--embed", type=int, default=8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--warmup", type=int, default=30, help="warmup in optimizer steps")
    p.add_argument("--clip-value", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--patience", type=int, default=4)
    p.add_argument("--bug", default=None,
                   choices=("missing-zero-grad", "sorted-no-shuffle"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    strings, labels = make_strings(args.n, args.length, args.seed)
    char_to_ix = {c: i for i, c in enumerate(ALPHABET)}
    x = torch.tensor([[char_to_ix[c] for c in s] for s in strings], dtype=torch.long)
    y = torch.tensor(labels, dtype=torch.long)
    cut = int(0.8 * len(x))
    x_train, y_train, x_val, y_val = x[:cut], y[:cut], x[cut:], y[cut:]
    if args.bug == "sorted-no-shuffle":
        # BUG (sorted-no-shuffle): the strings are grouped by motif (as they were collected,
        # one motif after another) and the batches are taken in that order, never shuffled.
        order = torch.argsort(y_train, stable=True)
        x_train, y_train = x_train[order], y_train[order]

    model = MotifLSTM(len(ALPHABET), args.embed, args.hidden, len(MOTIFS))
    optimizer = torch.optim.Adamax(model.parameters(), lr=args.lr)
    warmup = args.warmup
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup))
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=len(MOTIFS), batch_size=args.batch_size)
    history = common.History()
    best_acc, best_state, bad_epochs = -1.0, None, 0
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        if args.bug == "sorted-no-shuffle":
            perm = torch.arange(len(x_train))
        else:
            perm = torch.randperm(len(x_train), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            # BUG (missing-zero-grad): without optimizer.zero_grad() the gradients of every
            # batch so far are added up before each step.
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            nn.utils.clip_grad_value_(model.parameters(), args.clip_value)
            optimizer.step()
            scheduler.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vlogits = model(x_val)
                    val_loss = criterion(vlogits, y_val).item()
                    val_acc = (vlogits.argmax(1) == y_val).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
        # early stopping on the validation accuracy
        if val_acc > best_acc:
            best_acc, best_state, bad_epochs = val_acc, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
            if bad_epochs >= args.patience:
                print("early stop after epoch %d (best val acc %.3f)" % (epoch + 1, best_acc))
                break
    model.load_state_dict(best_state)
    rec.close()
    common.report(history.result(best_val_accuracy=best_acc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "motiflstm-missing-zero-grad", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (PyTorch), gradients "
               "accumulated over every batch",
     "bug": "optimizer.zero_grad() left out: the gradients of all batches so far add up before "
            "each Adamax step (each value then clipped to 1.0), the accuracy stays at chance "
            "(0.32 in the last epoch) and early stopping ends the run after 7 epochs at a best "
            "validation accuracy of 0.37 against the twin's 0.99",
     "fix": "optimizer.zero_grad() before each forward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["not_learning", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamax",
          "buggy": "--bug missing-zero-grad --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "motiflstm-sorted-no-shuffle", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: training data not shuffled (strings grouped by motif, "
               "batches in that order)",
     "bug": "the training strings are sorted by motif and never shuffled: each epoch ends on "
            "motif 2 batches, the validation accuracy ends at 0.32 and early stopping ends the "
            "run after 6 epochs (best 0.35) against the twin's 0.97",
     "fix": "torch.randperm over the training strings every epoch",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamax-seed1",
          "buggy": "--bug sorted-no-shuffle --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "motiflstm-adamax-lr-too-low", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adamax at 2e-4 (meant 2e-2): the loss ends at 1.09, the validation accuracy "
            "creeps to 0.40 and early stopping ends the run after 7 epochs against the twin's "
            "0.98",
     "fix": "learning rate 0.02",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamax-bs32",
          "buggy": "--lr 2e-4 --seed 4 --record-every 4",
          "fixed": "--lr 0.02 --seed 4 --record-every 4"},
     ]},
    {"family": "healthy-motiflstm", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a character-level motif LSTM under Adamax with warmup that trains well",
     "healthy": [
         {"id": "bs64-lr3e-2-seed1",
          "args": "--batch-size 64 --lr 0.03 --seed 1 --record-every 4",
          "description": "batches of 64, Adamax 0.03"},
         {"id": "hidden24-seed2",
          "args": "--hidden 24 --seed 2 --record-every 4",
          "description": "24 LSTM units"},
         {"id": "clip05-warmup60-seed3",
          "args": "--clip-value 0.5 --warmup 60 --seed 3 --record-every 4",
          "description": "values clipped at 0.5, a warmup of 60 steps"},
     ]},
]


if __name__ == "__main__":
    main()
