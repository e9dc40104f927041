"""Text-like classification with an embedding and a recurrent layer (PyTorch).

Synthetic "documents" of token ids (a vocabulary of several hundred words, 4 topics marked by
which of four keywords is most frequent); Embedding -> GRU (or LSTM) -> Linear on the last
hidden state. Written as a Module class with a DataLoader and a validation pass per epoch.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402


class TextClassifier(nn.Module):
    def __init__(self, vocab, dim, hidden, classes, rnn="gru", probabilities=False):
        super().__init__()
        self.embedding = nn.Embedding(vocab, dim, padding_idx=0)
        self.rnn = (nn.GRU if rnn == "gru" else nn.LSTM)(dim, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)
        self.probabilities = probabilities

    def forward(self, tokens):
        out, _ = self.rnn(self.embedding(tokens))
        logits = self.fc(out[:, -1, :])
        if self.probabilities:
            # BUG (softmax-then-ce): returns probabilities, and CrossEntropyLoss applies
            # log-softmax to them again.
            return F.softmax(logits, dim=-1)
        return logits


def main():
    p = common.parser(__doc__)
    p.add_argument("--vocab", type=int, default=300)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--docs", type=int, default=2000)
    p.add_argument("--rnn", default="gru", choices=("gru", "lstm"))
    p.add_argument("--dim", type=int, default=24)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--optimizer", default="adam")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--clip", type=float, default=None)
    p.add_argument("--zero-init-head", action="store_true",
                   help="start the classifier at zero (a common fine-tuning habit)")
    p.add_argument("--bug", default=None,
                   choices=("softmax-then-ce", "head-frozen", "zero-grad-after-backward"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.token_task(args.docs, args.length, args.vocab, seed=args.seed, classes=4)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    loader = DataLoader(TensorDataset(torch.tensor(x_tr), torch.tensor(y_tr)),
                        batch_size=args.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(args.seed))
    X_val, Y_val = torch.tensor(x_val), torch.tensor(y_val)

    model = TextClassifier(args.vocab, args.dim, args.hidden, 4, args.rnn,
                           probabilities=args.bug == "softmax-then-ce")
    if args.zero_init_head:
        nn.init.zeros_(model.fc.weight)
        nn.init.zeros_(model.fc.bias)
    if args.bug == "head-frozen":
        # BUG: meant to freeze the embedding (`model.embedding.requires_grad_(False)`), but
        # freezes the classifier, which starts at zero and therefore stays at zero.
        model.fc.requires_grad_(False)
    criterion = nn.CrossEntropyLoss()
    params = [q for q in model.parameters() if q.requires_grad]
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9)
    elif args.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(params, lr=args.lr)
    elif args.optimizer == "adagrad":
        optimizer = torch.optim.Adagrad(params, lr=args.lr)
    else:
        optimizer = torch.optim.Adam(params, lr=args.lr)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=len(loader), num_classes=4)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (tokens, labels) in enumerate(loader):
            if args.bug != "zero-grad-after-backward":
                optimizer.zero_grad()
            scores = model(tokens)
            loss = criterion(scores, labels)
            loss.backward()
            if args.bug == "zero-grad-after-backward":
                # BUG: gradients cleared between backward() and step(): nothing is updated
                optimizer.zero_grad()
            if args.clip:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            acc = (scores.argmax(-1) == labels).float().mean()
            val_loss = val_acc = None
            if i == len(loader) - 1:
                model.eval()
                with torch.no_grad():
                    v = model(X_val)
                    val_loss = criterion(v, Y_val).item()
                    val_acc = (v.argmax(-1) == Y_val).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=tokens, targets=labels, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "text-frozen-zero-init-head", "split": "test", "architecture": "gru",
     "origin": "Humbatova et al. 2020: a layer frozen by mistake",
     "bug": "the zero-initialized classifier is frozen (model.fc.requires_grad_(False)) where "
            "the embedding was meant: the logits stay exactly 0 and the loss stays at ln 4",
     "fix": "the freezing line removed (the classifier trains)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "dead_or_zero"],
     "root_cause": {"layer_name": "fc", "layer_index": 2},
     "pairs": [
         {"id": "gru-adam", "buggy": "--zero-init-head --bug head-frozen",
          "fixed": "--zero-init-head"},
     ]},
    {"family": "text-zero-grad-after-backward", "split": "test", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: optimizer.zero_grad() in the wrong place",
     "bug": "optimizer.zero_grad() called between loss.backward() and optimizer.step(): the "
            "gradients are cleared before every update, the weights never change",
     "fix": "optimizer.zero_grad() before the forward pass",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "lstm-adam", "buggy": "--rnn lstm --bug zero-grad-after-backward",
          "fixed": "--rnn lstm"},
     ]},
    {"family": "healthy-text-rnn", "split": "test", "architecture": "gru",
     "origin": "healthy run",
     "description": "an embedding + recurrent text classifier that trains well",
     "healthy": [
         {"id": "gru-adam", "args": ""},
         {"id": "lstm-rmsprop", "args": "--rnn lstm --optimizer rmsprop --lr 0.003", "architecture": "lstm"},
         {"id": "gru-vocab2000-bs8", "args": "--vocab 2000 --batch-size 8 --epochs 1 --lr 0.003",
          "description": "a vocabulary of 2000 words and batches of 8: most embedding rows get no gradient in a step"},
         {"id": "gru-sgd-clip", "args": "--optimizer sgd --lr 0.1 --clip 1 --epochs 5"},
         {"id": "gru-zero-init-head", "args": "--zero-init-head --optimizer adagrad --lr 0.05",
          "description": "a zero-initialized classifier that trains (the head wakes up the earlier layers)"},
     ]},
]


if __name__ == "__main__":
    main()
