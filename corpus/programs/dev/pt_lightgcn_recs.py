"""LightGCN (He et al. 2020) in PyTorch: collaborative filtering by linear propagation of user
and item embeddings over the user-item graph, trained with BPR on generated implicit feedback.

The model follows the PyTorch re-implementation of the paper's authors
(``gusye1234/LightGCN-PyTorch``, ``model.py`` ``LightGCN.computer`` and ``bpr_loss``,
``dataloader.py`` ``getSparseGraph``, ``utils.py`` ``UniformSample_original``): the
embeddings ``embedding_user`` and ``embedding_item`` (``--dim`` 32, normal with deviation 0.1)
are stacked, propagated ``--layers`` (3) times by the sparse graph ``D^-1/2 A D^-1/2`` of the
bipartite user-item adjacency (no weights, no nonlinearity), and the final embeddings are the
mean of the K + 1 layers. A score is the dot product of a user's and an item's final
embeddings; the loss is BPR, ``softplus(score(u, neg) - score(u, pos))`` averaged over the
batch's (user, positive, negative) triples, plus ``--decay`` (1e-4) times the L2 norm of the
batch's initial (layer 0) embeddings, halved and divided by the batch size.

The data (``make_feedback``) are generated implicit feedback: 400 users and 300 items, each in
one of 4 latent clusters; a user has 30 interactions, an item of its own cluster with
probability 0.8, else any item; 6 of each user's interactions are held out, 24 train (9600
training interactions). Every epoch samples one triple per training interaction (a user, one
of its training positives, a negative item it has not interacted with in training) in
minibatches of ``--batch-size`` (2048: 5 steps an epoch), 30 epochs (150 steps), Adam
(``--lr``). After every epoch the BPR loss of held-out triples is the validation loss and the
held-out recall@10 (the share of a user's held-out items among its top 10 of the items it has
not trained on, averaged over users; random about 0.036) the validation accuracy. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

USERS, ITEMS, CLUSTERS, PER_USER, HELD_OUT = 400, 300, 4, 30, 6


def make_feedback(seed):
    rng = np.random.default_rng(seed)
    user_c = rng.integers(0, CLUSTERS, USERS)
    item_c = rng.integers(0, CLUSTERS, ITEMS)
    train, test = [], []
    for u in range(USERS):
        own = np.flatnonzero(item_c == user_c[u])
        p = np.where(item_c == user_c[u], 0.8 / len(own), 0.2 / (ITEMS - len(own)))
        items = rng.choice(ITEMS, size=PER_USER, replace=False, p=p)
        train.append(np.sort(items[HELD_OUT:]))
        test.append(np.sort(items[:HELD_OUT]))
    return train, test


def sparse_graph(train, bug=None):
    """The normalized adjacency of the bipartite user-item graph (getSparseGraph)."""
    rows = np.concatenate([np.full(len(items), u) for u, items in enumerate(train)])
    cols = np.concatenate(train) + USERS
    r = np.concatenate([rows, cols])
    c = np.concatenate([cols, rows])
    n = USERS + ITEMS
    deg = np.bincount(r, minlength=n).astype(np.float64)
    d_inv_sqrt = np.where(deg > 0, deg ** -0.5, 0.0)
    if bug == "no-normalization":
        # BUG (no-normalization): the raw adjacency A propagated, without D^-1/2 A D^-1/2.
        values = np.ones(len(r))
    else:
        values = d_inv_sqrt[r] * d_inv_sqrt[c]
    index = torch.tensor(np.stack([r, c]), dtype=torch.int64)
    return torch.sparse_coo_tensor(index, torch.tensor(values, dtype=torch.float32),
                                   (n, n), check_invariants=False).coalesce()


class LightGCN(nn.Module):
    def __init__(self, graph, dim, layers):
        super().__init__()
        self.graph = graph
        self.layers = layers
        self.embedding_user = nn.Embedding(USERS, dim)
        self.embedding_item = nn.Embedding(ITEMS, dim)
        nn.init.normal_(self.embedding_user.weight, std=0.1)
        nn.init.normal_(self.embedding_item.weight, std=0.1)

    def computer(self):
        all_emb = torch.cat([self.embedding_user.weight, self.embedding_item.weight])
        embs = [all_emb]
        for _ in range(self.layers):
            all_emb = torch.sparse.mm(self.graph, all_emb)
            embs.append(all_emb)
        light_out = torch.stack(embs, dim=1).mean(dim=1)
        return light_out[:USERS], light_out[USERS:]

    def bpr_loss(self, users, pos, neg, bug=None):
        all_users, all_items = self.computer()
        u, p, n = all_users[users], all_items[pos], all_items[neg]
        pos_scores = (u * p).sum(1)
        neg_scores = (u * n).sum(1)
        if bug == "bpr-sign":
            # BUG (bpr-sign): softplus(pos - neg): the loss falls as negatives outscore positives.
            loss = F.softplus(pos_scores - neg_scores).mean()
        else:
            loss = F.softplus(neg_scores - pos_scores).mean()
        u0 = self.embedding_user(users)
        p0, n0 = self.embedding_item(pos), self.embedding_item(neg)
        reg = 0.5 * (u0.norm(2).pow(2) + p0.norm(2).pow(2) + n0.norm(2).pow(2)) / len(users)
        return loss, reg


def sample_triples(train, train_sets, rng, bug=None):
    """One (user, positive, negative) triple per training interaction (UniformSample)."""
    n = sum(len(items) for items in train)
    users = rng.integers(0, USERS, n)
    pos = np.empty(n, dtype=np.int64)
    neg = np.empty(n, dtype=np.int64)
    for k, u in enumerate(users):
        pos[k] = train[u][rng.integers(len(train[u]))]
        if bug == "negatives-from-positives":
            # BUG (negatives-from-positives): the negative drawn from the user's own positives.
            neg[k] = train[u][rng.integers(len(train[u]))]
            continue
        while True:
            j = int(rng.integers(ITEMS))
            if j not in train_sets[u]:
                neg[k] = j
                break
    return (torch.tensor(users, dtype=torch.int64), torch.tensor(pos), torch.tensor(neg))


def recall_at_k(model, train, test, k=10):
    with torch.no_grad():
        users, items = model.computer()
        scores = users @ items.T
    for u, items_u in enumerate(train):
        scores[u, items_u] = -float("inf")
    top = torch.topk(scores, k, dim=1).indices.numpy()
    return float(np.mean([len(set(top[u]) & set(test[u])) / len(test[u])
                          for u in range(USERS)]))


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--decay", type=float, default=1e-4)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=2048)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None,
                   choices=("no-normalization", "bpr-sign", "negatives-from-positives"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    train, test = make_feedback(args.seed)
    train_sets = [set(items.tolist()) for items in train]
    graph = sparse_graph(train, bug=args.bug)
    model = LightGCN(graph, args.dim, args.layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed)
    # held-out triples for the validation loss: a held-out item against an unseen negative
    vrng = np.random.default_rng(1000 + args.seed)
    vu = np.repeat(np.arange(USERS), HELD_OUT)
    vp = np.concatenate(test)
    vn = np.array([next(j for j in vrng.integers(0, ITEMS, 50)
                        if j not in train_sets[u] and j not in test[u]) for u in vu])
    vu, vp, vn = (torch.tensor(a, dtype=torch.int64) for a in (vu, vp, vn))
    n_train = sum(len(items) for items in train)
    steps_per_epoch = (n_train + args.batch_size - 1) // args.batch_size
    bug = args.bug if args.bug == "bpr-sign" else None

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="BPRLoss",
        loss_added=True, steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    recall = None
    for epoch in range(args.epochs):
        users, pos, neg = sample_triples(train, train_sets, rng, bug=args.bug)
        perm = torch.randperm(len(users), generator=torch.Generator().manual_seed(
            args.seed * 1000 + epoch))
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            ub, pb, nb = users[idx], pos[idx], neg[idx]
            optimizer.zero_grad()
            bpr, reg = model.bpr_loss(ub, pb, nb, bug=bug)
            loss = bpr + args.decay * reg
            loss.backward()
            optimizer.step()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    vb, vr = model.bpr_loss(vu, vp, vn, bug=bug)
                    val_loss = (vb + args.decay * vr).item()
                recall = recall_at_k(model, train, test)
                val_acc = recall
            rec.step(loss, inputs=ub, targets=(pb, nb), val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item())
        history.epoch(val_loss, val_acc)
        if (epoch + 1) % 10 == 0:
            print("epoch %d: loss %.4f  held-out loss %.4f  recall@10 %.4f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_loss, recall))
    rec.close()
    print("held-out recall@10 %.4f" % recall)
    common.report(history.result(val_recall10=recall))


if __name__ == "__main__":
    main()


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "lightgcn-bpr-sign", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: wrong loss function (the BPR loss with the scores of "
               "positives and negatives swapped)",
     "bug": "softplus(pos_scores - neg_scores), which ranks the negatives first: the loss falls "
            "only from 0.694 to 0.657, the held-out loss rises to 0.705 and the held-out recall@10 ends at 0.042 (random "
            "about 0.036), against the twin's loss 0.691 to 0.353 and recall@10 0.144",
     "fix": "softplus(neg_scores - pos_scores)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug bpr-sign --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "lightgcn-negatives-from-positives", "split": "dev", "architecture": "gcn",
     "origin": "Humbatova et al. 2020: wrong training data (the negatives of BPR sampled from "
               "the user's own positives)",
     "bug": "every negative drawn from the user's own training positives: a positive and a negative "
            "of the same user cannot be told apart, the BPR loss stays at log 2 (0.6932 in the "
            "first and the 30th epoch) and the held-out recall@10 ends at 0.060 (random about "
            "0.036), against the twin's loss 0.691 to 0.348 and recall@10 0.146",
     "fix": "draw the negative among the items the user has not interacted with",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug negatives-from-positives --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-lightgcn", "split": "dev", "architecture": "gcn",
     "origin": "healthy run",
     "description": "a LightGCN recommender trained with BPR on generated implicit feedback",
     "healthy": [
         {"id": "dim64-layers2-seed3",
          "args": "--dim 64 --layers 2 --seed 3 --record-every 4",
          "description": "64-dimensional embeddings, 2 propagation layers"},
     ]},
]
