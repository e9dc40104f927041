"""Neural collaborative filtering (an MLP over user and item embeddings, He et al. 2017) in
PyTorch on generated implicit feedback, with negative sampling per batch and hit rate at 10.

The feedback is generated here: 300 users and 200 items with hidden tastes (8 dimensions);
each user has interacted with the 24 items that score highest on taste plus noise. The last
interaction of each user is held out (leave-one-out); the others train. Every training batch
takes ``--batch-size`` observed (user, item) pairs and draws ``--negatives`` random items per
pair as negatives (label 0; an item the user has seen is not excluded, as in the usual quick
implementation). The model (``NCF``, an ``nn.Module``): ``nn.Embedding`` for users
(``user_emb``) and items (``item_emb``) of ``--dim`` dimensions, concatenated, an MLP
(``mlp.0``, ``mlp.2``: ``Linear`` + ReLU) and a ``Linear`` output (``out``) giving a logit,
``nn.BCEWithLogitsLoss``, Adam (``--lr``). After every epoch the held-out item of each user is
ranked among 99 items the user never interacted with: the hit rate at 10 (HR@10, chance 0.10)
is printed and reported, the BCE of the held-out positives and those negatives is the validation
loss, and the share of them classified right at a logit of 0 is the validation accuracy the
recorder gets (a binary classifier's accuracy, as `num_classes=2` says; HR@10 is a ranking
metric whose chance is 0.10, not 0.5). The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

USERS, ITEMS, PER_USER = 300, 200, 24


def make_feedback(seed):
    rng = np.random.default_rng(seed)
    pu = rng.normal(size=(USERS, 8))
    qi = rng.normal(size=(ITEMS, 8))
    score = pu @ qi.T + rng.normal(0, 1.0, size=(USERS, ITEMS))
    liked = np.argsort(-score, axis=1)[:, :PER_USER]
    for u in range(USERS):
        rng.shuffle(liked[u])
    return liked


class NCF(nn.Module):
    def __init__(self, dim, hidden, nonlinear=True):
        super().__init__()
        self.user_emb = nn.Embedding(USERS, dim)
        self.item_emb = nn.Embedding(ITEMS, dim)
        act = nn.ReLU() if nonlinear else nn.Identity()
        # BUG (no-relu): nn.Identity() in place of the activations (the MLP tower is linear).
        self.mlp = nn.Sequential(nn.Linear(2 * dim, hidden), act,
                                 nn.Linear(hidden, hidden // 2), act)
        self.out = nn.Linear(hidden // 2, 1)
        for emb in (self.user_emb, self.item_emb):
            nn.init.normal_(emb.weight, std=0.1)

    def forward(self, users, items):
        h = torch.cat([self.user_emb(users), self.item_emb(items)], dim=1)
        logit = self.out(self.mlp(h)).squeeze(1)
        return logit


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--negatives", type=int, default=4)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None,
                   choices=("frozen-user-embedding", "no-relu"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    liked = make_feedback(args.seed)
    train_pairs = np.array([(u, i) for u in range(USERS) for i in liked[u, :-1]], dtype=np.int64)
    held_out = liked[:, -1]
    rng = np.random.default_rng(args.seed + 100)
    val_items = np.empty((USERS, 100), dtype=np.int64)
    for u in range(USERS):
        unseen = np.setdiff1d(np.arange(ITEMS), liked[u])
        val_items[u, 0] = held_out[u]
        val_items[u, 1:] = rng.choice(unseen, size=99, replace=False)
    val_users = torch.arange(USERS).repeat_interleave(100)
    val_items_t = torch.from_numpy(val_items.reshape(-1))
    val_labels = torch.zeros(USERS, 100)
    val_labels[:, 0] = 1.0
    val_labels = val_labels.reshape(-1)

    model = NCF(args.dim, args.hidden, nonlinear=args.bug != "no-relu")
    if args.bug == "frozen-user-embedding":
        # BUG (frozen-user-embedding): copied from a script that loaded pretrained user
        # vectors: the randomly initialized user embedding is frozen.
        model.user_emb.weight.requires_grad_(False)
    optimizer = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=args.lr)
    criterion = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(args.seed)
    pairs = torch.from_numpy(train_pairs)
    steps_per_epoch = (len(pairs) + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="BCEWithLogitsLoss", steps_per_epoch=steps_per_epoch, num_classes=2,
        batch_size=args.batch_size * (1 + args.negatives))
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(pairs), generator=gen)
        for b in range(steps_per_epoch):
            pos = pairs[order[b * args.batch_size:(b + 1) * args.batch_size]]
            n = len(pos)
            neg_items = torch.randint(0, ITEMS, (n * args.negatives,), generator=gen)
            users = torch.cat([pos[:, 0], pos[:, 0].repeat(args.negatives)])
            items = torch.cat([pos[:, 1], neg_items])
            labels = torch.cat([torch.ones(n), torch.zeros(n * args.negatives)])
            optimizer.zero_grad()
            out = model(users, items)
            loss = criterion(out, labels)
            loss.backward()
            optimizer.step()
            val_loss = hr10 = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    scores = model(val_users, val_items_t)
                    val_loss = criterion(scores, val_labels).item()
                    ranks = (scores.reshape(USERS, 100)[:, 1:]
                             > scores.reshape(USERS, 100)[:, :1]).sum(1)
                    hr10 = (ranks < 10).float().mean().item()
                    val_acc = ((scores > 0).float() == val_labels).float().mean().item()
                model.train()
            rec.step(loss, inputs=items, targets=labels, val_loss=val_loss,
                     val_accuracy=val_acc if hr10 is not None else None)
            history.step(loss.item())
        history.epoch(val_loss, hr10)
        print("epoch %d: train %.4f val %.4f HR@10 %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, hr10))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ncfhit-frozen-user-embedding", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: layer frozen by mistake (requires_grad_(False) on a "
               "randomly initialized embedding, copied from a script with pretrained vectors)",
     "bug": "model.user_emb.weight.requires_grad_(False) on the random user vectors: only the "
            "items and the MLP learn, the network ranks by item popularity alone; after 10 "
            "epochs the training loss is 0.48 (the label prior's 0.50) and HR@10 0.19, "
            "against the twin's loss 0.39 and HR@10 0.42 (chance 0.10)",
     "fix": "leave the user embedding trainable",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning"],
     "root_cause": {"layer_name": "user_emb", "layer_index": 0},
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug frozen-user-embedding --seed 1 --record-every 8",
          "fixed": "--seed 1 --record-every 8"},
     ]},
    {"family": "ncfhit-no-relu", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (the MLP tower without "
               "non-linearity); DeepDiagnosis / DeepFD fault type: wrong activation",
     "bug": "nn.Identity() where the MLP tower's ReLUs belong: the tower is linear in the "
            "concatenated user and item vectors and cannot express their interaction, so it "
            "ranks by item popularity; after 10 epochs the training loss is 0.48 and HR@10 "
            "0.19, against the twin's loss 0.37 and HR@10 0.52 (chance 0.10)",
     "fix": "nn.ReLU() after both hidden Linear layers",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug no-relu --seed 2 --record-every 8",
          "fixed": "--seed 2 --record-every 8"},
     ]},
    {"family": "healthy-ncfhit", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an NCF recommender on implicit feedback whose hit rate at 10 rises well "
                    "above chance",
     "healthy": [
         {"id": "dim8-seed3",
          "args": "--dim 8 --seed 3 --record-every 8",
          "description": "8-dimensional embeddings"},
         {"id": "neg2-lr1e-2-seed4",
          "args": "--negatives 2 --lr 1e-2 --epochs 12 --seed 4 --record-every 8",
          "description": "two negatives per positive, Adam 1e-2, 12 epochs"},
     ]},
]


if __name__ == "__main__":
    main()
