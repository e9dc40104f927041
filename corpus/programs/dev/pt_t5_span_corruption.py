"""A tiny T5 (Raffel et al., "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer", JMLR 2020) pre-trained with the span-corruption objective, written
the way Hugging Face's ``T5ForConditionalGeneration`` (``modeling_t5.py``) and the public T5
code (``t5.data.preprocessors.span_corruption``, ``random_spans_noise_mask``) write it, in the
T5 v1.1 form: ``T5LayerNorm`` (an RMSNorm: no bias, no mean subtracted), relative position
buckets as a learned per-head bias computed in the first layer of each stack and shared by its
other layers (bidirectional buckets in the encoder, unidirectional in the decoder), pre-norm
blocks without any bias, a gated-GELU feed-forward (``wi_0``, ``wi_1``, ``wo``), an untied
``lm_head`` and no scaling of the attention logits.

The data are generated here: "sentences" over a vocabulary of 40 word tokens, each 16 to 40
tokens long and made of runs of 4 to 8 words that count up through the vocabulary with a step
of 1, 2 or 3 (modulo 40), every run starting at a random word with its own step, so a dropped
span can be recovered from its context where it lies inside a run. Each sequence is corrupted
as T5 does it: round(15%) of its tokens are noise, split into round(noise / 3) spans (mean span
length 3) placed at random; the encoder's input keeps the other tokens with every noise span
replaced by one sentinel (``<extra_id_0>``, ``<extra_id_1>``, ..., the last ids of the
vocabulary) and ends with EOS; the target is every sentinel followed by the span it replaced,
then EOS. Training reads a stream of fresh sentences (``--batch-size`` 64 a step, each
corrupted as it is drawn, ``--steps-per-epoch`` 64, 10 epochs), as pre-training on a large
corpus sees no sentence twice; 512 others are held out (their corruption fixed once). Batches
are padded to their longest input and target; the padded label positions are -100 and the
decoder's input is the labels shifted right with the pad id as the decoder start token
(``_shift_right``). ``CrossEntropyLoss(ignore_index=-100)``; AdamW (``--lr``) with T5's
inverse-square-root schedule (the rate held for ``--warmup`` steps, then falling as
1/sqrt(step)), gradient norm clipped at 1. The step's accuracy is the teacher-forced token
accuracy of the batch's labels; once per epoch the validation loss is the held-out
teacher-forced loss and the validation accuracy the token accuracy of greedy decoding
(``generate``: the decoder fed its own previous tokens) on the held-out targets. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
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

PAD, EOS = 0, 1
WORDS = 40
N_SENTINELS = 8
VOCAB = 2 + WORDS + N_SENTINELS           # sentinels are the last ids, <extra_id_0> = VOCAB - 1
NOISE_DENSITY, MEAN_SPAN = 0.15, 3.0


def sentence(rng):
    length = int(rng.integers(12, 33))
    toks = []
    while len(toks) < length:
        start, step, run = rng.integers(0, WORDS), rng.integers(1, 4), rng.integers(4, 9)
        toks.extend(int((start + step * i) % WORDS) + 2 for i in range(run))
    return toks[:length]


def random_spans_noise_mask(length, rng):
    """T5's random_spans_noise_mask: alternating non-noise / noise spans, noise first off."""
    num_noise = int(round(length * NOISE_DENSITY))
    num_noise = min(max(num_noise, 1), length - 1)
    num_spans = max(int(round(num_noise / MEAN_SPAN)), 1)
    num_nonnoise = length - num_noise

    def segment(n_items, n_segs):
        cuts = np.sort(rng.choice(np.arange(1, n_items), n_segs - 1, replace=False)) \
            if n_segs > 1 else np.array([], dtype=int)
        return np.diff(np.concatenate([[0], cuts, [n_items]]))

    noise_lens, nonnoise_lens = segment(num_noise, num_spans), segment(num_nonnoise, num_spans)
    mask = []
    for a, b in zip(nonnoise_lens, noise_lens):
        mask += [False] * int(a) + [True] * int(b)
    return np.array(mask)


def span_corrupt(toks, rng):
    mask = random_spans_noise_mask(len(toks), rng)
    inp, tgt, sentinel, prev = [], [], VOCAB - 1, False
    for t, m in zip(toks, mask):
        if m:
            if not prev:
                inp.append(sentinel)
                tgt.append(sentinel)
                sentinel -= 1
            tgt.append(t)
        else:
            inp.append(t)
        prev = m
    return inp + [EOS], tgt + [EOS]


def collate(pairs):
    li = max(len(p[0]) for p in pairs)
    lt = max(len(p[1]) for p in pairs)
    x = torch.full((len(pairs), li), PAD, dtype=torch.long)
    y = torch.full((len(pairs), lt), -100, dtype=torch.long)
    for i, (a, b) in enumerate(pairs):
        x[i, :len(a)] = torch.tensor(a)
        y[i, :len(b)] = torch.tensor(b)
    return x, y


class T5LayerNorm(nn.Module):
    """RMSNorm: no bias and no mean subtraction, as T5 uses it."""

    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


class T5Attention(nn.Module):
    def __init__(self, d_model, heads, d_kv, has_bias, bidirectional, buckets=16, max_dist=32):
        super().__init__()
        self.h, self.d_kv = heads, d_kv
        self.bidirectional, self.buckets, self.max_dist = bidirectional, buckets, max_dist
        inner = heads * d_kv
        self.q = nn.Linear(d_model, inner, bias=False)
        self.k = nn.Linear(d_model, inner, bias=False)
        self.v = nn.Linear(d_model, inner, bias=False)
        self.o = nn.Linear(inner, d_model, bias=False)
        if has_bias:
            self.relative_attention_bias = nn.Embedding(buckets, heads)

    @staticmethod
    def _relative_position_bucket(relative_position, bidirectional, num_buckets, max_distance):
        ret = 0
        n = num_buckets
        if bidirectional:
            n //= 2
            ret = (relative_position > 0).long() * n
            relative_position = relative_position.abs()
        else:
            relative_position = -torch.clamp(relative_position, max=0)
        max_exact = n // 2
        is_small = relative_position < max_exact
        large = max_exact + (torch.log(relative_position.float().clamp(min=1) / max_exact)
                             / math.log(max_distance / max_exact) * (n - max_exact)).long()
        large = torch.clamp(large, max=n - 1)
        return ret + torch.where(is_small, relative_position, large)

    def compute_bias(self, qlen, klen):
        ctx = torch.arange(qlen)[:, None]
        mem = torch.arange(klen)[None, :]
        buckets = self._relative_position_bucket(mem - ctx, self.bidirectional,
                                                 self.buckets, self.max_dist)
        return self.relative_attention_bias(buckets).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x, kv=None, mask=None, position_bias=None):
        b, lq, _ = x.shape
        kv = x if kv is None else kv
        lk = kv.shape[1]
        q = self.q(x).view(b, lq, self.h, self.d_kv).transpose(1, 2)
        k = self.k(kv).view(b, lk, self.h, self.d_kv).transpose(1, 2)
        v = self.v(kv).view(b, lk, self.h, self.d_kv).transpose(1, 2)
        scores = q @ k.transpose(-1, -2)          # T5: no 1/sqrt(d_kv), folded into the init
        if position_bias is None:
            if hasattr(self, "relative_attention_bias"):
                position_bias = self.compute_bias(lq, lk)
            else:
                position_bias = torch.zeros(1, self.h, lq, lk)
            if mask is not None:
                position_bias = position_bias + mask
        w = F.softmax((scores + position_bias).float(), dim=-1)
        out = (w @ v).transpose(1, 2).reshape(b, lq, self.h * self.d_kv)
        return self.o(out), position_bias


class T5DenseGatedActDense(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.wi_0 = nn.Linear(d_model, d_ff, bias=False)
        self.wi_1 = nn.Linear(d_model, d_ff, bias=False)
        self.wo = nn.Linear(d_ff, d_model, bias=False)

    def forward(self, x):
        return self.wo(F.gelu(self.wi_0(x), approximate="tanh") * self.wi_1(x))


class T5Block(nn.Module):
    def __init__(self, d_model, heads, d_kv, d_ff, is_decoder, has_bias):
        super().__init__()
        self.is_decoder = is_decoder
        self.ln_self = T5LayerNorm(d_model)
        self.self_attn = T5Attention(d_model, heads, d_kv, has_bias, bidirectional=not is_decoder)
        if is_decoder:
            self.ln_cross = T5LayerNorm(d_model)
            self.cross_attn = T5Attention(d_model, heads, d_kv, False, bidirectional=True)
        self.ln_ff = T5LayerNorm(d_model)
        self.ff = T5DenseGatedActDense(d_model, d_ff)

    def forward(self, h, mask, bias, enc=None, enc_mask=None, enc_bias=None):
        a, bias = self.self_attn(self.ln_self(h), mask=mask, position_bias=bias)
        h = h + a
        if self.is_decoder:
            a, enc_bias = self.cross_attn(self.ln_cross(h), kv=enc, mask=enc_mask,
                                          position_bias=enc_bias)
            h = h + a
        h = h + self.ff(self.ln_ff(h))
        return h, bias, enc_bias


class T5Stack(nn.Module):
    def __init__(self, d_model, heads, d_kv, d_ff, layers, is_decoder):
        super().__init__()
        self.is_decoder = is_decoder
        self.block = nn.ModuleList([T5Block(d_model, heads, d_kv, d_ff, is_decoder, i == 0)
                                    for i in range(layers)])
        self.final_layer_norm = T5LayerNorm(d_model)

    def forward(self, h, pad_mask, enc=None, enc_pad_mask=None, causal=True):
        neg = torch.finfo(h.dtype).min
        mask = (1.0 - pad_mask[:, None, None, :].float()) * neg
        if self.is_decoder and causal:
            L = h.shape[1]
            future = torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)
            mask = mask.masked_fill(future[None, None], neg)
        enc_mask = None
        if enc is not None:
            enc_mask = (1.0 - enc_pad_mask[:, None, None, :].float()) * neg
        bias = enc_bias = None
        for blk in self.block:
            h, bias, enc_bias = blk(h, mask, bias, enc, enc_mask, enc_bias)
        return self.final_layer_norm(h)


class T5ForConditionalGeneration(nn.Module):
    def __init__(self, d_model=64, heads=4, d_kv=16, d_ff=128, layers=2, bug=None):
        super().__init__()
        self.bug = bug
        self.shared = nn.Embedding(VOCAB, d_model)
        self.encoder = T5Stack(d_model, heads, d_kv, d_ff, layers, is_decoder=False)
        self.decoder = T5Stack(d_model, heads, d_kv, d_ff, layers, is_decoder=True)
        self.lm_head = nn.Linear(d_model, VOCAB, bias=False)
        self._init_weights(d_model, heads, d_kv, d_ff)

    def _init_weights(self, d_model, heads, d_kv, d_ff):
        # T5PreTrainedModel._init_weights (factor 1.0)
        nn.init.normal_(self.shared.weight, std=1.0)
        nn.init.normal_(self.lm_head.weight, std=d_model ** -0.5)
        for m in self.modules():
            if isinstance(m, T5Attention):
                nn.init.normal_(m.q.weight, std=(d_model * d_kv) ** -0.5)
                nn.init.normal_(m.k.weight, std=d_model ** -0.5)
                nn.init.normal_(m.v.weight, std=d_model ** -0.5)
                nn.init.normal_(m.o.weight, std=(heads * d_kv) ** -0.5)
                if hasattr(m, "relative_attention_bias"):
                    nn.init.normal_(m.relative_attention_bias.weight, std=d_model ** -0.5)
            elif isinstance(m, T5DenseGatedActDense):
                nn.init.normal_(m.wi_0.weight, std=d_model ** -0.5)
                nn.init.normal_(m.wi_1.weight, std=d_model ** -0.5)
                nn.init.normal_(m.wo.weight, std=d_ff ** -0.5)

    def encode(self, input_ids):
        return self.encoder(self.shared(input_ids), input_ids != PAD)

    def decode(self, enc, input_ids, decoder_input_ids):
        dec_pad = torch.ones_like(decoder_input_ids, dtype=torch.bool)
        # BUG (no-causal-mask): the decoder's self-attention built without its causal mask
        # (causal=False), so every position sees the labels it is asked to predict.
        h = self.decoder(self.shared(decoder_input_ids), dec_pad, enc=enc,
                         enc_pad_mask=input_ids != PAD, causal=self.bug != "no-causal-mask")
        return self.lm_head(h)

    @staticmethod
    def _shift_right(labels):
        shifted = labels.new_full(labels.shape, PAD)
        shifted[:, 1:] = labels[:, :-1]
        return shifted.masked_fill(shifted == -100, PAD)

    def forward(self, input_ids, labels):
        enc = self.encode(input_ids)
        return self.decode(enc, input_ids, self._shift_right(labels))

    @torch.no_grad()
    def generate(self, input_ids, max_len):
        enc = self.encode(input_ids)
        dec = torch.full((len(input_ids), 1), PAD, dtype=torch.long)
        for _ in range(max_len):
            nxt = self.decode(enc, input_ids, dec)[:, -1].argmax(-1, keepdim=True)
            dec = torch.cat([dec, nxt], 1)
        return dec[:, 1:]


def token_accuracy(pred, labels):
    keep = labels != -100
    return ((pred == labels) & keep).sum().item() / max(keep.sum().item(), 1)


def main():
    p = common.parser(__doc__)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps-per-epoch", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("no-causal-mask",))
    args = p.parse_args()
    common.torch_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    val_rng = np.random.default_rng(1000 + args.seed)
    val_pairs = [span_corrupt(sentence(val_rng), val_rng) for _ in range(512)]
    xv, yv = collate(val_pairs)

    model = T5ForConditionalGeneration(args.d_model, 4, args.d_model // 4, 2 * args.d_model,
                                       args.layers, bug=args.bug)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = args.warmup
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: math.sqrt(warm / max(s + 1, warm)))
    criterion = nn.CrossEntropyLoss(ignore_index=-100)

    bs = args.batch_size
    steps_per_epoch = args.steps_per_epoch
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, batch_size=bs,
        num_classes=VOCAB)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for b in range(steps_per_epoch):
            # a stream of fresh sentences, as pre-training on a large corpus sees no repeats
            x, y = collate([span_corrupt(sentence(rng), rng) for _ in range(bs)])
            optimizer.zero_grad()
            logits = model(x, y)
            loss = criterion(logits.reshape(-1, VOCAB), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            acc = token_accuracy(logits.argmax(-1), y)
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = criterion(model(xv, yv).reshape(-1, VOCAB), yv.reshape(-1)).item()
                    val_acc = token_accuracy(model.generate(xv, yv.shape[1]), yv)
                model.train()
            rec.step(loss, accuracy=acc, inputs=x, targets=y, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f token acc %.3f held-out loss %.4f greedy token acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "t5span-no-causal-mask", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020 (model: missing or wrong attention mask): the decoder's "
               "self-attention built without its causal mask, a known pitfall of hand-written "
               "encoder-decoders (the labels leak through the shifted decoder input)",
     "bug": "the decoder's self-attention has no causal mask, so each position reads the next "
            "label from the shifted-right decoder input: the teacher-forced loss falls from "
            "1.408 in the first epoch to 0.014 in the 10th (token accuracy 0.997, held-out "
            "teacher-forced loss 0.011) while greedy decoding, which has no future tokens to "
            "copy, gets 0.318 of the held-out target tokens right, against the twin's loss "
            "from 2.128 to 1.067 and greedy held-out token accuracy 0.648",
     "fix": "the decoder's self-attention masked with torch.triu(ones(L, L), diagonal=1)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw3e-3",
          "buggy": "--bug no-causal-mask --record-every 16",
          "fixed": "--record-every 16"},
     ]},
    {"family": "t5span-lr-too-high", "split": "dev", "architecture": "transformer",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "AdamW at 0.05 (meant 3e-3) for the T5: the loss only goes from 2.856 to 2.369 "
            "and the model predicts little more than the sentinels and EOS (token accuracy "
            "0.379; greedy held-out token accuracy 0.277, held-out loss 2.233) against the "
            "twin's loss from 2.122 to 1.036 and greedy held-out token accuracy 0.646 "
            "(held-out loss 1.043)",
     "fix": "learning rate 3e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["oscillation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 16",
          "fixed": "--lr 3e-3 --seed 1 --record-every 16"},
     ]},
    {"family": "healthy-t5span", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a tiny T5 v1.1 encoder-decoder pre-trained by span corruption on "
                    "generated counting sentences that learns to fill the spans",
     "healthy": [
         {"id": "warmup50-seed2",
          "args": "--warmup 50 --seed 2 --record-every 16",
          "description": "the inverse-square-root schedule's constant part 50 steps: loss "
                         "from 2.127 to 1.073, greedy held-out token accuracy 0.634"},
     ]},
]


if __name__ == "__main__":
    main()
