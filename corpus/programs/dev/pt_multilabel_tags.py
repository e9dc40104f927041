"""A PyTorch multi-label tagger: several independent binary labels per sample from
scikit-learn's ``make_multilabel_classification`` (bag-of-words counts of 40 "words", 6 tags,
about two tags per document), an ``nn.Sequential`` built from an ``OrderedDict`` of named
layers, ``BCEWithLogitsLoss``, ``RMSprop`` and ``ReduceLROnPlateau`` on the validation loss.

The counts are scaled with scikit-learn's ``StandardScaler`` fitted on the training part and
served by a ``TensorDataset``/``DataLoader``. The model is ``fc1`` (Linear), ``relu1``,
``drop1``, ``fc2``, ``relu2``, ``drop2`` and ``tags`` (Linear, one logit per tag); a tag is
predicted when its logit is above 0. The accuracy is the fraction of (document, tag) decisions
that are right (the Hamming score); the result line also gives the micro-averaged F1 of the
validation set (``val_f1``), since a tagger that predicts no tag at all is already right on
about two thirds of the decisions. ``ReduceLROnPlateau`` (factor 0.5, patience 2) is stepped
once per epoch with the validation loss. The mistakes of the families in CASES are selected
with ``--bug`` or show in a setting (``--lr``, ``--l2``). The recorder is given the task and the
loss but no number of classes: the tags are not classes of one decision.
"""

import os
import sys
from collections import OrderedDict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

np = common.np

N_TAGS = 6
N_WORDS = 40


def make_data(seed, n=2000):
    from sklearn.datasets import make_multilabel_classification
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    x, y = make_multilabel_classification(n_samples=n, n_features=N_WORDS, n_classes=N_TAGS,
                                          n_labels=2, length=250, allow_unlabeled=False,
                                          random_state=seed)
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=0.2, random_state=seed)
    scaler = StandardScaler().fit(x_tr)
    return (scaler.transform(x_tr).astype(np.float32), scaler.transform(x_val).astype(np.float32),
            y_tr.astype(np.float32), y_val.astype(np.float32))


def build_model(n_in, hidden, dropout, bug=None):
    layers = OrderedDict()
    width = n_in
    for i, h in enumerate(hidden, start=1):
        layers["fc%d" % i] = nn.Linear(width, h)
        layers["relu%d" % i] = nn.ReLU()
        if dropout > 0:
            layers["drop%d" % i] = nn.Dropout(dropout)
        width = h
    layers["tags"] = nn.Linear(width, N_TAGS)
    if bug == "softmax-bce":
        # BUG: the head of the single-label version of the script: a softmax over the tags and
        # BCELoss. The tags' probabilities now sum to 1, so a document can have at most one tag
        # above 0.5, and the tags compete instead of being independent.
        layers["softmax"] = nn.Softmax(dim=1)
    return nn.Sequential(layers)


def f1_micro(pred, target):
    tp = float((pred * target).sum())
    fp = float((pred * (1 - target)).sum())
    fn = float(((1 - pred) * target).sum())
    return 2 * tp / max(1.0, 2 * tp + fp + fn)


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=common.ints, default=[64, 64])
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--alpha", type=float, default=0.99, help="RMSprop's smoothing constant")
    p.add_argument("--momentum", type=float, default=0.0)
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty added to the loss")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("softmax-bce", "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x_tr, x_val, y_tr, y_val = make_data(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    train_loader = DataLoader(TensorDataset(torch.from_numpy(x_tr), torch.from_numpy(y_tr)),
                              batch_size=args.batch_size, shuffle=True, generator=g)
    x_val_t, y_val_t = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = build_model(N_WORDS, args.hidden, args.dropout, args.bug)
    if args.bug == "softmax-bce":
        criterion = nn.BCELoss()
        decide = 0.5
    else:
        criterion = nn.BCEWithLogitsLoss()
        decide = 0.0
    optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr, alpha=args.alpha,
                                    momentum=args.momentum)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5,
                                                           patience=2)

    def l2_penalty():
        return sum((w ** 2).sum() for name, w in model.named_parameters()
                   if name.endswith("weight"))

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name=type(criterion).__name__, steps_per_epoch=len(train_loader),
        batch_size=args.batch_size)
    history = common.History()
    val_f1 = None
    for epoch in range(args.epochs):
        model.train()
        n_batches = len(train_loader)
        for b, (xb, yb) in enumerate(train_loader):
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): optimizer.zero_grad() is never called, so every backward()
            # adds its gradients to those of all the earlier batches.
            out = model(xb)
            loss = criterion(out, yb)
            if args.l2 > 0:
                loss = loss + args.l2 * l2_penalty()
            loss.backward()
            optimizer.step()
            acc = ((out > decide).float() == yb).float().mean()
            val_loss = val_acc = None
            if b == n_batches - 1:
                model.eval()
                with torch.no_grad():
                    vout = model(x_val_t)
                    val_loss = criterion(vout, y_val_t).item()
                    vpred = (vout > decide).float()
                    val_acc = (vpred == y_val_t).float().mean().item()
                    val_f1 = f1_micro(vpred, y_val_t)
                model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        scheduler.step(val_loss)
        print("epoch %d: train %.4f val %.4f acc %.3f f1 %.3f lr %.3g" % (
            epoch + 1, np.mean(history.epochs[-1][0]), val_loss, val_acc, val_f1,
            optimizer.param_groups[0]["lr"]))
    rec.close()
    common.report(history.result(val_f1=val_f1))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "mlabel-softmax-bce", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong activation of the last layer and wrong loss "
               "function (the single-label head, a softmax and BCELoss, kept for independent "
               "tags); DeepFD fault type: loss function",
     "bug": "a Softmax over the six tags after the last Linear and BCELoss on the multi-hot "
            "targets (the single-label head kept): the tags' probabilities sum to 1, so at most "
            "one tag of a document can pass 0.5 while a document carries 2.3 on average; the "
            "training loss goes from 0.569 to 0.475 in 8 epochs and the validation Hamming "
            "accuracy ends at 0.71 with a micro-F1 of 0.40, against the twin's 0.94 and 0.92 "
            "(predicting no tag at all scores 0.62 and 0)",
     "fix": "no softmax: one logit per tag and BCEWithLogitsLoss (a sigmoid per tag), a tag "
            "predicted when its logit is above 0",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop",
          "buggy": "--bug softmax-bce --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "mlabel-rmsprop-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high; AUTOTRAINER: "
               "oscillating loss",
     "bug": "RMSprop at learning rate 0.3 (meant 1e-3): the first epoch's mean loss is 607, then "
            "the epoch losses go 1.07, 0.75, 0.75, 0.80, 0.99, 0.73, 0.75 (ln 2 = 0.69 for a "
            "guess of 0.5 per tag) and the validation loss 1.53, 1.50, 1.33, 1.12, 0.87, 0.63, "
            "1.10, 0.80, so ReduceLROnPlateau never lowers the rate; the validation Hamming "
            "accuracy ends at 0.63 with a micro-F1 of 0.48 against the twin's 0.94 and 0.92",
     "fix": "RMSprop at 1e-3 with the same ReduceLROnPlateau",
     "symptom": "oscillation", "acceptable_symptoms": ["exploding_gradient", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "plateau-seed2",
          "buggy": "--lr 0.3 --seed 2 --record-every 2",
          "fixed": "--lr 1e-3 --seed 2 --record-every 2"},
     ]},
    {"family": "mlabel-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation)",
     "bug": "optimizer.zero_grad() is never called (RMSprop with momentum 0.9): every step "
            "follows the sum of all the gradients so far; the epoch losses go 1.08, 0.71, 0.70, "
            "0.72, 0.69, 0.69, 0.69, 0.69 (ln 2 = 0.69) and the validation Hamming accuracy ends "
            "at 0.54 with a micro-F1 of 0.36 against the twin's 0.93 and 0.91",
     "fix": "optimizer.zero_grad() before every forward pass",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "rmsprop-momentum",
          "buggy": "--bug no-zero-grad --momentum 0.9 --record-every 2",
          "fixed": "--momentum 0.9 --record-every 2"},
     ]},
    {"family": "mlabel-l2-dominates", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: regularization too strong (an L2 term added to the loss "
               "that dominates it); DeepFD fault type: wrong regularization",
     "bug": "an L2 penalty of 0.1 times the sum of the squared weights added to the loss: it "
            "dominates the binary cross-entropy, the weights shrink towards zero and the tagger "
            "ends predicting no tag at all; the training loss goes from 2.23 to 0.674 and the "
            "validation Hamming accuracy ends at 0.617 (the share of absent tags) with a micro-F1 "
            "of 0.0, against the twin's 0.94 and 0.92 with a factor of 1e-4",
     "fix": "an L2 factor of 1e-4",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "bs64",
          "buggy": "--l2 0.1 --batch-size 64 --record-every 2",
          "fixed": "--l2 1e-4 --batch-size 64 --record-every 2"},
     ]},
    {"family": "healthy-mlabel", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a multi-label tagger (BCEWithLogitsLoss, RMSprop, ReduceLROnPlateau) "
                    "that trains well",
     "healthy": [
         {"id": "seed1",
          "args": "--seed 1 --record-every 2",
          "description": "two hidden layers of 64, RMSprop 1e-3, batches of 32"},
         {"id": "h128-64-bs64-lr2e-3-seed3",
          "args": "--hidden 128,64 --batch-size 64 --lr 2e-3 --seed 3 --record-every 2",
          "description": "a wider tagger, batches of 64, RMSprop 2e-3"},
         {"id": "h32-nodrop-bs16-lr5e-4-seed4",
          "args": "--hidden 32 --dropout 0 --batch-size 16 --lr 5e-4 --seed 4 --record-every 2",
          "description": "one hidden layer of 32 without dropout, batches of 16, RMSprop 5e-4"},
         {"id": "h64x3-alpha0.9-seed5",
          "args": "--hidden 64,64,64 --alpha 0.9 --seed 5 --record-every 2",
          "description": "three hidden layers of 64, RMSprop with alpha 0.9"},
     ]},
]


if __name__ == "__main__":
    main()
