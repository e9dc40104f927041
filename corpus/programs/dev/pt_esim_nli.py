"""ESIM (Chen et al. 2017, "Enhanced LSTM for Natural Language Inference") in PyTorch, on
generated premise/hypothesis pairs.

The model follows the public PyTorch re-implementations (``coetaur0/ESIM``'s ``esim/model.py``
and ``layers.py``): word embeddings (``padding_idx`` 0), a BiLSTM encoder shared by both
sentences, soft alignment attention ``e = a b^T`` with a masked softmax over the other
sentence's positions (premise rows over the hypothesis, hypothesis rows over the premise),
the enhancement ``[a; a~; a - a~; a * a~]``, a projection (``Linear`` + ReLU), a composition
BiLSTM, masked mean and max pooling of both sentences, and an MLP classifier (dropout,
``Linear``, tanh, dropout, ``Linear``) over the three classes; cross-entropy, Adam
(``--lr``) with ``clip_grad_norm_`` at 10.

The data are generated from a small vocabulary: a premise is "det [adj] subject [not] verb
det [adj] object" (each adjective with probability 0.7, negated with probability 0.3); the
hypothesis is built from it by a rule that fixes the label: entailment drops the modifiers
(or repeats the sentence), contradiction flips the negation of the verb (and may drop a
modifier), neutral puts in a new object (or a new adjective on the subject). Pairs are
padded to 10 tokens; the training set is sorted by premise length into buckets, as NLI
loaders do. 3000 pairs train and 600 others (another seed) are held out; the classes are
balanced (chance 1/3). After every epoch the held-out loss and accuracy go to the recorder.
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

SUBJECTS = "man woman boy girl dog cat chef pilot doctor farmer child singer".split()
VERBS = "eats sees holds paints buys carries throws washes likes finds".split()
OBJECTS = "apple ball car hat book cup box kite chair lamp bike drum".split()
ADJS = "red big small old new tall blue green".split()
VOCAB = ["<pad>", "the", "a", "not"] + SUBJECTS + VERBS + OBJECTS + ADJS
IDS = {w: i for i, w in enumerate(VOCAB)}
MAXLEN = 10


def make_pairs(n, seed):
    rng = np.random.default_rng(seed)
    prem = np.zeros((n, MAXLEN), dtype=np.int64)
    hyp = np.zeros((n, MAXLEN), dtype=np.int64)
    labels = rng.integers(0, 3, size=n)      # 0 entailment, 1 neutral, 2 contradiction
    pick = lambda words: words[int(rng.integers(len(words)))]  # noqa: E731
    for k in range(n):
        s = {"d1": pick(["the", "a"]), "a1": pick(ADJS) if rng.random() < 0.7 else None,
             "subj": pick(SUBJECTS), "neg": rng.random() < 0.3, "verb": pick(VERBS),
             "d2": pick(["the", "a"]), "a2": pick(ADJS) if rng.random() < 0.7 else None,
             "obj": pick(OBJECTS)}
        h = dict(s)
        if labels[k] == 0:
            if rng.random() < 0.7:
                h["a1"] = None
            if rng.random() < 0.7:
                h["a2"] = None
        elif labels[k] == 2:
            h["neg"] = not s["neg"]
            if rng.random() < 0.5:
                h["a2"] = None
        else:
            if rng.random() < 0.7 or s["a1"] is not None:
                h["obj"] = pick([o for o in OBJECTS if o != s["obj"]])
            else:
                h["a1"] = pick(ADJS)
        for out, t in ((prem, s), (hyp, h)):
            words = [t["d1"]] + ([t["a1"]] if t["a1"] else []) + [t["subj"]] + \
                (["not"] if t["neg"] else []) + [t["verb"], t["d2"]] + \
                ([t["a2"]] if t["a2"] else []) + [t["obj"]]
            out[k, :len(words)] = [IDS[w] for w in words]
    return prem, hyp, labels


def masked_softmax(scores, mask, bug=None):
    scores = scores.masked_fill(~mask.unsqueeze(1), -1e7) if bug != "no-padding-mask" \
        else scores
    # BUG (no-padding-mask): the scores of the padding positions not masked, pads attended.
    if bug == "softmax-wrong-dim":
        # BUG (softmax-wrong-dim): normalized over the rows' own positions (dim 1) instead of
        # over the other sentence's positions (the last dim).
        return torch.softmax(scores, dim=1)
    return torch.softmax(scores, dim=-1)


class ESIM(nn.Module):
    def __init__(self, vocab, emb=32, hidden=32, classes=3, dropout=0.2, bug=None):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb, padding_idx=0)
        self.encoder = nn.LSTM(emb, hidden, batch_first=True, bidirectional=True)
        self.projection = nn.Sequential(nn.Linear(8 * hidden, hidden), nn.ReLU())
        self.composition = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.classification = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(8 * hidden, hidden), nn.Tanh(),
            nn.Dropout(dropout), nn.Linear(hidden, classes))
        self.bug = bug

    def forward(self, premises, hypotheses):
        pmask, hmask = premises != 0, hypotheses != 0
        a, _ = self.encoder(self.embedding(premises))
        b, _ = self.encoder(self.embedding(hypotheses))
        e = torch.bmm(a, b.transpose(1, 2))
        a_tilde = torch.bmm(masked_softmax(e, hmask, self.bug), b)
        if self.bug == "self-alignment":
            # BUG (self-alignment): the hypothesis aligned with itself (b b^T over the
            # hypothesis) instead of with the premise.
            eh = torch.bmm(b, b.transpose(1, 2))
            b_tilde = torch.bmm(masked_softmax(eh, hmask, self.bug), b)
        else:
            b_tilde = torch.bmm(masked_softmax(e.transpose(1, 2), pmask, self.bug), a)
        ma = torch.cat([a, a_tilde, a - a_tilde, a * a_tilde], dim=-1)
        mb = torch.cat([b, b_tilde, b - b_tilde, b * b_tilde], dim=-1)
        va, _ = self.composition(self.projection(ma))
        vb, _ = self.composition(self.projection(mb))
        pm, hm = pmask.unsqueeze(-1).float(), hmask.unsqueeze(-1).float()
        va_avg = (va * pm).sum(1) / pm.sum(1)
        vb_avg = (vb * hm).sum(1) / hm.sum(1)
        va_max = va.masked_fill(pm == 0, -1e7).max(1).values
        vb_max = vb.masked_fill(hm == 0, -1e7).max(1).values
        return self.classification(torch.cat([va_avg, va_max, vb_avg, vb_max], dim=-1))


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--pairs", type=int, default=3000)
    p.add_argument("--bug", default=None,
                   choices=("softmax-wrong-dim", "no-padding-mask", "self-alignment",
                            "labels-misaligned"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    prem, hyp, labels = make_pairs(args.pairs, seed=args.seed)
    vprem, vhyp, vlabels = make_pairs(600, seed=1000 + args.seed)
    # bucket the training pairs by premise length
    order = np.argsort((prem != 0).sum(1), kind="stable")
    prem, hyp = prem[order], hyp[order]
    if args.bug != "labels-misaligned":
        labels = labels[order]
    # BUG (labels-misaligned): the pairs sorted into buckets but their labels left in the
    # original order.
    prem, hyp, labels = (torch.tensor(prem), torch.tensor(hyp), torch.tensor(labels))
    vprem, vhyp, vlabels = (torch.tensor(vprem), torch.tensor(vhyp), torch.tensor(vlabels))

    model = ESIM(len(VOCAB), hidden=args.hidden, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(args.seed)
    steps_per_epoch = len(labels) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size, num_classes=3)
    history = common.History()
    val_loss = val_acc = None
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(labels), generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xp, xh, yb = prem[idx], hyp[idx], labels[idx]
            optimizer.zero_grad()
            logits = model(xp, xh)
            loss = criterion(logits, yb)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean().item()
            vl = va = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vlogits = model(vprem, vhyp)
                    val_loss = vl = criterion(vlogits, vlabels).item()
                    val_acc = va = (vlogits.argmax(1) == vlabels).float().mean().item()
                model.train()
            rec.step(loss, acc, inputs=(xp, xh), targets=yb, val_loss=vl, val_accuracy=va)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f acc %.3f  val loss %.4f val acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "esim-labels-misaligned", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong labels of the training data (pairs reordered "
               "without their labels)",
     "bug": "the training pairs sorted into length buckets while their labels stay in the "
            "original order: the labels no longer belong to the pairs, the training accuracy "
            "creeps to 0.445 by memorizing, the held-out accuracy ends at 0.355 (chance 0.333, "
            "loss 1.141) against the twin's 0.995 (loss 0.017)",
     "fix": "labels = labels[order] with the pairs",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug labels-misaligned --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "esim-adam-lr-too-high", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Adam at 0.05 (meant 1e-3): the loss stays at 1.18 from the first epoch to the "
            "last, training accuracy 0.325, held-out accuracy 0.317 (chance), against the "
            "twin's 1.000",
     "fix": "Adam at 1e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 4",
          "fixed": "--lr 1e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-esim", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "ESIM classifying generated premise/hypothesis pairs",
     "healthy": [
         {"id": "hidden48-seed2",
          "args": "--hidden 48 --seed 2 --record-every 4",
          "description": "48 units per LSTM direction: held-out accuracy 1.000"},
     ]},
]


if __name__ == "__main__":
    main()
