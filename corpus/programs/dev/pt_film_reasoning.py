"""FiLM (Perez et al. 2018) visual reasoning in PyTorch on a small Sort-of-CLEVR drawn in numpy.

The model follows the public PyTorch implementation (ethanjperez/film, ``vr/models/filmed_net.py``
and ``film_gen.py``), scaled down. Every image is 16x16 RGB on black with the four objects of
the data set (red, green, blue, yellow), each a 3x3 square or a 3x3 plus sign, at four distinct
cells of a 4x4 grid (cells of 4x4 pixels, the object at a random offset inside). A question
is a colour (one-hot of 4) and a type (one-hot of 3), as Sort-of-CLEVR encodes it: "what shape
is the <colour> object" (square / plus), "is the <colour> object on the left half" (yes / no)
and, relational, "what colour is the object nearest to the <colour> one" (4 colours); answers
come from one vocabulary of 8. 4096 scenes train with one random question each, 1024 others
(another seed) are held out.

``FiLMNet``: the question goes through the FiLM generator (``film_gen.0``/``film_gen.2``,
7 -> 64 -> 2 * blocks * channels, ReLU, its last layer initialized to zero as the repository
does) which predicts a gamma and a beta for every channel of every block; the image (with two
coordinate maps concatenated, x and y in [-1, 1]) goes through a stem (``stem``, 3x3 conv, 16
channels, BatchNorm ``stem_bn``, ReLU) and ``--blocks`` FiLM residual blocks (``blocks.N``: a
1x1 conv with the coordinate maps, ReLU, a 3x3 conv, a BatchNorm without affine parameters,
then ``(1 + gamma) * x + beta``, ReLU, the residual added); the classifier (``classifier``, 1x1
conv to 64 with the coordinates, ReLU, global max pool, ``fc`` to the 8 answers).
Cross-entropy, Adam (``--lr``), minibatches of ``--batch-size`` shuffled per epoch; the
held-out loss and accuracy after every epoch, and the result line adds the held-out accuracy
by question type. The mistakes of the families in CASES are selected with ``--bug``.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np

COLOURS = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]], dtype=np.float32)
# answers: 0 square, 1 plus, 2 yes, 3 no, 4..7 the colours
ANSWERS = 8
TYPES = ("shape", "left", "nearest")
BUGS = ("gamma-not-offset", "question-not-fed")


def make_scenes(n, seed, size=16):
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 3, size, size), dtype=np.float32)
    questions = np.zeros((n, 7), dtype=np.float32)
    answers = np.zeros(n, dtype=np.int64)
    qtypes = np.zeros(n, dtype=np.int64)
    plus = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.float32)
    for i in range(n):
        cells = rng.choice(16, size=4, replace=False)
        centres, shapes = [], []
        for c in range(4):
            row, col = divmod(cells[c], 4)
            top, left = 4 * row + rng.integers(0, 2), 4 * col + rng.integers(0, 2)
            shape = rng.integers(0, 2)
            mask = np.ones((3, 3), dtype=np.float32) if shape == 0 else plus
            images[i, :, top:top + 3, left:left + 3] = COLOURS[c][:, None, None] * mask
            centres.append((top + 1.0, left + 1.0))
            shapes.append(shape)
        c = rng.integers(0, 4)
        t = rng.integers(0, 3)
        questions[i, c] = 1
        questions[i, 4 + t] = 1
        qtypes[i] = t
        if t == 0:
            answers[i] = shapes[c]
        elif t == 1:
            answers[i] = 2 if centres[c][1] < size / 2 else 3
        else:
            d = [np.hypot(centres[c][0] - centres[o][0], centres[c][1] - centres[o][1])
                 if o != c else np.inf for o in range(4)]
            answers[i] = 4 + int(np.argmin(d))
    return (torch.tensor(images), torch.tensor(questions), torch.tensor(answers),
            torch.tensor(qtypes))


def coord_map(x):
    b, _, h, w = x.shape
    ys = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand(b, 1, h, w)
    xs = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([xs, ys], 1)


class FiLMedResBlock(nn.Module):
    def __init__(self, channels, bug=None):
        super().__init__()
        self.bug = bug
        self.input_proj = nn.Conv2d(channels + 2, channels, kernel_size=1)
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm2d(channels, affine=False)

    def forward(self, x, gammas, betas):
        x = F.relu(self.input_proj(torch.cat([x, coord_map(x)], 1)))
        out = self.bn(self.conv(x))
        g, b = gammas[:, :, None, None], betas[:, :, None, None]
        if self.bug == "gamma-not-offset":
            # BUG (gamma-not-offset): the predicted gamma used as the scale itself, with the
            # generator's last layer initialized to zero: every block's output starts at 0.
            out = g * out + b
        else:
            out = (1 + g) * out + b
        return F.relu(out) + x


class FiLMNet(nn.Module):
    def __init__(self, channels=32, blocks=2, bug=None):
        super().__init__()
        self.bug, self.channels, self.nblocks = bug, channels, blocks
        self.film_gen = nn.Sequential(
            nn.Linear(7, 64), nn.ReLU(), nn.Linear(64, 2 * blocks * channels))
        nn.init.zeros_(self.film_gen[2].weight)
        nn.init.zeros_(self.film_gen[2].bias)
        self.stem = nn.Conv2d(3 + 2, channels, kernel_size=3, padding=1)
        self.stem_bn = nn.BatchNorm2d(channels)
        self.blocks = nn.ModuleList([FiLMedResBlock(channels, bug) for _ in range(blocks)])
        self.classifier = nn.Conv2d(channels + 2, 64, kernel_size=1)
        self.fc = nn.Linear(64, ANSWERS)

    def forward(self, image, question):
        if self.bug == "question-not-fed":
            # BUG (question-not-fed): the generator is given a zero question (a placeholder
            # left from an image-only test): gamma and beta are the same for every question.
            question = torch.zeros_like(question)
        film = self.film_gen(question).view(-1, self.nblocks, 2, self.channels)
        x = F.relu(self.stem_bn(self.stem(torch.cat([image, coord_map(image)], 1))))
        for k, block in enumerate(self.blocks):
            x = block(x, film[:, k, 0], film[:, k, 1])
        x = F.relu(self.classifier(torch.cat([x, coord_map(x)], 1)))
        x = torch.amax(x, dim=(2, 3))
        return self.fc(x)


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--train", type=int, default=4096)
    p.add_argument("--bug", default=None, choices=BUGS)
    args = p.parse_args()
    common.torch_setup(args.seed)

    img, q, a, _ = make_scenes(args.train, seed=args.seed)
    v_img, v_q, v_a, v_t = make_scenes(1024, seed=1000 + args.seed)
    model = FiLMNet(args.channels, args.blocks, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    steps_per_epoch = (len(img) + args.batch_size - 1) // args.batch_size
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=ANSWERS,
        batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    by_type = {}
    for epoch in range(args.epochs):
        model.train()
        batches = torch.split(torch.randperm(len(img), generator=g), args.batch_size)
        for b, idx in enumerate(batches):
            xb, qb, yb = img[idx], q[idx], a[idx]
            optimizer.zero_grad()
            logits = model(xb, qb)
            loss = criterion(logits, yb)
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == len(batches) - 1:
                model.eval()
                with torch.no_grad():
                    vl = model(v_img, v_q)
                    val_loss = criterion(vl, v_a).item()
                    hit = (vl.argmax(1) == v_a).float()
                    val_acc = hit.mean().item()
                    by_type = {"val_acc_" + name: hit[v_t == t].mean().item()
                               for t, name in enumerate(TYPES)}
                model.train()
            rec.step(loss, accuracy=acc, inputs=(xb, qb), targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: loss %.4f acc %.3f val %.4f acc %.3f (%s)" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, " ".join("%s %.3f" % (k[8:], v) for k, v in by_type.items())),
            flush=True)
    rec.close()
    common.report(history.result(**by_type))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "film-gamma-not-offset", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong model formula (FiLM's scale written as gamma "
               "instead of 1 + gamma with a zero-initialized generator)",
     "bug": "FiLM scales by gamma instead of 1 + gamma while the generator's last layer starts "
            "at zero, so every block's normalized features are multiplied by zero: in 10 "
            "epochs (640 steps) the loss goes from 2.03 to 1.96, the held-out accuracy ends "
            "at 0.246, the answer prior (shape 0.386, left 0.340, nearest 0.000), and its loss "
            "at 1.969, against the twin's 0.746 (shape 0.870, left 0.992, nearest 0.340) and "
            "0.483",
     "fix": "out = (1 + g) * out + b",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug gamma-not-offset --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "film-question-not-fed", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing input (the question never reaches the FiLM "
               "generator: an image-only model)",
     "bug": "the FiLM generator is given a zero question, so gamma and beta are the same "
            "for every question and the answer can only follow the image: the loss goes from "
            "2.02 to 1.91, the held-out accuracy ends at 0.231 (the answer prior) and its loss "
            "at 2.011, against the twin's 0.775 and 0.410",
     "fix": "feed the question to the generator (remove the zeroing line)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug question-not-fed --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-film", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a FiLM network answering questions about small Sort-of-CLEVR scenes",
     "healthy": [
         {"id": "channels24-seed2",
          "args": "--channels 24 --seed 2 --record-every 4",
          "description": "24 channels in the stem and the FiLM blocks"},
     ]},
]


if __name__ == "__main__":
    main()
