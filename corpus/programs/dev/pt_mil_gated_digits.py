"""Multiple-instance learning with gated attention pooling (Ilse, Tomczak and Welling 2018,
"Attention-based Deep Multiple Instance Learning", arXiv:1802.04712) on bags of digits.

A bag is 5 to 15 of scikit-learn's 8x8 digit images drawn at random; it is positive when it
holds at least one '7' (half the bags are made positive by putting one to three 7s into them),
and only the bag's label is known. The pixels are scaled from 0..16 to 0..1. The model
(``GatedAttentionMIL``): a small CNN instance encoder (``encoder``: two ``Conv2d`` with ReLU and
max pooling, then a ``Linear`` to ``--hidden`` features), the gated attention of the paper
(``attention_V``: Linear + tanh, ``attention_U``: Linear + sigmoid, their product scored by
``attention_w``, a softmax over the bag's instances) and a linear bag classifier
(``classifier``) on the attention-weighted sum of the instance features. One bag per optimizer
step (the batch is the bag: its size changes every step), ``nn.BCEWithLogitsLoss``, Adam. The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


def make_bags(images, labels, n_bags, rng):
    sevens = np.flatnonzero(labels == 7)
    others = np.flatnonzero(labels != 7)
    bags, targets = [], []
    for i in range(n_bags):
        size = int(rng.integers(5, 16))
        positive = i % 2 == 0
        if positive:
            k = int(rng.integers(1, 4))
            idx = np.concatenate([rng.choice(sevens, k), rng.choice(others, size - k)])
        else:
            idx = rng.choice(others, size)
        rng.shuffle(idx)
        bags.append(torch.tensor(images[idx], dtype=torch.float32).unsqueeze(1))
        targets.append(float(positive))
    order = rng.permutation(n_bags)
    return [bags[i] for i in order], [targets[i] for i in order]


class GatedAttentionMIL(nn.Module):
    def __init__(self, channels, hidden, attn, sigmoid_output=False):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(2 * channels * 4, hidden), nn.ReLU())
        self.attention_V = nn.Sequential(nn.Linear(hidden, attn), nn.Tanh())
        self.attention_U = nn.Sequential(nn.Linear(hidden, attn), nn.Sigmoid())
        self.attention_w = nn.Linear(attn, 1)
        self.classifier = nn.Linear(hidden, 1)
        self.sigmoid_output = sigmoid_output

    def forward(self, bag):
        h = self.encoder(bag)                                    # (instances, hidden)
        a = self.attention_w(self.attention_V(h) * self.attention_U(h))   # (instances, 1)
        a = torch.softmax(a.t(), dim=1)                          # (1, instances)
        z = a @ h                                                # (1, hidden)
        logit = self.classifier(z).squeeze(1)
        if self.sigmoid_output:
            # BUG (sigmoid-then-bce-logits): the bag probability is returned and
            # BCEWithLogitsLoss applies its own sigmoid to it again.
            return torch.sigmoid(logit)
        return logit


def main():
    p = common.parser(__doc__)
    p.add_argument("--bags", type=int, default=160, help="training bags")
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--attn", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--bug", default=None,
                   choices=("sigmoid-then-bce-logits", "missing-zero-grad", "frozen-encoder"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x = (x / 16.0).reshape(-1, 8, 8)
    xtr, xva, ytr, yva = common.split(x, y, seed=args.seed)
    rng = np.random.default_rng(args.seed)
    train_bags, train_y = make_bags(xtr, ytr, args.bags, rng)
    val_bags, val_y = make_bags(xva, yva, 60, rng)

    model = GatedAttentionMIL(args.channels, args.hidden, args.attn,
                              sigmoid_output=args.bug == "sigmoid-then-bce-logits")
    if args.bug == "frozen-encoder":
        # BUG (frozen-encoder): copied from a script that fine-tuned a pretrained encoder:
        # this encoder is random and is never trained.
        for param in model.encoder.parameters():
            param.requires_grad = False
    optimizer = torch.optim.Adam([q for q in model.parameters() if q.requires_grad],
                                 lr=args.lr, weight_decay=args.weight_decay)
    criterion = nn.BCEWithLogitsLoss()
    steps_per_epoch = len(train_bags)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification", loss_name="BCEWithLogitsLoss",
        steps_per_epoch=steps_per_epoch, num_classes=2, batch_size=1)
    history = common.History()
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(len(train_bags))
        for b, i in enumerate(order):
            bag, target = train_bags[i], torch.tensor([train_y[i]])
            if args.bug != "missing-zero-grad":
                optimizer.zero_grad()
            # BUG (missing-zero-grad): no optimizer.zero_grad(): each bag's gradient is
            # added to the sum of all earlier ones.
            out = model(bag)
            loss = criterion(out, target)
            loss.backward()
            optimizer.step()
            prob = out if args.bug == "sigmoid-then-bce-logits" else torch.sigmoid(out)
            acc = float((prob.detach() > 0.5).float().eq(target).float().mean())
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    losses, hits = [], 0
                    for vb, vt in zip(val_bags, val_y):
                        vo = model(vb)
                        vtt = torch.tensor([vt])
                        losses.append(criterion(vo, vtt).item())
                        vp = vo if args.bug == "sigmoid-then-bce-logits" else torch.sigmoid(vo)
                        hits += int((vp > 0.5).float().item() == vt)
                    val_loss, val_acc = float(np.mean(losses)), hits / len(val_bags)
                model.train()
            rec.step(loss, accuracy=acc, inputs=bag, targets=target,
                     val_loss=val_loss, val_accuracy=val_acc)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_acc)
        print("epoch %d: train %.4f acc %.3f val %.4f val_acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "milgate-missing-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad(); AUTOTRAINER / DeepFD: "
               "wrong gradient update",
     "bug": "no optimizer.zero_grad() in the bag loop: every bag's gradient is added to the "
            "sum of all earlier bags', Adam follows that running sum and the bag loss is 0.71 "
            "in the first epoch and 0.74 in the fifth (accuracy 0.43, validation 0.50), "
            "against the twin's 0.073 and 0.88",
     "fix": "optimizer.zero_grad() before the forward pass of each bag",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["oscillation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug missing-zero-grad --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "milgate-frozen-encoder", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: layer frozen by mistake (requires_grad = False on the "
               "instance encoder, copied from a script that fine-tuned a pretrained one)",
     "bug": "the instance encoder's parameters get requires_grad = False and stay random; "
            "only the attention and the bag classifier learn and the bag loss stays at 0.69 "
            "from the first epoch to the fifth (accuracy 0.50, validation 0.50), against the "
            "twin's 0.036 and 1.00",
     "fix": "train the encoder (no requires_grad = False)",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": {"layer_name": "encoder.0", "layer_index": 0},
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--bug frozen-encoder --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "milgate-sigmoid-then-bce-logits", "split": "dev", "architecture": "cnn",
     "origin": "DeepLocalize benchmark (Stack Overflow: sigmoid output fed to "
               "BCEWithLogitsLoss); Humbatova et al. 2020: wrong loss function for the output",
     "bug": "the model returns torch.sigmoid of the bag logit and BCEWithLogitsLoss applies "
            "its own sigmoid again: the loss falls from 0.72 to 0.693 (log 2) and stays there, "
            "every bag is called positive (accuracy 0.50, validation 0.50) after 5 epochs, "
            "against the twin's 0.14 and 0.98",
     "fix": "return the logit",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["saturation", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--bug sigmoid-then-bce-logits --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-milgate", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "gated-attention multiple-instance learning on bags of digits, one bag "
                    "per step, that trains well",
     "healthy": [
         {"id": "lr2e-3-seed4",
          "args": "--lr 2e-3 --seed 4 --record-every 4",
          "description": "Adam at 2e-3"},
     ]},
]


if __name__ == "__main__":
    main()
