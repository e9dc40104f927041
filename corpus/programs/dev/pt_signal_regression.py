"""A 1-D convolutional regressor in PyTorch: estimate the frequency of a noisy recorded signal.

The signals are generated here, as a sensor would give them: a sine of random frequency
(0.5 to 4 cycles per window), amplitude and phase on a baseline of about 1.5 V, sampled 64
times, in millivolts. The target is the frequency, standardized. The network is ``--convs``
Conv1d layers (kernel 5, ``--channels`` channels, the activation ``--act``), a global average
pool and a Linear head; the training loop walks the epoch with ``index_select`` on a permutation
and keeps a running mean of the loss. The mistakes of the families in CASES show in a setting
(``--act``, ``--convs``, ``--init``, ``--lr``, ``--input-units``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402


def signals(n, length, seed):
    rng = common.np.random.default_rng(seed)
    freq = rng.uniform(0.5, 4.0, size=(n, 1))
    amp = rng.uniform(20.0, 80.0, size=(n, 1))
    phase = rng.uniform(0, 2 * math.pi, size=(n, 1))
    t = common.np.arange(length)[None, :] / length
    mv = 1500.0 + amp * common.np.sin(2 * math.pi * freq * t + phase) \
        + 5.0 * rng.standard_normal((n, length))
    return mv[:, None, :].astype("float32"), freq[:, 0].astype("float32")


class FrequencyNet(nn.Module):
    def __init__(self, channels, convs, act):
        super().__init__()
        make_act = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[act]
        stages = []
        for i in range(convs):
            stages += [nn.Conv1d(1 if i == 0 else channels, channels, 5, padding=2), make_act()]
            if i < 2:
                stages.append(nn.MaxPool1d(2))
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.head = nn.Linear(channels, 1)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--length", type=int, default=64)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--convs", type=int, default=3)
    p.add_argument("--act", default="relu", choices=("relu", "tanh", "sigmoid"))
    p.add_argument("--optimizer", default="adam", choices=("sgd", "momentum", "adam", "rmsprop"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--input-units", default="volts-centered", choices=("volts-centered", "mv"),
                   help="how the signal is fed: baseline removed and scaled to volts, or raw mV")
    p.add_argument("--init", default="default", choices=("default", "he"),
                   help="default: PyTorch's; he: Kaiming normal weights, zero biases")
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = signals(args.samples, args.length, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if args.input_units == "volts-centered":
        baseline = x_tr.mean()
        scale = x_tr.std()
        x_tr, x_val = (x_tr - baseline) / scale, (x_val - baseline) / scale
    # else BUG (when --input-units mv): the raw millivolts (about 1500 +- 80) go in as they are.
    y_mean, y_std = y_tr.mean(), y_tr.std()
    X, X_val = torch.from_numpy(x_tr), torch.from_numpy(x_val)
    Y = torch.from_numpy((y_tr - y_mean) / y_std).unsqueeze(1)
    Y_val = torch.from_numpy((y_val - y_mean) / y_std).unsqueeze(1)

    model = FrequencyNet(args.channels, args.convs, args.act)
    if args.init == "he":
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    loss_fn = nn.MSELoss()
    optimizer = {
        "sgd": lambda ps: torch.optim.SGD(ps, lr=args.lr),
        "momentum": lambda ps: torch.optim.SGD(ps, lr=args.lr, momentum=0.9),
        "adam": lambda ps: torch.optim.Adam(ps, lr=args.lr),
        "rmsprop": lambda ps: torch.optim.RMSprop(ps, lr=args.lr),
    }[args.optimizer](model.parameters())
    steps_per_epoch = -(-len(X) // args.batch_size)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="regression", loss_name="MSELoss",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(X), generator=g)
        running = 0.0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            xb, yb = X.index_select(0, idx), Y.index_select(0, idx)
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            running += (loss.item() - running) / (step + 1)
            val_loss = None
            if step == steps_per_epoch - 1:
                with torch.no_grad():
                    val_loss = loss_fn(model(X_val), Y_val).item()
            rec.step(loss, inputs=xb, targets=yb, val_loss=val_loss)
            history.step(loss.item())
        history.epoch(val_loss)
        print("epoch %d: train %.4f val %.4f" % (epoch + 1, running, val_loss))
    rec.close()
    common.report(history.result())


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "signal-cnn-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "SGD with momentum at learning rate 0.5 on the 1-D CNN regressor: the updates "
            "overshoot and the loss diverges",
     "fix": "learning rate 0.01",
     "symptom": "numerical_error",
     "acceptable_symptoms": ["oscillation", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 0.5",
          "fixed": "--optimizer momentum --lr 0.01"},
     ]},
    {"family": "signal-cnn-deep-sigmoid-vanishing", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER: vanishing gradient (deep sigmoid network)",
     "bug": "eight Conv1d layers with sigmoid activations: each sigmoid passes at most a "
            "quarter of the gradient back, the first layers get almost none and the output "
            "stays near the mean frequency",
     "fix": "ReLU activations with He initialization (PyTorch's default initialization does "
            "not train eight ReLU layers with this SGD either)",
     "symptom": "vanishing_gradient",
     "acceptable_symptoms": ["not_learning", "saturation", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--convs 8 --act sigmoid --optimizer sgd --lr 0.05",
          "fixed": "--convs 8 --act relu --init he --optimizer sgd --lr 0.05"},
     ]},
    {"family": "signal-cnn-raw-millivolts", "split": "dev", "architecture": "cnn",
     "origin": "DeepDiagnosis: saturated activation; Humbatova et al. 2020: missing input "
               "normalization (raw sensor units)",
     "bug": "the signals fed in raw millivolts (a baseline of 1500 mV) to tanh convolutions: "
            "the first layer's units sit at +-1 for every sample, the sine on top of the "
            "baseline does not reach the rest of the network",
     "fix": "baseline removed and the signal scaled by its standard deviation",
     "symptom": "saturation",
     "acceptable_symptoms": ["not_learning", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "tanh-adam",
          "buggy": "--act tanh --input-units mv",
          "fixed": "--act tanh"},
     ]},
    {"family": "healthy-signal-cnn", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a 1-D CNN regressor of signal frequency that trains well",
     "healthy": [
         {"id": "adam", "args": ""},
         {"id": "rmsprop-bs16-seed1", "args": "--optimizer rmsprop --lr 0.002 --batch-size 16 --epochs 3 --seed 1"},
     ]},
]


if __name__ == "__main__":
    main()
