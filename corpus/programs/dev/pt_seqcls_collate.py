"""A PyTorch classifier of variable-length event logs: ``nn.Embedding`` + ``nn.LSTM``
(``batch_first``) or a small ``nn.TransformerEncoder``, fed by a ``DataLoader`` whose
``collate_fn`` pads each batch, trained with ``AdamW`` and a linear warm-up and decay through
``LambdaLR`` (the shape of ``get_linear_schedule_with_warmup``).

The logs are generated here: each is a list of 6 to 32 event ids from a vocabulary of 80 (0 is
the padding id, never an event), labelled by the service that wrote it (4 classes). Every
service has ten signature events; a log draws about 30% of its events from its own
service's signatures, a few from another service's and the rest from 40 shared events
(heartbeats, logins...). ``EventLogs`` (a ``Dataset``) returns one log as a 1-D tensor and its
label; ``pad_collate`` pads a batch with ``pad_sequence`` and returns the tokens, the lengths and
the labels. The model (``--arch``): ``lstm``: ``embedding`` (``padding_idx=0``), ``lstm`` and a
``Linear`` head ``fc`` on the output at each log's last real event; ``transformer``:
``embedding``, a learned position embedding ``pos``, an ``nn.TransformerEncoder`` of
``--layers`` post-norm layers with ``src_key_padding_mask``, a masked mean over the real events
and ``fc``. ``CrossEntropyLoss``, ``AdamW`` (``--wd``), the learning rate ramped linearly from 0
to ``--lr`` over ``--warmup`` steps and then down to 0 at the last step, stepped per batch,
gradient-norm clipping at ``--clip`` (0: off). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pad_sequence  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

np = common.np

PAD = 0
VOCAB = 80
SERVICES = 4


def make_logs(n, seed):
    """n logs (lists of event ids) and their service labels."""
    rng = np.random.default_rng(seed)
    signatures = [np.arange(1 + 10 * s, 11 + 10 * s) for s in range(SERVICES)]
    shared = np.arange(1 + 10 * SERVICES, VOCAB)
    logs, labels = [], []
    for _ in range(n):
        s = int(rng.integers(SERVICES))
        length = int(rng.integers(6, 33))
        kind = rng.choice(3, size=length, p=[0.3, 0.07, 0.63])
        events = np.where(kind == 0, rng.choice(signatures[s], size=length),
                          rng.choice(shared, size=length))
        others = rng.choice([o for o in range(SERVICES) if o != s], size=length)
        for i in np.flatnonzero(kind == 1):
            events[i] = rng.choice(signatures[others[i]])
        logs.append(events.astype(np.int64))
        labels.append(s)
    return logs, labels


class EventLogs(Dataset):
    def __init__(self, logs, labels):
        self.logs, self.labels = logs, labels

    def __len__(self):
        return len(self.logs)

    def __getitem__(self, i):
        return torch.from_numpy(self.logs[i]), self.labels[i]


def pad_collate(batch):
    seqs, labels = zip(*batch)
    lengths = torch.tensor([len(s) for s in seqs])
    tokens = pad_sequence(seqs, batch_first=True, padding_value=PAD)
    return tokens, lengths, torch.tensor(labels)


class LSTMClassifier(nn.Module):
    def __init__(self, dim, hidden, n_out):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, dim, padding_idx=PAD)
        self.lstm = nn.LSTM(dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, n_out)

    def forward(self, tokens, lengths):
        out, _ = self.lstm(self.embedding(tokens))
        last = out[torch.arange(len(tokens)), lengths - 1]
        return self.fc(last)


class TransformerClassifier(nn.Module):
    def __init__(self, dim, heads, layers, n_out, dropout, max_len=32):
        super().__init__()
        self.embedding = nn.Embedding(VOCAB, dim, padding_idx=PAD)
        self.pos = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim,
                                           dropout=dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.fc = nn.Linear(dim, n_out)

    def forward(self, tokens, lengths):
        pad_mask = tokens == PAD
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        h = self.embedding(tokens) + self.pos(positions)[None]
        h = self.encoder(h, src_key_padding_mask=pad_mask)
        keep = (~pad_mask).unsqueeze(-1).float()
        pooled = (h * keep).sum(1) / keep.sum(1)
        return self.fc(pooled)


def main():
    p = common.parser(__doc__)
    p.add_argument("--arch", default="lstm", choices=("lstm", "transformer"))
    p.add_argument("--samples", type=int, default=1600)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--hidden", type=int, default=48)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--wd", type=float, default=0.01)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("lambda-returns-lr", "bce-one-logit", "sorted-without-labels"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    logs, labels = make_logs(args.samples, args.seed)
    cut = int(0.8 * len(logs))
    train_logs, train_labels = logs[:cut], labels[:cut]
    if args.bug == "sorted-without-labels":
        # BUG: the logs are sorted by length so that batches need less padding, but the labels
        # are left in their old order: every log now carries another log's label.
        train_logs = sorted(train_logs, key=len)
    train_set = EventLogs(train_logs, train_labels)
    val_set = EventLogs(logs[cut:], labels[cut:])
    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                        collate_fn=pad_collate, generator=g)
    val_loader = DataLoader(val_set, batch_size=256, collate_fn=pad_collate)

    # BUG (bce-one-logit): the binary version of the script, one logit and BCEWithLogitsLoss,
    # kept for four services.
    n_out = 1 if args.bug == "bce-one-logit" else SERVICES
    if args.arch == "lstm":
        model = LSTMClassifier(args.dim, args.hidden, n_out)
    else:
        model = TransformerClassifier(args.dim, args.heads, args.layers, n_out, args.dropout)
    if args.bug == "bce-one-logit":
        criterion = nn.BCEWithLogitsLoss()
        loss_name = "BCEWithLogitsLoss"
    else:
        criterion = nn.CrossEntropyLoss()
        loss_name = "CrossEntropyLoss"

    def compute_loss(logits, y):
        if args.bug == "bce-one-logit":
            return criterion(logits.squeeze(1), y.float())
        return criterion(logits, y)

    def predict(logits):
        if args.bug == "bce-one-logit":
            return (logits.squeeze(1) > 0).long()
        return logits.argmax(1)

    no_decay = ("bias", "norm", "pos")
    groups = [
        {"params": [p_ for n_, p_ in model.named_parameters()
                    if not any(k in n_ for k in no_decay)], "weight_decay": args.wd},
        {"params": [p_ for n_, p_ in model.named_parameters()
                    if any(k in n_ for k in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    steps_per_epoch = len(loader)
    total = steps_per_epoch * args.epochs

    if args.bug == "lambda-returns-lr":
        # BUG: the warm-up function returns the learning rate itself, but LambdaLR multiplies
        # the optimizer's learning rate by what the function returns: lr * lr at the peak.
        def lr_lambda(step):
            if step < args.warmup:
                return args.lr * step / max(1, args.warmup)
            return args.lr * max(0.0, (total - step) / max(1, total - args.warmup))
    else:
        def lr_lambda(step):
            if step < args.warmup:
                return step / max(1, args.warmup)
            return max(0.0, (total - step) / max(1, total - args.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name=loss_name,
        steps_per_epoch=steps_per_epoch, num_classes=SERVICES, batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (tokens, lengths, y) in enumerate(loader):
            optimizer.zero_grad()
            logits = model(tokens, lengths)
            loss = compute_loss(logits, y)
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            scheduler.step()
            acc = (predict(logits) == y).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                total_loss, correct, n = 0.0, 0, 0
                with torch.no_grad():
                    for vt, vl, vy in val_loader:
                        vout = model(vt, vl)
                        total_loss += compute_loss(vout, vy).item() * len(vy)
                        correct += (predict(vout) == vy).sum().item()
                        n += len(vy)
                val_loss, val_acc = total_loss / n, correct / n
                model.train()
            rec.step(loss, accuracy=acc, inputs=tokens, targets=y, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f val %.4f acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc,
            optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "seqcls-lambda-returns-lr", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a LambdaLR function that "
               "returns the learning rate instead of a factor of it); DeepFD fault type: "
               "learning rate too low",
     "bug": "the LambdaLR function returns lr * step / warmup (then lr times the linear "
            "decay) instead of the factor: LambdaLR multiplies it by the optimizer's learning "
            "rate 3e-3, so the peak learning rate is 9e-6; in 6 epochs the loss stays at ln 4 "
            "and the classifier at chance",
     "fix": "the warm-up function returns the factor (step / warmup, then the linear decay), "
            "which LambdaLR multiplies by the optimizer's learning rate",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "lstm",
          "bug": "the LambdaLR function returns lr * step / warmup (then lr times the linear "
                 "decay) instead of the factor, so the peak learning rate is 3e-3 * 3e-3 = "
                 "9e-6: the LSTM's training loss goes from 1.384 to 1.382 in 6 epochs "
                 "(ln 4 = 1.386) and the validation accuracy ends at 0.26 of four classes "
                 "against the twin's 0.92",
          "buggy": "--bug lambda-returns-lr --record-every 2",
          "fixed": "--record-every 2"},
         {"id": "transformer",
          "bug": "the LambdaLR function returns lr * step / warmup (then lr times the linear "
                 "decay) instead of the factor, so the peak learning rate is 9e-6: the "
                 "transformer's training loss goes from 1.412 to 1.406 in 6 epochs and the "
                 "validation accuracy ends at 0.24 against the twin's 0.88",
          "buggy": "--arch transformer --bug lambda-returns-lr --record-every 2",
          "fixed": "--arch transformer --record-every 2", "architecture": "transformer"},
     ]},
    {"family": "seqcls-bce-one-logit", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark (Stack Overflow): binary cross-entropy used for more than "
               "two classes; Humbatova et al. 2020: wrong loss function (the binary script's "
               "one logit and BCEWithLogitsLoss kept for four classes)",
     "bug": "one logit and BCEWithLogitsLoss on the class indices 0..3: targets 2 and 3 lie "
            "outside [0, 1], the loss has no lower bound and falls from -0.02 to -10.5 "
            "(validation -10.8) while the logit grows; the validation accuracy (logit > 0 "
            "read as class 1) ends at 0.30 of four classes against the twin's 0.93",
     "fix": "four logits (Linear(hidden, 4)) and CrossEntropyLoss on the class indices",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "lstm",
          "buggy": "--bug bce-one-logit --seed 1 --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "seqcls-sorted-without-labels", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: training data: wrong labels (the inputs reordered "
               "without their labels); DeepLocalize benchmark (Stack Overflow): 'accuracy "
               "stays at chance' after a preprocessing step",
     "bug": "the training logs are sorted by length to save padding but the label list is "
            "not: every log carries another log's label, the LSTM can only memorize; training "
            "loss 1.391 -> 1.226 (accuracy 0.46 on the training set), validation loss 1.458 "
            "and accuracy 0.26 of four classes against the twin's 0.91",
     "fix": "sort the (log, label) pairs together, or leave the order to the shuffling loader",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "lstm-bs64",
          "buggy": "--batch-size 64 --lr 5e-3 --bug sorted-without-labels --record-every 2",
          "fixed": "--batch-size 64 --lr 5e-3 --record-every 2"},
     ]},
    {"family": "seqcls-transformer-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "oscillating loss",
     "bug": "AdamW at learning rate 2 (meant 3e-3) with the warm-up of 30 steps and the "
            "linear decay: the epoch losses go 3.54, 7.52, 6.39, 5.52, 2.08, 1.42 (ln 4 = 1.39) "
            "as the decay brings the rate down, and the validation accuracy ends at 0.25 of "
            "four classes against the twin's 0.93",
     "fix": "AdamW at 3e-3 with the same warm-up and decay",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-warmup",
          "buggy": "--arch transformer --lr 2 --seed 3 --record-every 2",
          "fixed": "--arch transformer --lr 3e-3 --seed 3 --record-every 2"},
     ]},
    {"family": "healthy-seqcls", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "an LSTM or transformer classifier of padded event logs that trains well",
     "healthy": [
         {"id": "lstm-seed2",
          "args": "--seed 2 --record-every 2",
          "description": "the LSTM with AdamW 3e-3, warm-up 30 steps"},
         {"id": "transformer-seed4",
          "args": "--arch transformer --seed 4 --record-every 2",
          "description": "one post-norm encoder layer, AdamW 3e-3", "architecture": "transformer"},
         {"id": "lstm-h64-bs64-lr5e-3-seed3",
          "args": "--lr 5e-3 --batch-size 64 --hidden 64 --seed 3 --record-every 2",
          "description": "a wider LSTM, batches of 64, AdamW 5e-3"},
         {"id": "transformer-2layers-lr1e-3-seed5",
          "args": "--arch transformer --layers 2 --heads 2 --lr 1e-3 --warmup 60 --seed 5 --record-every 2",
          "description": "two encoder layers of two heads, AdamW 1e-3, warm-up 60 steps",
          "architecture": "transformer"},
         {"id": "lstm-bs16-noclip-wd0.1-seed6",
          "args": "--clip 0 --wd 0.1 --batch-size 16 --lr 1e-3 --seed 6 --record-every 2",
          "description": "batches of 16, no clipping, weight decay 0.1, AdamW 1e-3"},
     ]},
]


if __name__ == "__main__":
    main()
