"""Prototypical networks (Snell et al. 2017) in PyTorch, as minimal repositories write them:
episodic N-way K-shot training of an MLP embedding network on generated classes, judged on
episodes of classes never seen in training.

The data are generated here: 100 classes, each a hidden centre in 16 dimensions; a sample is
its class's centre plus noise (0.7 per dimension), seen through a fixed random non-linear
sensor map (``tanh`` of a random projection to 48 channels, times a per-channel gain) next to 16
nuisance channels of pure noise at a larger scale, 40 samples a class. The first 64 classes
train, the other 36 are held out (disjoint class sets, as the Omniglot and miniImageNet splits
are). Nearest-prototype classification on the raw 64 channels is the baseline the result line
adds (``baseline_accuracy``).

An episode (``sample_episode``) draws ``--n-way`` classes, ``--k-shot`` support and ``--n-query``
query samples of each, support and query ordered class by class. The embedding network
(``ProtoNet.encoder``, an ``nn.Sequential``: ``encoder.0`` Linear(64, ``--hidden``), BatchNorm1d
``encoder.1``, ReLU, ``encoder.3`` Linear, BatchNorm1d ``encoder.4``, ReLU, ``encoder.6``
Linear(``--hidden``, ``--emb``)) embeds support and queries in one batch; the prototypes are
the class means of the support embeddings, the logits the negative squared Euclidean distances
of each query to each prototype, and the loss ``F.cross_entropy`` over the queries (the query
labels are ``arange(n_way).repeat_interleave(n_query)``). Adam (``--lr``), ``--episodes``
episodes an epoch, ``StepLR`` halving the rate every ``--step-epochs`` epochs as the paper's
schedule does. After every epoch 200 fixed 5-way episodes of the held-out classes give the
validation loss and accuracy (chance 1 / n-way). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
CLASSES, TRAIN_CLASSES, PER_CLASS = 100, 64, 40
LATENT, SENSORS, NUISANCE = 16, 48, 32


def make_classes(seed):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(CLASSES, LATENT))
    proj = rng.normal(size=(LATENT, SENSORS)) / np.sqrt(LATENT)
    gain = rng.uniform(0.5, 3.0, size=SENSORS)
    z = centres[:, None, :] + 0.9 * rng.normal(size=(CLASSES, PER_CLASS, LATENT))
    sensors = np.tanh(1.5 * z @ proj) * gain
    nuisance = 4.0 * rng.normal(size=(CLASSES, PER_CLASS, NUISANCE))
    x = np.concatenate([sensors, nuisance], axis=2).astype(np.float32)
    return x[:TRAIN_CLASSES], x[TRAIN_CLASSES:]


def sample_episode(data, n_way, k_shot, n_query, rng):
    classes = rng.choice(len(data), size=n_way, replace=False)
    support, query = [], []
    for c in classes:
        idx = rng.choice(PER_CLASS, size=k_shot + n_query, replace=False)
        support.append(data[c, idx[:k_shot]])
        query.append(data[c, idx[k_shot:]])
    return torch.from_numpy(np.stack(support)), torch.from_numpy(np.stack(query))


class ProtoNet(nn.Module):
    def __init__(self, features, hidden, emb):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, emb))

    def forward(self, support, query, bug=None):
        n_way, k_shot, d = support.shape
        n_query = query.shape[1]
        x = torch.cat([support.reshape(-1, d), query.reshape(-1, d)], dim=0)
        z = self.encoder(x)
        z_support = z[:n_way * k_shot].reshape(n_way, k_shot, -1)
        z_query = z[n_way * k_shot:]
        if bug == "proto-mean-dim0":
            # BUG: the mean over the classes instead of over the shots; with as many shots as
            # classes the shape is the same (n_way, emb) and nothing complains.
            prototypes = z_support.mean(dim=0)
        else:
            prototypes = z_support.mean(dim=1)
        dists = torch.cdist(z_query, prototypes) ** 2
        return -dists


def episode_labels(n_way, n_query, bug=None):
    if bug == "query-labels-tiled":
        # BUG: the labels tiled (0, 1, 2, ..., 0, 1, 2, ...) while the queries are stacked
        # class by class (0, 0, ..., 1, 1, ...).
        return torch.arange(n_way).repeat(n_query)
    return torch.arange(n_way).repeat_interleave(n_query)


def main():
    p = common.parser(__doc__)
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--n-query", type=int, default=10)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--emb", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--step-epochs", type=int, default=4)
    p.add_argument("--bug", default=None, choices=("proto-mean-dim0", "query-labels-tiled"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    train, held_out = make_classes(args.seed)
    rng = np.random.default_rng(args.seed)
    val_rng = np.random.default_rng(1000 + args.seed)
    val_episodes = [sample_episode(held_out, 5, args.k_shot, 15, val_rng) for _ in range(200)]

    # the baseline: nearest prototype on the raw channels
    hits = 0
    for s, q in val_episodes:
        d = torch.cdist(q.reshape(-1, q.shape[-1]), s.mean(1))
        hits += (d.argmin(1) == torch.arange(5).repeat_interleave(15)).sum().item()
    baseline = hits / (200 * 5 * 15)
    print("nearest prototype on the raw channels: %.3f" % baseline)

    model = ProtoNet(SENSORS + NUISANCE, args.hidden, args.emb)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.step_epochs, gamma=0.5)
    labels = episode_labels(args.n_way, args.n_query, args.bug)
    val_labels = torch.arange(5).repeat_interleave(15)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="cross_entropy", steps_per_epoch=args.episodes, num_classes=args.n_way,
        batch_size=args.n_way * (args.k_shot + args.n_query))
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b in range(args.episodes):
            support, query = sample_episode(train, args.n_way, args.k_shot, args.n_query, rng)
            optimizer.zero_grad()
            logits = model(support, query, bug=args.bug)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == labels).float().mean()
            val_loss = val_acc = None
            if b == args.episodes - 1:
                model.eval()
                losses, accs = [], []
                with torch.no_grad():
                    for s, q in val_episodes:
                        vl = model(s, q, bug=args.bug)
                        losses.append(F.cross_entropy(vl, val_labels).item())
                        accs.append((vl.argmax(1) == val_labels).float().mean().item())
                val_loss, val_acc = float(np.mean(losses)), float(np.mean(accs))
                model.train()
            rec.step(loss, accuracy=acc, inputs=query.reshape(-1, query.shape[-1]),
                     targets=labels, val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        scheduler.step()
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f held-out classes: loss %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(baseline_accuracy=baseline))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "proto-mean-dim0", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong tensor dimension in a reduction (the class "
               "prototypes averaged over the wrong axis; silent because 5-way 5-shot gives the "
               "same shape); Stack Overflow questions on prototypical networks that stay at chance",
     "bug": "prototypes = z_support.mean(dim=0): the mean over the 5 classes instead of over the "
            "5 shots, so every 'prototype' is an average of all classes' embeddings and carries "
            "no class; the episode loss stays near ln 5 (1.72 in the first epoch, 1.62 in the "
            "8th) with training accuracy 0.21 and the held-out classes' episode accuracy 0.20 "
            "(loss 1.62) against the twin's 0.79 (loss 0.58; nearest prototype on the raw "
            "channels 0.56, chance 0.20)",
     "fix": "prototypes = z_support.mean(dim=1) (the mean over the shots of each class)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "5way5shot-adam",
          "buggy": "--bug proto-mean-dim0 --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "proto-query-labels-tiled", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong labels for the training data (the episode's query "
               "labels built with repeat() where the queries are stacked class by class, "
               "repeat_interleave()); a frequent mistake of episodic-training code",
     "bug": "query labels torch.arange(n_way).repeat(n_query) (0, 1, 2, 3, 4, 0, 1, ...) for "
            "queries stacked class by class (0, 0, ..., 1, 1, ...): four queries in five carry "
            "another class's label; the training loss stays near ln 5 (1.72 in the first "
            "epoch, 1.62 in the 8th), training accuracy 0.20, held-out episode accuracy 0.27 "
            "(loss 1.58) against the twin's 0.78 (loss 0.61)",
     "fix": "query labels torch.arange(n_way).repeat_interleave(n_query)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "5way5shot-adam-seed2",
          "buggy": "--bug query-labels-tiled --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-proto", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a prototypical network trained on 5-way 5-shot episodes whose accuracy on "
                    "episodes of unseen classes rises well above the raw-channel baseline",
     "healthy": [
         {"id": "hidden96-emb48-seed1",
          "args": "--hidden 96 --emb 48 --seed 1 --record-every 4",
          "description": "96 hidden units, 48-dimensional embeddings, Adam at 1e-3"},
     ]},
]


if __name__ == "__main__":
    main()
