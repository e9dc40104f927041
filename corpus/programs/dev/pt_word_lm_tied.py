"""A word-level LSTM language model with tied input and output embeddings, written as PyTorch's
``word_language_model`` example writes it (``main.py`` and ``model.py``), on a corpus the
program generates.

The text is generated here from a small grammar of a town's news ("the old baker opens the shop
on monday .", "a farmer sold three cows near the river ."): determiners, adjectives, nouns that
agree with their verbs, prepositional phrases, numbers and days, one sentence a line, an
``<eos>`` token at the end of each line as the example's ``Corpus`` adds it (a vocabulary of
about 90 words). 90% of the lines train, the rest validate. ``batchify`` cuts the stream of word
ids into ``--batch-size`` columns, ``get_batch`` takes ``--bptt`` words of every column as the
input and the same words shifted by one as the targets, the hidden state is carried from one
window to the next and detached (``repackage_hidden``), ``clip_grad_norm_`` at ``--clip``, and
SGD with the example's large learning rate (20) divided by 4 whenever the validation loss does
not improve.

The model (``RNNModel``): ``encoder`` (``nn.Embedding``), dropout, ``rnn`` (``nn.LSTM`` of
``--nlayers`` layers), dropout, ``decoder`` (``nn.Linear`` to the vocabulary) whose weight is
the encoder's (``--tied``, so ``--emsize`` equals ``--nhid``), and ``F.log_softmax`` with
``nn.NLLLoss``, as the example has them; uniform initialization in +-0.1. The accuracy is the
share of next words predicted right. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting.
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

GRAMMAR = {
    "det": ["the", "a", "one", "every", "that"],
    "adj": ["old", "young", "tall", "quiet", "busy", "kind", "tired", "clever"],
    "noun_sg": ["baker", "farmer", "teacher", "doctor", "miller", "child", "mayor", "smith",
                "carter", "nurse"],
    "noun_pl": ["bakers", "farmers", "teachers", "doctors", "millers", "children"],
    "verb_sg": ["opens", "sells", "buys", "paints", "cleans", "repairs", "visits", "closes"],
    "verb_pl": ["open", "sell", "buy", "paint", "clean", "repair", "visit", "close"],
    "past": ["sold", "bought", "painted", "cleaned", "repaired", "visited"],
    "thing": ["shop", "mill", "bridge", "school", "church", "market", "house", "barn", "wagon",
              "gate"],
    "animal": ["cows", "sheep", "horses", "goats", "pigs"],
    "num": ["two", "three", "four", "five", "six"],
    "prep": ["near", "behind", "beside", "across"],
    "place": ["river", "hill", "square", "road", "forest"],
    "day": ["monday", "tuesday", "friday", "sunday"],
}


def generate_lines(n, seed):
    rng = np.random.default_rng(seed)

    def pick(kind):
        words = GRAMMAR[kind]
        return words[int(rng.integers(len(words)))]

    lines = []
    for _ in range(n):
        r = rng.random()
        if r < 0.45:
            subj = [pick("det")] + ([pick("adj")] if rng.random() < 0.5 else []) + [pick("noun_sg")]
            words = subj + [pick("verb_sg"), "the", pick("thing")]
        elif r < 0.7:
            subj = ["the"] + ([pick("adj")] if rng.random() < 0.5 else []) + [pick("noun_pl")]
            words = subj + [pick("verb_pl"), "the", pick("thing")]
        else:
            subj = [pick("det"), pick("noun_sg")]
            words = subj + [pick("past"), pick("num"), pick("animal")]
        if rng.random() < 0.5:
            words += [pick("prep"), "the", pick("place")]
        if rng.random() < 0.35:
            words += ["on", pick("day")]
        lines.append(" ".join(words) + " .")
    return lines


class Dictionary:
    def __init__(self):
        self.word2idx = {}
        self.idx2word = []

    def add_word(self, word):
        if word not in self.word2idx:
            self.idx2word.append(word)
            self.word2idx[word] = len(self.idx2word) - 1
        return self.word2idx[word]

    def __len__(self):
        return len(self.idx2word)


class Corpus:
    def __init__(self, lines, valid_share=0.1):
        self.dictionary = Dictionary()
        cut = int(len(lines) * (1 - valid_share))
        self.train = self.tokenize(lines[:cut])
        self.valid = self.tokenize(lines[cut:])

    def tokenize(self, lines):
        ids = []
        for line in lines:
            for word in line.split() + ["<eos>"]:
                ids.append(self.dictionary.add_word(word))
        return torch.tensor(ids, dtype=torch.long)


def batchify(data, bsz, bug=None):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    if bug == "batchify-no-transpose":
        # BUG: the stream is viewed as (nbatch, bsz) directly instead of (bsz, nbatch).t():
        # each column then holds every bsz-th word, so consecutive rows are not consecutive
        # words and the next word cannot be predicted from the words before it.
        return data.view(-1, bsz).contiguous()
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    target = source[i + 1:i + 1 + seq_len].view(-1)
    return data, target


def repackage_hidden(h):
    """Wraps hidden states in new Tensors, to detach them from their history."""
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class RNNModel(nn.Module):
    """Container module with an encoder, a recurrent module, and a decoder."""

    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2, tie_weights=False, bug=None):
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout if nlayers > 1 else 0.0)
        self.decoder = nn.Linear(nhid, ntoken)
        if tie_weights:
            if nhid != ninp:
                raise ValueError("When using the tied flag, nhid must be equal to emsize")
            self.decoder.weight = self.encoder.weight
        self.init_weights()
        self.nhid = nhid
        self.nlayers = nlayers
        self.bug = bug

    def init_weights(self):
        initrange = 0.1
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output)
        decoded = decoded.view(-1, self.ntoken)
        if self.bug == "softmax-nll":
            # BUG: F.softmax where the example has F.log_softmax: NLLLoss then takes the
            # negative probability of the target word, not its negative log-probability.
            return F.softmax(decoded, dim=1), hidden
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def main():
    p = common.parser(__doc__)
    p.add_argument("--lines", type=int, default=2400)
    p.add_argument("--emsize", type=int, default=64)
    p.add_argument("--nhid", type=int, default=64)
    p.add_argument("--nlayers", type=int, default=1)
    p.add_argument("--lr", type=float, default=20.0)
    p.add_argument("--clip", type=float, default=0.25)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=20)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--no-tied", dest="tied", action="store_false")
    p.add_argument("--bug", default=None,
                   choices=("softmax-nll", "batchify-no-transpose", "anneal-inverted",
                            "clip-after-step"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    corpus = Corpus(generate_lines(args.lines, args.seed))
    eval_batch_size = 10
    train_data = batchify(corpus.train, args.batch_size, args.bug)
    val_data = batchify(corpus.valid, eval_batch_size, args.bug)
    ntokens = len(corpus.dictionary)
    print("vocabulary %d, train %d words, valid %d words" % (
        ntokens, len(corpus.train), len(corpus.valid)))

    model = RNNModel(ntokens, args.emsize, args.nhid, args.nlayers, args.dropout, args.tied,
                     bug=args.bug)
    criterion = nn.NLLLoss()
    lr = args.lr
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def evaluate(data_source):
        model.eval()
        total_loss, correct, count = 0.0, 0, 0
        hidden = model.init_hidden(eval_batch_size)
        with torch.no_grad():
            for i in range(0, data_source.size(0) - 1, args.bptt):
                data, targets = get_batch(data_source, i, args.bptt)
                output, hidden = model(data, hidden)
                hidden = repackage_hidden(hidden)
                total_loss += len(data) * criterion(output, targets).item()
                correct += (output.argmax(1) == targets).sum().item()
                count += targets.numel()
        return total_loss / (len(data_source) - 1), correct / count

    steps_per_epoch = len(range(0, train_data.size(0) - 1, args.bptt))
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="NLLLoss",
        steps_per_epoch=steps_per_epoch, num_classes=ntokens, batch_size=args.batch_size)
    history = common.History()
    best_val_loss = None
    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = model.init_hidden(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i, args.bptt)
            # Starting each batch, we detach the hidden state from how it was previously
            # produced. If we didn't, the model would try backpropagating all the way to
            # start of the dataset.
            hidden = repackage_hidden(hidden)
            model.zero_grad()
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            # `clip_grad_norm` helps prevent the exploding gradient problem in RNNs / LSTMs.
            if args.bug != "clip-after-step":
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            if args.bug == "clip-after-step":
                # BUG: the gradients are clipped after optimizer.step() has already applied
                # them, so the update is never clipped.
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            acc = (output.argmax(1) == targets).float().mean()
            val_loss = val_acc = None
            if batch == steps_per_epoch - 1:
                val_loss, val_acc = evaluate(val_data)
                model.train()
            rec.step(loss, accuracy=acc, inputs=data, targets=targets, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("| end of epoch %3d | lr %6.3g | train loss %5.2f | valid loss %5.2f | "
              "valid ppl %8.2f | valid acc %.3f" % (
                  epoch, lr, np.mean(history.epochs[-1][0]), val_loss,
                  math.exp(min(val_loss, 50)), val_acc))
        # Anneal the learning rate if no improvement has been seen in the validation dataset.
        if args.bug == "anneal-inverted":
            # BUG: the comparison is turned around: the rate is divided by 4 after every epoch
            # that improved, which is every epoch of a run that trains.
            if not best_val_loss or val_loss > best_val_loss:
                best_val_loss = val_loss
            else:
                lr /= 4.0
        elif not best_val_loss or val_loss < best_val_loss:
            best_val_loss = val_loss
        else:
            lr /= 4.0
        for group in optimizer.param_groups:
            group["lr"] = lr
    rec.close()
    common.report(history.result(val_ppl=math.exp(min(val_loss, 50))))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "wlm-softmax-nll", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark / Humbatova et al. 2020: wrong loss input (NLLLoss "
               "given probabilities: F.softmax where F.log_softmax belongs)",
     "bug": "the model returns F.softmax of the decoder's output and nn.NLLLoss takes minus "
            "the target's probability: the loss goes from -0.07 to -0.17 and stays there, the "
            "network predicts the most frequent word ('the', 0.167) everywhere (validation "
            "accuracy 0.167) against the twin's validation accuracy 0.444 (perplexity 4.68)",
     "fix": "F.log_softmax(decoded, dim=1), as the example has it",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd20-tied",
          "buggy": "--bug softmax-nll --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "wlm-batchify-no-transpose", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong data preprocessing (the word stream reshaped into "
               "batch columns in the wrong order)",
     "bug": "batchify views the stream as (nbatch, bsz) instead of (bsz, nbatch).t(): each "
            "column holds every 20th word, so the next row is not the next word; the model "
            "learns little more than the word frequencies (loss 4.02 to 3.73, validation loss "
            "3.70, perplexity 40.5, accuracy 0.187) against the twin's validation loss 1.545 "
            "(perplexity 4.69, accuracy 0.437)",
     "fix": "data.view(bsz, -1).t().contiguous(), as the example's batchify",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd20-tied-seed1",
          "buggy": "--bug batchify-no-transpose --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-wlm", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a word-level LSTM language model with tied embeddings trained as the "
                    "PyTorch example does, that trains well",
     "healthy": [
         {"id": "nlayers2-seed1",
          "args": "--nlayers 2 --seed 1 --record-every 4",
          "description": "two LSTM layers, SGD at 20 with clipping at 0.25"},
         {"id": "lr10-dropout03-seed2",
          "args": "--lr 10 --dropout 0.3 --seed 2 --record-every 4",
          "description": "SGD at 10, dropout 0.3"},
     ]},
]


if __name__ == "__main__":
    main()
