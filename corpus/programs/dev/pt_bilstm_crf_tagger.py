"""A PyTorch BiLSTM-CRF named-entity tagger, written as the PyTorch tutorial "Advanced: Making
Dynamic Decisions and the Bi-LSTM CRF" writes it, batched: ``BiLSTM_CRF`` holds ``word_embeds``
(``nn.Embedding``), a bidirectional ``lstm``, ``hidden2tag`` (``nn.Linear`` to the emission
scores of every tag, START and STOP included) and ``transitions``, an ``nn.Parameter`` of
tag-to-tag scores (``transitions[i, j]``: from tag j to tag i; no transition into START or out
of STOP, set to -10000). ``_forward_alg`` computes the log partition function over all tag
paths with the forward algorithm (log-sum-exp over the previous tag, position by position,
padding masked), ``_score_sentence`` the score of the gold path, ``neg_log_likelihood`` their
difference averaged over the batch, and ``_viterbi_decode`` the best path, from which the
token accuracy is counted (real tokens only).

The data are generated here: ``--sentences`` sentences of a toy news grammar ("Anna Berg
joined Acme Corp in New York", "the Delta Bank office in Paris hired John Smith", ...), 4 to 16
words, tagged in BIO with PER, ORG and LOC (B-PER, I-PER, B-ORG, I-ORG, B-LOC, I-LOC, O). Some
words are a person's name, a company or a place depending on their neighbours ("Jordan",
"Washington", "Austin", "Lincoln", "Morgan"), and multi-word names need the I- tags after a B-
tag. 80% train, 20% validate. Sentences are padded to the longest of their batch (word 0).

Optimizer ``--optimizer`` (``sgd`` with ``--weight-decay`` as in the tutorial, or ``adam``) at
``--lr``. The mistakes of the families in CASES are selected with ``--bug`` or show in a
setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

np = common.np

START_TAG = "<START>"
STOP_TAG = "<STOP>"
TAGS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", START_TAG, STOP_TAG]
REAL_TAGS = 7

FIRST = "Anna John Maria Peter Laura David Sofia Omar Lena Paul".split()
LAST = "Berg Smith Novak Garcia Brown Kim Weber Rossi Silva Meyer".split()
# words that are a person, a company or a place depending on where they stand
AMBIGUOUS = "Jordan Washington Austin Lincoln Morgan Florence".split()
ORG_HEAD = "Acme Delta Globex Initech Umbrella Stark Wayne Vandelay".split()
ORG_TAIL = "Corp Bank Motors Labs Group Airlines".split()
CITY = "Paris Berlin Tokyo Madrid Oslo Cairo Lima Dublin".split()
CITY2 = [("New", "York"), ("San", "Diego"), ("Los", "Angeles"), ("Hong", "Kong"),
         ("Buenos", "Aires")]
VERB = "joined visited left praised hired sued met called".split()
FILLER = "the office of a new report says that today yesterday".split()


def person(rng):
    r = rng.random()
    if r < 0.2:
        return [rng.choice(AMBIGUOUS)], ["B-PER"]
    if r < 0.4:
        return [rng.choice(FIRST), rng.choice(AMBIGUOUS)], ["B-PER", "I-PER"]
    if r < 0.7:
        return [rng.choice(FIRST), rng.choice(LAST)], ["B-PER", "I-PER"]
    return [rng.choice(LAST)], ["B-PER"]


def org(rng):
    head = rng.choice(AMBIGUOUS) if rng.random() < 0.25 else rng.choice(ORG_HEAD)
    if rng.random() < 0.7:
        return [head, rng.choice(ORG_TAIL)], ["B-ORG", "I-ORG"]
    return [head], ["B-ORG"]


def place(rng):
    r = rng.random()
    if r < 0.25:
        return list(CITY2[int(rng.integers(len(CITY2)))]), ["B-LOC", "I-LOC"]
    if r < 0.45:
        return [rng.choice(AMBIGUOUS)], ["B-LOC"]
    return [rng.choice(CITY)], ["B-LOC"]


def sentence(rng):
    words, tags = [], []

    def add(w, t):
        words.extend(w)
        tags.extend(t)

    if rng.random() < 0.3:
        add(["the"], ["O"])
    subj = person if rng.random() < 0.6 else org
    add(*subj(rng))
    add([rng.choice(VERB)], ["O"])
    add(*(org(rng) if subj is person and rng.random() < 0.6 else person(rng)))
    if rng.random() < 0.6:
        add([rng.choice(["in", "near", "from"])], ["O"])
        add(*place(rng))
    if rng.random() < 0.4:
        add([rng.choice(["today", "yesterday", "again"])], ["O"])
    if rng.random() < 0.3:
        add(["says", rng.choice(["the", "a"]), "report", "from"], ["O", "O", "O", "O"])
        add(*place(rng))
    return words, tags


def corpus_sentences(n, seed):
    rng = np.random.default_rng(seed)
    return [sentence(rng) for _ in range(n)]


def log_sum_exp(x, dim):
    m, _ = x.max(dim)
    return m + torch.log(torch.exp(x - m.unsqueeze(dim)).sum(dim))


class BiLSTM_CRF(nn.Module):
    def __init__(self, vocab_size, tag_to_ix, embedding_dim, hidden_dim, batch_first=True):
        super().__init__()
        self.tag_to_ix = tag_to_ix
        self.tagset_size = len(tag_to_ix)
        self.word_embeds = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        # BUG (lstm-not-batch-first): batch_first left at its default False while the batches
        # are (batch, words): the LSTM runs across the sentences of a batch instead of along
        # each sentence.
        self.lstm = nn.LSTM(embedding_dim, hidden_dim // 2, num_layers=1, bidirectional=True,
                            batch_first=batch_first)
        self.hidden2tag = nn.Linear(hidden_dim, self.tagset_size)
        # transitions[i, j]: the score of transitioning *to* i *from* j
        self.transitions = nn.Parameter(torch.randn(self.tagset_size, self.tagset_size))
        # never transfer to the start tag, never transfer from the stop tag
        self.transitions.data[tag_to_ix[START_TAG], :] = -10000
        self.transitions.data[:, tag_to_ix[STOP_TAG]] = -10000

    def _get_lstm_features(self, sentences):
        embeds = self.word_embeds(sentences)
        lstm_out, _ = self.lstm(embeds)
        return self.hidden2tag(lstm_out)                       # (batch, words, tags)

    def _forward_alg(self, feats, mask, use_mask=True):
        batch, length, _ = feats.shape
        start, stop = self.tag_to_ix[START_TAG], self.tag_to_ix[STOP_TAG]
        forward_var = torch.full((batch, self.tagset_size), -10000.0)
        forward_var[:, start] = 0.0
        for t in range(length):
            # next_tag_var[b, i, j] = forward_var[b, j] + transitions[i, j] + emit[b, i]
            next_tag_var = (forward_var.unsqueeze(1) + self.transitions.unsqueeze(0)
                            + feats[:, t].unsqueeze(2))
            new_var = log_sum_exp(next_tag_var, 2)
            if use_mask:
                forward_var = torch.where(mask[:, t].unsqueeze(1), new_var, forward_var)
            else:
                # BUG (partition-over-padding): the padded positions are not masked out of the
                # forward algorithm, so the partition function sums over paths through the
                # padding while the gold path score stops at the sentence's end.
                forward_var = new_var
        terminal_var = forward_var + self.transitions[stop].unsqueeze(0)
        return log_sum_exp(terminal_var, 1)

    def _score_sentence(self, feats, tags, mask):
        batch, length, _ = feats.shape
        start, stop = self.tag_to_ix[START_TAG], self.tag_to_ix[STOP_TAG]
        prev = torch.full((batch,), start, dtype=torch.long)
        score = torch.zeros(batch)
        for t in range(length):
            m = mask[:, t]
            cur = tags[:, t]
            step = self.transitions[cur, prev] + feats[:, t].gather(1, cur.unsqueeze(1)).squeeze(1)
            score = score + step * m
            prev = torch.where(m, cur, prev)
        return score + self.transitions[stop, prev]

    def _viterbi_decode(self, feats, mask):
        batch, length, _ = feats.shape
        start, stop = self.tag_to_ix[START_TAG], self.tag_to_ix[STOP_TAG]
        forward_var = torch.full((batch, self.tagset_size), -10000.0)
        forward_var[:, start] = 0.0
        backpointers = []
        for t in range(length):
            next_tag_var = forward_var.unsqueeze(1) + self.transitions.unsqueeze(0)
            best_score, best_id = next_tag_var.max(2)
            new_var = best_score + feats[:, t]
            m = mask[:, t].unsqueeze(1)
            forward_var = torch.where(m, new_var, forward_var)
            # padded positions point to themselves so the backtrace passes through them
            keep = torch.arange(self.tagset_size).unsqueeze(0).expand(batch, -1)
            backpointers.append(torch.where(m, best_id, keep))
        terminal_var = forward_var + self.transitions[stop].unsqueeze(0)
        best_tag = terminal_var.argmax(1)
        path = [best_tag]
        for bptrs in reversed(backpointers[1:]):
            best_tag = bptrs.gather(1, best_tag.unsqueeze(1)).squeeze(1)
            path.append(best_tag)
        path.reverse()
        return torch.stack(path, 1)

    def neg_log_likelihood(self, sentences, tags, mask, sign_flipped=False, use_mask=True):
        feats = self._get_lstm_features(sentences)
        forward_score = self._forward_alg(feats, mask, use_mask=use_mask)
        gold_score = self._score_sentence(feats, tags, mask)
        if sign_flipped:
            # BUG (nll-sign-flipped): the gold score minus the partition function, the
            # log-likelihood itself, minimized instead of its negative.
            return (gold_score - forward_score).mean()
        return (forward_score - gold_score).mean()

    def forward(self, sentences, mask):
        feats = self._get_lstm_features(sentences)
        return self._viterbi_decode(feats, mask)


def main():
    p = common.parser(__doc__)
    p.add_argument("--sentences", type=int, default=1200)
    p.add_argument("--embed", type=int, default=24)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("nll-sign-flipped", "partition-over-padding", "lstm-not-batch-first",
                            "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    data = corpus_sentences(args.sentences, args.seed)
    cut = int(0.8 * len(data))
    train_data, val_data = data[:cut], data[cut:]
    word_to_ix = {"<pad>": 0, "<unk>": 1}
    for words, _ in train_data:
        for w in words:
            word_to_ix.setdefault(w, len(word_to_ix))
    tag_to_ix = {t: i for i, t in enumerate(TAGS)}

    def prepare_sequence(seq, to_ix):
        return [to_ix.get(w, 1) for w in seq]

    train_set = [(prepare_sequence(w, word_to_ix), [tag_to_ix[t] for t in tags])
                 for w, tags in train_data]
    val_set = [(prepare_sequence(w, word_to_ix), [tag_to_ix[t] for t in tags])
               for w, tags in val_data]

    def collate(batch):
        n = max(len(w) for w, _ in batch)
        words = torch.zeros(len(batch), n, dtype=torch.long)
        tags = torch.zeros(len(batch), n, dtype=torch.long)
        for i, (w, t) in enumerate(batch):
            words[i, :len(w)] = torch.tensor(w)
            tags[i, :len(t)] = torch.tensor(t)
        return words, tags

    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=g,
                        collate_fn=collate)
    val_loader = DataLoader(val_set, batch_size=256, collate_fn=collate)

    model = BiLSTM_CRF(len(word_to_ix), tag_to_ix, args.embed, args.hidden,
                       batch_first=args.bug != "lstm-not-batch-first")
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr,
                                    weight_decay=args.weight_decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="crf_nll",
        steps_per_epoch=len(loader), num_classes=REAL_TAGS, batch_size=args.batch_size)

    def token_accuracy(path, tags, mask):
        return ((path == tags) & mask).sum().float() / mask.sum()

    def evaluate():
        model.eval()
        total, correct, tokens, sents = 0.0, 0.0, 0, 0
        with torch.no_grad():
            for xb, yb in val_loader:
                mask = xb != 0
                total += model.neg_log_likelihood(xb, yb, mask).item() * len(xb)
                path = model(xb, mask)
                correct += ((path == yb) & mask).sum().item()
                tokens += int(mask.sum())
                sents += len(xb)
        model.train()
        return total / sents, correct / tokens

    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (sentence_in, targets) in enumerate(loader):
            # Step 1. Remember that Pytorch accumulates gradients.
            if args.bug != "no-zero-grad":
                model.zero_grad()
            # BUG (no-zero-grad): model.zero_grad() forgotten: every batch's gradient is added
            # to all the earlier ones.
            mask = sentence_in != 0
            # Step 2. Run our forward pass.
            loss = model.neg_log_likelihood(sentence_in, targets, mask,
                                             sign_flipped=args.bug == "nll-sign-flipped",
                                             use_mask=args.bug != "partition-over-padding")
            # Step 3. Compute the loss, gradients, and update the parameters.
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                acc = token_accuracy(model(sentence_in, mask), targets, mask)
            val_loss = val_acc = None
            if i == len(loader) - 1:
                val_loss, val_acc = evaluate()
            rec.step(loss, accuracy=acc, inputs=sentence_in, targets=targets,
                     val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d  loss %.4f  acc %.3f | val loss %.4f  acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc), flush=True)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "crf-nll-sign-flipped", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong loss function calculation (a hand-written CRF "
               "negative log-likelihood with its sign flipped)",
     "bug": "neg_log_likelihood returns the gold path score minus the log partition function "
            "(the log-likelihood) and SGD minimizes it: the gold paths are pushed down, the "
            "loss falls without bound from -1160 in the first epoch to -47294 in the 8th and "
            "the Viterbi token accuracy is 0.080 (validation 0.078, validation loss 50116) "
            "against the twin's 0.991 (validation 0.992, loss 0.44)",
     "fix": "return forward_score - gold_score (the negative log-likelihood)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--bug nll-sign-flipped --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "crf-partition-over-padding", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong loss function calculation / missing masking of "
               "padded positions in a batched CRF (the forward algorithm runs over the padding)",
     "bug": "_forward_alg does not mask the padded positions: the partition function sums over "
            "paths through the padding while the gold path score stops at each sentence's end, "
            "so the loss is no likelihood (it falls to -3122 by the 8th epoch, from -23 in the "
            "first) and the padding's emissions and transitions are trained up; the token "
            "accuracy ends at 0.835 and the validation accuracy at 0.755 (validation loss "
            "7.29; 0.856 in the 4th epoch) against the twin's 0.990 and 0.987 (loss 0.48)",
     "fix": "keep forward_var where the mask is False (torch.where(mask[:, t], ...))",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--bug partition-over-padding --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "crf-no-zero-grad", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / Humbatova et al. 2020: missing zero_grad() in a PyTorch training loop "
               "(the tutorial's 'Remember that Pytorch accumulates gradients' step left out)",
     "bug": "model.zero_grad() forgotten under SGD at 0.3: every batch's gradient is added to "
            "all earlier ones; the loss falls to 2.34 in the 4th epoch, then rises to 141.7 in "
            "the 8th, the token accuracy falls to 0.607 (validation 0.648, loss 138) against "
            "the twin's 0.994 (validation 0.993, loss 0.21)",
     "fix": "model.zero_grad() before every forward pass",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-lr0.3",
          "buggy": "--bug no-zero-grad --lr 0.3 --record-every 4",
          "fixed": "--lr 0.3 --record-every 4"},
     ]},
    {"family": "healthy-crf", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a batched BiLSTM-CRF named-entity tagger (forward algorithm, Viterbi) "
                    "that trains well",
     "healthy": [
         {"id": "adam-lr0.01-hidden48-seed2",
          "args": "--optimizer adam --lr 0.01 --hidden 48 --seed 2 --record-every 4",
          "description": "Adam at 0.01, 24 LSTM units each way"},
         {"id": "sgd-lr1-seed1",
          "args": "--lr 1 --seed 1 --record-every 4",
          "description": "SGD at 1 with weight decay 1e-4"},
     ]},
]


if __name__ == "__main__":
    main()
