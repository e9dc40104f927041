"""A 1-D convolutional sequence classifier in PyTorch, trained with gradient accumulation over
micro-batches.

The sequences are generated here: two sensors (channels) that see the same periodic waveform
(a sine, a square wave, a sawtooth or a train of short pulses, 2 to 6 cycles per window,
random phase and amplitude), the second one delayed and attenuated, both with noise; the class
is the waveform. Time reversal keeps the class, so the training batches can be augmented with
it (``--flip``: each sequence reversed with probability 1/2) and with extra noise (``--noise``).

``SeqConvNet`` is a stem ``Conv1d`` (kernel 7) and two ``Conv1d`` layers (kernel 5), each
followed by ``BatchNorm1d`` and the activation ``--act`` (the first two also by max-pooling),
then a global average pool, dropout (``--dropout``) and a ``Linear`` head. The loop walks each epoch in
micro-batches of ``--micro-batch`` samples and accumulates the gradients of ``--accum`` of
them (each micro-batch's loss divided by ``--accum``) before one optimizer step: the gradients
are cleared after each step, not after each backward pass. It clips the gradient norm
(``--clip``), uses label smoothing (``--label-smoothing``), AdamW with weight decay on the
weights of the convolutions and the head only (parameter groups: no decay for biases and
BatchNorm), and a learning-rate schedule stepped once per optimizer step (``--schedule``:
``none``, ``warmup-cosine:W`` (a linear warm-up over W steps, then a cosine to 0),
``onecycle`` (OneCycleLR) or ``step:E,G`` (StepLR: times G every E epochs)). The recorder
steps once per optimizer step, with the mean loss, the accuracy and the inputs and targets of
the step's micro-batches. The mistakes of the families in CASES are selected with
``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
CLASSES = ("sine", "square", "sawtooth", "pulses")


def waveforms(n, length, seed):
    """(n, 2, length) float32 sequences and their class (0..3)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(CLASSES), size=n)
    t = np.arange(length + 8) / length
    x = np.empty((n, 2, length), dtype=np.float32)
    for i in range(n):
        cycles = rng.uniform(2.0, 6.0)
        phase = rng.uniform(0.0, 1.0)
        u = (cycles * t + phase) % 1.0            # position within the cycle, 0..1
        if y[i] == 0:
            s = np.sin(2 * math.pi * u)
        elif y[i] == 1:
            s = np.where(u < 0.5, 1.0, -1.0)
        elif y[i] == 2:
            s = 2 * u - 1
        else:
            s = 2 * np.exp(-((u - 0.5) / 0.06) ** 2) - 0.4
        amp = rng.uniform(0.5, 1.5)
        delay = int(rng.integers(1, 8))
        x[i, 0] = amp * s[8:] + 0.35 * rng.standard_normal(length)
        x[i, 1] = 0.6 * amp * s[8 - delay:length + 8 - delay] + 0.35 * rng.standard_normal(length)
    return x, y.astype(np.int64)


class SeqConvNet(nn.Module):
    def __init__(self, channels, act, dropout, classes, probabilities=False):
        super().__init__()
        make_act = {"relu": nn.ReLU, "gelu": nn.GELU}[act]
        self.stem = nn.Conv1d(2, channels, 7, padding=3)
        self.stem_bn = nn.BatchNorm1d(channels)
        self.conv1 = nn.Conv1d(channels, channels, 5, padding=2)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, 2 * channels, 5, padding=2)
        self.bn2 = nn.BatchNorm1d(2 * channels)
        self.act0, self.act1, self.act2 = make_act(), make_act(), make_act()
        self.pool = nn.MaxPool1d(2)
        self.gap = nn.AdaptiveAvgPool1d(1)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * channels, classes)
        # BUG (ce-on-softmax): the forward pass ends in a softmax, so that the model "returns
        # probabilities" for prediction, and the training loss is still CrossEntropyLoss.
        self.probs = nn.Softmax(dim=1) if probabilities else None

    def forward(self, x):
        h = self.pool(self.act0(self.stem_bn(self.stem(x))))
        h = self.pool(self.act1(self.bn1(self.conv1(h))))
        h = self.act2(self.bn2(self.conv2(h)))
        out = self.head(self.drop(self.gap(h).flatten(1)))
        return self.probs(out) if self.probs is not None else out


def parameter_groups(model, weight_decay, bug):
    """Weight decay on the convolution and Linear weights, none on biases and BatchNorm."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if bug == "decay-groups":
            # BUG: "weights" picked as the 2-D parameters (written for an MLP): the Conv1d
            # kernels are 3-D, so they land in neither group and the optimizer never sees them.
            if p.ndim == 2:
                decay.append(p)
            elif p.ndim == 1:
                no_decay.append(p)
        elif p.ndim >= 2:
            decay.append(p)
        else:
            no_decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


def make_schedule(optimizer, spec, steps_per_epoch, epochs, lr, bug):
    total = steps_per_epoch * epochs
    kind, _, value = spec.partition(":")
    if kind == "none":
        return None
    if kind == "warmup-cosine":
        warm = int(value)

        def factor(s):
            if s < warm:
                return (s + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm)))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total)
    if kind == "step":
        epochs, gamma = value.split(",")
        every = int(epochs) * steps_per_epoch
        if bug == "step-in-epochs":
            # BUG: the step size is given in epochs but the scheduler is stepped once per
            # optimizer step: the learning rate is multiplied by gamma every few steps.
            every = int(epochs)
        return torch.optim.lr_scheduler.StepLR(optimizer, every, float(gamma))
    raise SystemExit("unknown schedule: %s" % spec)


def main():
    p = common.parser(__doc__)
    p.add_argument("--samples", type=int, default=1600)
    p.add_argument("--length", type=int, default=96)
    p.add_argument("--channels", type=int, default=16)
    p.add_argument("--act", default="relu", choices=("relu", "gelu"))
    p.add_argument("--dropout", type=float, default=0.2)
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "momentum", "sgd"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--wd", type=float, default=0.01, help="weight decay of the weights' group")
    p.add_argument("--schedule", default="warmup-cosine:20")
    p.add_argument("--micro-batch", type=int, default=16)
    p.add_argument("--accum", type=int, default=4, help="micro-batches per optimizer step")
    p.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping (0: none)")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--noise", type=float, default=0.1, help="augmentation: extra noise std")
    p.add_argument("--flip", action="store_true", help="augmentation: random time reversal")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("accum-no-zero-grad", "ce-on-softmax", "decay-groups",
                            "step-in-epochs"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = waveforms(args.samples, args.length, args.seed)
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    mean = x_tr.mean(axis=(0, 2), keepdims=True)
    std = x_tr.std(axis=(0, 2), keepdims=True)
    x_tr, x_val = (x_tr - mean) / std, (x_val - mean) / std
    X, Y = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    X_val, Y_val = torch.from_numpy(x_val), torch.from_numpy(y_val)

    model = SeqConvNet(args.channels, args.act, args.dropout, len(CLASSES),
                       probabilities=args.bug == "ce-on-softmax")
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    groups = parameter_groups(model, args.wd, args.bug)
    optimizer = {"adamw": lambda: torch.optim.AdamW(groups, lr=args.lr),
                 "momentum": lambda: torch.optim.SGD(groups, lr=args.lr, momentum=0.9),
                 "sgd": lambda: torch.optim.SGD(groups, lr=args.lr)}[args.optimizer]()
    micro_per_epoch = -(-len(X) // args.micro_batch)
    steps_per_epoch = -(-micro_per_epoch // args.accum)
    schedule = make_schedule(optimizer, args.schedule, steps_per_epoch, args.epochs, args.lr,
                             args.bug)
    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch,
        num_classes=len(CLASSES), batch_size=args.micro_batch * args.accum)
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)

    def augment(xb):
        if args.flip:
            reverse = torch.rand(len(xb), generator=g) < 0.5
            xb = torch.where(reverse[:, None, None], xb.flip(-1), xb)
        if args.noise:
            xb = xb + args.noise * torch.randn(xb.shape, generator=g)
        return xb

    optimizer.zero_grad()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(X), generator=g)
        window_loss, window_x, window_y, window_hits = 0.0, [], [], 0
        for m in range(micro_per_epoch):
            idx = perm[m * args.micro_batch:(m + 1) * args.micro_batch]
            xb, yb = augment(X[idx]), Y[idx]
            out = model(xb)
            loss = criterion(out, yb) / args.accum
            loss.backward()
            window_loss += loss.item()
            window_x.append(xb)
            window_y.append(yb)
            window_hits += int((out.argmax(1) == yb).sum())
            last = m == micro_per_epoch - 1
            if (m + 1) % args.accum != 0 and not last:
                continue
            if args.clip:
                nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            if schedule is not None:
                schedule.step()
            xs, ys = torch.cat(window_x), torch.cat(window_y)
            acc = window_hits / len(ys)
            # An epoch's last window may hold fewer micro-batches: its loss is a mean over them.
            step_loss = window_loss * args.accum / len(window_x)
            val_loss = val_acc = None
            if last:
                model.eval()
                with torch.no_grad():
                    v = model(X_val)
                    val_loss = criterion(v, Y_val).item()
                    val_acc = (v.argmax(1) == Y_val).float().mean().item()
                model.train()
            rec.step(step_loss, accuracy=acc, inputs=xs, targets=ys, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(step_loss, acc)
            if args.bug != "accum-no-zero-grad":
                optimizer.zero_grad()
            # BUG (accum-no-zero-grad): the gradients are cleared once before training and
            # never after an optimizer step: every window adds to the sum of all earlier ones.
            window_loss, window_x, window_y, window_hits = 0.0, [], [], 0
        history.epoch(val_loss, val_acc)
        print("epoch %d: val loss %.4f acc %.3f lr %.2g" % (
            epoch + 1, val_loss, val_acc, optimizer.param_groups[0]["lr"]))
    rec.close()
    # The modules that own parameters, in the order forward() runs them.
    layers = ["stem", "stem_bn", "conv1", "bn1", "conv2", "bn2", "head"]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "seqacc-accum-missing-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradient accumulation over "
               "micro-batches with the reset after the optimizer step left out)",
     "bug": "the loop accumulates 4 micro-batches per optimizer step but clears the gradients "
            "only once, before training: every window's gradient is added to the sum of all "
            "earlier windows, the SGD-momentum updates grow with the step count, the "
            "validation loss reaches about 100 and the accuracy stays near 0.4 of four classes",
     "fix": "optimizer.zero_grad() after every optimizer step (every 4 micro-batches)",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-accum4",
          "buggy": "--optimizer momentum --lr 0.05 --clip 0 --bug accum-no-zero-grad --record-every 2",
          "fixed": "--optimizer momentum --lr 0.05 --clip 0 --record-every 2"},
     ]},
    {"family": "seqacc-ce-on-softmax", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (cross-entropy applied to an already "
               "softmaxed output: nn.Softmax at the end of forward() before nn.CrossEntropyLoss)",
     "bug": "forward() ends in nn.Softmax (the model 'returns probabilities') and the loss is "
            "CrossEntropyLoss, which applies log-softmax again: the loss cannot fall far below "
            "ln 4, its gradients are small, and with SGD momentum under OneCycleLR the run "
            "ends near 0.64 validation accuracy",
     "fix": "the softmax removed from forward() (CrossEntropyLoss on the logits)",
     "symptom": "loss_mismatch",
     "acceptable_symptoms": ["slow_convergence", "not_learning", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-onecycle",
          "buggy": "--optimizer momentum --lr 0.02 --schedule onecycle --bug ce-on-softmax --record-every 2",
          "fixed": "--optimizer momentum --lr 0.02 --schedule onecycle --record-every 2"},
     ]},
    {"family": "seqacc-decay-groups-drop-convs", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: layers frozen by mistake (AdamW parameter groups for "
               "weight decay that leave the convolution kernels out of the optimizer)",
     "bug": "the parameter groups take the 2-D parameters as the weights to decay (written for "
            "an MLP): the Conv1d kernels are 3-D and land in neither group, so the three "
            "convolutions keep their random initial kernels (only their biases, the BatchNorm "
            "layers and the head train) and the run ends near 0.55 validation accuracy",
     "fix": "the decay group is every parameter with two or more dimensions",
     "symptom": "unchanged_values", "acceptable_symptoms": ["not_learning", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-warmup-cosine",
          "buggy": "--bug decay-groups --record-every 2",
          "fixed": "--record-every 2"},
     ]},
    {"family": "seqacc-onecycle-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "OneCycleLR with max_lr=20 on SGD with momentum 0.9 (meant 0.2): as the cycle "
            "ramps up the updates overshoot, the validation loss reaches about 44 and the "
            "accuracy falls to chance (0.26 of four classes)",
     "fix": "max_lr=0.2",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient",
                             "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 20 --schedule onecycle --record-every 2",
          "fixed": "--optimizer momentum --lr 0.2 --schedule onecycle --record-every 2"},
     ]},
    {"family": "seqacc-step-lr-in-epochs", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a StepLR step size meant in "
               "epochs, stepped once per optimizer step)",
     "bug": "StepLR(step_size=3, gamma=0.2) meant as every 3 epochs but stepped after every "
            "optimizer step: the learning rate is divided by 5 every 3 steps, is below 1e-6 "
            "from about step 21 of 120 on, and the weights stop changing with the validation "
            "accuracy near 0.5",
     "fix": "step_size = 3 epochs x the optimizer steps per epoch",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 0.05 --schedule step:3,0.2 --bug step-in-epochs --record-every 2",
          "fixed": "--optimizer momentum --lr 0.05 --schedule step:3,0.2 --record-every 2"},
     ]},
    {"family": "healthy-seqacc", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a 1-D CNN sequence classifier trained with gradient accumulation that "
                    "trains well",
     "healthy": [
         {"id": "adamw-flip-lr5e-3",
          "args": "--flip --lr 5e-3 --epochs 8 --record-every 2",
          "description": "AdamW with warm-up and cosine, 4 micro-batches per step, label "
                         "smoothing 0.1, clipping at norm 1, noise and time-reversal "
                         "augmentation"},
         {"id": "momentum-onecycle-dropout05-gelu-seed1",
          "args": "--optimizer momentum --lr 0.2 --schedule onecycle --accum 2 --micro-batch 32 --dropout 0.5 --label-smoothing 0 --act gelu --seed 1 --record-every 2",
          "description": "SGD momentum under OneCycleLR, 2 micro-batches per step, dropout 0.5, "
                         "GELU"},
         {"id": "adamw-step-no-accum-seed2",
          "args": "--schedule step:3,0.3 --accum 1 --micro-batch 32 --channels 24 --wd 0.05 --clip 0 --seed 2 --record-every 2",
          "description": "AdamW with weight decay 0.05 and a step schedule, no accumulation, "
                         "no clipping"},
         {"id": "sgd-accum8-seed3",
          "args": "--optimizer sgd --lr 0.1 --schedule none --accum 8 --micro-batch 8 --noise 0 --seed 3 --record-every 2",
          "description": "plain SGD at a constant learning rate, 8 micro-batches of 8 per step"},
     ]},
]


if __name__ == "__main__":
    main()
