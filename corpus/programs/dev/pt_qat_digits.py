"""Quantization-aware training of a small PyTorch CNN on scikit-learn's digits with the
eager-mode ``torch.ao.quantization`` API, as the PyTorch QAT tutorial and typical repositories
write it.

The digits (8x8 grey levels 0..16) are divided by 16 and held out 25% (stratified). The
network (``DigitsNet``) starts with a ``QuantStub`` and ends with a ``DeQuantStub``:
``conv1`` (1 -> ``--channels``, 3x3, padding 1) + ``bn1`` + ``relu1``, ``conv2``
(-> 2 x ``--channels``) + ``bn2`` + ``relu2``, a 2x2 max-pooling, ``fc1`` (-> 64) + ``relu3``
and ``fc2`` (-> 10 logits), ``nn.CrossEntropyLoss``.

1. A float model is trained first (``--float-epochs`` epochs of Adam at 2e-3, batches of 64;
   not recorded) and its held-out accuracy printed.
2. Quantization-aware fine-tuning: the float model in training mode gets its Conv-BN-ReLU and
   Linear-ReLU modules fused with ``fuse_modules_qat``, the ``get_default_qat_qconfig``
   (``--backend``, x86 by default) and ``prepare_qat``, then it is fine-tuned with SGD
   (``--lr``, momentum 0.9) for ``--epochs`` epochs; after ``--freeze-observer-epoch`` epochs
   the observers are disabled (``disable_observer``: the quantization ranges stop moving) and
   after ``--freeze-bn-epoch`` epochs the BatchNorm statistics are frozen (``freeze_bn_stats``).
   This phase is recorded; its validation loss and accuracy are those of the fake-quantized
   model in eval mode.
3. ``convert`` of a copy of the QAT model in eval mode gives the int8 model, whose held-out
   accuracy is the run's result (``int8_val_accuracy``, with the float model's
   ``float_val_accuracy``).

The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--lr``).
"""

import copy
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.ao.quantization as tq  # noqa: E402
from torch import nn  # noqa: E402

np = common.np


class DigitsNet(nn.Module):
    def __init__(self, channels=8):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(2 * channels)
        self.relu2 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(2 * channels * 4 * 4, 64)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.quant(x)
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.bn2(self.conv2(x)))
        x = self.pool(x)
        x = torch.flatten(x, 1)
        x = self.relu3(self.fc1(x))
        x = self.fc2(x)
        return self.dequant(x)


def evaluate(model, x, y, criterion):
    model.eval()
    with torch.no_grad():
        out = model(x)
        return criterion(out, y).item(), (out.argmax(1) == y).float().mean().item()


def main():
    p = common.parser(__doc__)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--float-epochs", type=int, default=8)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--backend", choices=("x86", "fbgemm"), default="x86")
    p.add_argument("--freeze-observer-epoch", type=int, default=3)
    p.add_argument("--freeze-bn-epoch", type=int, default=2)
    p.add_argument("--bug", default=None, choices=("fresh-model", "observers-off-at-start"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x = (x / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_tr, x_val, y_tr, y_val = common.split(x, y, val=0.25, seed=args.seed)
    x_tr, y_tr = torch.from_numpy(x_tr), torch.from_numpy(y_tr.astype(np.int64))
    x_val, y_val = torch.from_numpy(x_val), torch.from_numpy(y_val.astype(np.int64))
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x_tr, y_tr), batch_size=args.batch_size, shuffle=True,
        generator=torch.Generator().manual_seed(args.seed))
    criterion = nn.CrossEntropyLoss()

    # 1. the float model
    model_fp = DigitsNet(args.channels)
    opt_fp = torch.optim.Adam(model_fp.parameters(), lr=2e-3)
    for epoch in range(args.float_epochs):
        model_fp.train()
        for xb, yb in loader:
            opt_fp.zero_grad()
            criterion(model_fp(xb), yb).backward()
            opt_fp.step()
    _, float_acc = evaluate(model_fp, x_val, y_val, criterion)
    print("float model: val acc %.3f" % float_acc)

    # 2. quantization-aware fine-tuning
    torch.backends.quantized.engine = args.backend
    if args.bug == "fresh-model":
        # BUG: a new DigitsNet is prepared for QAT instead of the trained float model (the
        # state_dict is never loaded): the fine-tuning starts from random weights at the small
        # fine-tuning learning rate.
        qat_model = DigitsNet(args.channels)
    else:
        qat_model = copy.deepcopy(model_fp)
    qat_model.train()
    qat_model = tq.fuse_modules_qat(
        qat_model, [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"], ["fc1", "relu3"]])
    qat_model.qconfig = tq.get_default_qat_qconfig(args.backend)
    tq.prepare_qat(qat_model, inplace=True)
    if args.bug == "observers-off-at-start":
        # BUG: the observers are disabled right after prepare_qat (the freeze meant for later
        # epochs is applied before training): they never see a batch, so every fake-quantize
        # module keeps its initial scale 1.0 and zero point 0.
        qat_model.apply(tq.disable_observer)
    optimizer = torch.optim.SGD(qat_model.parameters(), lr=args.lr, momentum=0.9)

    steps_per_epoch = len(loader)
    rec = common.recording.torch_recorder(
        qat_model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", steps_per_epoch=steps_per_epoch, num_classes=10,
        batch_size=args.batch_size)
    history = common.History()
    for epoch in range(args.epochs):
        qat_model.train()
        if epoch >= args.freeze_observer_epoch:
            qat_model.apply(tq.disable_observer)
        if epoch >= args.freeze_bn_epoch:
            qat_model.apply(torch.ao.nn.intrinsic.qat.freeze_bn_stats)
        for b, (xb, yb) in enumerate(loader):
            optimizer.zero_grad()
            out = qat_model(xb)
            loss = criterion(out, yb)
            loss.backward()
            optimizer.step()
            acc = (out.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                val_loss, val_acc = evaluate(qat_model, x_val, y_val, criterion)
                qat_model.train()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        print("QAT epoch %d: train %.4f acc %.3f val %.4f acc %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc))
    rec.close()

    # 3. the int8 model (the quantized CPU kernels have no deterministic flag; one thread and
    # the same inputs give the same result)
    torch.use_deterministic_algorithms(False)
    try:
        quantized = tq.convert(copy.deepcopy(qat_model).eval(), inplace=False)
        _, int8_acc = evaluate(quantized, x_val, y_val, criterion)
        print("int8 model: val acc %.3f (float %.3f)" % (int8_acc, float_acc))
    except AssertionError as e:   # an observer that never saw a batch has no range
        int8_acc = None
        print("convert failed: %s" % e)
    common.report(history.result(int8_val_accuracy=int8_acc, float_val_accuracy=float_acc))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "qat-fresh-model", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (model: pre-trained weights not loaded); QAT fine-tuning "
               "meant to start from the trained float model",
     "bug": "prepare_qat is applied to a new DigitsNet instead of the trained float model, "
            "whose weights are never loaded: the QAT fine-tuning starts from random weights "
            "at the fine-tuning rate (SGD momentum 0.9 at 1e-3, 6 epochs): the loss falls from 2.31 in the first epoch to 1.66 in the 6th, the fake-quantized model's held-out accuracy is 0.849 and the int8 model's 0.847 against the twin's 0.991 and 0.991 (its float model 0.987)",
     "fix": "fine-tune a copy of the trained float model (copy.deepcopy(model_fp))",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "x86-sgd",
          "buggy": "--bug fresh-model --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "qat-observers-off-at-start", "split": "dev", "architecture": "cnn",
     "origin": "Humbatova et al. 2020 (training: wrong order of training steps); the "
               "disable_observer freeze of the QAT recipe applied before the first batch",
     "bug": "qat_model.apply(disable_observer) right after prepare_qat: no observer ever sees "
            "a batch, every fake-quantize module keeps scale 1.0 and zero point 0, the weights "
            "are rounded to integers (almost all to 0) and the inputs to 0 or 1: the loss stays "
            "at 2.304 (ln 10) for all 6 epochs, held-out accuracy 0.098, and convert fails (the "
            "observers' min is inf) while the twin's fake-quantized model reaches 0.989 and "
            "its int8 model 0.989",
     "fix": "disable the observers only after --freeze-observer-epoch epochs",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "x86-sgd-seed1",
          "buggy": "--bug observers-off-at-start --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "qat-lr-too-high", "split": "dev", "architecture": "cnn",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high (the QAT fine-tuning "
               "run at a from-scratch rate)",
     "bug": "the QAT fine-tuning at SGD momentum 0.9 at 0.2 (meant 1e-3), batches of 32: the loss rises from 16.7 in the first epoch to 976 in the third and stays at 3747 from the 4th, training accuracy 0.10, held-out accuracy 0.100 (the int8 model's 0.100) against the twin's 0.987 (int8 0.987)",
     "fix": "learning rate 1e-3",
     "symptom": "oscillation", "acceptable_symptoms": ["not_learning", "dead_or_zero",
                                                        "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "x86-sgd-bs32",
          "buggy": "--lr 0.2 --batch-size 32 --record-every 4",
          "fixed": "--lr 0.001 --batch-size 32 --record-every 4"},
     ]},
    {"family": "healthy-qat", "split": "dev", "architecture": "cnn",
     "origin": "healthy run",
     "description": "quantization-aware fine-tuning of a float CNN on the digits, converted to "
                    "int8, that trains well",
     "healthy": [
         {"id": "fbgemm-ch12-seed2",
          "args": "--backend fbgemm --channels 12 --seed 2 --record-every 4",
          "description": "fbgemm qconfig, 12 and 24 channels, seed 2: held-out accuracy 0.987 after QAT, int8 model 0.989 (float model 0.984)"},
     ]},
]


if __name__ == "__main__":
    main()
