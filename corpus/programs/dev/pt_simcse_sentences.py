"""Unsupervised SimCSE (Gao, Yao and Chen, "SimCSE: Simple Contrastive Learning of Sentence
Embeddings", EMNLP 2021) in small, written as its public PyTorch code (princeton-nlp/SimCSE,
``simcse/models.py``: ``cl_init``, ``cl_forward``, ``Pooler``, ``MLPLayer``, ``Similarity``)
writes it around a BERT encoder: every sentence of a batch is fed twice (``input_ids`` of
shape (bs, 2, len) viewed as (2 bs, len)), so that the two copies pass different dropout masks
and are each other's positive; the other sentences of the batch are the negatives; the cosine
similarity of every first copy with every second copy (``Similarity``: ``nn.CosineSimilarity``
divided by the temperature ``--temp`` 0.05) is the logits of a cross-entropy whose labels are
``torch.arange(bs)`` (the diagonal). The sentence vector is by default the average of the
last hidden states over the real tokens (``--pooler avg``, the repository's ``avg`` pooler,
no MLP); ``--pooler cls`` is the unsupervised recipe's (``--pooler_type cls
--mlp_only_train``): the [CLS] vector, passed through the ``MLPLayer`` (dense + tanh) in
training only.

The encoder is a BERT written out as ``transformers``' ``BertModel`` names its modules
(``embeddings.word_embeddings``, ``position_embeddings``, ``LayerNorm``; per layer
``attention.self.query/key/value``, ``attention.output.dense/LayerNorm``, ``intermediate.dense``
with GELU, ``output.dense/LayerNorm``; post-LN, dropout ``--dropout`` 0.1 on the embeddings,
the attention probabilities and every sub-layer's output; BERT's initialization, normal with
std 0.02), scaled down: hidden size 64, 2 layers, 4 heads, intermediate 128. SimCSE starts
from a pretrained BERT; nothing is downloaded here, so the program first pretrains this
encoder as BERT is pretrained (masked language modelling of 15% of the words, 80% of them
replaced by [MASK] and 10% by a random word, a tied output layer; AdamW at 3e-3 with 50 steps
of warm-up and a linear decay, batches of 128, ``--mlm-steps`` 600; not recorded) on the
training sentences, and SimCSE continues from that checkpoint, which is evaluated first.

The sentences are generated here from a small grammar: a meaning is five concepts (an
adjective, a subject, a verb, an object and a place, six concepts each), every concept has two
words (synonyms: "dog"/"hound", "sees"/"notices", "park"/"garden"...), and a meaning is written
in one of four word orders (the place last or first, the adjective before the subject or in a
relative clause: "the big dog sees the ball in the park", "in the park the dog that is big
sees the ball"), each word drawn from its synonyms, and a meaningless "today", "again" or "now"
put at the end half of the time. The concepts depend on one another (each subject prefers two
adjectives, two verbs and two places, each verb two objects, 90% of the time), so that the
pretraining can learn that two synonyms are used alike. The training sentences are 8192
sentences of 16000 meanings drawn so (one SimCSE pass over them is 128 steps of batches of
``--batch-size`` 64); ``--epochs`` 3 (384 steps), AdamW at ``--lr`` 3e-4 without weight decay
and with the linear decay to zero of ``transformers``' Trainer, ``--pooler avg`` by default.
The evaluation uses 600 meanings drawn uniformly from all 7776 and never trained on, with
the sentence vector without the MLP (the average, or ``cls_before_pooler`` as SimCSE
evaluates the [CLS] recipe): 512 pairs scored like STS (5 minus the number of the five concepts changed in
the second meaning, the second sentence written in the same word order with the same words
but for one swapped for its synonym and the filler drawn again), whose Spearman correlation of
the cosine with the score is ``spearman``, and 256 paraphrase pairs (one meaning written twice
so). The validation accuracy is the paraphrase ranking accuracy: the share of the pairs (a
sentence's paraphrase, another sentence's paraphrase) in which the sentence is more similar to
its own paraphrase (chance 0.5; the top-1 retrieval among the 256 is ``top1``); the validation
loss is the training loss on the paraphrase pairs (the paraphrase as the positive, the other
255 as negatives). The step's accuracy is the share of first copies whose most similar second
copy is their own. The mistakes of the families in CASES are selected with ``--bug`` or show
in a setting (``--temp``, ``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

# ---------------------------------------------------------------- the sentences

ADJECTIVES = [("big", "large"), ("small", "little"), ("happy", "glad"), ("quick", "fast"),
              ("old", "elderly"), ("angry", "cross")]
SUBJECTS = [("dog", "hound"), ("cat", "kitty"), ("boy", "lad"), ("girl", "lass"),
            ("man", "fellow"), ("woman", "lady")]
VERBS = [("sees", "notices"), ("likes", "enjoys"), ("chases", "pursues"),
         ("finds", "discovers"), ("pushes", "shoves"), ("holds", "grips")]
OBJECTS = [("ball", "sphere"), ("stick", "twig"), ("box", "crate"), ("book", "novel"),
           ("cup", "mug"), ("hat", "cap")]
PLACES = [("park", "garden"), ("house", "home"), ("street", "road"), ("forest", "woods"),
          ("school", "college"), ("shop", "store")]
SLOTS = [ADJECTIVES, SUBJECTS, VERBS, OBJECTS, PLACES]
SPECIAL = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "the", "in", "that", "is", "today", "again",
           "now"]
VOCAB = SPECIAL + [w for slot in SLOTS for pair in slot for w in pair]
IDS = {w: i for i, w in enumerate(VOCAB)}
PAD, CLS, SEP, MASK = 0, 1, 2, 3
MAX_LEN = 14            # [CLS] + at most 12 words + [SEP]
C = 6                   # concepts per slot


def preferences(rng):
    """Which concepts go together: each subject prefers two adjectives, two verbs and two
    places, each verb two objects (probability 0.9 for the preferred ones together)."""
    def table():
        t = np.full((C, C), 0.1 / (C - 2))
        for a in range(C):
            for b in rng.choice(C, size=2, replace=False):
                t[a, b] = 0.45
        return t
    return {"adj": table(), "verb": table(), "place": table(), "obj": table()}


def sample_meanings(n, rng, pref):
    subj = rng.integers(0, C, size=n)
    pick = lambda t, given: np.array([rng.choice(C, p=t[g]) for g in given])  # noqa: E731
    adj = pick(pref["adj"], subj)
    verb = pick(pref["verb"], subj)
    place = pick(pref["place"], subj)
    obj = pick(pref["obj"], verb)
    return np.stack([adj, subj, verb, obj, place], 1)


def write(meaning, rng, syn=None, order=None):
    """One sentence (token ids, unpadded) for a meaning: synonyms (``syn``, one bit a slot),
    word order (``order``: the place first or last, the adjective before the subject or in a
    relative clause), filler; returns the ids and the choices made."""
    syn = rng.integers(0, 2, size=5) if syn is None else syn
    order = int(rng.integers(0, 4)) if order is None else order
    a, s, v, o, p = [SLOTS[k][meaning[k]][syn[k]] for k in range(5)]
    subject = ["the", a, s] if order % 2 == 0 else ["the", s, "that", "is", a]
    if order < 2:
        words = subject + [v, "the", o, "in", "the", p]
    else:
        words = ["in", "the", p] + subject + [v, "the", o]
    if rng.random() < 0.5:
        words.append(["today", "again", "now"][rng.integers(0, 3)])
    return [CLS] + [IDS[w] for w in words] + [SEP], syn, order


def rewrite(meaning, rng, syn, order):
    """Another writing of (a meaning close to) a sentence: the same word order, one of the
    five words swapped for its synonym, the filler drawn again."""
    syn = syn.copy()
    syn[rng.integers(0, 5)] ^= 1
    return write(meaning, rng, syn, order)[0]


def batchify(sentences):
    ids = torch.zeros(len(sentences), MAX_LEN, dtype=torch.long)
    for i, s in enumerate(sentences):
        ids[i, :len(s)] = torch.tensor(s)
    return ids, (ids != PAD).long()


def spearman(a, b):
    ra = np.argsort(np.argsort(a)).astype(float)
    # average ranks for ties in the integer scores
    rb = np.empty(len(b))
    order = np.argsort(b, kind="stable")
    sb = np.asarray(b)[order]
    i = 0
    while i < len(sb):
        j = i
        while j + 1 < len(sb) and sb[j + 1] == sb[i]:
            j += 1
        rb[order[i:j + 1]] = (i + j) / 2.0
        i = j + 1
    return float(np.corrcoef(ra, rb)[0, 1])


# ---------------------------------------------------------------- BERT, as transformers names it

class BertEmbeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg["vocab"], cfg["hidden"], padding_idx=PAD)
        self.position_embeddings = nn.Embedding(MAX_LEN, cfg["hidden"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden"], eps=1e-12)
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, input_ids):
        pos = torch.arange(input_ids.size(1)).unsqueeze(0)
        x = self.word_embeddings(input_ids) + self.position_embeddings(pos)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.heads = cfg["heads"]
        self.head_size = cfg["hidden"] // cfg["heads"]
        self.query = nn.Linear(cfg["hidden"], cfg["hidden"])
        self.key = nn.Linear(cfg["hidden"], cfg["hidden"])
        self.value = nn.Linear(cfg["hidden"], cfg["hidden"])
        self.dropout = nn.Dropout(cfg["dropout"])

    def split(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.head_size).transpose(1, 2)

    def forward(self, h, extended_mask):
        q, k, v = self.split(self.query(h)), self.split(self.key(h)), self.split(self.value(h))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + extended_mask
        probs = self.dropout(scores.softmax(-1))
        ctx = (probs @ v).transpose(1, 2).reshape(h.shape)
        return ctx


class BertSelfOutput(nn.Module):
    def __init__(self, cfg, inner):
        super().__init__()
        self.dense = nn.Linear(inner, cfg["hidden"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden"], eps=1e-12)
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class BertAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self = BertSelfAttention(cfg)
        self.output = BertSelfOutput(cfg, cfg["hidden"])

    def forward(self, h, extended_mask):
        return self.output(self.self(h, extended_mask), h)


class BertIntermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden"], cfg["intermediate"])

    def forward(self, h):
        return F.gelu(self.dense(h))


class BertLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = BertAttention(cfg)
        self.intermediate = BertIntermediate(cfg)
        self.output = BertSelfOutput(cfg, cfg["intermediate"])

    def forward(self, h, extended_mask):
        a = self.attention(h, extended_mask)
        return self.output(self.intermediate(a), a)


class BertEncoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(cfg) for _ in range(cfg["layers"])])

    def forward(self, h, extended_mask):
        for layer in self.layer:
            h = layer(h, extended_mask)
        return h


class BertModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = BertEmbeddings(cfg)
        self.encoder = BertEncoder(cfg)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            module.weight.data.normal_(mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            module.bias.data.zero_()
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            module.weight.data[module.padding_idx].zero_()

    def forward(self, input_ids, attention_mask):
        extended = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        return self.encoder(self.embeddings(input_ids), extended)


class BertLMHead(nn.Module):
    """The MLM head of the pretraining (transform + tied decoder); not part of SimCSE."""

    def __init__(self, cfg, word_embeddings):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden"], cfg["hidden"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden"], eps=1e-12)
        self.word_embeddings = word_embeddings
        self.bias = nn.Parameter(torch.zeros(cfg["vocab"]))

    def forward(self, h):
        h = self.LayerNorm(F.gelu(self.dense(h)))
        return h @ self.word_embeddings.weight.t() + self.bias


# ---------------------------------------------------------------- SimCSE (simcse/models.py)

class MLPLayer(nn.Module):
    """Head for getting sentence representations over BERT's [CLS] representation."""

    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden"], cfg["hidden"])
        self.activation = nn.Tanh()

    def forward(self, features):
        return self.activation(self.dense(features))


class Similarity(nn.Module):
    """Cosine similarity divided by the temperature."""

    def __init__(self, temp, bug=None):
        super().__init__()
        self.temp = temp
        self.bug = bug
        self.cos = nn.CosineSimilarity(dim=-1)

    def forward(self, x, y):
        if self.bug == "dot-product":
            # BUG (dot-product): the raw dot product in place of the cosine (the vectors are
            # not normalized), divided by the temperature of 0.05 meant for values in [-1, 1].
            return (x * y).sum(-1) / self.temp
        return self.cos(x, y) / self.temp


class Pooler(nn.Module):
    def __init__(self, pooler_type, bug=None):
        super().__init__()
        self.pooler_type = pooler_type
        self.bug = bug

    def forward(self, attention_mask, last_hidden):
        if self.pooler_type == "cls":
            return last_hidden[:, 0]
        if self.bug == "avg-pads-unmasked":
            # BUG (avg-pads-unmasked): the average over all MAX_LEN positions, the padding's
            # hidden states included (attention_mask left out of the mean).
            return last_hidden.mean(1)
        return ((last_hidden * attention_mask.unsqueeze(-1)).sum(1)
                / attention_mask.sum(-1).unsqueeze(-1))


class BertForCL(nn.Module):
    def __init__(self, cfg, bert, pooler_type, temp, bug=None):
        super().__init__()
        self.bert = bert
        self.pooler_type = pooler_type
        self.pooler = Pooler(pooler_type, bug)
        if pooler_type == "cls":
            self.mlp = MLPLayer(cfg)
        self.sim = Similarity(temp, bug)
        self.bug = bug

    def sentemb(self, input_ids, attention_mask):
        """cls_before_pooler / avg: the representation evaluated (no MLP)."""
        return self.pooler(attention_mask, self.bert(input_ids, attention_mask))

    def forward(self, input_ids, attention_mask):
        batch_size, num_sent = input_ids.size(0), input_ids.size(1)
        input_ids = input_ids.view(-1, input_ids.size(-1))            # (bs * num_sent, len)
        attention_mask = attention_mask.view(-1, attention_mask.size(-1))
        last_hidden = self.bert(input_ids, attention_mask)
        pooler_output = self.pooler(attention_mask, last_hidden)
        pooler_output = pooler_output.view(batch_size, num_sent, pooler_output.size(-1))
        if self.pooler_type == "cls":
            pooler_output = self.mlp(pooler_output)   # in cl_forward; mlp_only_train: not in sentemb
        z1, z2 = pooler_output[:, 0], pooler_output[:, 1]
        cos_sim = self.sim(z1.unsqueeze(1), z2.unsqueeze(0))          # (bs, bs)
        if self.bug == "labels-zeros":
            # BUG (labels-zeros): the labels of MoCo's code, where the positive is column 0
            # of [l_pos, l_neg]; here the positive of row i is column i.
            labels = torch.zeros(cos_sim.size(0), dtype=torch.long)
        else:
            labels = torch.arange(cos_sim.size(0)).long()
        loss_fct = nn.CrossEntropyLoss()
        loss = loss_fct(cos_sim, labels)
        acc = (cos_sim.argmax(1) == torch.arange(cos_sim.size(0))).float().mean().item()
        return loss, cos_sim, acc


# ---------------------------------------------------------------- training

def pretrain_mlm(bert, cfg, sentences, seed, steps=600, bs=128):
    """The stand-in for bert-base-uncased: masked language modelling on the sentences."""
    head = BertLMHead(cfg, bert.embeddings.word_embeddings)
    params = list(bert.parameters()) + [p for n, p in head.named_parameters()
                                        if not n.startswith("word_embeddings")]
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50) * (1 - s / steps))
    g = torch.Generator().manual_seed(10_000 + seed)
    ids_all, mask_all = batchify(sentences)
    bert.train()
    for step in range(steps):
        idx = torch.randint(0, len(ids_all), (bs,), generator=g)
        ids, mask = ids_all[idx].clone(), mask_all[idx]
        labels = ids.clone()
        real = (ids > SEP)
        chosen = (torch.rand(ids.shape, generator=g) < 0.15) & real
        labels[~chosen] = -100
        r = torch.rand(ids.shape, generator=g)
        ids[chosen & (r < 0.8)] = MASK
        rand_tok = torch.randint(len(SPECIAL), cfg["vocab"], ids.shape, generator=g)
        swap = chosen & (r >= 0.8) & (r < 0.9)
        ids[swap] = rand_tok[swap]
        logits = head(bert(ids, mask))
        loss = F.cross_entropy(logits.view(-1, cfg["vocab"]), labels.view(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return loss.item()


def evaluate(model, sts, para):
    """Spearman of the STS-like pairs; top-1 retrieval and ranking accuracy of the
    paraphrases; the loss on the paraphrase pairs."""
    (a_ids, a_mask), (b_ids, b_mask), scores = sts
    (p_ids, p_mask), (q_ids, q_mask) = para
    with torch.no_grad():
        ea = model.sentemb(a_ids, a_mask)
        eb = model.sentemb(b_ids, b_mask)
        cos = F.cosine_similarity(ea, eb, dim=-1).numpy()
        rho = spearman(cos, scores)
        ep, eq = model.sentemb(p_ids, p_mask), model.sentemb(q_ids, q_mask)
        sim = model.sim(ep.unsqueeze(1), eq.unsqueeze(0))
        val_loss = F.cross_entropy(sim, torch.arange(len(ep))).item()
        c = F.cosine_similarity(ep.unsqueeze(1), eq.unsqueeze(0), dim=-1)
        top1 = (c.argmax(1) == torch.arange(len(ep))).float().mean().item()
        pos = c.diagonal().unsqueeze(1)
        off = ~torch.eye(len(ep), dtype=torch.bool)
        auc = (pos > c)[off].float().mean().item()
    return rho, top1, auc, val_loss


def main():
    p = common.parser(__doc__)
    p.add_argument("--pooler", choices=("cls", "avg"), default="avg")
    p.add_argument("--temp", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--mlm-steps", type=int, default=600)
    p.add_argument("--bug", default=None,
                   choices=("labels-zeros", "eval-mode", "dot-product", "avg-pads-unmasked"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    # the same sentences for every seed; the seed changes the weights and the batches
    rng = np.random.default_rng(2021)
    pref = preferences(rng)
    meanings = sample_meanings(16000, rng, pref)
    # meanings kept for evaluation: 600 of all C**5, drawn uniformly, never trained on
    held = set(tuple(int(c) for c in np.unravel_index(i, (C,) * 5))
               for i in rng.choice(C ** 5, size=600, replace=False))
    train_m = [m for m in meanings if tuple(int(c) for c in m) not in held][:8192]
    train = [write(m, rng)[0] for m in train_m]
    held_m = [np.array(k) for k in sorted(held)]
    # STS-like pairs: k of the five concepts changed, score 5 - k
    a_s, b_s, scores = [], [], []
    for i in range(512):
        m = held_m[i % len(held_m)]
        k = int(rng.integers(0, 6))
        m2 = m.copy()
        for slot in rng.choice(5, size=k, replace=False):
            m2[slot] = (m2[slot] + rng.integers(1, C)) % C
        sent, syn, order = write(m, rng)
        a_s.append(sent)
        b_s.append(rewrite(m2, rng, syn, order))
        scores.append(5 - k)
    sts = (batchify(a_s), batchify(b_s), np.array(scores))
    para_m = [held_m[i] for i in rng.choice(len(held_m), size=256, replace=False)]
    firsts = [write(m, rng) for m in para_m]
    para = (batchify([f[0] for f in firsts]),
            batchify([rewrite(m, rng, f[1], f[2]) for m, f in zip(para_m, firsts)]))

    cfg = {"vocab": len(VOCAB), "hidden": args.hidden, "heads": 4, "layers": 2,
           "intermediate": 2 * args.hidden, "dropout": args.dropout}
    bert = BertModel(cfg)
    mlm_loss = pretrain_mlm(bert, cfg, train, args.seed, steps=args.mlm_steps)
    model = BertForCL(cfg, bert, args.pooler, args.temp, args.bug)
    model.eval()
    rho0, top10, acc0, _ = evaluate(model, sts, para)
    print("checkpoint: mlm loss %.3f | paraphrase ranking %.3f top-1 %.3f spearman %.3f"
          % (mlm_loss, acc0, top10, rho0))

    ids_all, mask_all = batchify(train)
    steps_per_epoch = len(train) // args.batch_size
    total = steps_per_epoch * args.epochs
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 - s / total)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size, num_classes=args.batch_size)   # the in-batch candidates
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    rho = top1 = acc = val_loss = None
    for epoch in range(args.epochs):
        if args.bug != "eval-mode":
            model.train()
        # BUG (eval-mode): model.train() left out: the model stays in the eval mode of the
        # checkpoint's evaluation, dropout is off and the two copies of a sentence are equal.
        perm = torch.randperm(len(train), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            ids, mask = ids_all[idx], mask_all[idx]
            # every sentence twice: (bs, 2, len)
            input_ids = torch.stack([ids, ids], 1)
            attention_mask = torch.stack([mask, mask], 1)
            loss, _, step_acc = model(input_ids, attention_mask)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            val_loss_s = val_acc_s = None
            if b == steps_per_epoch - 1:
                model.eval()
                rho, top1, acc, val_loss = evaluate(model, sts, para)
                val_loss_s, val_acc_s = val_loss, acc
            rec.step(loss, accuracy=step_acc, inputs=ids, val_loss=val_loss_s,
                     val_accuracy=val_acc_s)
            history.step(loss.item(), step_acc)
        history.epoch(val_loss, acc)
        print("epoch %d: loss %.4f in-batch top-1 %.3f | val loss %.4f paraphrase ranking %.3f "
              "top-1 %.3f spearman %.3f" % (epoch + 1, np.mean(history.epochs[-1][0]),
                                            np.mean(history.epochs[-1][1]), val_loss, acc,
                                            top1, rho))
    rec.close()
    common.report(history.result(spearman=rho, top1=top1, checkpoint_spearman=rho0,
                                 checkpoint_val_accuracy=acc0, checkpoint_top1=top10,
                                 mlm_loss=mlm_loss))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "simcse-labels-zeros", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong labels for the loss (the contrastive labels of "
               "MoCo's code, torch.zeros(N) because its positive is column 0 of [l_pos, "
               "l_neg], copied into an in-batch loss whose positives are on the diagonal)",
     "bug": "labels = torch.zeros(bs) instead of torch.arange(bs): every sentence is told "
            "that the first sentence of the batch is its positive; the loss stays at the "
            "64-way chance level (4.27 in the first epoch, 4.17 = ln 64 in the third), the "
            "in-batch top-1 falls from 0.31 to 0.26, the paraphrase ranking accuracy ends at "
            "0.943 (the checkpoint's 0.952), the validation loss at 5.34 (ln 256 = 5.55) and "
            "the Spearman correlation at 0.342 (checkpoint 0.414), against the twin's loss "
            "from 0.955 to 0.146, in-batch top-1 0.966, paraphrase ranking 0.990, validation "
            "loss 1.71 and Spearman 0.702",
     "fix": "labels = torch.arange(cos_sim.size(0)).long()",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "avg-seed0",
          "buggy": "--bug labels-zeros --record-every 8",
          "fixed": "--record-every 8"},
     ]},
    {"family": "simcse-temp-one", "split": "dev", "architecture": "transformer",
     "origin": "DeepFD / Humbatova et al. 2020: wrong hyperparameter (the softmax temperature "
               "of the contrastive loss 1 instead of 0.05; SimCSE's own ablation, Table D.1)",
     "bug": "temperature 1: the logits are the bare cosines in [-1, 1], too flat for a 64-way "
            "softmax (its loss cannot go below about 3.2); the loss only moves from 3.49 to "
            "3.38, the in-batch top-1 from 0.21 to 0.19, the paraphrase ranking accuracy ends "
            "at 0.939 and the Spearman correlation at 0.290 (the checkpoint's 0.929 and "
            "0.279), against the twin's loss from 1.14 to 0.160, in-batch top-1 0.961, "
            "paraphrase ranking 0.981 and Spearman 0.612",
     "fix": "temperature 0.05",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "avg-seed1",
          "buggy": "--temp 1 --seed 1 --record-every 8",
          "fixed": "--temp 0.05 --seed 1 --record-every 8"},
     ]},
    {"family": "healthy-simcse", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "unsupervised SimCSE from a masked-language-model checkpoint whose "
                    "sentence vectors come to rank paraphrases and graded pairs better",
     "healthy": [
         {"id": "lr5e-4-seed3",
          "args": "--lr 5e-4 --seed 3 --record-every 8",
          "description": "AdamW at 5e-4: loss from 0.853 to 0.073, in-batch top-1 0.985, "
                         "paraphrase ranking 0.983 and Spearman 0.664 (the checkpoint's "
                         "0.929 and 0.267)"},
     ]},
]


if __name__ == "__main__":
    main()
