"""Matching Networks (Vinyals et al. 2016) in PyTorch, as their minimal re-implementations
write them (a shared embedding CNN, no full-context embeddings): episodic N-way K-shot training
on the classes 0-6 of scikit-learn's digits, judged on episodes of the unseen classes 7-9.

The data: scikit-learn's 8x8 digits (1797 images, pixels 0..16 scaled to [0, 1]); the digits 0
to 6 train (1257 images), the digits 7 to 9 are held out (540 images), disjoint class sets as
the Omniglot and miniImageNet splits are. An episode (``sample_episode``) draws ``--n-way``
classes, ``--k-shot`` support and ``--n-query`` query images of each; the support images are
stacked class by class and their labels are ``arange(n_way).repeat_interleave(k_shot)``.

The embedding network (``MatchingNet.encoder``: ``encoder.0`` Conv2d(1, 32, 3, padding 1),
BatchNorm2d ``encoder.1``, ReLU, max-pool, ``encoder.4`` Conv2d(32, 64, 3, padding 1),
BatchNorm2d ``encoder.5``, ReLU, max-pool, flatten to 256) embeds support and queries in one
batch. The attention (``attend``) is the softmax over the support set of the cosine
similarities of each query to every support embedding (both L2-normalized, ``F.normalize``);
the class probabilities are the attention-weighted sum of the support labels' one-hot vectors,
and the loss is ``F.nll_loss`` of their log (``torch.log(probs + 1e-8)``) against the query
labels. Adam (``--lr``), ``--episodes`` episodes an epoch. After every epoch 200 fixed 3-way
episodes of the held-out digits (with the same ``--k-shot`` and 10 queries a class) give the
validation loss and accuracy (chance 1/3); the result line adds ``pixel_accuracy``, the same
matching on the raw pixels (the baseline). The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def load_split():
    x, y = common.load("digits")
    x = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    train = [x[y == c] for c in range(7)]
    held_out = [x[y == c] for c in range(7, 10)]
    return train, held_out


def sample_episode(data, n_way, k_shot, n_query, rng):
    classes = rng.choice(len(data), size=n_way, replace=False)
    support, query = [], []
    for c in classes:
        idx = rng.choice(len(data[c]), size=k_shot + n_query, replace=False)
        support.append(data[c][idx[:k_shot]])
        query.append(data[c][idx[k_shot:]])
    return torch.from_numpy(np.concatenate(support)), torch.from_numpy(np.concatenate(query))


def attend(z_query, z_support, support_onehot, bug=None):
    if bug == "cosine-unnormalized":
        # BUG (cosine-unnormalized): the "cosine" written as raw dot products of the
        # embeddings, without normalizing them: large norms saturate the softmax.
        sims = z_query @ z_support.t()
    else:
        sims = F.normalize(z_query, dim=1) @ F.normalize(z_support, dim=1).t()
    if bug == "softmax-query-axis":
        # BUG (softmax-query-axis): the attention normalized over the queries (dim 0) instead
        # of over the support set (dim 1).
        attention = F.softmax(sims, dim=0)
    else:
        attention = F.softmax(sims, dim=1)
    return attention @ support_onehot


class MatchingNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten())

    def forward(self, support, query, support_onehot, bug=None):
        z = self.encoder(torch.cat([support, query], dim=0))
        z_support, z_query = z[:len(support)], z[len(support):]
        return attend(z_query, z_support, support_onehot, bug=bug)


def support_onehot(n_way, k_shot, rng, bug=None):
    labels = torch.arange(n_way).repeat_interleave(k_shot)
    if bug == "support-labels-shuffled":
        # BUG (support-labels-shuffled): the support labels shuffled on their own, apart from
        # the support images they belong to.
        labels = labels[torch.from_numpy(rng.permutation(len(labels)))]
    return F.one_hot(labels, n_way).float()


def nll(probs, labels, bug=None):
    if bug == "log-twice":
        # BUG (log-twice): the log taken twice, NLL on the log of the log-probabilities.
        return F.nll_loss(torch.log(torch.log(probs + 1e-8)), labels)
    return F.nll_loss(torch.log(probs + 1e-8), labels)


def main():
    p = common.parser(__doc__)
    p.add_argument("--n-way", type=int, default=5)
    p.add_argument("--k-shot", type=int, default=5)
    p.add_argument("--n-query", type=int, default=5)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=(
        "softmax-query-axis", "support-labels-shuffled", "cosine-unnormalized", "log-twice"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    train, held_out = load_split()
    rng = np.random.default_rng(args.seed)
    val_rng = np.random.default_rng(1000 + args.seed)
    val_episodes = [sample_episode(held_out, 3, args.k_shot, 10, val_rng) for _ in range(200)]
    val_onehot = F.one_hot(torch.arange(3).repeat_interleave(args.k_shot), 3).float()
    val_labels = torch.arange(3).repeat_interleave(10)

    hits = 0
    for s, q in val_episodes:
        probs = attend(q.reshape(len(q), -1), s.reshape(len(s), -1), val_onehot)
        hits += (probs.argmax(1) == val_labels).sum().item()
    baseline = hits / (200 * 30)
    print("matching on the raw pixels: %.3f" % baseline)

    model = MatchingNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    labels = torch.arange(args.n_way).repeat_interleave(args.n_query)

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="nll_loss", steps_per_epoch=args.episodes, num_classes=args.n_way,
        batch_size=args.n_way * (args.k_shot + args.n_query))
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b in range(args.episodes):
            support, query = sample_episode(train, args.n_way, args.k_shot, args.n_query, rng)
            onehot = support_onehot(args.n_way, args.k_shot, rng, bug=args.bug)
            optimizer.zero_grad()
            probs = model(support, query, onehot, bug=args.bug)
            loss = nll(probs, labels, bug=args.bug)
            loss.backward()
            optimizer.step()
            acc = (probs.argmax(1) == labels).float().mean()
            val_loss = val_acc = None
            if b == args.episodes - 1:
                model.eval()
                losses, accs = [], []
                with torch.no_grad():
                    for s, q in val_episodes:
                        vp = model(s, q, val_onehot, bug=args.bug)
                        losses.append(nll(vp, val_labels, bug=args.bug).item())
                        accs.append((vp.argmax(1) == val_labels).float().mean().item())
                val_loss, val_acc = float(np.mean(losses)), float(np.mean(accs))
                model.train()
            rec.step(loss, accuracy=acc, inputs=query, targets=labels,
                     val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f held-out classes: loss %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(pixel_accuracy=baseline))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "matchnet-support-labels-shuffled", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong labels for the training data (the support set's "
               "one-hot labels shuffled apart from the support images)",
     "bug": "the support labels permuted on their own in every episode, apart from the support images: the attention-weighted labels carry no class, the episode NLL stays at ln 5 (1.610 in the first epoch, 1.611 in the 10th) with training accuracy 0.19 (chance 0.20), against the twin's 1.394 to 0.991 and training accuracy 1.00; the held-out episodes, whose labels are right, score 0.869 with the nearly untrained embedding against the twin's 0.829 (raw pixels 0.888): the trained embedding does not beat the pixels on the unseen digits",
     "fix": "keep the support labels in the order of the support images",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "5way5shot-adam-seed1",
          "buggy": "--bug support-labels-shuffled --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "matchnet-log-twice", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (the log of the class probabilities "
               "taken twice before NLLLoss)",
     "bug": "F.nll_loss(torch.log(torch.log(probs + 1e-8))): the log of a log-probability (<= 0) is NaN, the loss is NaN from the first episode to the last (held-out loss NaN too); the gradient of log(log p) stays finite and pushes the true class's probability down, training accuracy 0.26 (chance 0.20) against the twin's 1.00 (loss 1.39 to 0.994, held-out episode accuracy 0.685, loss 1.03); the buggy run's held-out accuracy is 0.816 ""(its embedding barely trained; raw pixels 0.891)",
     "fix": "F.nll_loss(torch.log(probs + 1e-8), labels)",
     "symptom": "numerical_error", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "5way5shot-adam-seed2",
          "buggy": "--bug log-twice --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-matchnet", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a matching network trained on 5-way episodes of the digits 0-6 whose "
                    "accuracy on 3-way episodes of the unseen digits 7-9 is well above chance",
     "healthy": [
         {"id": "3shot-seed3",
          "args": "--k-shot 3 --seed 3 --record-every 4",
          "description": "5-way 3-shot episodes"},
     ]},
]


if __name__ == "__main__":
    main()
