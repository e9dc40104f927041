"""A PyTorch word2vec: skip-gram with negative sampling (Mikolov et al. 2013), two sparse
``nn.Embedding`` tables trained by ``torch.optim.SparseAdam``, judged by the topic purity of
the words' nearest neighbours.

The text is generated here: a small language of ``--topics`` topics (default 8) of 30 content
words each and 40 function words ("the", "of"...), every word a made-up string. A sentence
picks one topic and draws 6 to 14 words: a function word with probability 0.35 (Zipf's law
over the function words), otherwise a word of its topic (Zipf's law within the topic), one in
twenty of those from another topic. 2400 sentences; 10% of them are held out for the
validation loss. As the word2vec tutorials do, the vocabulary is counted from the training
sentences (``collections.Counter``, ``--min-count``), its ids given in order of frequency;
frequent words are subsampled (a token of a word of relative frequency f is discarded with
probability 1 - sqrt(t / f), t = 1e-3), and every remaining token is paired with the tokens
up to a window of 1 to ``--window`` (drawn per token, word2vec's dynamic window) on either
side. The noise distribution of the negatives is the unigram distribution raised to 0.75.

The model (``SkipGramNeg``) holds an input table ``in_embed`` (initialized uniform in
+-0.5 / dim) and an output table ``out_embed`` (initialized to zeros), both
``nn.Embedding(..., sparse=True)``; its forward takes a batch of centre words, their context
words and ``--negatives`` noise words per pair (drawn with ``torch.multinomial``) and returns
the dot-product scores, and the loss is written as the tutorials write it:
``-(F.logsigmoid(pos) + F.logsigmoid(-neg).sum(1)).mean()``. ``torch.optim.SparseAdam``
(``--lr``) updates only the rows a batch touched. The training accuracy is the share of the
batch's scores on the right side of 0 (the context word above, the noise words below).

Once per epoch the validation loss is computed on the held-out sentences' pairs (with noise
words drawn once), and the validation accuracy is the nearest-neighbour topic purity of the
input vectors: for every content word in the vocabulary, the share of its 5 nearest content
words by cosine similarity that belong to its own topic (chance is about 1 / topics). The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np

TOPIC_WORDS = 30
FUNCTION_WORDS = 40
SENTENCES = 2400


def made_up_words(n, rng):
    """n distinct pronounceable strings."""
    onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br",
              "st", "tr", "gl", "sk", "pl"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ou"]
    words = set()
    while len(words) < n:
        k = int(rng.integers(1, 4))
        words.add("".join(rng.choice(onsets) + rng.choice(vowels) for _ in range(k))
                  + rng.choice(["", "n", "s", "t", "l"]))
    return sorted(words)


def make_corpus(topics, seed):
    """Sentences (lists of strings) and the topic of every content word (a dict)."""
    rng = np.random.default_rng(seed)
    words = list(rng.permutation(made_up_words(topics * TOPIC_WORDS + FUNCTION_WORDS, rng)))
    function_words = words[:FUNCTION_WORDS]
    topic_words = np.array(words[FUNCTION_WORDS:]).reshape(topics, TOPIC_WORDS)
    topic_of = {w: t for t in range(topics) for w in topic_words[t]}
    zipf_f = 1.0 / np.arange(1, FUNCTION_WORDS + 1)
    zipf_f /= zipf_f.sum()
    zipf_t = 1.0 / np.arange(1, TOPIC_WORDS + 1) ** 0.8
    zipf_t /= zipf_t.sum()
    sentences = []
    for _ in range(SENTENCES):
        topic = int(rng.integers(topics))
        sentence = []
        for _ in range(int(rng.integers(6, 15))):
            if rng.random() < 0.35:
                sentence.append(function_words[rng.choice(FUNCTION_WORDS, p=zipf_f)])
            else:
                t = topic if rng.random() >= 0.05 else int(rng.integers(topics))
                sentence.append(topic_words[t][rng.choice(TOPIC_WORDS, p=zipf_t)])
        sentences.append(sentence)
    return sentences, topic_of


def skipgram_pairs(sentences, word2id, keep_prob, window, rng):
    """(centre, context) id pairs with word2vec's subsampling and dynamic window."""
    pairs = []
    for sentence in sentences:
        ids = [word2id[w] for w in sentence if w in word2id]
        ids = [i for i in ids if rng.random() < keep_prob[i]]
        for pos, centre in enumerate(ids):
            b = int(rng.integers(1, window + 1))
            for ctx in range(max(0, pos - b), min(len(ids), pos + b + 1)):
                if ctx != pos:
                    pairs.append((centre, ids[ctx]))
    return np.array(pairs, dtype=np.int64)


class SkipGramNeg(nn.Module):
    def __init__(self, vocab_size, dim, zero_both=False):
        super().__init__()
        self.in_embed = nn.Embedding(vocab_size, dim, sparse=True)
        self.out_embed = nn.Embedding(vocab_size, dim, sparse=True)
        initrange = 0.5 / dim
        if zero_both:
            # BUG (zeros-init-both): the output table's init line copied for the input table
            # too: both start at 0, so every score is 0 and every gradient is 0 * 0.
            nn.init.constant_(self.in_embed.weight, 0.0)
        else:
            nn.init.uniform_(self.in_embed.weight, -initrange, initrange)
        nn.init.constant_(self.out_embed.weight, 0.0)

    def forward(self, centre, context, negatives):
        v = self.in_embed(centre)                  # (B, D)
        u_pos = self.out_embed(context)            # (B, D)
        u_neg = self.out_embed(negatives)          # (B, K, D)
        pos = torch.sum(v * u_pos, dim=1)          # (B,)
        neg = torch.bmm(u_neg, v.unsqueeze(2)).squeeze(2)   # (B, K)
        return pos, neg


def sgns_loss(pos, neg, bug=None):
    pos = torch.clamp(pos, max=10, min=-10)
    neg = torch.clamp(neg, max=10, min=-10)
    if bug == "neg-sign":
        # BUG (neg-sign): the minus sign of the negative term dropped: the noise words are
        # pulled towards the centre word just as the context word is.
        neg_term = F.logsigmoid(neg).sum(1)
    else:
        neg_term = F.logsigmoid(-neg).sum(1)
    return -(F.logsigmoid(pos) + neg_term).mean()


def topic_purity(weights, id2word, topic_of, k=5):
    """Share of each content word's k nearest content words (cosine) in its own topic."""
    ids = [i for i, w in enumerate(id2word) if w in topic_of]
    topics = torch.tensor([topic_of[id2word[i]] for i in ids])
    vecs = F.normalize(weights[ids], dim=1)
    sim = vecs @ vecs.t()
    sim.fill_diagonal_(-2.0)
    nearest = sim.topk(k, dim=1).indices
    return (topics[nearest] == topics[:, None]).float().mean().item()


def main():
    p = common.parser(__doc__)
    p.add_argument("--topics", type=int, default=8)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--window", type=int, default=3)
    p.add_argument("--negatives", type=int, default=5)
    p.add_argument("--min-count", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--bug", default=None,
                   choices=("neg-sign", "zeros-init-both", "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    rng = np.random.default_rng(args.seed + 1)

    sentences, topic_of = make_corpus(args.topics, args.seed)
    cut = int(0.9 * len(sentences))
    train_sents, val_sents = sentences[:cut], sentences[cut:]
    counts = collections.Counter(w for s in train_sents for w in s)
    id2word = [w for w, c in counts.most_common() if c >= args.min_count]
    word2id = {w: i for i, w in enumerate(id2word)}
    freq = np.array([counts[w] for w in id2word], dtype=np.float64)
    freq /= freq.sum()
    keep_prob = np.minimum(1.0, np.sqrt(1e-3 / freq) + 1e-3 / freq)
    noise_dist = torch.from_numpy(freq ** 0.75)
    noise_dist /= noise_dist.sum()
    print("vocabulary %d words, %d content words" % (
        len(id2word), sum(w in topic_of for w in id2word)))

    train_pairs = torch.from_numpy(skipgram_pairs(train_sents, word2id, keep_prob,
                                                  args.window, rng))
    val_pairs = torch.from_numpy(skipgram_pairs(val_sents, word2id, keep_prob,
                                                args.window, rng))
    gen = torch.Generator().manual_seed(args.seed)
    val_neg = torch.multinomial(noise_dist, len(val_pairs) * args.negatives, replacement=True,
                                generator=gen).view(len(val_pairs), args.negatives)
    loader = DataLoader(TensorDataset(train_pairs[:, 0], train_pairs[:, 1]),
                        batch_size=args.batch_size, shuffle=True, generator=gen)
    print("%d training pairs, %d validation pairs" % (len(train_pairs), len(val_pairs)))

    model = SkipGramNeg(len(id2word), args.dim, zero_both=args.bug == "zeros-init-both")
    optimizer = torch.optim.SparseAdam(list(model.parameters()), lr=args.lr)

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="sgns_logsigmoid", steps_per_epoch=steps_per_epoch, num_classes=2,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b, (centre, context) in enumerate(loader):
            negatives = torch.multinomial(noise_dist, len(centre) * args.negatives,
                                          replacement=True, generator=gen)
            negatives = negatives.view(len(centre), args.negatives)
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): optimizer.zero_grad() left out: the sparse gradients of
            # every earlier batch stay in .grad and are applied again at every step.
            pos, neg = model(centre, context, negatives)
            loss = sgns_loss(pos, neg, args.bug)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                acc = ((pos > 0).sum() + (neg < 0).sum()).float() / (pos.numel() + neg.numel())
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vp, vn = model(val_pairs[:, 0], val_pairs[:, 1], val_neg)
                    val_loss = sgns_loss(vp, vn, args.bug).item()
                    val_acc = topic_purity(model.in_embed.weight, id2word, topic_of)
                model.train()
            rec.step(loss, accuracy=acc, inputs=centre, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f topic purity@5 %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(layers=["in_embed", "out_embed"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ptsgns-neg-sign", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (a sign error in a hand-written "
               "loss); the negative-sampling term written F.logsigmoid(neg) instead of "
               "F.logsigmoid(-neg), a recurring question about word2vec implementations",
     "bug": "the noise words' term of the skip-gram loss written F.logsigmoid(neg_score) "
            "instead of F.logsigmoid(-neg_score): the context word and the noise words are "
            "all pulled towards the centre word, the loss falls from 1.27 in the first epoch "
            "to 0.0018 in the fifth (every score pinned high, the share of scores on the "
            "right side of 0 at 0.167 = 1/6) while the nearest-neighbour topic purity stays "
            "at chance, 0.137, where the twin reaches 1.00 (loss 1.91)",
     "fix": "F.logsigmoid(-neg_score): the noise words are pushed away",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sparseadam",
          "buggy": "--bug neg-sign --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "ptsgns-zeros-init-both", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: bad weight initialization; Humbatova et al. "
               "2020: wrong weight initialisation (word2vec zero-initializes only the output "
               "vectors; the line was copied for the input table)",
     "bug": "the input table in_embed initialized to 0 like the output table: every score "
            "is 0 and every sparse gradient row is 0 x 0, SparseAdam never moves a weight, "
            "the loss stays at 6 ln 2 = 4.1589 for five epochs (the training accuracy 0.0) "
            "and the topic purity is 0.117 (chance) against the twin's 1.00 (loss 1.93)",
     "fix": "in_embed initialized uniform in +-0.5 / dim (out_embed stays at 0)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["dead_or_zero", "not_learning"],
     "root_cause": {"layer_name": "in_embed", "layer_index": 0},
     "pairs": [
         {"id": "sparseadam-seed1",
          "buggy": "--bug zeros-init-both --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "ptsgns-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis / AUTOTRAINER fault type: learning rate too low",
     "bug": "SparseAdam at 1e-4 (meant 1e-2): on 77 batches an epoch the loss only goes "
            "from 4.158 to 4.036 in five epochs and the topic purity stays at chance, 0.109, "
            "where the twin reaches a loss of 1.94 and a purity of 1.00",
     "fix": "learning rate 1e-2",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sparseadam-seed2",
          "buggy": "--lr 1e-4 --seed 2 --record-every 4",
          "fixed": "--lr 1e-2 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-ptsgns", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a skip-gram word2vec with negative sampling, two sparse embeddings under "
                    "SparseAdam, whose input vectors group the words by topic",
     "healthy": [
         {"id": "lr3e-3-bs256-seed3",
          "args": "--lr 3e-3 --batch-size 256 --seed 3 --record-every 4",
          "description": "SparseAdam at 3e-3, batches of 256 pairs"},
         {"id": "window5-neg10-dim24-seed4",
          "args": "--window 5 --negatives 10 --dim 24 --seed 4 --record-every 4",
          "description": "a window of up to 5, 10 noise words a pair, 24-value vectors"},
     ]},
]


if __name__ == "__main__":
    main()
