"""A small CNN on scikit-learn's 8x8 digits as a PyTorch Lightning ``LightningModule``, trained
by a ``Trainer``.

``DigitsCNN`` holds ``features`` (``Conv2d(1, C)``, the activation, ``Conv2d(C, 2C)``, the
activation, max-pooling; ``--bn`` adds a ``BatchNorm2d`` after each convolution) and
``classifier`` (``Linear(2C*16, H)``, the activation, dropout, ``Linear(H, 10)``), initialized
by ``self.apply(init_weights)`` (``--init``: ``default``, ``he``, ``zeros``). Pixels are divided by
16 (``--scale unit``) or standardized per pixel (``--scale standard``). ``training_step`` logs
``train_acc`` and returns the loss; ``validation_step`` logs ``val_loss`` and ``val_acc``;
``configure_optimizers`` returns the optimizer (``--optimizer``: ``adam``, ``sgd``, ``momentum``,
``rmsprop``) and, with ``--schedule``, a scheduler config (``step:E,G``: StepLR every E epochs
times G; ``cosine``: CosineAnnealingLR over the epochs). With ``--manual`` the module uses
manual optimization (``self.automatic_optimization = False``: it clears, back-propagates and
steps itself, and steps the scheduler at the end of each epoch). The Trainer runs on the CPU,
deterministic, without logger, checkpoints, progress bar or sanity validation; the recorder is
the Lightning callback. The mistakes of the families in CASES are selected with ``--bug`` or
show in a setting (``--lr``, ``--init``).
"""

import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

np = common.np


def make_model_class(pl):
    class DigitsCNN(pl.LightningModule):
        def __init__(self, args, history):
            super().__init__()
            self.args = args
            self.history = history
            act = {"relu": nn.ReLU, "tanh": nn.Tanh}[args.act]
            c = args.channels
            feats = [nn.Conv2d(1, c, 3, padding=1)]
            if args.bn:
                feats.append(nn.BatchNorm2d(c))
            feats += [act(), nn.Conv2d(c, 2 * c, 3, padding=1)]
            if args.bn:
                feats.append(nn.BatchNorm2d(2 * c))
            feats += [act(), nn.MaxPool2d(2)]
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(2 * c * 16, args.hidden), act(),
                nn.Dropout(args.dropout), nn.Linear(args.hidden, 10))
            self.apply(self.init_weights)
            if args.manual:
                self.automatic_optimization = False

        def init_weights(self, m):
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                return
            if self.args.init == "zeros":
                # BUG (zero-init): "start from a clean slate": every weight and bias set to 0.
                nn.init.zeros_(m.weight)
                nn.init.zeros_(m.bias)
            elif self.args.init == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

        def forward(self, x):
            out = self.classifier(self.features(x))
            if self.args.bug == "softmax-forward":
                # BUG: forward() returns probabilities, and training_step still applies
                # F.cross_entropy, which takes logits (a second log-softmax).
                out = torch.softmax(out, dim=1)
            return out

        def training_step(self, batch, batch_idx):
            x, y = batch
            out = self(x)
            loss = F.cross_entropy(out, y)
            acc = (out.argmax(1) == y).float().mean()
            if self.args.manual:
                opt = self.optimizers()
                if self.args.bug != "manual-no-zero-grad":
                    opt.zero_grad()
                # BUG (manual-no-zero-grad): with manual optimization Lightning no longer
                # clears the gradients, and opt.zero_grad() is missing: they add up.
                self.manual_backward(loss)
                opt.step()
            self.log("train_acc", acc, on_step=True, on_epoch=False)
            self.history.step(loss.item(), acc.item())
            return loss

        def on_train_epoch_end(self):
            if self.args.manual:
                sched = self.lr_schedulers()
                if sched is not None:
                    sched.step()

        def validation_step(self, batch, batch_idx):
            x, y = batch
            out = self(x)
            self.log("val_loss", F.cross_entropy(out, y), on_epoch=True)
            self.log("val_acc", (out.argmax(1) == y).float().mean(), on_epoch=True)

        def on_validation_epoch_end(self):
            m = self.trainer.callback_metrics
            val_loss, val_acc = float(m["val_loss"]), float(m["val_acc"])
            self.history.epoch(val_loss, val_acc)
            print("epoch %d: val loss %.4f acc %.3f lr %.3g" % (
                self.current_epoch + 1, val_loss, val_acc,
                self.trainer.optimizers[0].param_groups[0]["lr"]), flush=True)

        def configure_optimizers(self):
            a = self.args
            opt = {"adam": lambda: torch.optim.Adam(self.parameters(), lr=a.lr),
                   "sgd": lambda: torch.optim.SGD(self.parameters(), lr=a.lr),
                   "momentum": lambda: torch.optim.SGD(self.parameters(), lr=a.lr,
                                                       momentum=0.9),
                   "rmsprop": lambda: torch.optim.RMSprop(self.parameters(), lr=a.lr)
                   }[a.optimizer]()
            kind, _, value = a.schedule.partition(":")
            if kind == "none":
                return opt
            if kind == "step":
                every, gamma = value.split(",")
                sched = torch.optim.lr_scheduler.StepLR(opt, int(every), float(gamma))
            elif kind == "cosine":
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs)
            else:
                raise SystemExit("unknown schedule: %s" % a.schedule)
            interval = "epoch"
            if a.bug == "step-interval":
                # BUG: copied from a config with a per-step schedule: Lightning now steps the
                # StepLR (step_size given in epochs) after every optimizer step.
                interval = "step"
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": interval}}

    return DigitsCNN


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--act", default="relu", choices=("relu", "tanh"))
    p.add_argument("--bn", action="store_true")
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--init", default="default", choices=("default", "he", "zeros"))
    p.add_argument("--scale", default="unit", choices=("unit", "standard"))
    p.add_argument("--optimizer", default="adam", choices=("adam", "sgd", "momentum", "rmsprop"))
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--schedule", default="none")
    p.add_argument("--manual", action="store_true", help="manual optimization")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--bug", default=None,
                   choices=("softmax-forward", "manual-no-zero-grad", "step-interval"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    warnings.filterwarnings("ignore")
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    x, y = common.load("digits")
    x_tr, x_val, y_tr, y_val = common.split(x, y, seed=args.seed)
    if args.scale == "unit":
        x_tr, x_val = x_tr / 16.0, x_val / 16.0
    else:
        x_tr, x_val = common.standardize(x_tr, x_val)

    def tensors(a, b):
        return TensorDataset(torch.tensor(a, dtype=torch.float32).reshape(-1, 1, 8, 8),
                             torch.tensor(b, dtype=torch.int64))

    g = torch.Generator().manual_seed(args.seed)
    train = DataLoader(tensors(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
                       generator=g)
    val = DataLoader(tensors(x_val, y_val), batch_size=256)
    history = common.History()
    model = make_model_class(pl)(args, history)
    callbacks = common.recording.lightning_callbacks(
        args.out, task="classification", loss_name="CrossEntropyLoss", num_classes=10,
        batch_size=args.batch_size)
    trainer = pl.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1,
                         deterministic=True, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, callbacks=callbacks)
    trainer.fit(model, train, val)
    # The modules that own parameters, in the order forward() runs them.
    layers = [n for n, m in model.named_modules()
              if n and not list(m.children()) and list(m.parameters(recurse=False))]
    common.report(history.result(layers=layers))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "litcnn-ce-after-softmax", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong loss function (F.cross_entropy applied to a "
               "forward() that already returns softmax probabilities)",
     "bug": "forward() ends in torch.softmax (the module 'returns probabilities') and "
            "training_step applies F.cross_entropy, which takes logits and applies log-softmax "
            "again: the loss stays near ln 10 with tiny gradients and with plain SGD the run "
            "ends near 0.29 validation accuracy of ten classes",
     "fix": "forward() returns the logits (F.cross_entropy on them)",
     "symptom": "loss_mismatch",
     "acceptable_symptoms": ["not_learning", "slow_convergence", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--optimizer sgd --lr 0.1 --bug softmax-forward --record-every 2",
          "fixed": "--optimizer sgd --lr 0.1 --record-every 2"},
     ]},
    {"family": "litcnn-manual-missing-zero-grad", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (Lightning manual "
               "optimization, where the Trainer no longer clears the gradients)",
     "bug": "self.automatic_optimization = False and training_step calls manual_backward and "
            "opt.step() but never opt.zero_grad(): each step's gradient is the sum of all "
            "earlier ones, the SGD-momentum updates grow with the step count, the validation "
            "loss climbs to about 17 and the accuracy stays at chance (0.10)",
     "fix": "opt.zero_grad() before manual_backward in every training_step",
     "symptom": "exploding_gradient",
     "acceptable_symptoms": ["oscillation", "numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--manual --optimizer momentum --lr 0.02 --bug manual-no-zero-grad --record-every 2",
          "fixed": "--manual --optimizer momentum --lr 0.02 --record-every 2"},
     ]},
    {"family": "litcnn-scheduler-interval-step", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020: wrong learning-rate schedule (a Lightning "
               "lr_scheduler config with interval 'step' for a StepLR whose step size is in "
               "epochs)",
     "bug": "configure_optimizers returns StepLR(step_size=2, gamma=0.1) meant as every 2 "
            "epochs with 'interval': 'step': Lightning steps it after every optimizer step, "
            "the learning rate is divided by 10 every 2 steps (below 1e-20 from about step 40 "
            "on), the weights stop changing and the run stays at chance (0.09)",
     "fix": "'interval': 'epoch'",
     "symptom": "unchanged_values", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum-step2",
          "buggy": "--optimizer momentum --lr 0.05 --schedule step:2,0.1 --bug step-interval --record-every 2",
          "fixed": "--optimizer momentum --lr 0.05 --schedule step:2,0.1 --record-every 2"},
     ]},
    {"family": "litcnn-zero-init", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD fault type: weight initialization (self.apply(init_weights) setting "
               "every weight and bias to zero)",
     "bug": "init_weights, applied with self.apply, sets every Conv2d and Linear weight and "
            "bias to 0: every hidden unit outputs 0, no gradient reaches the convolutions or "
            "the first Linear layer, only the output bias learns and the run stays at chance "
            "(0.10)",
     "fix": "He-normal weights, zero biases",
     "symptom": "dead_or_zero",
     "acceptable_symptoms": ["not_learning", "unchanged_values", "vanishing_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 0.05 --init zeros --record-every 2",
          "fixed": "--optimizer momentum --lr 0.05 --init he --record-every 2"},
     ]},
    {"family": "litcnn-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too high",
     "bug": "SGD with momentum 0.9 at learning rate 1.0 (meant 0.05): the updates overshoot, "
            "the loss stays above ln 10 and the accuracy at chance (0.10)",
     "fix": "learning rate 0.05",
     "symptom": "oscillation",
     "acceptable_symptoms": ["not_learning", "dead_or_zero", "exploding_gradient",
                             "numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "momentum",
          "buggy": "--optimizer momentum --lr 1.0 --record-every 2",
          "fixed": "--optimizer momentum --lr 0.05 --record-every 2"},
     ]},
    {"family": "healthy-litcnn", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "a Lightning CNN on the digits that trains well",
     "healthy": [
         {"id": "adam",
          "args": "--record-every 2",
          "description": "Adam 2e-3, automatic optimization, no schedule"},
         {"id": "adam-bn-dropout-cosine-seed1",
          "args": "--bn --dropout 0.3 --schedule cosine --seed 1 --record-every 2",
          "description": "BatchNorm after each convolution, dropout 0.3, cosine annealing"},
         {"id": "rmsprop-tanh-bs64-seed2",
          "args": "--optimizer rmsprop --lr 1e-3 --batch-size 64 --act tanh --epochs 8 --seed 2 --record-every 2",
          "description": "RMSprop, tanh, batches of 64"},
         {"id": "manual-adam-step-standardized-seed3",
          "args": "--manual --lr 3e-3 --schedule step:3,0.5 --scale standard --seed 3 --record-every 2",
          "description": "manual optimization (zero_grad, manual_backward, step), StepLR "
                         "stepped per epoch, standardized pixels"},
         {"id": "momentum-he-wide-bs16-seed4",
          "args": "--optimizer momentum --lr 0.03 --init he --channels 16 --hidden 128 --batch-size 16 --epochs 4 --seed 4 --record-every 2",
          "description": "SGD momentum, He initialization, 16 and 32 channels, batches of 16"},
     ]},
]


if __name__ == "__main__":
    main()
