"""A GRU encoder-decoder (Sutskever, Vinyals and Le 2014; Cho et al. 2014) that learns to
reverse short digit sequences, in the layout of the PyTorch tutorial "NLP From Scratch:
Translation with a Sequence to Sequence Network": an ``EncoderRNN`` (``nn.Embedding`` and
``nn.GRU``) whose last hidden state starts a ``DecoderRNN`` (``nn.Embedding``, ReLU,
``nn.GRU`` and a ``Linear`` to the vocabulary), trained with teacher forcing (the decoder is
fed the target sequence shifted right behind a start-of-sequence token), token-level
``CrossEntropyLoss`` that ignores the padding, and greedy decoding for the validation's
sequence accuracy.

The data are generated here: sequences of 3 to ``--max-len`` digits (tokens 3..12; 0 is
padding, 1 start-of-sequence, 2 end-of-sequence); the target is the same digits reversed
followed by the end token. ``make_batch`` pads a list of pairs to the longest one and returns
batch-first tensors. Training takes ``--batch-size`` pairs at a time from a list shuffled
once per epoch with ``random.shuffle``. The accuracy is the fraction of target tokens (padding
left out) predicted right under teacher forcing; the result line adds the validation's exact
sequence accuracy under greedy decoding. The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``, ``--clip``).
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

PAD, SOS, EOS = 0, 1, 2
VOCAB = 13          # 3 special tokens and the digits 0..9 as 3..12


def make_pairs(n, max_len, seed):
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        digits = [rng.randrange(10) + 3 for _ in range(rng.randint(3, max_len))]
        pairs.append((digits, digits[::-1] + [EOS]))
    return pairs


def make_batch(pairs):
    """Padded batch-first tensors: source, decoder input (SOS + target[:-1]) and target."""
    width_src = max(len(s) for s, _ in pairs)
    width_tgt = max(len(t) for _, t in pairs)
    src = torch.full((len(pairs), width_src), PAD, dtype=torch.long)
    dec_in = torch.full((len(pairs), width_tgt), PAD, dtype=torch.long)
    tgt = torch.full((len(pairs), width_tgt), PAD, dtype=torch.long)
    for i, (s, t) in enumerate(pairs):
        src[i, :len(s)] = torch.tensor(s)
        tgt[i, :len(t)] = torch.tensor(t)
        dec_in[i, :len(t)] = torch.tensor([SOS] + t[:-1])
    return src, dec_in, tgt


class EncoderRNN(nn.Module):
    def __init__(self, vocab, hidden):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden, padding_idx=PAD)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)

    def forward(self, src):
        lengths = (src != PAD).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.embedding(src), lengths, batch_first=True, enforce_sorted=False)
        _, hidden = self.gru(packed)
        return hidden


class DecoderRNN(nn.Module):
    def __init__(self, vocab, hidden, softmax_output=False):
        super().__init__()
        self.embedding = nn.Embedding(vocab, hidden, padding_idx=PAD)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(hidden, vocab)
        self.relu = nn.ReLU()
        self.softmax_output = softmax_output

    def forward(self, dec_in, hidden):
        output, hidden = self.gru(self.relu(self.embedding(dec_in)), hidden)
        logits = self.out(output)
        if self.softmax_output:
            # BUG (softmax-output): probabilities returned from forward (copied from the
            # inference code) and then given to CrossEntropyLoss, which applies log_softmax
            # again.
            return torch.softmax(logits, dim=-1), hidden
        return logits, hidden


class Seq2Seq(nn.Module):
    def __init__(self, hidden, softmax_output=False):
        super().__init__()
        self.encoder = EncoderRNN(VOCAB, hidden)
        self.decoder = DecoderRNN(VOCAB, hidden, softmax_output)

    def forward(self, src, dec_in):
        logits, _ = self.decoder(dec_in, self.encoder(src))
        return logits

    @torch.no_grad()
    def greedy(self, src, steps):
        hidden = self.encoder(src)
        token = torch.full((len(src), 1), SOS, dtype=torch.long)
        out = []
        for _ in range(steps):
            logits, hidden = self.decoder(token, hidden)
            token = logits.argmax(-1)
            out.append(token)
        return torch.cat(out, 1)


def token_accuracy(logits, tgt):
    mask = tgt != PAD
    return ((logits.argmax(-1) == tgt) & mask).sum().float() / mask.sum()


def main():
    p = common.parser(__doc__)
    p.add_argument("--pairs", type=int, default=3000)
    p.add_argument("--max-len", type=int, default=6)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "rmsprop"))
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping (0: off)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None,
                   choices=("softmax-output", "missing-zero-grad", "encoder-frozen"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    pairs = make_pairs(args.pairs, args.max_len, args.seed)
    cut = int(0.85 * len(pairs))
    train_pairs, val_pairs = pairs[:cut], pairs[cut:]
    val_src, val_dec_in, val_tgt = make_batch(val_pairs)

    model = Seq2Seq(args.hidden, softmax_output=args.bug == "softmax-output")
    if args.bug == "encoder-frozen":
        # BUG: left over from an experiment with a pretrained encoder: the encoder's GRU is
        # frozen and keeps its random initial weights.
        for param in model.encoder.gru.parameters():
            param.requires_grad = False
    params = [p_ for p_ in model.parameters() if p_.requires_grad]
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=args.lr)
    elif args.optimizer == "rmsprop":
        optimizer = torch.optim.RMSprop(params, lr=args.lr)
    else:
        optimizer = torch.optim.SGD(params, lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss(ignore_index=PAD)
    steps_per_epoch = (len(train_pairs) + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=VOCAB,
        batch_size=args.batch_size)
    history = common.History()
    shuffler = random.Random(args.seed)
    seq_acc = 0.0
    for epoch in range(args.epochs):
        model.train()
        shuffler.shuffle(train_pairs)
        for b in range(steps_per_epoch):
            src, dec_in, tgt = make_batch(train_pairs[b * args.batch_size:(b + 1) * args.batch_size])
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            # BUG (missing-zero-grad): the gradients of every batch pile up in .grad.
            logits = model(src, dec_in)
            loss = criterion(logits.reshape(-1, VOCAB), tgt.reshape(-1))
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            acc = token_accuracy(logits, tgt)
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    v_logits = model(val_src, val_dec_in)
                    val_loss = criterion(v_logits.reshape(-1, VOCAB), val_tgt.reshape(-1)).item()
                    val_acc = token_accuracy(v_logits, val_tgt).item()
                    decoded = model.greedy(val_src, val_tgt.size(1))
                    mask = val_tgt != PAD
                    seq_acc = ((decoded == val_tgt) | ~mask).all(1).float().mean().item()
                model.train()
            rec.step(loss, accuracy=acc, inputs=src, targets=tgt, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f token acc %.3f val loss %.4f val token acc %.3f "
              "val sequence acc %.3f" % (epoch + 1, np.mean(history.epochs[-1][0]),
                                         np.mean(history.epochs[-1][1]), val_loss, val_acc,
                                         seq_acc))
    rec.close()
    common.report(history.result(val_sequence_accuracy=seq_acc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "s2srev-missing-zero-grad", "split": "dev", "architecture": "gru",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad(); DeepFD fault type: "
               "training process",
     "bug": "optimizer.zero_grad() left out of the batch loop (and no clipping): every "
            "batch's gradient piles up and SGD momentum 0.9 at 0.1 takes ever larger steps: "
            "the epoch loss goes from 8.7 "
            "to 4387 and the validation token accuracy ends at 0.24, against the twin's 0.92",
     "fix": "optimizer.zero_grad() before every forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 0.1 --clip 0 --bug missing-zero-grad --record-every 4",
          "fixed": "--optimizer sgd --lr 0.1 --clip 0 --record-every 4"},
     ]},
    {"family": "s2srev-adam-lr-too-low", "split": "dev", "architecture": "gru",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low; AUTOTRAINER: slow "
               "convergence",
     "bug": "Adam at 3e-5 (meant 5e-3): the epoch loss falls only from 2.52 to 2.34 (ln 13 = 2.56) "
            "and the validation token accuracy ends at 0.29, against the twin's 0.95",
     "fix": "learning rate 5e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--lr 3e-5 --record-every 4",
          "fixed": "--lr 5e-3 --record-every 4"},
     ]},
    {"family": "s2srev-encoder-gru-frozen", "split": "dev", "architecture": "gru",
     "origin": "Humbatova et al. 2020: layer not trained by mistake (requires_grad = False left "
               "from an experiment with a pretrained encoder)",
     "bug": "the encoder's GRU is frozen at its random initial weights; only the embeddings "
            "and the decoder train and have to read the reversed digits out of a random "
            "recurrent code: the validation loss ends at 0.436, the token accuracy at 0.877 "
            "and the exact sequence accuracy at 0.509, against the twin's 0.194, 0.942 and 0.747",
     "fix": "leave the encoder's GRU trainable",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": {"layer_name": "encoder.gru", "layer_index": 1},
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--seed 2 --bug encoder-frozen --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "s2srev-rmsprop-lr-too-high", "split": "dev", "architecture": "gru",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "oscillating loss",
     "bug": "RMSprop at 0.05 (meant 2e-3): the first-epoch loss is 5.07 and the loss "
            "stays above 1.2 from the third epoch on (validation 1.34, token accuracy 0.60), "
            "against the twin's 0.26 and 0.92",
     "fix": "learning rate 2e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop",
          "buggy": "--optimizer rmsprop --lr 0.05 --record-every 4",
          "fixed": "--optimizer rmsprop --lr 2e-3 --record-every 4"},
     ]},
    {"family": "healthy-s2srev", "split": "dev", "architecture": "gru",
     "origin": "healthy run",
     "description": "a GRU encoder-decoder reversing digit sequences that trains well",
     "healthy": [
         {"id": "sgd-clip1-seed3",
          "args": "--optimizer sgd --lr 0.1 --clip 1 --epochs 10 --seed 3 --record-every 4",
          "description": "SGD momentum 0.9 at 0.1, gradient-norm clipping at 1, 10 epochs"},
         {"id": "adam-h32-bs32-seed4",
          "args": "--hidden 32 --batch-size 32 --seed 4 --record-every 4",
          "description": "Adam 5e-3, 32 hidden units, batches of 32"},
         {"id": "adam-bs128-lr1e-2-seed5",
          "args": "--batch-size 128 --lr 1e-2 --epochs 10 --seed 5 --record-every 4",
          "description": "Adam 1e-2, batches of 128, 10 epochs"},
         {"id": "rmsprop-h96-seed6",
          "args": "--optimizer rmsprop --lr 1e-3 --hidden 96 --seed 6 --record-every 4",
          "description": "RMSprop 1e-3, 96 hidden units"},
     ]},
]


if __name__ == "__main__":
    main()
