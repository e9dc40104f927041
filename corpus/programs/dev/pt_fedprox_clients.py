"""FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks") simulated in one
process with PyTorch: a small MLP on scikit-learn's digits split over 10 non-IID clients of very
unequal sizes.

Written as the PyTorch re-implementations of FedProx write it (``ki-ljl/FedProx-PyTorch``:
``train(args, model, server)`` keeps ``global_model = copy.deepcopy(model)`` and adds
``(mu / 2) * proximal_term`` to the loss, the proximal term summed over
``zip(model.parameters(), global_model.parameters())``; the server's ``aggregation`` averages
the clients' parameters weighted by their sample counts, as in ``FedAvg``; the paper's
reference code ``litian96/FedProx``, ``PerturbedGradientDescent``, does the same with the
gradient ``mu * (w - w_global)``): the digits (8x8 pixels 0..16, scaled to [0, 1]) are split
80/20; client ``c`` holds the three classes ``c``, ``c + 1`` and ``c + 2`` (mod 10), and each
class's training images are shared between its three clients in proportion to client weights
drawn from a log-normal (sigma ``--size-sigma`` 1.5): at seed 0 the clients hold 27 to 274
images. The model is an MLP (``net.0`` 64-64, ReLU, ``net.2`` 64-10). Each of ``--rounds`` 50
rounds samples ``--clients-per-round`` 5 of the 10 clients; each starts from the global
weights, keeps a frozen copy of them (``global_params``), and trains ``--local-epochs`` 1
epoch of plain SGD (``--lr`` 0.2, batches of ``--batch-size`` 20 shuffled each epoch) on
``CrossEntropyLoss + (mu / 2) * sum ||w - w_global||^2`` (``--mu`` 1.0), then returns its
``state_dict`` and its sample count; the server sets each global tensor to the count-weighted
average of the returned tensors.

What is recorded: the clients are trained one at a time in one ``local_model`` (as a client
process would), so one recorder over that model sees every local SGD step of every sampled
client, with the batch's full loss (cross-entropy plus the proximal term: ``loss_name``
``CrossEntropyLoss`` with ``loss_added=True``) and accuracy; a
round is the recorder's epoch (its step count depends on the sampled clients' sizes, so the
round is passed as ``epoch=``). After the server's average, the global model's held-out loss
and accuracy (360 images) are added to the round's last step (``rec.add_validation``). The
result line adds the held-out accuracy (``val_accuracy``) of the global model. The mistakes of
the families in CASES are selected with ``--bug``.
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

CLIENTS = 10
CLASSES_PER_CLIENT = 3


class MLP(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)


def label_skew_split(y, clients, sigma, rng):
    """Client c holds classes c, c + 1 and c + 2; each class is shared by its clients in
    proportion to log-normal client weights, so the clients' sizes are very unequal."""
    weight = rng.lognormal(0.0, sigma, size=clients)
    parts = [[] for _ in range(clients)]
    for k in range(10):
        rows = rng.permutation(np.flatnonzero(y == k))
        owners = [(k - j) % clients for j in range(CLASSES_PER_CLIENT)]
        share = weight[owners] / weight[owners].sum()
        cuts = np.round(np.cumsum(share)[:-1] * len(rows)).astype(int)
        for owner, chunk in zip(owners, np.split(rows, cuts)):
            parts[owner].append(chunk)
    return [np.concatenate(p) for p in parts]


def aggregate(client_dicts, counts, bug=None):
    total = float(sum(counts))
    avg = copy.deepcopy(client_dicts[0])
    for k in avg.keys():
        if bug == "unweighted-average":
            # BUG (unweighted-average): the clients' tensors averaged with equal weights, not
            # weighted by their sample counts.
            avg[k] = sum(d[k] for d in client_dicts) / len(client_dicts)
        else:
            avg[k] = sum(d[k] * (n / total) for d, n in zip(client_dicts, counts))
    return avg


def main():
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, default=50)
    p.add_argument("--clients-per-round", type=int, default=5)
    p.add_argument("--local-epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--mu", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--size-sigma", type=float, default=1.5)
    p.add_argument("--bug", default=None,
                   choices=("prox-sign", "prox-self", "unweighted-average"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_val, y_tr, y_val = common.split(x / 16.0, y, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    parts = label_skew_split(y_tr, CLIENTS, args.size_sigma, rng)
    client_x = [torch.tensor(x_tr[i], dtype=torch.float32) for i in parts]
    client_y = [torch.tensor(y_tr[i], dtype=torch.long) for i in parts]
    print("client sizes: %s" % [len(i) for i in parts])
    val_x = torch.tensor(x_val, dtype=torch.float32)
    val_y = torch.tensor(y_val, dtype=torch.long)

    global_model = MLP(args.hidden)
    local_model = MLP(args.hidden)
    optimizer = torch.optim.SGD(local_model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)

    rec = common.recording.torch_recorder(
        local_model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", loss_added=True, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    val_loss = val_acc = None
    for rnd in range(args.rounds):
        sampled = sorted(rng.choice(CLIENTS, size=args.clients_per_round, replace=False))
        client_dicts, counts = [], []
        batch_in_round = 0
        for c in sampled:
            local_model.load_state_dict(global_model.state_dict())
            global_params = [w.detach().clone() for w in local_model.parameters()]
            local_model.train()
            cx, cy = client_x[c], client_y[c]
            for _ in range(args.local_epochs):
                perm = torch.randperm(len(cx), generator=gen)
                for b in range(0, len(cx), args.batch_size):
                    idx = perm[b:b + args.batch_size]
                    xb, yb = cx[idx], cy[idx]
                    optimizer.zero_grad()
                    out = local_model(xb)
                    if args.bug == "prox-self":
                        # BUG (prox-self): the proximal term taken against the client's own
                        # current weights (detached), so it is always zero: plain FedAvg.
                        anchor = [w.detach() for w in local_model.parameters()]
                    else:
                        anchor = global_params
                    proximal_term = 0.0
                    for w, w_t in zip(local_model.parameters(), anchor):
                        proximal_term = proximal_term + (w - w_t).pow(2).sum()
                    if args.bug == "prox-sign":
                        # BUG (prox-sign): the proximal term subtracted from the loss: the
                        # clients are pushed away from the global weights.
                        loss = criterion(out, yb) - (args.mu / 2) * proximal_term
                    else:
                        loss = criterion(out, yb) + (args.mu / 2) * proximal_term
                    loss.backward()
                    optimizer.step()
                    acc = (out.argmax(1) == yb).float().mean().item()
                    rec.step(loss, accuracy=acc, inputs=xb, targets=yb, epoch=rnd,
                             batch=batch_in_round)
                    batch_in_round += 1
                    history.step(loss.item(), acc)
            client_dicts.append(copy.deepcopy(local_model.state_dict()))
            counts.append(len(cx))

        global_model.load_state_dict(aggregate(client_dicts, counts, args.bug))
        global_model.eval()
        with torch.no_grad():
            logits = global_model(val_x)
            val_loss = criterion(logits, val_y).item()
            val_acc = (logits.argmax(1) == val_y).float().mean().item()
        rec.add_validation(val_loss=val_loss, val_accuracy=val_acc)
        history.epoch(val_loss, val_acc)
        if (rnd + 1) % 5 == 0:
            print("round %d: local loss %.4f  global held-out loss %.4f accuracy %.3f" % (
                rnd + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc), flush=True)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "fedprox-prox-sign", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training process, wrong loss function (the proximal "
               "term of FedProx subtracted from the local loss instead of added)",
     "bug": "the proximal term is subtracted: every local step pushes the client away from the "
            "global weights, the local loss goes negative (-0.18 in round 1, -4.44 in round 5) and "
            "swings between -3.8 and 2.3 in later rounds, the global model's held-out accuracy "
            "stays between 0.10 and 0.23 and ends at 0.100 (held-out loss 2.516, local accuracy "
            "0.278), against the twin's 0.889 (held-out loss 0.454, local loss 1.874 to 0.193)",
     "fix": "loss = criterion(out, yb) + (args.mu / 2) * proximal_term",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-mu1",
          "buggy": "--bug prox-sign --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "fedprox-mu-too-large", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: regularization too strong (FedProx's "
               "proximal coefficient mu far too large for the local learning rate)",
     "bug": "mu 6 with the local SGD rate 0.2 (mu x lr 1.2, meant mu 1): each local step pulls the "
            "client back past the global weights, the clients hardly move, the local loss "
            "falls only from 2.178 to 1.606 in 50 rounds and the global held-out accuracy "
            "swings between 0.27 and 0.78, ending at 0.547 (held-out loss 1.537), against "
            "the twin's 0.919 (held-out loss 0.395, local loss 1.921 to 0.232)",
     "fix": "--mu 1",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--mu 6 --seed 1 --record-every 4",
          "fixed": "--mu 1 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-fedprox", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "FedProx of an MLP over 10 label-skewed clients of very unequal sizes of "
                    "the digits",
     "healthy": [
         {"id": "hidden128-mu05-seed2",
          "args": "--hidden 128 --mu 0.5 --seed 2 --record-every 4",
          "description": "128 hidden units, mu 0.5"},
     ]},
]


if __name__ == "__main__":
    main()
