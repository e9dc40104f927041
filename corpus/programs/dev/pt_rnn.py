"""Recurrent networks on synthetic sequences (PyTorch), configured from the command line.

``--task forecast``: predict the next value of a noisy sine from a window (regression).
``--task classify``: tell ramps, sines and square waves apart (3 classes).
The model is an ``nn.LSTM``, ``nn.GRU`` or ``nn.RNN`` (``--cell``), then a linear head on the
last time step.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402


def main():
    p = common.parser(__doc__)
    p.add_argument("--task", default="forecast", choices=("forecast", "classify"))
    p.add_argument("--cell", default="lstm", choices=("lstm", "gru", "rnn", "rnn-relu"))
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--length", type=int, default=30)
    p.add_argument("--samples", type=int, default=1200)
    p.add_argument("--opt", default="adam")
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--bs", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--clip", type=float, default=None, help="clip the gradient norm to this")
    p.add_argument("--init", default="default", help="default, uniform:A (recurrent weights)")
    p.add_argument("--target-scale", type=float, default=1.0)
    p.add_argument("--schedule", default="none", help="none, warmup:N, warmup-int:N, cosine")
    args = p.parse_args()

    torch = common.torch_setup(args.seed)
    from torch import nn

    if args.task == "forecast":
        x, y = common.sine_windows(args.samples, args.length, seed=args.seed)
        y = y * args.target_scale
        n_out, classes = 1, None
    else:
        x, y = common.sequence_classes(args.samples, args.length, seed=args.seed)
        n_out, classes = 3, 3
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed, stratify=classes is not None)

    cell = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN, "rnn-relu": nn.RNN}[args.cell]

    class SeqModel(nn.Module):
        def __init__(self):
            super().__init__()
            kw = {"nonlinearity": "relu"} if args.cell == "rnn-relu" else {}
            self.rnn = cell(x.shape[2], args.hidden, num_layers=args.layers, batch_first=True, **kw)
            self.head = nn.Linear(args.hidden, n_out)

        def forward(self, seq):
            out, _ = self.rnn(seq)
            return self.head(out[:, -1])

    model = SeqModel()
    kind, _, value = args.init.partition(":")
    if kind == "uniform":
        for name, param in model.rnn.named_parameters():
            if name.startswith("weight"):
                nn.init.uniform_(param, -float(value), float(value))

    X_tr, X_val = torch.tensor(x_tr), torch.tensor(x_val)
    if classes:
        Y_tr, Y_val = torch.tensor(y_tr), torch.tensor(y_val)
        loss_fn = nn.CrossEntropyLoss()
    else:
        Y_tr, Y_val = torch.tensor(y_tr).reshape(-1, 1), torch.tensor(y_val).reshape(-1, 1)
        loss_fn = nn.MSELoss()
    opt = {"sgd": lambda: torch.optim.SGD(model.parameters(), lr=args.lr),
           "momentum": lambda: torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9),
           "adam": lambda: torch.optim.Adam(model.parameters(), lr=args.lr),
           "rmsprop": lambda: torch.optim.RMSprop(model.parameters(), lr=args.lr)}[args.opt]()
    steps_per_epoch = (len(X_tr) + args.bs - 1) // args.bs
    kind, _, value = args.schedule.partition(":")
    sched = None
    if kind == "warmup":
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / int(value)))
    elif kind == "warmup-int":
        # the same warm-up with integer division: the factor is 0 until step N
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1, s // int(value)))
    elif kind == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.epochs * steps_per_epoch)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=opt, task="classification" if classes else "regression",
        loss_name=type(loss_fn).__name__, steps_per_epoch=steps_per_epoch, num_classes=classes,
        batch_size=args.bs)
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
            acc = (out.argmax(1) == yb).float().mean() if classes else None
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(X_val)
                    val_loss = float(loss_fn(vout, Y_val))
                    if classes:
                        val_acc = float((vout.argmax(1) == Y_val).float().mean())
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), None if acc is None else acc.item())
        history.epoch(val_loss, val_acc)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "rnn-exploding-no-clip", "split": "dev", "architecture": "rnn",
     "origin": "AUTOTRAINER: exploding gradient (a recurrent network without gradient clipping)",
     "bug": "a ReLU nn.RNN whose recurrent weights are drawn from U(-0.5, 0.5) (spectral "
            "radius above 1), trained with SGD and no clipping: activations and gradients grow "
            "over the 30 time steps and the loss overflows",
     "fix": "gradients clipped to norm 1 (clip_grad_norm_)",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "relu-rnn-sgd",
          "buggy": "--task forecast --cell rnn-relu --init uniform:0.5 --opt sgd --lr 0.05 --epochs 6",
          "fixed": "--task forecast --cell rnn-relu --init uniform:0.5 --opt sgd --lr 0.05 --epochs 6 --clip 1"},
     ]},
    {"family": "rnn-warmup-integer-division", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a warm-up written with "
               "integer division, so the learning rate is 0)",
     "bug": "LambdaLR warm-up factor min(1, step // 400) in a 240-step run: the learning rate "
            "is 0 throughout, the weights never change",
     "fix": "the warm-up factor min(1, (step + 1) / 400)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "lstm-classify",
          "buggy": "--task classify --cell lstm --lr 0.01 --schedule warmup-int:400 --epochs 8",
          "fixed": "--task classify --cell lstm --lr 0.01 --schedule warmup:400 --epochs 8"},
     ]},
    {"family": "healthy-rnn-sequences", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a recurrent network on synthetic sequences that trains well",
     "healthy": [
         {"id": "lstm-forecast-adam", "args": "--task forecast --epochs 6"},
         {"id": "gru-classify-adam", "args": "--task classify --cell gru --epochs 6", "architecture": "gru"},
         {"id": "lstm-classify-rmsprop", "args": "--task classify --cell lstm --opt rmsprop --lr 0.003 --epochs 6"},
         {"id": "rnn-forecast-momentum-clip", "args": "--task forecast --cell rnn --opt momentum --lr 0.01 --clip 1 --epochs 6",
          "architecture": "rnn"},
         {"id": "gru-forecast-cosine", "args": "--task forecast --cell gru --schedule cosine --epochs 6",
          "architecture": "gru"},
         {"id": "lstm-2layers-warmup", "args": "--task classify --cell lstm --layers 2 --schedule warmup:60 --epochs 6"},
         {"id": "gru-forecast-bs8", "args": "--task forecast --cell gru --bs 8 --lr 0.001 --epochs 2",
          "architecture": "gru", "description": "batch size 8"},
     ]},
    {"family": "gru-lr-too-high", "split": "dev", "architecture": "gru",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "plain SGD with learning rate 20 on a GRU classifier: the head and gate weights "
            "are thrown far at every step, the loss stays in the tens and jumps, the "
            "accuracy stays near chance (no NaN)",
     "fix": "learning rate 0.5",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "classify-sgd",
          "buggy": "--task classify --cell gru --opt sgd --lr 20 --epochs 6",
          "fixed": "--task classify --cell gru --opt sgd --lr 0.5 --epochs 6"},
     ]},
    {"family": "healthy-rnn-variants", "split": "dev", "architecture": "gru",
     "origin": "healthy run",
     "description": "a recurrent network on synthetic sequences that trains well",
     "healthy": [
         {"id": "gru-classify-momentum-clip-seed2",
          "args": "--task classify --cell gru --opt momentum --lr 0.05 --clip 1 --epochs 6 --seed 2"},
         {"id": "rnn-forecast-adam-seed1",
          "args": "--task forecast --cell rnn --opt adam --lr 0.003 --epochs 6 --seed 1",
          "architecture": "rnn"},
     ]},
]


if __name__ == "__main__":
    main()
