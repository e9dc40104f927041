"""A character-level LSTM language model in the layout of PyTorch's ``word_language_model``
example: the text is one long stream of character ids, ``batchify`` cuts it into
``--batch-size`` parallel columns, ``get_batch`` takes ``--bptt`` characters of every column as
the input and the same characters shifted by one as the targets (teacher forcing), the hidden
state is carried from one window to the next and detached (``repackage_hidden``), and the loss
is ``CrossEntropyLoss`` over the vocabulary of every position. Gradient-norm clipping at
``--clip`` (0: off) and, as in the example, plain SGD with a large learning rate that is
divided by 4 whenever the validation loss does not improve (``--optimizer adam`` for Adam).

The text is generated here: sentences of a small grammar (determiners, adjectives, nouns,
verbs, prepositions, numbers), lower case, 27 characters (23 letters, space, '.', ',' and
newline). The model (``RNNModel``): ``encoder`` (``nn.Embedding``), ``rnn`` (``nn.LSTM`` of
``--layers`` layers), dropout, and ``decoder`` (Linear to the vocabulary), initialized as the
example does (uniform in +-0.1 for the encoder and decoder). The accuracy is the fraction of
next characters predicted right. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``, ``--clip``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

WORDS = {
    "det": ["the", "a", "every", "one", "some", "that"],
    "adj": ["small", "red", "quiet", "old", "bright", "heavy", "green", "slow"],
    "noun": ["cat", "river", "engine", "garden", "teacher", "window", "signal", "market",
             "letter", "forest"],
    "verb": ["sees", "follows", "carries", "finds", "watches", "opens", "crosses", "builds"],
    "prep": ["near", "under", "behind", "over", "beside"],
    "num": ["two", "three", "four", "seven", "ten"],
}


def generate_text(n_sentences, seed):
    rng = np.random.default_rng(seed)

    def pick(kind):
        return WORDS[kind][int(rng.integers(len(WORDS[kind])))]

    def noun_phrase():
        if rng.random() < 0.2:
            return "%s %s %ss" % (pick("num"), pick("adj"), pick("noun"))
        words = [pick("det")]
        if rng.random() < 0.5:
            words.append(pick("adj"))
        words.append(pick("noun"))
        return " ".join(words)

    lines = []
    for _ in range(n_sentences):
        s = "%s %s %s" % (noun_phrase(), pick("verb"), noun_phrase())
        if rng.random() < 0.4:
            s += " %s %s" % (pick("prep"), noun_phrase())
        if rng.random() < 0.2:
            s += ", %s %s" % (pick("verb"), noun_phrase())
        lines.append(s + ".")
    return "\n".join(lines) + "\n"


class Corpus:
    def __init__(self, text):
        self.chars = sorted(set(text))
        self.index = {c: i for i, c in enumerate(self.chars)}

    def encode(self, text):
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    data = data.narrow(0, 0, nbatch * bsz)
    return data.view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt, bug=None):
    seq_len = min(bptt, len(source) - 1 - i)
    data = source[i:i + seq_len]
    if bug == "targets-batch-first":
        # BUG: the targets are flattened column by column (batch-first, as in a batch_first
        # model) while the decoder's output is flattened time step by time step: the target
        # of each position is the next character of some other column at some other time.
        return data, source[i + 1:i + 1 + seq_len].t().reshape(-1)
    target = source[i + 1:i + 1 + seq_len].reshape(-1)
    return data, target


def repackage_hidden(h):
    if isinstance(h, torch.Tensor):
        return h.detach()
    return tuple(repackage_hidden(v) for v in h)


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2, init_range=0.1):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout if nlayers > 1 else 0.0)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nhid, self.nlayers = nhid, nlayers
        self.init_weights(init_range)

    def init_weights(self, initrange):
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)

    def forward(self, x, hidden):
        emb = self.drop(self.encoder(x))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        return self.decoder(output).view(-1, self.decoder.out_features), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                weight.new_zeros(self.nlayers, bsz, self.nhid))


def main():
    p = common.parser(__doc__)
    p.add_argument("--sentences", type=int, default=2000)
    p.add_argument("--emsize", type=int, default=32)
    p.add_argument("--nhid", type=int, default=128)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--optimizer", default="sgd", choices=("sgd", "adam"))
    p.add_argument("--lr", type=float, default=20.0)
    p.add_argument("--clip", type=float, default=0.25)
    p.add_argument("--init-range", type=float, default=0.1)
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--bug", default=None, choices=("targets-batch-first", "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    text = generate_text(args.sentences, args.seed)
    corpus = Corpus(text)
    cut = int(0.9 * len(text))
    train_data = batchify(corpus.encode(text[:cut]), args.batch_size)
    val_data = batchify(corpus.encode(text[cut:]), 10)
    ntokens = len(corpus.chars)

    model = RNNModel(ntokens, args.emsize, args.nhid, args.layers, args.dropout,
                     args.init_range)
    criterion = nn.CrossEntropyLoss()
    lr = args.lr
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = len(range(0, train_data.size(0) - 1, args.bptt))

    def evaluate(source):
        model.eval()
        total, correct, count = 0.0, 0, 0
        hidden = model.init_hidden(10)
        with torch.no_grad():
            for i in range(0, source.size(0) - 1, args.bptt):
                data, targets = get_batch(source, i, args.bptt, args.bug)
                output, hidden = model(data, hidden)
                total += len(targets) * criterion(output, targets).item()
                correct += (output.argmax(1) == targets).sum().item()
                count += len(targets)
        return total / count, correct / count

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=ntokens,
        batch_size=args.batch_size)
    history = common.History()
    best_val = None
    for epoch in range(args.epochs):
        model.train()
        hidden = model.init_hidden(args.batch_size)
        for batch, i in enumerate(range(0, train_data.size(0) - 1, args.bptt)):
            data, targets = get_batch(train_data, i, args.bptt, args.bug)
            hidden = repackage_hidden(hidden)
            if args.bug != "no-zero-grad":
                model.zero_grad()
            # BUG (no-zero-grad): model.zero_grad() is never called, so every backward() adds
            # its gradients to those of all the earlier windows.
            output, hidden = model(data, hidden)
            loss = criterion(output, targets)
            loss.backward()
            if args.clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            acc = (output.argmax(1) == targets).float().mean()
            val_loss = val_acc = None
            if batch == steps_per_epoch - 1:
                val_loss, val_acc = evaluate(val_data)
                model.train()
            rec.step(loss, accuracy=acc, inputs=data, targets=targets, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f val %.4f acc %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc, lr))
        if args.optimizer == "sgd":
            # the example's annealing: divide the learning rate by 4 when the validation loss
            # did not improve
            if best_val is None or val_loss < best_val:
                best_val = val_loss
            else:
                lr /= 4.0
                for group in optimizer.param_groups:
                    group["lr"] = lr
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "charlm-exploding-no-clip", "split": "dev", "architecture": "lstm",
     "origin": "AUTOTRAINER: exploding gradient (a recurrent network trained without gradient "
               "clipping); Humbatova et al. 2020: missing gradient clipping",
     "bug": "SGD at learning rate 50 without gradient clipping: the first epoch's mean loss is "
            "89.5 (ln 27 = 3.30 for a uniform guess), then 41.3, 12.1 and 7.90 while the "
            "annealing divides the rate by 4 once (50 -> 12.5); the validation next-character "
            "accuracy ends at 0.39 against the twin's 0.77 (the same rate with clipping at 0.25)",
     "fix": "clip_grad_norm_ at 0.25 before every step, as the example does",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["numerical_error", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-lr50",
          "buggy": "--lr 50 --clip 0 --record-every 2",
          "fixed": "--lr 50 --record-every 2"},
     ]},
    {"family": "charlm-sgd-lr-too-low", "split": "dev", "architecture": "lstm",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low; AUTOTRAINER: slow "
               "convergence",
     "bug": "SGD at learning rate 0.5 (the example uses 20): the epoch losses go 2.95, 2.89, "
            "2.88, 2.84 and the validation next-character accuracy ends at 0.23 (0.15 for always "
            "predicting a space, the most frequent character) against the twin's 0.80",
     "fix": "SGD at 20 (the example's rate for an LSTM language model with clipping at 0.25)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-clip",
          "buggy": "--lr 0.5 --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "charlm-missing-zero-grad", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "model.zero_grad() is never called (SGD 5, no clipping): the gradients of all the "
            "windows so far add up; the epoch losses go 1.93, 4.45, 7.97, 8.62 while the "
            "annealing divides the rate by 4 twice (5 -> 0.31), and the validation next-character "
            "accuracy ends at 0.54 against the twin's 0.80",
     "fix": "model.zero_grad() before every forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-lr5-noclip",
          "buggy": "--bug no-zero-grad --clip 0 --lr 5 --record-every 2",
          "fixed": "--clip 0 --lr 5 --record-every 2"},
     ]},
    {"family": "charlm-targets-batch-first", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong labels (targets flattened in another order than "
               "the output: a batch_first layout mixed with a time-first model)",
     "bug": "the targets are flattened column by column ((bptt, batch) transposed) while the "
            "decoder's output is flattened time step by time step, so each position is trained "
            "towards the next character of another column at another time: the epoch losses go "
            "3.12, 3.04, 3.03, 2.89 (the unigram entropy of the text) and the validation next- "
            "character accuracy ends at 0.146 (always a space) against the twin's 0.79",
     "fix": "flatten the targets time step by time step, as the decoder's output is",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--bug targets-batch-first --seed 1 --record-every 2",
          "fixed": "--seed 1 --record-every 2"},
     ]},
    {"family": "healthy-charlm", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a character-level LSTM language model (truncated BPTT, clipping) that "
                    "trains well",
     "healthy": [
         {"id": "adam-clip1-seed2",
          "args": "--optimizer adam --lr 3e-3 --clip 1 --seed 2 --record-every 2",
          "description": "Adam 3e-3, clipping at 1"},
         {"id": "h64-clip0.5-seed3",
          "args": "--nhid 64 --clip 0.5 --seed 3 --record-every 2",
          "description": "an LSTM of 64, SGD 20, clipping at 0.5"},
         {"id": "bs16-bptt50-seed4",
          "args": "--batch-size 16 --bptt 50 --epochs 3 --seed 4 --record-every 2",
          "description": "16 columns, windows of 50 characters, SGD 20, 3 epochs"},
         {"id": "h96-emb16-lr10-seed5",
          "args": "--emsize 16 --nhid 96 --dropout 0.2 --lr 10 --seed 5 --record-every 2",
          "description": "a narrower LSTM, dropout 0.2, SGD 10"},
     ]},
]


if __name__ == "__main__":
    main()
