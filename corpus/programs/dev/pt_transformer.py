"""A small transformer encoder on synthetic token sequences (PyTorch).

Token and position embeddings, one block of multi-head self-attention and a feed-forward
network, each with a residual connection and LayerNorm (post-norm, as in the original
transformer), mean pooling and a linear classifier. The task: which of two marker tokens
occurs more often in the sequence (common.token_task).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--vocab", type=int, default=40)
    p.add_argument("--length", type=int, default=24)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--ff", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--opt", default="adamw")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--wd", type=float, default=0.01)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--schedule", default="warmup:40", help="none, warmup:N, cosine")
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--bug", default=None, choices=("softmax-then-ce",))
    args = p.parse_args()

    torch = common.torch_setup(args.seed)
    from torch import nn

    x, y = common.token_task(args.samples, args.length, args.vocab, seed=args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(args.vocab, args.dim)
            self.pos = nn.Embedding(args.length, args.dim)
            self.attn = nn.MultiheadAttention(args.dim, args.heads, dropout=args.dropout,
                                              batch_first=True)
            self.norm1 = nn.LayerNorm(args.dim)
            self.ff1 = nn.Linear(args.dim, args.ff)
            self.act = nn.GELU()
            self.ff2 = nn.Linear(args.ff, args.dim)
            self.norm2 = nn.LayerNorm(args.dim)
            self.drop = nn.Dropout(args.dropout)
            self.head = nn.Linear(args.dim, 2)
            self.softmax = nn.Softmax(dim=-1)

        def forward(self, tokens):
            positions = torch.arange(tokens.shape[1])
            h = self.tok(tokens) + self.pos(positions)[None]
            a, _ = self.attn(h, h, h, need_weights=False)
            h = self.norm1(h + self.drop(a))
            h = self.norm2(h + self.drop(self.ff2(self.act(self.ff1(h)))))
            logits = self.head(h.mean(dim=1))
            if args.bug == "softmax-then-ce":
                # BUG: probabilities returned, and CrossEntropyLoss applies softmax again.
                return self.softmax(logits)
            return logits

    model = Encoder()
    X_tr, X_val = torch.tensor(x_tr), torch.tensor(x_val)
    Y_tr, Y_val = torch.tensor(y_tr), torch.tensor(y_val)
    loss_fn = nn.CrossEntropyLoss()
    if args.opt == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.wd)
    elif args.opt == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    elif args.opt == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    else:
        opt = torch.optim.RMSprop(model.parameters(), lr=args.lr)
    steps_per_epoch = (len(X_tr) + args.bs - 1) // args.bs
    kind, _, value = args.schedule.partition(":")
    sched = None
    if kind == "warmup":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / int(value)))
    elif kind == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * steps_per_epoch)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=opt, task="classification", loss_name="CrossEntropyLoss",
        steps_per_epoch=steps_per_epoch, num_classes=2, batch_size=args.bs)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(X_tr), generator=g)
        for b in range(steps_per_epoch):
            idx = order[b * args.bs:(b + 1) * args.bs]
            xb, yb = X_tr[idx], Y_tr[idx]
            opt.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            if args.clip:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            opt.step()
            if sched is not None:
                sched.step()
            acc = (out.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(X_val)
                    val_loss = float(loss_fn(vout, Y_val))
                    val_acc = float((vout.argmax(1) == Y_val).float().mean())
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "transformer-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "DeepFD fault type: learning rate too high (a transformer without warm-up)",
     "bug": "Adam at learning rate 0.3 from the first step, no warm-up and no clipping: the "
            "attention and feed-forward weights are thrown around and the classifier stays at "
            "chance",
     "fix": "learning rate 0.002",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-no-warmup",
          "buggy": "--opt adam --lr 0.3 --schedule none --clip 0",
          "fixed": "--opt adam --lr 0.002 --schedule none --clip 0"},
     ]},
    {"family": "healthy-transformer-tokens", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a small transformer encoder that trains well",
     "healthy": [
         {"id": "adamw-warmup", "args": ""},
         {"id": "adam-plain", "args": "--opt adam --lr 0.001 --schedule none --clip 0"},
         {"id": "adamw-cosine", "args": "--schedule cosine --lr 0.003"},
         {"id": "small-no-dropout-bs16", "args": "--heads 2 --dim 16 --ff 32 --dropout 0 --bs 16 --epochs 2"},
         {"id": "adamw-warmup-seed1", "args": "--seed 1"},
     ]},
    {"family": "transformer-lr-too-low", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER: slow convergence; DeepFD fault type: learning rate too low",
     "bug": "RMSprop with learning rate 1e-6 and no schedule: the loss barely moves and the "
            "classifier stays at chance",
     "fix": "learning rate 1e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop",
          "buggy": "--opt rmsprop --lr 1e-6 --schedule none",
          "fixed": "--opt rmsprop --lr 0.001 --schedule none"},
     ]},
    {"family": "healthy-transformer-variants", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a small transformer encoder that trains well",
     "healthy": [
         {"id": "rmsprop-bs64-seed2",
          "args": "--opt rmsprop --lr 0.001 --schedule none --bs 64 --epochs 6 --seed 2",
          "description": "batch size 64, no schedule"},
     ]},
]


if __name__ == "__main__":
    main()
