"""End-to-end fixture: a healthy mixed-precision run recorded with dltrace.pytorch.

An MLP on generated 5-class data under float16 autocast (CPU), with a GradScaler whose initial
scale 2^24 overflows float16 in the first backward passes: the scaler skips those updates and
halves its scale until the gradients fit, then the run trains normally. The recorder gets the
scaler (scaler=), so the output gradients are recorded unscaled.

    python3 train_amp.py REPO_ROOT OUT.arrows
"""

import os
import sys

sys.path.insert(0, os.path.join(sys.argv[1], "recorders"))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import dltrace.pytorch as dltrace  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
g = torch.Generator().manual_seed(0)
x = torch.randn(20 * 32, 32, generator=g)
y = (x @ torch.randn(32, 5, generator=g)).argmax(1)
model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 5))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 24)
rec = dltrace.attach(model, sys.argv[2], optimizer=opt, steps_per_epoch=20, num_classes=5,
                     scaler=scaler)
for epoch in range(6):
    for b in range(20):
        xb, yb = x[b * 32:(b + 1) * 32], y[b * 32:(b + 1) * 32]
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.float16):
            out = model(xb)
            loss = nn.functional.cross_entropy(out, yb)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        rec.step(loss, accuracy=(out.argmax(1) == yb).float().mean().item(), inputs=xb,
                 targets=yb)
rec.close()
print("final loss %.4f, scale %g" % (loss.item(), scaler.get_scale()))
