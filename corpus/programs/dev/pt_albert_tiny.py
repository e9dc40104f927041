"""A tiny ALBERT-style encoder (Lan et al., "ALBERT: A Lite BERT for Self-supervised Learning of
Language Representations", ICLR 2020) for sequence classification, written in the layout of
Hugging Face's ``modeling_albert.py`` (``AlbertEmbeddings``, ``embedding_hidden_mapping_in``,
one ``AlbertLayer`` shared by every application, [CLS] pooling, a classifier head) and trained
with AdamW under a linear warm-up and linear decay as ``get_linear_schedule_with_warmup``
writes it.

The data are generated here: sequences of 16 tokens of a vocabulary of 24 (0 padding, 1
[CLS], 2 and 3 the pattern tokens A and B, 4..23 filler drawn uniformly); every sequence holds
one A and one B at two random positions, and its class is whether A comes after B. The class
depends only on the order of two tokens, so the model has to use the position embeddings and
attention between positions. 3200 sequences train, 800 validate; a [CLS] token is put first.

The model (``AlbertForSequenceClassification``): a factorized embedding (``word_embeddings``
of the vocabulary to E = ``--embedding-size`` dimensions, ``position_embeddings`` of E, a
``LayerNorm``), ``embedding_hidden_mapping_in`` (``Linear`` E -> H = ``--hidden``), then ONE
``AlbertLayer`` (multi-head self-attention with ``query``/``key``/``value``/``dense`` and a
post-``LayerNorm``, a GELU feed-forward ``ffn``/``ffn_output`` and its post-``LayerNorm``)
applied ``--layers`` times with the same weights (cross-layer parameter sharing); the pooler
(``Linear`` + tanh on the [CLS] position) and the ``classifier``; ``nn.CrossEntropyLoss``.
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

PAD, CLS, TOK_A, TOK_B = 0, 1, 2, 3
VOCAB = 24
LENGTH = 16


def order_task(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(4, VOCAB, size=(n, LENGTH))
    y = np.empty(n, dtype=np.int64)
    for i in range(n):
        pa, pb = rng.choice(LENGTH, size=2, replace=False)
        x[i, pa], x[i, pb] = TOK_A, TOK_B
        y[i] = int(pa > pb)
    x = np.concatenate([np.full((n, 1), CLS), x], axis=1)
    return x.astype(np.int64), y


class AlbertEmbeddings(nn.Module):
    def __init__(self, vocab, embedding_size, max_positions, dropout, bug=None):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, embedding_size, padding_idx=PAD)
        self.position_embeddings = nn.Embedding(max_positions, embedding_size)
        self.LayerNorm = nn.LayerNorm(embedding_size, eps=1e-12)
        self.dropout = nn.Dropout(dropout)
        self.bug = bug

    def forward(self, input_ids):
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        embeddings = self.word_embeddings(input_ids)
        if self.bug != "no-position":
            embeddings = embeddings + self.position_embeddings(positions)
        # BUG (no-position): the position embeddings are never added (the line above left
        # out when the embedding module was rewritten for the factorized size): the encoder
        # sees a bag of tokens and cannot tell whether A comes after B.
        return self.dropout(self.LayerNorm(embeddings))


class AlbertAttention(nn.Module):
    def __init__(self, hidden, heads, dropout):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)

    def transpose_for_scores(self, x):
        b, t, _ = x.shape
        return x.view(b, t, self.num_attention_heads, self.attention_head_size).transpose(1, 2)

    def forward(self, hidden_states):
        q = self.transpose_for_scores(self.query(hidden_states))
        k = self.transpose_for_scores(self.key(hidden_states))
        v = self.transpose_for_scores(self.value(hidden_states))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        probs = self.dropout(torch.softmax(scores, dim=-1))
        context = torch.matmul(probs, v).transpose(1, 2).flatten(2)
        projected = self.dropout(self.dense(context))
        return self.LayerNorm(hidden_states + projected)


class AlbertLayer(nn.Module):
    def __init__(self, hidden, heads, intermediate, dropout):
        super().__init__()
        self.attention = AlbertAttention(hidden, heads, dropout)
        self.ffn = nn.Linear(hidden, intermediate)
        self.ffn_output = nn.Linear(intermediate, hidden)
        self.full_layer_layer_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.activation = nn.GELU()
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden_states):
        attention_output = self.attention(hidden_states)
        ffn_output = self.ffn_output(self.activation(self.ffn(attention_output)))
        return self.full_layer_layer_norm(attention_output + self.dropout(ffn_output))


class AlbertTransformer(nn.Module):
    def __init__(self, embedding_size, hidden, heads, intermediate, num_layers, dropout):
        super().__init__()
        self.num_hidden_layers = num_layers
        self.embedding_hidden_mapping_in = nn.Linear(embedding_size, hidden)
        self.albert_layer = AlbertLayer(hidden, heads, intermediate, dropout)

    def forward(self, hidden_states):
        hidden_states = self.embedding_hidden_mapping_in(hidden_states)
        for _ in range(self.num_hidden_layers):
            # cross-layer parameter sharing: the same layer, the same weights, every time
            hidden_states = self.albert_layer(hidden_states)
        return hidden_states


class AlbertForSequenceClassification(nn.Module):
    def __init__(self, args, num_labels=2):
        super().__init__()
        self.embeddings = AlbertEmbeddings(VOCAB, args.embedding_size, LENGTH + 1, args.dropout,
                                           bug=args.bug)
        self.encoder = AlbertTransformer(args.embedding_size, args.hidden, args.heads,
                                         4 * args.hidden, args.layers, args.dropout)
        self.pooler = nn.Linear(args.hidden, args.hidden)
        self.pooler_activation = nn.Tanh()
        self.dropout = nn.Dropout(args.dropout)
        self.classifier = nn.Linear(args.hidden, num_labels)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=0.02)
            module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=0.02)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def forward(self, input_ids):
        sequence_output = self.encoder(self.embeddings(input_ids))
        pooled = self.pooler_activation(self.pooler(sequence_output[:, 0]))
        return self.classifier(self.dropout(pooled))


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step)
                   / float(max(1, num_training_steps - num_warmup_steps)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


def main():
    p = common.parser(__doc__)
    p.add_argument("--n", type=int, default=4000)
    p.add_argument("--embedding-size", type=int, default=16)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--warmup", type=float, default=0.1, help="share of the steps")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("no-position", "schedule-epochs"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = order_task(args.n, args.seed)
    cut = int(0.8 * args.n)
    x_tr, y_tr = torch.from_numpy(x[:cut]), torch.from_numpy(y[:cut])
    x_va, y_va = torch.from_numpy(x[cut:]), torch.from_numpy(y[cut:])

    model = AlbertForSequenceClassification(args)
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight")
    groups = [
        {"params": [p_ for n, p_ in model.named_parameters()
                    if not any(nd in n for nd in no_decay)], "weight_decay": args.weight_decay},
        {"params": [p_ for n, p_ in model.named_parameters()
                    if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    steps_per_epoch = (cut + args.batch_size - 1) // args.batch_size
    total_steps = steps_per_epoch * args.epochs
    if args.bug == "schedule-epochs":
        # BUG (schedule-epochs): the schedule is given the number of epochs as its number of
        # training steps (copied from a per-epoch loop) while it is stepped every batch: no
        # warm-up step (int(0.1 * 8) = 0), and the rate falls to 0 at the 8th step.
        total_steps = args.epochs
    scheduler = get_linear_schedule_with_warmup(
        optimizer, num_warmup_steps=int(args.warmup * total_steps),
        num_training_steps=total_steps)
    criterion = nn.CrossEntropyLoss()
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=2,
        batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        model.train()
        batches = torch.split(torch.randperm(cut, generator=g), args.batch_size)
        for b, idx in enumerate(batches):
            xb, yb = x_tr[idx], y_tr[idx]
            logits = model(xb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == len(batches) - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(x_va)
                    val_loss = criterion(vl, y_va).item()
                    val_acc = (vl.argmax(1) == y_va).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f acc %.3f val %.4f acc %.3f lr %.2g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, scheduler.get_last_lr()[0]), flush=True)
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "albert-schedule-epochs", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020 (wrong learning rate schedule); Stack Overflow / "
               "Hugging Face forums: get_linear_schedule_with_warmup given the number of "
               "epochs as num_training_steps while stepped every batch",
     "bug": "the linear warm-up and decay schedule is built for 8 training steps (the "
            "epochs) but stepped every batch: no warm-up, the rate falls linearly from 1e-3 "
            "to 0 at the 8th of 400 steps and stays 0, the "
            "weights stop moving and the loss stays at 0.698 (ln 2), validation accuracy 0.485 "
            "against the twin's 1.000",
     "fix": "num_training_steps = steps per epoch times epochs (400), warm-up 10% of them",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-warmup",
          "buggy": "--bug schedule-epochs --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "albert-no-position", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: missing layer / wrong model input (the position "
               "embeddings left out of the embedding sum)",
     "bug": "the position embeddings are never added in AlbertEmbeddings: the shared encoder "
            "is permutation-equivariant, the [CLS] output cannot tell whether A comes after "
            "B, and the loss stays at ln 2 (0.693), validation accuracy 0.517 against the "
            "twin's 1.000",
     "fix": "add position_embeddings(positions) to the word embeddings before the LayerNorm",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-lr1e-3",
          "buggy": "--bug no-position --lr 1e-3 --record-every 4",
          "fixed": "--lr 1e-3 --record-every 4"},
     ]},
    {"family": "albert-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "AdamW at a peak of 0.02 (meant 1e-3) after the warm-up: the shared layer "
            "collapses, the loss stays at 0.693 (ln 2) from the first epoch on and the "
            "validation accuracy is 0.475 against the twin's 1.000",
     "fix": "peak learning rate 1e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--lr 0.02 --seed 1 --record-every 4",
          "fixed": "--lr 1e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-albert", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a tiny ALBERT encoder with one shared layer applied three times that "
                    "learns the order task",
     "healthy": [
         {"id": "layers3-hidden48-lr2e-3-seed1",
          "args": "--layers 3 --hidden 48 --lr 2e-3 --seed 1 --record-every 4",
          "description": "hidden size 48, the shared layer applied 3 times, AdamW at 2e-3"},
     ]},
]


if __name__ == "__main__":
    main()
