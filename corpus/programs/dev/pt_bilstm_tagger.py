"""A PyTorch part-of-speech tagger: ``nn.Embedding``, a bidirectional ``nn.LSTM`` and a
``nn.Linear`` scoring every token's tag, trained with ``CrossEntropyLoss(ignore_index=PAD)``
and Adam, with ``ReduceLROnPlateau`` on the validation loss, written as taggers in tutorials
are: sentences as lists of words and lists of tags, a vocabulary built from the training
sentences (``word_to_ix``, unknown words to ``<unk>``), a ``collate`` function padding a batch
to its longest sentence, and the per-token accuracy counted over real tokens only.

The data are generated here: ``--sentences`` sentences of a small English-like grammar (a
noun phrase of an optional determiner, adjectives and a noun, a verb, an optional adverb or
object noun phrase, an optional prepositional phrase), 3 to 18 words each, tagged DET, ADJ,
NOUN, VERB, ADV, PREP, PRON; a fifth of the nouns and verbs are the same words ("run",
"watch", "train", ...), so their tag depends on the words around them. 80% train, 20%
validate. The model (``Tagger``): ``embed`` (``--embed`` wide), ``lstm`` (``--hidden`` units
each way, ``--layers`` layers), ``out`` (``Linear(2 hidden, tags)``).

Optimizer ``--optimizer`` (``adam``, ``sgd`` with momentum 0.9) at ``--lr``, gradient-norm
clipping at ``--clip`` (0: off), ``ReduceLROnPlateau(factor=0.1, patience=0)``. The mistakes
of the families in CASES are selected with ``--bug`` or show in a setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

np = common.np

TAGS = ["<pad>", "DET", "ADJ", "NOUN", "VERB", "ADV", "PREP", "PRON"]
TAG_PAD = 0
WORDS = {
    "DET": "the a an this that every some my your their".split(),
    "ADJ": "big small red old new quick lazy bright dark happy cold tall green".split(),
    "NOUN": ("dog cat house car tree river city child teacher bird window book garden "
             "door road table phone").split(),
    "VERB": ("sees likes opens finds takes brings reads holds wants loves eats builds "
             "paints").split(),
    "ADV": "quickly slowly often never always quietly again today".split(),
    "PREP": "in on under near behind with from over".split(),
    "PRON": "he she they we it someone".split(),
}
# words that are a noun or a verb depending on where they stand
AMBIGUOUS = "run watch train play walk cook fish park mail book".split()


def noun_phrase(rng):
    words, tags = [], []
    if rng.random() < 0.8:
        words.append(rng.choice(WORDS["DET"]))
        tags.append("DET")
    for _ in range(int(rng.integers(0, 3))):
        words.append(rng.choice(WORDS["ADJ"]))
        tags.append("ADJ")
    pool = AMBIGUOUS if rng.random() < 0.25 else WORDS["NOUN"]
    words.append(rng.choice(pool))
    tags.append("NOUN")
    return words, tags


def sentence(rng):
    if rng.random() < 0.3:
        words, tags = [rng.choice(WORDS["PRON"])], ["PRON"]
    else:
        words, tags = noun_phrase(rng)
    pool = AMBIGUOUS if rng.random() < 0.25 else WORDS["VERB"]
    words.append(rng.choice(pool))
    tags.append("VERB")
    r = rng.random()
    if r < 0.5:
        w, t = noun_phrase(rng)
        words += w
        tags += t
    elif r < 0.75:
        words.append(rng.choice(WORDS["ADV"]))
        tags.append("ADV")
    if rng.random() < 0.5:
        words.append(rng.choice(WORDS["PREP"]))
        tags.append("PREP")
        w, t = noun_phrase(rng)
        words += w
        tags += t
    return words, tags


def corpus_sentences(n, seed):
    rng = np.random.default_rng(seed)
    return [sentence(rng) for _ in range(n)]


class Tagger(nn.Module):
    def __init__(self, vocab, embed, hidden, layers, tags, softmax_output=False):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=0)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True,
                            bidirectional=True)
        self.out = nn.Linear(2 * hidden, tags)
        self.softmax_output = softmax_output

    def forward(self, tokens):
        h, _ = self.lstm(self.embed(tokens))
        scores = self.out(h)
        # BUG (softmax-output): probabilities are returned and fed to CrossEntropyLoss, which
        # applies log_softmax itself.
        return torch.softmax(scores, dim=-1) if self.softmax_output else scores


def main():
    p = common.parser(__doc__)
    p.add_argument("--sentences", type=int, default=1500)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--clip", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--plateau-mode", default="min", choices=("min", "max"),
                   help="ReduceLROnPlateau mode on the validation loss (max: a bug)")
    p.add_argument("--bug", default=None, choices=("softmax-output", "sorted-words-only"))
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

    def encode(pairs):
        return [([word_to_ix.get(w, 1) for w in words], [tag_to_ix[t] for t in tags])
                for words, tags in pairs]

    train_set, val_set = encode(train_data), encode(val_data)
    if args.bug == "sorted-words-only":
        # BUG (sorted-words-only): the sentences are sorted by length to pad less, but the
        # tag sequences are sorted separately and end up with other sentences' words.
        words = sorted((w for w, _ in train_set), key=len)
        tags = sorted((t for _, t in train_set), key=lambda t: (len(t), t))
        train_set = list(zip(words, tags))

    def collate(batch):
        n = max(len(w) for w, _ in batch)
        tokens = torch.zeros(len(batch), n, dtype=torch.long)
        targets = torch.full((len(batch), n), TAG_PAD, dtype=torch.long)
        for i, (w, t) in enumerate(batch):
            tokens[i, :len(w)] = torch.tensor(w)
            targets[i, :len(t)] = torch.tensor(t)
        return tokens, targets

    g = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, generator=g,
                        collate_fn=collate)
    val_loader = DataLoader(val_set, batch_size=256, collate_fn=collate)

    model = Tagger(len(word_to_ix), args.embed, args.hidden, args.layers, len(TAGS),
                   softmax_output=args.bug == "softmax-output")
    if args.optimizer == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    # BUG (--plateau-mode max): "max" on a loss: every epoch whose loss fell counts as no
    # improvement, and the learning rate is halved again and again.
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode=args.plateau_mode,
                                                           factor=0.1, patience=0)
    criterion = nn.CrossEntropyLoss(ignore_index=TAG_PAD)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=len(loader), num_classes=len(TAGS),
        batch_size=args.batch_size)

    def accuracy(scores, targets):
        real = targets != TAG_PAD
        return ((scores.argmax(-1) == targets) & real).sum().float() / real.sum()

    def evaluate():
        model.eval()
        total, correct, tokens = 0.0, 0.0, 0
        with torch.no_grad():
            for xb, yb in val_loader:
                scores = model(xb)
                n = int((yb != TAG_PAD).sum())
                total += criterion(scores.reshape(-1, len(TAGS)), yb.reshape(-1)).item() * n
                correct += accuracy(scores, yb).item() * n
                tokens += n
        model.train()
        return total / tokens, correct / tokens

    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        for i, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            scores = model(xb)
            loss = criterion(scores.reshape(-1, len(TAGS)), yb.reshape(-1))
            loss.backward()
            if args.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            acc = accuracy(scores.detach(), yb)
            val_loss = val_acc = None
            if i == len(loader) - 1:
                val_loss, val_acc = evaluate()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        scheduler.step(val_loss)
        history.epoch(val_loss, val_acc)
        print("epoch %d  loss %.4f  acc %.3f | val loss %.4f  acc %.3f | lr %.2g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result(layers=["embed", "lstm", "out"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "bilstmtag-softmax-into-crossentropy", "split": "dev", "architecture": "lstm",
     "origin": "DeepLocalize benchmark posts / Humbatova et al. 2020: CrossEntropyLoss on an "
               "output that is already a softmax (wrong loss for the output)",
     "bug": "the tagger returns softmax probabilities and CrossEntropyLoss applies "
            "log_softmax again: the loss cannot fall below about 1.3 and ends at 1.34 "
            "(validation 1.31, token accuracy 0.965) where the twin's ends at 0.004 "
            "(validation accuracy 1.000)",
     "fix": "return the scores of out (no softmax in forward)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["slow_convergence", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug softmax-output --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "bilstmtag-tags-sorted-apart", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: training data: labels that do not match the inputs "
               "(sentences and tag sequences sorted by length separately)",
     "bug": "the training sentences and their tag sequences are sorted by length separately, "
            "so most sentences get another sentence's tags of the same length (seed 1): the "
            "token accuracy ends at 0.53 and the validation accuracy at 0.66 (0.70 in the "
            "fourth epoch; the twin: 0.999, loss 0.004)",
     "fix": "sort the (words, tags) pairs together",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug sorted-words-only --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "bilstmtag-plateau-mode-max", "split": "dev", "architecture": "lstm",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (ReduceLROnPlateau "
               "mode='max' on a validation loss)",
     "bug": "ReduceLROnPlateau(mode='max', factor=0.1, patience=0) on the validation loss "
            "with Adam 5e-4: every falling loss counts as no improvement, the learning rate "
            "is 5e-6 in the third epoch and 5e-9 in the eighth; the validation accuracy stays "
            "at 0.546 from the third epoch on (the twin: 0.948, loss 0.31)",
     "fix": "ReduceLROnPlateau(mode='min')",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--lr 5e-4 --plateau-mode max --record-every 4",
          "fixed": "--lr 5e-4 --record-every 4"},
     ]},
    {"family": "healthy-bilstmtag", "split": "dev", "architecture": "lstm",
     "origin": "healthy run",
     "description": "a bidirectional LSTM part-of-speech tagger with ReduceLROnPlateau",
     "healthy": [
         {"id": "sgd-lr0.5-clip1-seed1",
          "args": "--optimizer sgd --lr 0.5 --clip 1 --seed 1 --record-every 4",
          "description": "SGD momentum 0.9 at 0.5, clipping at 1"},
         {"id": "adam-lr1e-3-hidden48-seed2",
          "args": "--lr 1e-3 --hidden 48 --seed 2 --record-every 4",
          "description": "Adam 1e-3, 48 units each way"},
         {"id": "adam-bs16-embed16-seed3",
          "args": "--lr 2e-3 --batch-size 16 --embed 16 --epochs 6 --seed 3 --record-every 4",
          "description": "Adam 2e-3, batches of 16, 16-wide embeddings"},
     ]},
]


if __name__ == "__main__":
    main()
