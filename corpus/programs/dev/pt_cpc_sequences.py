"""Contrastive Predictive Coding (CPC, van den Oord, Li & Vinyals 2018) on generated sensor
signals, written as the CPC PyTorch re-implementations write it (``jefflai108/Contrastive-
Predictive-Coding-PyTorch``'s ``CDCK2``: a strided convolutional encoder, a GRU context network,
one linear predictor W_k per horizon, the other sequences of the batch as negatives), then a
linear probe on the context vector.

Data (``sensor_signals``, generated): vibration recordings of 128 samples of a machine in one
of four states, each the sum of two sines whose frequencies depend on the state (0.020 and
0.110, 0.045 and 0.085, 0.030 and 0.065 cycles a sample, the fourth 0.055 with its amplitude
modulated at 0.012), each frequency jittered by up to 10% per recording, random phases and
amplitudes (0.6 to 1.4), plus AR(1) noise (coefficient 0.7, std 0.3); 1200 recordings, 300
held out, standardized by the training set's mean and std.

``CPC``: the ``encoder`` (Conv1d 1 -> 32, kernel 8, stride 4, ReLU, Conv1d 32 -> 32, kernel
4, stride 2, ReLU) turns a recording into 16 encodings z_t; the ``gru`` (32 units,
``batch_first``) reads z_0..z_t (``z[:, :t + 1]``, causal) and its last output is the context
c_t, at a time t drawn per batch; ``Wk`` holds one ``Linear`` per horizon k = 1..``--horizons``
predicting z_{t+k} from c_t. For each k the logits are the dot products of the L2-normalized
predictions of the batch with the L2-normalized encodings z_{t+k} of the batch, divided by a
temperature (``--temperature``, 0.1): a B x B matrix whose diagonal holds the positives and
whose other columns are the other sequences' encodings at t+k (the negatives). The K matrices
are stacked into (K * B) x B and the InfoNCE loss is ``F.cross_entropy`` against
``torch.arange(B).repeat(K)``; the training accuracy is the share of rows whose largest logit
is the positive. Adam (``--lr``), batches of ``--batch-size`` (the last partial batch
dropped). Once per epoch the validation loss is the InfoNCE loss of the held-out recordings
(t fixed at 8, batches of the same size), and the validation accuracy a linear probe: a
logistic regression (scikit-learn) on the standardized context vectors after the whole
recording of ``--labels-per-class`` labelled training recordings a state, scored on the
held-out ones. The result line adds the probe of the untrained network (``probe_untrained``).
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

np = common.np

STATES = [((0.020, 0.110), None), ((0.045, 0.085), None), ((0.030, 0.065), None),
          ((0.055,), 0.012)]


def sensor_signals(n, length, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(STATES), size=n)
    t = np.arange(length)
    x = np.empty((n, length), dtype=np.float64)
    for i in range(n):
        freqs, am = STATES[y[i]]
        s = np.zeros(length)
        for f in freqs:
            f = f * rng.uniform(0.9, 1.1)
            s += rng.uniform(0.6, 1.4) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
        if am is not None:
            s *= 1.0 + 0.8 * np.sin(2 * np.pi * am * rng.uniform(0.9, 1.1) * t
                                    + rng.uniform(0, 2 * np.pi))
        e = np.zeros(length)
        noise = 0.3 * rng.standard_normal(length)
        for j in range(length):
            e[j] = (0.7 * e[j - 1] if j else 0.0) + noise[j]
        x[i] = s + e
    return x, y


class CPC(nn.Module):
    def __init__(self, dim, horizons, temperature, bug=None):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv1d(1, dim, kernel_size=8, stride=4, padding=2), nn.ReLU(),
            nn.Conv1d(dim, dim, kernel_size=4, stride=2, padding=1), nn.ReLU())
        self.gru = nn.GRU(dim, dim, batch_first=True)
        self.Wk = nn.ModuleList([nn.Linear(dim, dim) for _ in range(horizons)])
        self.horizons = horizons
        self.temperature = temperature
        self.bug = bug

    def encode(self, x):
        return self.encoder(x.unsqueeze(1)).transpose(1, 2)      # B, T, D

    def context(self, x):
        """The context vector after the whole recording (for the probe)."""
        _, h = self.gru(self.encode(x))
        return h[-1]

    def forward(self, x, t):
        z = self.encode(x)
        batch = z.shape[0]
        if self.bug == "context-sees-future":
            # BUG (context-sees-future): the GRU run over the whole sequence and its final
            # hidden state taken as c_t: the context has already read z_{t+1}..z_{t+K}.
            _, h = self.gru(z)
            c_t = h[-1]
        else:
            output, _ = self.gru(z[:, :t + 1])
            c_t = output[:, -1]
        logits = []
        for k in range(1, self.horizons + 1):
            target = F.normalize(z[:, t + k], dim=-1)
            if self.bug == "predict-from-encoding":
                # BUG (predict-from-encoding): the prediction made from the encoding z_{t+k}
                # itself instead of the context c_t: the target leaks into its prediction.
                pred = F.normalize(self.Wk[k - 1](z[:, t + k]), dim=-1)
            else:
                pred = F.normalize(self.Wk[k - 1](c_t), dim=-1)
            logits.append(pred @ target.T / self.temperature)      # B x B, positives on the diagonal
        logits = torch.stack(logits).reshape(self.horizons * batch, batch)
        if self.bug == "labels-misaligned":
            # BUG (labels-misaligned): the labels built for a (B * K) layout, sequence by
            # sequence, while the rows are stacked horizon by horizon (K * B): the "positive"
            # of row k * B + i is sequence (k * B + i) // K, not i.
            labels = torch.arange(batch).repeat_interleave(self.horizons)
        else:
            labels = torch.arange(batch).repeat(self.horizons)
        loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(1) == torch.arange(batch).repeat(self.horizons)).float().mean()
        return loss, acc, labels


def probe_accuracy(model, x_lab, y_lab, x_val, y_val):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    model.eval()
    with torch.no_grad():
        f_lab = model.context(x_lab).numpy()
        f_val = model.context(x_val).numpy()
    model.train()
    scaler = StandardScaler().fit(f_lab)
    clf = LogisticRegression(max_iter=2000, C=1.0)
    clf.fit(scaler.transform(f_lab), y_lab)
    return float(clf.score(scaler.transform(f_val), y_val))


def main():
    p = common.parser(__doc__)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--horizons", type=int, default=3)
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--labels-per-class", type=int, default=10)
    p.add_argument("--bug", default=None, choices=("labels-misaligned", "context-sees-future",
                                                    "predict-from-encoding"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = sensor_signals(1200, 128, seed=args.seed)
    x_train, x_val, y_train, y_val = common.split(x, y, val=0.25, seed=args.seed)
    mean, std = x_train.mean(), x_train.std()
    xt = torch.tensor((x_train - mean) / std, dtype=torch.float32)
    xv = torch.tensor((x_val - mean) / std, dtype=torch.float32)
    lab = np.concatenate([np.flatnonzero(y_train == c)[:args.labels_per_class]
                          for c in range(len(STATES))])
    x_lab, y_lab = xt[lab], y_train[lab]

    model = CPC(args.dim, args.horizons, args.temperature, bug=args.bug)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = len(xt) // args.batch_size   # the last partial batch is dropped
    n_steps = model.encode(xt[:1]).shape[1]
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", num_classes=args.batch_size,
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    probe0 = probe_accuracy(model, x_lab, y_lab, xv, y_val)
    print("probe before training: %.3f" % probe0)
    val_batches = len(xv) // args.batch_size
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for b in range(steps_per_epoch):
            xb = xt[perm[b * args.batch_size:(b + 1) * args.batch_size]]
            t = int(torch.randint(1, n_steps - args.horizons, (1,), generator=g))
            loss, acc, labels = model(xb, t)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                model.eval()
                with torch.no_grad():
                    val_loss = float(np.mean([
                        model(xv[i * args.batch_size:(i + 1) * args.batch_size], 8)[0].item()
                        for i in range(val_batches)]))
                model.train()
                val_acc = probe_accuracy(model, x_lab, y_lab, xv, y_val)
            rec.step(loss, accuracy=acc, inputs=xb, targets=labels, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("epoch %d: infonce %.4f top1 %.3f val %.4f probe %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()
    common.report(history.result(probe_untrained=probe0))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cpc-labels-misaligned", "split": "dev", "architecture": "gru",
     "origin": "Humbatova et al. 2020 (training data: wrong labels); the InfoNCE targets of "
               "stacked similarity matrices built for the wrong layout, a frequent mistake in "
               "contrastive re-implementations",
     "bug": "the InfoNCE labels torch.arange(B).repeat_interleave(K) for logits stacked "
            "horizon by horizon (K * B rows): most rows' target is another sequence, the loss "
            "stays at log(64) = 4.16 (first epoch 4.34, last 4.159), the top-1 accuracy at "
            "0.017 and the 10-labels-a-state linear probe on the context ends at 0.413, below "
            "the untrained network's 0.463, where the twin's loss falls from 4.29 to 2.00, its "
            "top-1 reaches 0.500 and its probe 0.637",
     "fix": "labels = torch.arange(B).repeat(K), the positive of row k * B + i on column i",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug labels-misaligned --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "cpc-adam-lr-too-high", "split": "dev", "architecture": "gru",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "Adam at 0.05 (meant 2e-3): the encodings collapse, the loss sits at log(64) = "
            "4.159 from the second epoch on, the top-1 accuracy at 1/64 and the linear probe "
            "ends at 0.237 (chance 0.25; untrained 0.453), where the twin's loss falls from "
            "4.25 to 1.99, its top-1 reaches 0.483 and its probe 0.670",
     "fix": "learning rate 2e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--lr 0.05 --seed 1 --record-every 4",
          "fixed": "--lr 2e-3 --seed 1 --record-every 4"},
     ]},
    {"family": "healthy-cpc", "split": "dev", "architecture": "gru",
     "origin": "healthy run",
     "description": "CPC on sensor recordings whose InfoNCE loss falls and whose linear probe "
                    "on the context rises well above the untrained network's",
     "healthy": [
         {"id": "horizons4-seed3",
          "args": "--horizons 4 --seed 3 --record-every 4",
          "description": "four prediction horizons, Adam 2e-3, temperature 0.1"},
     ]},
]


if __name__ == "__main__":
    main()
