"""A PyTorch diagonal state-space model (S4D, Gu et al. 2022) classifying long token sequences,
written as the minimal S4D reference implementation (``s4d.py`` and ``example.py`` of the
state-spaces repository) writes it.

The data are generated here: sequences of 256 tokens over a vocabulary of 12. Tokens 0 to 7 are
noise, drawn uniformly; one of the four marker tokens 8 to 11 is placed at a random position
among the first 16, and the marker sets the class. The label is read at the END of the sequence
(the last position's output), so the model has to carry the marker across 240 or more steps.
2000 sequences train, 500 validate.

The model (``S4Model``): an ``nn.Embedding`` encoder (``encoder``, ``--d-model`` channels), then
``--layers`` residual blocks of ``S4D`` (its ``S4DKernel``: a complex diagonal state matrix A
initialised S4D-Lin, ``A = -0.5 + i pi n``, stored as ``log_A_real`` and ``A_imag``; a complex
``C``; a learned log step size ``log_dt`` drawn in [log 0.001, log 0.1]; the kernel
``K = 2 Re(sum_n C_n (exp(dt A_n) - 1) / A_n exp(dt A_n l))`` for l < L, applied to the input
by FFT with zero padding to 2L), a ``D`` skip term, GELU, dropout and a 1x1 ``Conv1d`` + GLU
output (``output_linear``), each block post-normed by a ``LayerNorm`` (``norms.i``) after the
residual sum; a ``decoder`` ``Linear`` on the last position. ``nn.CrossEntropyLoss``; AdamW
with the SSM parameters (``log_dt``, ``log_A_real``, ``A_imag``) in their own groups at
``--ssm-lr`` without weight decay, the rest at ``--lr`` with ``--weight-decay``; a
``CosineAnnealingLR`` over the epochs. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
CLASSES = 4
NOISE = 8
VOCAB = NOISE + CLASSES


def marker_sequences(n, length, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, NOISE, size=(n, length))
    y = rng.integers(0, CLASSES, size=n)
    pos = rng.integers(0, 16, size=n)
    x[np.arange(n), pos] = NOISE + y
    return x.astype(np.int64), y.astype(np.int64)


class S4DKernel(nn.Module):
    """Generates the convolution kernel from diagonal SSM parameters."""

    def __init__(self, d_model, N=64, dt_min=0.001, dt_max=0.1, lr=None, bug=None):
        super().__init__()
        H = d_model
        log_dt = torch.rand(H) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        C = torch.randn(H, N // 2, dtype=torch.cfloat)
        self.C = nn.Parameter(torch.view_as_real(C))
        self.register("log_dt", log_dt, lr)
        log_A_real = torch.log(0.5 * torch.ones(H, N // 2))
        A_imag = math.pi * torch.arange(N // 2).float().repeat(H, 1)
        self.register("log_A_real", log_A_real, lr)
        self.register("A_imag", A_imag, lr)
        self.bug = bug

    def forward(self, L):
        if self.bug == "dt-not-exp":
            # BUG (dt-not-exp): the step size is used as stored, in log space (negative), so
            # dt * A has a positive real part and exp(dt A l) grows with l.
            dt = self.log_dt
        else:
            dt = torch.exp(self.log_dt)  # (H)
        C = torch.view_as_complex(self.C)  # (H N)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag  # (H N)
        dtA = A * dt.unsqueeze(-1)  # (H N)
        K = dtA.unsqueeze(-1) * torch.arange(L)  # (H N L)
        C = C * (torch.exp(dtA) - 1.) / A
        K = 2 * torch.einsum('hn, hnl -> hl', C, torch.exp(K)).real
        return K

    def register(self, name, tensor, lr=None):
        """Registers a tensor with a configurable learning rate and 0 weight decay"""
        if lr == 0.0:
            self.register_buffer(name, tensor)
        else:
            self.register_parameter(name, nn.Parameter(tensor))
            optim = {"weight_decay": 0.0}
            if lr is not None:
                optim["lr"] = lr
            setattr(getattr(self, name), "_optim", optim)


class S4D(nn.Module):
    def __init__(self, d_model, d_state=64, dropout=0.0, transposed=True, bug=None,
                 **kernel_args):
        super().__init__()
        self.h = d_model
        self.n = d_state
        self.transposed = transposed
        self.bug = bug
        self.D = nn.Parameter(torch.randn(self.h))
        self.kernel = S4DKernel(self.h, N=self.n, bug=bug, **kernel_args)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout) if dropout > 0.0 else nn.Identity()
        self.output_linear = nn.Sequential(
            nn.Conv1d(self.h, 2 * self.h, kernel_size=1),
            nn.GLU(dim=-2),
        )

    def forward(self, u):
        """Input and output shape (B, H, L)"""
        if not self.transposed:
            u = u.transpose(-1, -2)
        L = u.size(-1)
        k = self.kernel(L=L)  # (H L)
        if self.bug == "fft-no-padding":
            # BUG (fft-no-padding): the FFT length is L, not 2L: a circular convolution, the
            # end of the sequence wraps around onto its start.
            k_f = torch.fft.rfft(k, n=L)
            u_f = torch.fft.rfft(u, n=L)
            y = torch.fft.irfft(u_f * k_f, n=L)[..., :L]
        else:
            k_f = torch.fft.rfft(k, n=2 * L)  # (H L)
            u_f = torch.fft.rfft(u, n=2 * L)  # (B H L)
            y = torch.fft.irfft(u_f * k_f, n=2 * L)[..., :L]  # (B H L)
        y = y + u * self.D.unsqueeze(-1)
        y = self.dropout(self.activation(y))
        y = self.output_linear(y)
        if not self.transposed:
            y = y.transpose(-1, -2)
        return y


class S4Model(nn.Module):
    def __init__(self, d_output, d_model=32, d_state=32, n_layers=2, dropout=0.1, ssm_lr=1e-3,
                 bug=None):
        super().__init__()
        self.encoder = nn.Embedding(VOCAB, d_model)
        self.s4_layers = nn.ModuleList()
        self.norms = nn.ModuleList()
        self.dropouts = nn.ModuleList()
        for _ in range(n_layers):
            self.s4_layers.append(S4D(d_model, d_state=d_state, dropout=dropout,
                                      transposed=True, lr=ssm_lr, bug=bug))
            self.norms.append(nn.LayerNorm(d_model))
            self.dropouts.append(nn.Dropout(dropout))
        self.decoder = nn.Linear(d_model, d_output)
        self.bug = bug

    def forward(self, x):
        x = self.encoder(x)  # (B, L, d_model)
        x = x.transpose(-1, -2)  # (B, d_model, L)
        for layer, norm, dropout in zip(self.s4_layers, self.norms, self.dropouts):
            z = x
            z = layer(z)
            z = dropout(z)
            x = z + x
            x = norm(x.transpose(-1, -2)).transpose(-1, -2)
        if self.bug == "first-position":
            # BUG (first-position): the pooled output is taken at position 0, as for a
            # BERT-style [CLS] token; the causal convolution has seen only the first token there.
            x = x[..., 0]
        else:
            x = x[..., -1]  # the last position: (B, d_model)
        return self.decoder(x)


def setup_optimizer(model, lr, weight_decay, epochs, bug=None):
    """The example's optimizer: the SSM parameters (marked with ``_optim``) in their own groups."""
    all_parameters = list(model.parameters())
    if bug == "ssm-one-group":
        # BUG (ssm-one-group): every parameter in one AdamW group, the SSM's log_dt, log_A_real
        # and A_imag at the full learning rate and under weight decay.
        params = all_parameters
    else:
        params = [p for p in all_parameters if not hasattr(p, "_optim")]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if bug != "ssm-one-group":
        hps = [getattr(p, "_optim") for p in all_parameters if hasattr(p, "_optim")]
        hps = [dict(s) for s in sorted(list(dict.fromkeys(frozenset(hp.items()) for hp in hps)))]
        for hp in hps:
            group_params = [p for p in all_parameters if getattr(p, "_optim", None) == hp]
            optimizer.add_param_group({"params": group_params, **hp})
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
    return optimizer, scheduler


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=2500)
    p.add_argument("--length", type=int, default=256)
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--d-state", type=int, default=32)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--ssm-lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=50)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("dt-not-exp", "fft-no-padding",
                                                   "ssm-one-group", "first-position"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = marker_sequences(args.n, args.length, args.seed)
    cut = 2000 * args.n // 2500
    x_tr, y_tr = torch.from_numpy(x[:cut]), torch.from_numpy(y[:cut])
    x_va, y_va = torch.from_numpy(x[cut:]), torch.from_numpy(y[cut:])

    model = S4Model(CLASSES, d_model=args.d_model, d_state=args.d_state, n_layers=args.layers,
                    dropout=args.dropout, ssm_lr=args.ssm_lr, bug=args.bug)
    optimizer, scheduler = setup_optimizer(model, args.lr, args.weight_decay, args.epochs,
                                           bug=args.bug)
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = (cut + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=CLASSES,
        batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(cut, generator=g)
        batches = torch.split(perm, args.batch_size)
        for b, idx in enumerate(batches):
            xb, yb = x_tr[idx], y_tr[idx]
            optimizer.zero_grad()
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == len(batches) - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(x_va)
                    val_loss = criterion(vl, y_va).item()
                    val_acc = (vl.argmax(1) == y_va).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc), flush=True)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "s4d-dt-not-exp", "split": "dev", "architecture": "rnn",
     "origin": "Humbatova et al. 2020: wrong tensor computation in a hand-written layer (a "
               "log-parametrized value used without exp); DeepFD fault type: numerical "
               "error in the forward pass",
     "bug": "S4DKernel.forward uses log_dt (negative, log 0.001 to log 0.1) as the step size "
            "instead of exp(log_dt): dt A has a positive real part, exp(dt A l) overflows over "
            "the 256 positions and the kernel, the loss and every output are NaN from the "
            "first step; the accuracy stays at 0.23 (validation 0.25) against the twin's 0.99",
     "fix": "dt = torch.exp(self.log_dt)",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw",
          "buggy": "--bug dt-not-exp --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "s4d-lr-too-high", "split": "dev", "architecture": "rnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "AdamW at 0.1 for the non-SSM parameters (meant 0.01): the loss stays at ln 4 "
            "(1.39, chance accuracy) for four epochs, then separates only three of the four "
            "classes: validation accuracy 0.75 (loss 0.33) against the twin's 0.99",
     "fix": "learning rate 0.01",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-lr0.1",
          "buggy": "--lr 0.1 --record-every 4",
          "fixed": "--lr 0.01 --record-every 4"},
     ]},
    {"family": "s4d-first-position", "split": "dev", "architecture": "rnn",
     "origin": "Humbatova et al. 2020: wrong tensor shape or indexing (the sequence pooled at "
               "the wrong position, a [CLS]-style x[..., 0] on a causal model)",
     "bug": "the decoder reads the output at position 0 instead of the last position; the "
            "causal SSM convolution has seen only the first token there, which is the marker "
            "in 1 of 16 sequences: in 10 epochs the loss only falls from 1.38 to 1.29, validation accuracy "
            "0.30 against the twin's 1.00",
     "fix": "x = x[..., -1] (the last position)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-ep10",
          "buggy": "--bug first-position --epochs 10 --record-every 4",
          "fixed": "--epochs 10 --record-every 4"},
     ]},
    {"family": "healthy-s4d", "split": "dev", "architecture": "rnn",
     "origin": "healthy run",
     "description": "an S4D diagonal state-space model classifying 256-token sequences by a "
                    "marker near the start that trains well",
     "healthy": [
         {"id": "state64-ep10-seed1",
          "args": "--d-state 64 --epochs 10 --seed 1 --record-every 4",
          "description": "state size 64 (32 complex modes), AdamW at 0.01, 10 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
