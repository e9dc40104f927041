"""A minimal Mamba (Gu & Dao 2023) on the selective copying task, written as the "mamba-minimal"
repositories write it: the whole selective state-space model in plain PyTorch, the scan a Python
loop over time.

The data are generated here (selective copying): a sequence is 16 positions of which 4, at
random places and in order, hold a data token (1 to 8) and the rest the noise token 0, followed
by 4 marker tokens (9). At the 4 marker positions the model has to output the 4 data tokens in
the order they appeared. 3000 sequences train, 600 (drawn with another seed) are held out; the
metric is the held-out token accuracy at the marker positions (chance 1/8).

The model (``Mamba``): an ``nn.Embedding`` (``embedding``, ``--d-model`` channels), ``--layers``
``ResidualBlock``s (``x + mixer(norm(x))``, ``norm`` an ``RMSNorm``), a final ``RMSNorm``
(``norm_f``) and a ``Linear`` head (``lm_head``) to the vocabulary. ``MambaBlock`` as in
mamba-minimal: ``in_proj`` to the input ``x`` and the gate ``z`` (expand 2), a depthwise causal
``Conv1d`` (kernel 4, padded by 3 and cut to the sequence length), SiLU, ``x_proj`` to the
low-rank ``delta`` (rank ceil(d_model / 16)), ``B`` and ``C`` (``--d-state`` each), ``dt_proj``
(the delta's projection with its bias initialised so that softplus gives steps in [0.001, 0.1]),
``delta = softplus(dt_proj(delta))``, ``A = -exp(A_log)`` with ``A_log`` initialised S4D-real
(``A_n = n``, n = 1..N), the discretization ``exp(delta A)`` and ``delta B u``, the selective
scan ``h = dA h + dB u; y = C h`` as a ``for`` loop over the positions, the ``D`` skip term,
the output gated by ``SiLU(z)`` and ``out_proj``. ``nn.CrossEntropyLoss`` on the marker
positions, AdamW (weight decay 0.01) with gradient-norm clipping at 1.0. The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
N_DATA = 4
N_COLORS = 8
REGION = 16
MARKER = N_COLORS + 1
VOCAB = N_COLORS + 2


def selective_copying(n, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, REGION + N_DATA), dtype=np.int64)
    y = rng.integers(1, N_COLORS + 1, size=(n, N_DATA))
    for i in range(n):
        pos = np.sort(rng.choice(REGION, size=N_DATA, replace=False))
        x[i, pos] = y[i]
    x[:, REGION:] = MARKER
    return x, y.astype(np.int64)


class RMSNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaBlock(nn.Module):
    def __init__(self, d_model, d_state=16, expand=2, d_conv=4, dt_min=0.001, dt_max=0.1,
                 bug=None):
        super().__init__()
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16)
        self.d_state = d_state
        self.bug = bug
        self.in_proj = nn.Linear(d_model, self.d_inner * 2, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, kernel_size=d_conv, bias=True,
                                groups=self.d_inner, padding=d_conv - 1)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + d_state * 2, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        # dt bias: softplus(bias) lands in [dt_min, dt_max] (the inverse of softplus)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min))
                       + math.log(dt_min))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))        # S4D-real initialization
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def forward(self, x):
        b, l, d = x.shape
        x_and_res = self.in_proj(x)
        x, res = x_and_res.split([self.d_inner, self.d_inner], dim=-1)
        x = x.transpose(1, 2)
        x = self.conv1d(x)[:, :, :l]
        x = x.transpose(1, 2)
        x = F.silu(x)
        y = self.ssm(x)
        y = y * F.silu(res)
        return self.out_proj(y)

    def ssm(self, x):
        if self.bug == "a-positive":
            # BUG: the minus sign of A = -exp(A_log) dropped: every decay exp(delta A) is
            # larger than 1 and the state grows along the sequence.
            A = torch.exp(self.A_log.float())
        else:
            A = -torch.exp(self.A_log.float())
        D = self.D.float()
        x_dbl = self.x_proj(x)
        delta, B, C = x_dbl.split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(delta))
        return self.selective_scan(x, delta, A, B, C, D)

    def selective_scan(self, u, delta, A, B, C, D):
        b, l, d_in = u.shape
        deltaA = torch.exp(torch.einsum("bld,dn->bldn", delta, A))
        deltaB_u = torch.einsum("bld,bln,bld->bldn", delta, B, u)
        h = torch.zeros((b, d_in, self.d_state), device=u.device)
        ys = []
        for i in range(l):
            if self.bug == "state-reset":
                # BUG: the state's initialisation indented into the loop: h starts from zero
                # at every position, so nothing is carried along the sequence.
                h = torch.zeros((b, d_in, self.d_state), device=u.device)
            h = deltaA[:, i] * h + deltaB_u[:, i]
            y = torch.einsum("bdn,bn->bd", h, C[:, i, :])
            ys.append(y)
        y = torch.stack(ys, dim=1)
        return y + u * D


class ResidualBlock(nn.Module):
    def __init__(self, d_model, d_state, bug=None):
        super().__init__()
        self.mixer = MambaBlock(d_model, d_state=d_state, bug=bug)
        self.norm = RMSNorm(d_model)

    def forward(self, x):
        return self.mixer(self.norm(x)) + x


class Mamba(nn.Module):
    def __init__(self, vocab_size, d_model, n_layer, d_state, bug=None):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.layers = nn.ModuleList([ResidualBlock(d_model, d_state, bug=bug)
                                     for _ in range(n_layer)])
        self.norm_f = RMSNorm(d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)

    def forward(self, input_ids):
        x = self.embedding(input_ids)
        for layer in self.layers:
            x = layer(x)
        x = self.norm_f(x)
        return self.lm_head(x)


def main():
    p = common.parser(__doc__)
    p.add_argument("--d-model", type=int, default=32)
    p.add_argument("--d-state", type=int, default=8)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("a-positive", "state-reset"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x_tr, y_tr = selective_copying(3000, seed=args.seed)
    x_val, y_val = selective_copying(600, seed=10_000 + args.seed)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    xv, yv = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = Mamba(VOCAB, args.d_model, args.layers, args.d_state, bug=args.bug)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    criterion = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = len(xt) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=VOCAB,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = xt[idx], yt[idx]
            logits = model(xb)[:, -N_DATA:]                  # the marker positions
            loss = criterion(logits.reshape(-1, VOCAB), yb.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            acc = (logits.argmax(-1) == yb).float().mean().item()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(xv)[:, -N_DATA:]
                    val_loss = criterion(vl.reshape(-1, VOCAB), yv.reshape(-1)).item()
                    val_acc = (vl.argmax(-1) == yv).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "mamba-state-reset", "split": "dev", "architecture": "rnn",
     "origin": "Humbatova et al. 2020 (model: wrong state handling in a recurrent layer; "
               "training code: a statement at the wrong indentation): the recurrent state "
               "re-initialised inside the scan loop",
     "bug": "h = torch.zeros(...) indented into the selective scan's for loop: the state "
            "starts from zero at every position, each output sees only the causal "
            "convolution's 4 positions and the 4 data tokens cannot be carried to the "
            "markers; the held-out token accuracy ends at 0.312 (loss 2.13 to 1.65; chance "
            "0.125) against the twin's 0.942",
     "fix": "h = torch.zeros(...) once before the loop, the state carried from position to "
            "position",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed0",
          "buggy": "--bug state-reset --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "mamba-lr-too-high", "split": "dev", "architecture": "rnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": ("AdamW at 0.1 (meant 3e-3), gradient norms clipped at 1.0: the loss goes from 2.21 "
            "in the first epoch to ln 8 (2.08) and stays there, with a jump in the 5th epoch; "
            "the held-out token accuracy ends at chance, 0.116, against the twin's 0.986"),
     "fix": "learning rate 3e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed2",
          "buggy": "--lr 0.1 --seed 2 --record-every 4",
          "fixed": "--lr 3e-3 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-mamba", "split": "dev", "architecture": "rnn",
     "origin": "healthy run",
     "description": "a minimal Mamba that learns selective copying",
     "healthy": [
         {"id": "d48-state16-lr2e-3-seed1",
          "args": "--d-model 48 --d-state 16 --lr 2e-3 --seed 1 --record-every 4",
          "description": "48 channels, 16 states, AdamW at 2e-3 (held-out token accuracy "
                         "0.986)"},
     ]},
]


if __name__ == "__main__":
    main()
