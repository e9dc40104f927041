"""A small BiDAF reader (Seo, Kembhavi, Farhadi and Hajishirzi, "Bidirectional Attention Flow
for Machine Comprehension", ICLR 2017) for extractive question answering on generated
documents, written as the public PyTorch implementations write it (Chris Chute's BiDAF
baseline for SQuAD 2.0, ``models.py`` and ``layers.py``, and galsang's ``BiDAF-pytorch``):
``Embedding`` (word vectors, trained here; no character CNN), a projection and a two-layer
highway encoder, an ``RNNEncoder`` (a bidirectional ``nn.LSTM``, ``batch_first=True``, over
``pack_padded_sequence``) shared by the context and the question, ``BiDAFAttention`` (the
trilinear similarity ``S_ij = w^T [c_i; q_j; c_i * q_j]`` from the parameters ``c_weight``,
``q_weight``, ``cq_weight`` and ``bias``; context-to-query attention softmaxed over the
question's words, query-to-context attention over the context's words, ``G = [c; a; c * a; c
* b]``), a two-layer bidirectional modeling LSTM and the output layer (``att_linear_1`` +
``mod_linear_1`` for the start, a further bidirectional LSTM ``rnn`` and ``att_linear_2`` +
``mod_linear_2`` for the end), the start and end logits of padded positions set to -1e30 by
``masked_softmax`` before the log-softmax over the context's positions. The loss is
``nll_loss(log_p1, y1) + nll_loss(log_p2, y2)``; Adam (``--lr``, 5e-3) with gradient-norm
clipping at 5; dropout ``--drop`` (Chute's default is 0.2; 0 here, as with 0.1 several seeds
sat for the whole run on the plateau of about 2.1 where the model picks a random fact).

The data are generated here from a small grammar of 6 function words ("is", ".", "what", "?",
"the", "of") beside the padding id 0, 16 keys, 60 value words and 60 filler words: a document
is 2 to 4 facts ``KEY is V1 .. VL .`` (distinct keys, answers of 1 to 3 value words, a third
each) in random order, each followed with probability 0.5 by a sentence of 2 to 5 filler and
value words that may mention another key (``the KEY of``, never followed by "is"): 8 to 54
tokens, 24 on average. The question ``what is KEY ?`` (or ``KEY ?``, ``what is the KEY ?``)
names one of the document's keys and the answer is the span of values that follows that key's
"is". 2400 documents train (``--n-train``), 600 (another seed) validate. The batches are made
as torchtext's ``BucketIterator`` makes them (pools of 8 shuffled batches sorted by length),
each padded to its longest document and question: 32 documents a batch, 75 steps an epoch, 6
epochs (450 steps). The step's accuracy is the exact match of the batch's start and end
(each pointer's argmax) with its labels; once per epoch the validation loss is the held-out
loss and the validation accuracy the exact match (EM) of the predicted span (the (start, end)
of highest p1 * p2 with start <= end < start + 15, as BiDAF decodes) with the gold answer's
words, as the SQuAD script compares answer text. The recorder is told the activations applied
with ``torch.nn.functional`` in the highway encoder and that the loss is two terms of
``nll_loss`` added up (``loss_added``). The mistakes of the families in CASES are selected
with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence  # noqa: E402

np = common.np

PAD, IS, DOT, WHAT, QMARK, THE, OF = range(7)
N_KEYS, N_VALUES, N_FILLER = 16, 60, 60
KEY0 = 7
VALUE0 = KEY0 + N_KEYS
FILLER0 = VALUE0 + N_VALUES
VOCAB = FILLER0 + N_FILLER
MAX_ANSWER = 15


def documents(n, seed):
    """(contexts, questions, answers): lists of token lists; answers the gold value words."""
    rng = np.random.default_rng(seed)
    contexts, questions, answers = [], [], []
    for _ in range(n):
        keys = rng.choice(N_KEYS, size=int(rng.integers(2, 5)), replace=False) + KEY0
        ctx, spans = [], {}
        for k in keys:
            value = list(rng.integers(VALUE0, FILLER0, size=int(rng.integers(1, 4))))
            ctx += [int(k), IS]
            spans[int(k)] = value
            ctx += [int(v) for v in value] + [DOT]
            if rng.random() < 0.5:
                words = [int(w) for w in rng.integers(VALUE0, VOCAB, size=int(rng.integers(2, 6)))]
                if rng.random() < 0.5:
                    at = int(rng.integers(0, len(words)))
                    words[at:at] = [THE, int(rng.integers(KEY0, VALUE0)), OF]
                ctx += words + [DOT]
        asked = int(rng.choice(keys))
        form = int(rng.integers(0, 3))
        question = ([WHAT, IS, asked, QMARK], [asked, QMARK], [WHAT, IS, THE, asked, QMARK])[form]
        contexts.append(ctx)
        questions.append(question)
        answers.append(spans[asked])
    return contexts, questions, answers


def answer_positions(ctx, question, bug=None):
    """The (start, end) token indices of the answer: the words after "KEY is" up to ".""."""
    key = question[-2]
    k = ctx.index(key) if ctx.count(key) == 1 else [
        i for i in range(len(ctx) - 1) if ctx[i] == key and ctx[i + 1] == IS][0]
    if bug == "answer-off-by-one":
        # BUG (answer-off-by-one): the start is counted from the key's own position (the
        # answer "begins after the key"), one token before the answer, at "is".
        start = k + 1
    else:
        start = k + 2
    end = ctx.index(DOT, k + 2) - 1
    return start, end


def pad(seqs):
    width = max(len(s) for s in seqs)
    out = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = torch.tensor(s)
    return out


def masked_softmax(logits, mask, dim=-1, log_softmax=False):
    """Chute's masked_softmax: the logits of masked-out positions set to -1e30."""
    mask = mask.type(torch.float32)
    masked_logits = mask * logits + (1 - mask) * -1e30
    softmax_fn = F.log_softmax if log_softmax else F.softmax
    return softmax_fn(masked_logits, dim)


class HighwayEncoder(nn.Module):
    def __init__(self, num_layers, hidden_size):
        super().__init__()
        self.transforms = nn.ModuleList([nn.Linear(hidden_size, hidden_size)
                                         for _ in range(num_layers)])
        self.gates = nn.ModuleList([nn.Linear(hidden_size, hidden_size)
                                    for _ in range(num_layers)])

    def forward(self, x):
        for gate, transform in zip(self.gates, self.transforms):
            g = torch.sigmoid(gate(x))
            t = F.relu(transform(x))
            x = g * t + (1 - g) * x
        return x


class Embedding(nn.Module):
    def __init__(self, vocab, emb_size, hidden_size, drop_prob):
        super().__init__()
        self.embed = nn.Embedding(vocab, emb_size, padding_idx=PAD)
        self.proj = nn.Linear(emb_size, hidden_size, bias=False)
        self.hwy = HighwayEncoder(2, hidden_size)
        self.drop_prob = drop_prob

    def forward(self, x):
        emb = self.embed(x)
        emb = F.dropout(emb, self.drop_prob, self.training)
        return self.hwy(self.proj(emb))


class RNNEncoder(nn.Module):
    def __init__(self, input_size, hidden_size, num_layers, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob
        self.rnn = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True,
                           bidirectional=True, dropout=drop_prob if num_layers > 1 else 0.0)

    def forward(self, x, lengths):
        orig_len = x.size(1)
        lengths, sort_idx = lengths.sort(0, descending=True)
        x = x[sort_idx]
        x = pack_padded_sequence(x, lengths.cpu(), batch_first=True)
        x, _ = self.rnn(x)
        x, _ = pad_packed_sequence(x, batch_first=True, total_length=orig_len)
        _, unsort_idx = sort_idx.sort(0)
        x = x[unsort_idx]
        return F.dropout(x, self.drop_prob, self.training)


class BiDAFAttention(nn.Module):
    def __init__(self, hidden_size, drop_prob=0.1, bug=None):
        super().__init__()
        self.drop_prob = drop_prob
        self.bug = bug
        self.c_weight = nn.Parameter(torch.zeros(hidden_size, 1))
        self.q_weight = nn.Parameter(torch.zeros(hidden_size, 1))
        self.cq_weight = nn.Parameter(torch.zeros(1, 1, hidden_size))
        for weight in (self.c_weight, self.q_weight, self.cq_weight):
            nn.init.xavier_uniform_(weight)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, c, q, c_mask, q_mask):
        batch_size, c_len, _ = c.size()
        q_len = q.size(1)
        s = self.get_similarity_matrix(c, q)            # (batch_size, c_len, q_len)
        c_mask = c_mask.view(batch_size, c_len, 1)
        q_mask = q_mask.view(batch_size, 1, q_len)
        if self.bug == "c2q-softmax-dim":
            # BUG (c2q-softmax-dim): the context-to-query weights normalized over the
            # context's positions (dim=1) instead of the question's words (dim=2).
            s1 = masked_softmax(s, c_mask, dim=1)
        else:
            s1 = masked_softmax(s, q_mask, dim=2)       # (batch_size, c_len, q_len)
        s2 = masked_softmax(s, c_mask, dim=1)           # (batch_size, c_len, q_len)
        a = torch.bmm(s1, q)                            # (bs, c_len, hid_size)
        b = torch.bmm(torch.bmm(s1, s2.transpose(1, 2)), c)
        return torch.cat([c, a, c * a, c * b], dim=2)   # (bs, c_len, 4 * hid_size)

    def get_similarity_matrix(self, c, q):
        c_len, q_len = c.size(1), q.size(1)
        c = F.dropout(c, self.drop_prob, self.training)
        q = F.dropout(q, self.drop_prob, self.training)
        s0 = torch.matmul(c, self.c_weight).expand([-1, -1, q_len])
        s1 = torch.matmul(q, self.q_weight).transpose(1, 2).expand([-1, c_len, -1])
        s2 = torch.matmul(c * self.cq_weight, q.transpose(1, 2))
        return s0 + s1 + s2 + self.bias


class BiDAFOutput(nn.Module):
    def __init__(self, hidden_size, drop_prob, bug=None):
        super().__init__()
        self.bug = bug
        self.att_linear_1 = nn.Linear(8 * hidden_size, 1)
        self.mod_linear_1 = nn.Linear(2 * hidden_size, 1)
        self.rnn = RNNEncoder(2 * hidden_size, hidden_size, num_layers=1, drop_prob=drop_prob)
        self.att_linear_2 = nn.Linear(8 * hidden_size, 1)
        self.mod_linear_2 = nn.Linear(2 * hidden_size, 1)

    def forward(self, att, mod, mask):
        logits_1 = self.att_linear_1(att) + self.mod_linear_1(mod)
        mod_2 = self.rnn(mod, mask.sum(-1))
        logits_2 = self.att_linear_2(att) + self.mod_linear_2(mod_2)
        if self.bug == "log-softmax-implicit-dim":
            # BUG (log-softmax-implicit-dim): the masked logits normalized by log_softmax
            # without dim while still (batch, c_len, 1): PyTorch's implicit dim for a 3-D
            # tensor is 0, the batch, not the context's positions.
            m = mask.unsqueeze(-1).type(torch.float32)
            log_p1 = F.log_softmax(m * logits_1 + (1 - m) * -1e30)
            log_p2 = F.log_softmax(m * logits_2 + (1 - m) * -1e30)
            return log_p1.squeeze(-1), log_p2.squeeze(-1)
        if self.bug == "no-pad-mask":
            # BUG (no-pad-mask): a plain log_softmax: the padded positions keep their logits
            # and take part in the softmax.
            return F.log_softmax(logits_1.squeeze(-1), -1), F.log_softmax(logits_2.squeeze(-1), -1)
        log_p1 = masked_softmax(logits_1.squeeze(-1), mask, log_softmax=True)
        log_p2 = masked_softmax(logits_2.squeeze(-1), mask, log_softmax=True)
        return log_p1, log_p2


class BiDAF(nn.Module):
    def __init__(self, vocab, emb_size, hidden_size, drop_prob=0.1, bug=None):
        super().__init__()
        self.emb = Embedding(vocab, emb_size, hidden_size, drop_prob)
        self.enc = RNNEncoder(hidden_size, hidden_size, num_layers=1, drop_prob=drop_prob)
        self.att = BiDAFAttention(2 * hidden_size, drop_prob, bug=bug)
        self.mod = RNNEncoder(8 * hidden_size, hidden_size, num_layers=2, drop_prob=drop_prob)
        self.out = BiDAFOutput(hidden_size, drop_prob, bug=bug)

    def forward(self, cw_idxs, qw_idxs):
        c_mask = torch.zeros_like(cw_idxs) != cw_idxs
        q_mask = torch.zeros_like(qw_idxs) != qw_idxs
        c_len, q_len = c_mask.sum(-1), q_mask.sum(-1)
        c_emb = self.emb(cw_idxs)                       # (batch_size, c_len, hidden_size)
        q_emb = self.emb(qw_idxs)                       # (batch_size, q_len, hidden_size)
        c_enc = self.enc(c_emb, c_len)                  # (batch_size, c_len, 2 * hidden_size)
        q_enc = self.enc(q_emb, q_len)                  # (batch_size, q_len, 2 * hidden_size)
        att = self.att(c_enc, q_enc, c_mask, q_mask)    # (batch_size, c_len, 8 * hidden_size)
        mod = self.mod(att, c_len)                      # (batch_size, c_len, 2 * hidden_size)
        return self.out(att, mod, c_mask)


def discretize(p_start, p_end, max_len=MAX_ANSWER):
    """The (start, end) of highest p_start * p_end with start <= end < start + max_len."""
    c_len = p_start.size(1)
    p_joint = p_start.unsqueeze(2) * p_end.unsqueeze(1)
    is_legal = torch.triu(torch.ones(c_len, c_len)) - torch.triu(torch.ones(c_len, c_len),
                                                                  diagonal=max_len)
    p_joint = p_joint * is_legal
    max_in_row, _ = torch.max(p_joint, dim=2)
    max_in_col, _ = torch.max(p_joint, dim=1)
    return torch.argmax(max_in_row, dim=-1), torch.argmax(max_in_col, dim=-1)


def bucket_batches(lengths, batch_size, gen, pool=8):
    """torchtext's BucketIterator: shuffled pools of ``pool`` batches, each sorted by length
    and cut into batches; the batches in random order (the last incomplete one dropped)."""
    perm = torch.randperm(len(lengths), generator=gen).tolist()
    batches = []
    size = pool * batch_size
    for p in range(0, len(perm) - batch_size + 1, size):
        chunk = sorted(perm[p:p + size], key=lambda i: lengths[i])
        batches += [chunk[b:b + batch_size] for b in range(0, len(chunk) - batch_size + 1,
                                                             batch_size)]
    order = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in order]


def main():
    p = common.parser(__doc__)
    p.add_argument("--emb", type=int, default=32)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--drop", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--n-train", type=int, default=2400)
    p.add_argument("--bug", default=None,
                   choices=("no-pad-mask", "log-softmax-implicit-dim", "c2q-softmax-dim", "end-on-start-labels",
                            "answer-off-by-one"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    def featurize(n, seed):
        ctx, qs, ans = documents(n, seed)
        pos = torch.tensor([answer_positions(c, q, args.bug) for c, q in zip(ctx, qs)])
        return ctx, qs, ans, pos[:, 0], pos[:, 1]

    c_tr, q_tr, a_tr, y1_tr, y2_tr = featurize(args.n_train, args.seed)
    c_val, q_val, a_val, y1_val, y2_val = featurize(600, 1000 + args.seed)
    cw_val, qw_val = pad(c_val), pad(q_val)

    model = BiDAF(VOCAB, args.emb, args.hidden, args.drop, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    def loss_fn(log_p1, log_p2, y1, y2):
        if args.bug == "end-on-start-labels":
            # BUG (end-on-start-labels): the end pointer's loss takes the start indices.
            return F.nll_loss(log_p1, y1) + F.nll_loss(log_p2, y1)
        return F.nll_loss(log_p1, y1) + F.nll_loss(log_p2, y2)

    def exact_match(starts, ends, contexts, answers):
        hits = [c[s:e + 1] == a for s, e, c, a in
                zip(starts.tolist(), ends.tolist(), contexts, answers)]
        return float(np.mean(hits))

    bs = args.batch_size
    pool = 8
    steps_per_epoch = len(c_tr) // (pool * bs) * pool + len(c_tr) % (pool * bs) // bs
    lengths = [len(c) for c in c_tr]
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="nll_loss",
        loss_added=True, steps_per_epoch=steps_per_epoch, batch_size=bs,
        activations={"emb.proj": "linear", "emb.hwy.transforms.0": "relu",
                     "emb.hwy.transforms.1": "relu"})
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for b, idx in enumerate(bucket_batches(lengths, bs, g, pool)):
            cw, qw = pad([c_tr[i] for i in idx]), pad([q_tr[i] for i in idx])
            y1, y2 = y1_tr[idx], y2_tr[idx]
            optimizer.zero_grad()
            log_p1, log_p2 = model(cw, qw)
            loss = loss_fn(log_p1, log_p2, y1, y2)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            with torch.no_grad():
                acc = ((log_p1.argmax(-1) == y1) & (log_p2.argmax(-1) == y2)).float().mean()

            val_loss = val_em = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    vp1, vp2 = model(cw_val, qw_val)
                    val_loss = loss_fn(vp1, vp2, y1_val, y2_val).item()
                    starts, ends = discretize(vp1.exp(), vp2.exp())
                val_em = exact_match(starts, ends, c_val, a_val)
                model.train()
            rec.step(loss, accuracy=acc, inputs=cw, targets=y1, val_loss=val_loss,
                     val_accuracy=val_em)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_em)
        print("epoch %d: loss %.4f acc %.3f | val loss %.4f EM %.3f" % (
            epoch, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_em))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "bidaf-log-softmax-implicit-dim", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong dimension of an operation (F.log_softmax called "
               "without dim on the (batch, c_len, 1) logits: PyTorch's deprecated implicit "
               "dim of a 3-D tensor is 0, with the UserWarning 'Implicit dimension choice for "
               "log_softmax has been deprecated')",
     "bug": "the masked start and end logits are log-softmaxed over the batch instead of the "
            "context's positions and only then squeezed: nll_loss reads log-probabilities "
            "that compare documents, not positions; the loss falls only from 4.56 in the "
            "first epoch to 2.42 in the sixth (training accuracy 0.543), the held-out loss "
            "ends at 7.16 and the exact match at 0.660, against the twin's loss 2.83 -> 0.0002 "
            "and exact match 1.000",
     "fix": "masked_softmax(logits.squeeze(-1), mask, log_softmax=True), the log-softmax "
            "over dim -1",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug log-softmax-implicit-dim --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "bidaf-end-on-start-labels", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: training (wrong labels given to the loss: the end "
               "pointer's nll_loss copied from the start pointer's line with y1 left in)",
     "bug": "the end pointer is trained on the start indices: both pointers learn the "
            "answer's first word, so only one-word answers (a third) are extracted right; the "
            "loss falls from 2.62 to 0.013 and the held-out loss to 0.002 while the training "
            "accuracy stays at 0.331 and the held-out exact match at 0.340, against the twin's "
            "exact match 1.000 (loss 2.86 -> 0.0002)",
     "fix": "F.nll_loss(log_p1, y1) + F.nll_loss(log_p2, y2)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug end-on-start-labels --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "bidaf-answer-off-by-one", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: training data (wrong preprocessing: the answer span's "
               "start index off by one token, as in SQuAD preprocessing whose character-to-"
               "token offsets shift the labels)",
     "bug": "the answer's start is counted from the key (key + 1, the word 'is') instead of "
            "key + 2: the model learns the shifted labels perfectly (training accuracy 1.000, "
            "loss 2.77 -> 0.0027, held-out loss 0.0002) but every predicted span starts with "
            "'is', so the exact match with the gold answer's words is 0.000 in every epoch, "
            "against the twin's 0.935 (loss 2.88 -> 0.093)",
     "fix": "start = k + 2, the first word after 'KEY is'",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug answer-off-by-one --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-bidaf", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a small BiDAF reader on generated key-value documents that learns to "
                    "extract the asked value",
     "healthy": [
         {"id": "hidden24-seed3",
          "args": "--hidden 24 --seed 3 --record-every 4",
          "description": "24 hidden units a direction, seed 3: the loss goes from 3.05 to "
                         "0.26, held-out exact match 0.957"},
     ]},
]


if __name__ == "__main__":
    main()
