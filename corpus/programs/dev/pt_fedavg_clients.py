"""Federated averaging (FedAvg, McMahan et al. 2017) simulated in one process with PyTorch, an
MLP on scikit-learn's digits split over 8 non-IID clients.

Written as the PyTorch FedAvg tutorials write it (``shaoxiongji/federated-learning``:
``LocalUpdate.train`` and ``FedAvg(w)``; the "Federated Learning in PyTorch" tutorial's
``client_update`` / ``server_aggregate``, which keeps one model per client and, after averaging,
loads the global weights back into every client model): the digits (8x8 pixels 0..16, scaled to
[0, 1]) are split 80/20; a share ``--iid-frac`` (0.2) of the 1437 training images is dealt
out evenly (35 a client), the rest is sorted by label and cut into 16 shards of 72, and every
client gets two random shards (McMahan's non-IID split by shards: each client holds mostly
two classes). The global model is an MLP (``net.0`` 64-128, ReLU, ``net.2`` 128-10). Each of
``--rounds`` 20 rounds samples ``--clients-per-round`` 4 of the 8 clients;
each sampled client starts from its client weights (the global weights, loaded into every
client after the previous round), trains ``--local-epochs`` 2 epochs of plain SGD
(``--lr`` 0.1, batches of ``--batch-size`` 20 shuffled each epoch: 9 steps) on its own
shard pair, and returns its ``state_dict``; the server sets every global tensor to the average
of the clients' tensors weighted by their sample counts, then loads the result into the client
weights.

What is recorded: the clients' models are kept as ``state_dict``s and trained one at a time in
one ``local_model`` (as a client process would), so the recorder is attached to that model and
sees every local SGD step of every sampled client, 72 steps a round (the recorder's epoch),
with the batch's loss and accuracy; after the server's average, the global model's held-out
loss and accuracy (360 images) are added to the round's last step
(``rec.add_validation``). The result line adds ``val_accuracy`` of the global model. The
mistakes of the families in CASES are selected with ``--bug``.
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

CLIENTS = 8
SHARDS_PER_CLIENT = 2


class MLP(nn.Module):
    def __init__(self, hidden=128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    def forward(self, x):
        return self.net(x)


def noniid_split(y, clients, shards_per_client, iid_frac, rng):
    """McMahan's shards: a random share ``iid_frac`` of the rows dealt out evenly, the rest
    sorted by label and cut into equal shards, two random shards per client."""
    rows = rng.permutation(len(y))
    n_iid = int(round(iid_frac * len(y))) // clients * clients
    iid, rest = rows[:n_iid], rows[n_iid:]
    order = rest[np.argsort(y[rest], kind="stable")]
    n_shards = clients * shards_per_client
    size = len(rest) // n_shards
    shards = [order[i * size:(i + 1) * size] for i in range(n_shards)]
    pick = rng.permutation(n_shards)
    per = n_iid // clients
    return [np.concatenate([shards[s] for s in pick[c * shards_per_client:
                                                    (c + 1) * shards_per_client]]
                           + [iid[c * per:(c + 1) * per]])
            for c in range(clients)]


def fed_avg(client_dicts, counts, bug=None):
    total = float(sum(counts))
    avg = copy.deepcopy(client_dicts[0])
    for k in avg.keys():
        if bug == "sum-not-mean":
            # BUG (sum-not-mean): the clients' tensors weighted by their sample counts and
            # summed, never divided by the total count: a sum, not the weighted mean.
            avg[k] = sum(d[k] * n for d, n in zip(client_dicts, counts))
        elif bug == "first-client-only":
            # BUG (first-client-only): the global tensor taken from the first client only.
            avg[k] = client_dicts[0][k]
        else:
            avg[k] = sum(d[k] * (n / total) for d, n in zip(client_dicts, counts))
    return avg


def main():
    p = common.parser(__doc__)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--clients-per-round", type=int, default=4)
    p.add_argument("--local-epochs", type=int, default=2)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--iid-frac", type=float, default=0.2)
    p.add_argument("--bug", default=None, choices=("no-reset", "sum-not-mean", "first-client-only"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_val, y_tr, y_val = common.split(x / 16.0, y, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    parts = noniid_split(y_tr, CLIENTS, SHARDS_PER_CLIENT, args.iid_frac, rng)
    client_x = [torch.tensor(x_tr[i], dtype=torch.float32) for i in parts]
    client_y = [torch.tensor(y_tr[i], dtype=torch.long) for i in parts]
    val_x = torch.tensor(x_val, dtype=torch.float32)
    val_y = torch.tensor(y_val, dtype=torch.long)

    global_model = MLP(args.hidden)
    local_model = MLP(args.hidden)
    client_states = [copy.deepcopy(global_model.state_dict()) for _ in range(CLIENTS)]
    optimizer = torch.optim.SGD(local_model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    local_steps = (len(client_x[0]) + args.batch_size - 1) // args.batch_size
    steps_per_round = args.clients_per_round * args.local_epochs * local_steps

    rec = common.recording.torch_recorder(
        local_model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_round, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    val_loss = val_acc = None
    for rnd in range(args.rounds):
        sampled = sorted(rng.choice(CLIENTS, size=args.clients_per_round, replace=False))
        client_dicts, counts = [], []
        for c in sampled:
            local_model.load_state_dict(client_states[c])
            local_model.train()
            cx, cy = client_x[c], client_y[c]
            for _ in range(args.local_epochs):
                perm = torch.randperm(len(cx), generator=gen)
                for b in range(local_steps):
                    idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
                    xb, yb = cx[idx], cy[idx]
                    optimizer.zero_grad()
                    out = local_model(xb)
                    loss = criterion(out, yb)
                    loss.backward()
                    optimizer.step()
                    acc = (out.argmax(1) == yb).float().mean().item()
                    rec.step(loss, accuracy=acc, inputs=xb, targets=yb)
                    history.step(loss.item(), acc)
            client_states[c] = copy.deepcopy(local_model.state_dict())
            client_dicts.append(client_states[c])
            counts.append(len(cx))

        global_model.load_state_dict(fed_avg(client_dicts, counts, args.bug))
        # BUG (no-reset): with --bug no-reset the loop below is left out: the clients keep
        # training their own weights and are never reset to the global weights (client drift).
        if args.bug != "no-reset":
            for c in range(CLIENTS):
                client_states[c] = copy.deepcopy(global_model.state_dict())

        global_model.eval()
        with torch.no_grad():
            logits = global_model(val_x)
            val_loss = criterion(logits, val_y).item()
            val_acc = (logits.argmax(1) == val_y).float().mean().item()
        rec.add_validation(val_loss=val_loss, val_accuracy=val_acc)
        history.epoch(val_loss, val_acc)
        if (rnd + 1) % 5 == 0:
            print("round %d: local loss %.4f  global held-out loss %.4f accuracy %.3f" % (
                rnd + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "fedavg-no-reset", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training process (federated clients never reset to the "
               "global weights after averaging: client drift)",
     "bug": "the clients are not loaded with the global weights after the server's average: "
            "each keeps training its own weights on its own two main classes, the local "
            "batches still fit (last round's local loss 0.396, accuracy 0.894) but the "
            "average of the drifted clients swings between rounds (held-out accuracy 0.44 to "
            "0.76 in rounds 10 to 20) and ends at a held-out loss of 1.519 and accuracy of "
            "0.547, against the twin's 0.377 and 0.911 (local loss 0.254)",
     "fix": "load the global state_dict into every client after averaging",
     "symptom": "slow_convergence", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--bug no-reset --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "fedavg-sum-not-mean", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: training process (the server's aggregation a "
               "count-weighted sum of the client weights, not their weighted mean)",
     "bug": "the server sums the clients' tensors times their sample counts and never divides "
            "by the total: the global weights grow about 700-fold a round, the local loss is "
            "2.9e4 in round 2 and 6.8e31 in round 7, and from round 8 every loss is NaN "
            "(held-out accuracy 0.100), against the twin's held-out loss of 0.368 and "
            "accuracy of 0.919 (local loss 0.208)",
     "fix": "divide by the total count: sum(d[k] * (n / total) for ...)",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--bug sum-not-mean --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "healthy-fedavg", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "federated averaging of an MLP over 8 non-IID clients of the digits",
     "healthy": [
         {"id": "iid03-hidden64-seed2",
          "args": "--iid-frac 0.3 --hidden 64 --seed 2 --record-every 4",
          "description": "30% of the rows dealt out evenly, 64 hidden units"},
     ]},
]


if __name__ == "__main__":
    main()
