"""A Kim-style text CNN in PyTorch (Kim 2014, "Convolutional Neural Networks for Sentence
Classification"): ``nn.Embedding``, parallel ``nn.Conv1d`` filters of several widths,
max-over-time pooling and a ``Linear`` classifier, trained with gradient accumulation.

The data are generated here: support tickets of 8 to 48 word ids from a vocabulary of 400
(0 is the padding id), each routed to one of four queues (billing, shipping, login, refund).
A queue is recognized by short phrases, not single words: each queue has six two-word
phrases whose words are also common filler on their own, and a ticket holds two to four of
its queue's phrases, sometimes one phrase of another queue, and filler. The tickets are
written queue by queue (as an export of four queues would be); ``TicketDataset`` returns one
ticket as a 1-D tensor and its queue, and ``collate_tickets`` pads a batch to its longest
ticket (at least the widest filter) and stacks the labels.

``KimCNN``: ``embedding`` (``--dim``, ``padding_idx=0``), ``convs`` (an ``nn.ModuleList`` of
``Conv1d`` with kernel widths ``--widths`` and ``--filters`` maps each), ReLU, max over time,
concatenation, dropout and ``fc``. ``CrossEntropyLoss``; the optimizer (``--optimizer``
``adam`` or ``sgd`` with momentum 0.9) steps once every ``--accum`` micro-batches of
``--batch-size`` tickets (each micro-batch's loss divided by ``--accum``), so one update sees
``accum x batch-size`` tickets, and the gradients are cleared after every update. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

np = common.np

PAD = 0
VOCAB = 400
QUEUES = 4


def make_tickets(per_queue, seed):
    """Tickets (arrays of word ids) written queue by queue, and their queues."""
    rng = np.random.default_rng(seed)
    words = rng.permutation(np.arange(1, VOCAB))
    phrases = words[:QUEUES * 6 * 2].reshape(QUEUES, 6, 2)
    tickets, queues = [], []
    for q in range(QUEUES):
        for _ in range(per_queue):
            length = int(rng.integers(8, 49))
            # filler: any word, including the phrase words on their own
            t = rng.integers(1, VOCAB, size=length)
            picks = [phrases[q, rng.integers(6)] for _ in range(int(rng.integers(2, 5)))]
            if rng.random() < 0.4:
                other = int(rng.choice([o for o in range(QUEUES) if o != q]))
                picks.append(phrases[other, rng.integers(6)])
            for ph in picks:
                at = int(rng.integers(0, length - 1))
                t[at:at + 2] = ph
            tickets.append(t.astype(np.int64))
            queues.append(q)
    return tickets, np.array(queues)


class TicketDataset(Dataset):
    def __init__(self, tickets, queues):
        self.tickets, self.queues = tickets, queues

    def __len__(self):
        return len(self.tickets)

    def __getitem__(self, i):
        return torch.from_numpy(self.tickets[i]), int(self.queues[i])


def make_collate(min_len):
    def collate_tickets(batch):
        longest = max(min_len, max(len(t) for t, _ in batch))
        tokens = torch.full((len(batch), longest), PAD, dtype=torch.long)
        for i, (t, _) in enumerate(batch):
            tokens[i, :len(t)] = t
        return tokens, torch.tensor([q for _, q in batch])
    return collate_tickets


class KimCNN(nn.Module):
    def __init__(self, dim, filters, widths, dropout, softmax_output=False):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, dim, padding_idx=PAD)
        self.convs = nn.ModuleList([nn.Conv1d(dim, filters, w) for w in widths])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(filters * len(widths), QUEUES)
        self.softmax_output = softmax_output

    def forward(self, tokens):
        e = self.embedding(tokens).transpose(1, 2)           # (batch, dim, time)
        pooled = [torch.relu(conv(e)).max(dim=2).values for conv in self.convs]
        out = self.fc(self.dropout(torch.cat(pooled, dim=1)))
        if self.softmax_output:
            # BUG (ce-on-softmax): probabilities out of the model (as a Keras model would end),
            # and CrossEntropyLoss applies its own log-softmax on top of them.
            return torch.softmax(out, dim=1)
        return out


def main():
    p = common.parser(__doc__)
    p.add_argument("--per-queue", type=int, default=300)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--filters", type=int, default=16)
    p.add_argument("--widths", default="2,3,4")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=16, help="tickets per micro-batch")
    p.add_argument("--accum", type=int, default=4, help="micro-batches per optimizer step")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("ce-on-softmax", "zero-grad-per-epoch", "no-shuffle"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    tickets, queues = make_tickets(args.per_queue, args.seed)
    rng = np.random.default_rng(args.seed + 100)
    val_idx = rng.choice(len(tickets), size=len(tickets) // 5, replace=False)
    is_val = np.zeros(len(tickets), dtype=bool)
    is_val[val_idx] = True
    # the training tickets keep the export's order: queue by queue
    train_set = TicketDataset([t for t, v in zip(tickets, is_val) if not v], queues[~is_val])
    val_set = TicketDataset([t for t, v in zip(tickets, is_val) if v], queues[is_val])
    widths = common.ints(args.widths)
    collate = make_collate(max(widths))
    g = torch.Generator().manual_seed(args.seed)
    # BUG (no-shuffle): shuffle left at its default False: the micro-batches come queue by
    # queue, and so do the accumulated updates.
    loader = DataLoader(train_set, batch_size=args.batch_size,
                        shuffle=args.bug != "no-shuffle", collate_fn=collate, generator=g)
    val_loader = DataLoader(val_set, batch_size=200, collate_fn=collate)

    model = KimCNN(args.dim, args.filters, widths, args.dropout,
                   softmax_output=args.bug == "ce-on-softmax")
    criterion = nn.CrossEntropyLoss()
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    micro = len(loader)
    steps_per_epoch = -(-micro // args.accum)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=QUEUES,
        batch_size=args.batch_size * args.accum)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        if args.bug == "zero-grad-per-epoch":
            # BUG: the gradients are cleared once per epoch, not after every update: each
            # update adds the new micro-batches to everything accumulated since the epoch began.
            optimizer.zero_grad()
        running, correct, seen = 0.0, 0, 0
        for i, (tokens, y) in enumerate(loader):
            logits = model(tokens)
            loss = criterion(logits, y) / args.accum
            loss.backward()
            running += loss.item()
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            if (i + 1) % args.accum == 0 or i + 1 == micro:
                optimizer.step()
                if args.bug != "zero-grad-per-epoch":
                    optimizer.zero_grad()
                n_micro = (i % args.accum) + 1
                step_loss = running * args.accum / n_micro
                acc = correct / seen
                val_loss = val_acc = None
                if i + 1 == micro:
                    model.eval()
                    total, hits, n = 0.0, 0, 0
                    with torch.no_grad():
                        for vt, vy in val_loader:
                            vout = model(vt)
                            total += criterion(vout, vy).item() * len(vy)
                            hits += int((vout.argmax(1) == vy).sum())
                            n += len(vy)
                    val_loss, val_acc = total / n, hits / n
                    model.train()
                rec.step(step_loss, accuracy=acc, inputs=tokens, targets=y,
                         val_loss=val_loss, val_accuracy=val_acc)
                history.step(step_loss, acc)
                running, correct, seen = 0.0, 0, 0
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc))
    rec.close()
    layers = ["embedding"] + ["convs.%d" % k for k in range(len(widths))] + ["fc"]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kimtext-ce-on-softmax", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow): softmax before nn.CrossEntropyLoss; "
               "Humbatova et al. 2020: wrong loss function (CrossEntropyLoss on an output that "
               "already went through softmax)",
     "bug": "the model returns torch.softmax(fc(...)) and CrossEntropyLoss applies its own "
            "log-softmax on top: the loss cannot fall below 0.74 (the smallest value of "
            "-log(e / (e + 3))) and its gradients shrink as the probabilities sharpen; after 8 "
            "epochs the training loss is 0.889 against the twin's 0.333 and the validation "
            "loss 0.849 against 0.231 (validation accuracy 0.912 against 0.938)",
     "fix": "return the logits from fc and let CrossEntropyLoss apply log-softmax",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-accum4",
          "buggy": "--bug ce-on-softmax --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "kimtext-zero-grad-per-epoch", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (with gradient "
               "accumulation, zero_grad() placed at the start of the epoch instead of after "
               "each update); DeepDiagnosis / AUTOTRAINER: exploding gradient",
     "bug": "with 4 micro-batches accumulated per update, zero_grad() is called once at the "
            "start of each epoch: every update adds its gradients to all the earlier ones of "
            "the epoch, and SGD momentum 0.9 at 0.05 takes ever larger steps: the epoch losses "
            "go 6.6, 82.6, 167.8, 67.2, 85.3 (ln 4 = 1.39), the validation loss reaches "
            "10678 and the validation accuracy stays near chance (0.29 of four queues against "
            "the twin's 0.87 after 5 epochs)",
     "fix": "optimizer.zero_grad() after every optimizer.step() of the accumulation loop",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-accum4",
          "buggy": "--optimizer sgd --lr 0.05 --epochs 5 --bug zero-grad-per-epoch --record-every 4",
          "fixed": "--optimizer sgd --lr 0.05 --epochs 5 --record-every 4"},
     ]},
    {"family": "kimtext-queue-ordered-no-shuffle", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: training data not shuffled (the tickets exported queue "
               "by queue and the DataLoader left at shuffle=False); DeepFD fault type: "
               "data order",
     "bug": "the DataLoader keeps the export's queue-by-queue order: every accumulated update "
            "sees one queue only and SGD momentum pulls the classifier from queue to queue; "
            "the epoch losses go 4.62, 2.23, 1.94, 2.77, 1.94, 2.23, 2.04, 1.77, the training "
            "accuracy of the last epoch is 0.14 and the validation accuracy 0.53 against the "
            "twin's 0.91",
     "fix": "DataLoader(..., shuffle=True)",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-accum4",
          "buggy": "--optimizer sgd --lr 0.05 --bug no-shuffle --record-every 4",
          "fixed": "--optimizer sgd --lr 0.05 --record-every 4"},
     ]},
    {"family": "kimtext-sgd-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "oscillating loss",
     "bug": "SGD momentum 0.9 at 0.5 (meant 0.05) on the accumulated updates: the epoch losses "
            "go 9.48, 8.97, 2.26, then jump around ln 4 (1.55, 1.54, 1.41, 1.47, 1.43); the "
            "validation accuracy ends at 0.24 of four queues against the twin's 0.94",
     "fix": "learning rate 0.05",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient",
                                                      "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-accum4",
          "buggy": "--optimizer sgd --lr 0.5 --seed 1 --record-every 4",
          "fixed": "--optimizer sgd --lr 0.05 --seed 1 --record-every 4"},
     ]},
    {"family": "kimtext-adam-lr-too-low", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 2e-5 (meant 3e-3): in 8 epochs the training loss only goes from 1.657 to "
            "1.580 and the validation accuracy stays at 0.25 of four queues against the twin's "
            "0.94",
     "fix": "Adam at 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-accum4",
          "buggy": "--lr 2e-5 --seed 0 --record-every 4",
          "fixed": "--lr 3e-3 --seed 0 --record-every 4"},
     ]},
    {"family": "healthy-kimtext", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Kim-style text CNN with gradient accumulation that trains well",
     "healthy": [
         {"id": "adam-seed1",
          "args": "--seed 1 --record-every 4",
          "description": "Adam 3e-3, filters of widths 2, 3 and 4, 4 micro-batches of 16"},
         {"id": "sgd-bs32-accum2-seed2",
          "args": "--optimizer sgd --lr 0.05 --batch-size 32 --accum 2 --seed 2 --record-every 4",
          "description": "SGD momentum 0.9 at 0.05, 2 micro-batches of 32 per update"},
         {"id": "adam-wide-w345-seed3",
          "args": "--widths 3,4,5 --filters 32 --dim 48 --lr 2e-3 --dropout 0.5 --seed 3 --record-every 4",
          "description": "32 filters of widths 3, 4 and 5 on 48-dimensional embeddings, "
                         "dropout 0.5, Adam 2e-3"},
     ]},
]


if __name__ == "__main__":
    main()
