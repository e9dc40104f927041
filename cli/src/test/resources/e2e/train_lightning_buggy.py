"""End-to-end fixture: the same bug (no activations, MSE, SGD at lr=3) as a PyTorch Lightning
LightningModule, recorded with Trainer(callbacks=[DltraceCallback(...)]). The layers are the
children of ``self.net``: net.0 (Linear 8->16) and net.1 (Linear 16->3). --fixed: a sigmoid
between them and lr=0.5.

    python3 train_lightning_buggy.py REPO_ROOT OUT.arrows [--fixed]
"""

import argparse
import os
import sys

parser = argparse.ArgumentParser()
parser.add_argument("repo")
parser.add_argument("out")
parser.add_argument("--fixed", action="store_true")
args = parser.parse_args()
sys.path.insert(0, os.path.join(args.repo, "recorders"))

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from dltrace.lightning import DltraceCallback  # noqa: E402


class Mlp(pl.LightningModule):
    def __init__(self, fixed):
        super().__init__()
        if fixed:
            self.net = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 3),
                                     nn.Softmax(dim=1))
        else:
            self.net = nn.Sequential(nn.Linear(8, 16), nn.Linear(16, 3))
        self.lr = 0.5 if fixed else 3.0

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self.net(x)
        self.log("train_acc", (out.argmax(1) == y.argmax(1)).float().mean())
        return nn.functional.mse_loss(out, y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


torch.manual_seed(1)
torch.set_num_threads(1)
centers = torch.randn(3, 8) * 2
labels = torch.arange(300) % 3
x = centers[labels] + torch.randn(300, 8)
y = nn.functional.one_hot(labels, 3).float()
trainer = pl.Trainer(max_epochs=6, accelerator="cpu", devices=1, logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False,
                     callbacks=[DltraceCallback(args.out, task="classification", loss_name="mse",
                                                num_classes=3)])
trainer.fit(Mlp(args.fixed), DataLoader(TensorDataset(x, y), batch_size=30))
