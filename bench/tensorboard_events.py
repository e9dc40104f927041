"""Writes a large TensorBoard run for the reader's benchmark (bench/tensorboard.sh).

    python3 bench/tensorboard_events.py OUT_DIR [SCALARS] [HISTOGRAMS]

With PyTorch's SummaryWriter, as a long run logs: SCALARS scalar values (default 100,000: loss,
accuracy and learning rate at every step), and HISTOGRAMS histograms (default 10,000: the weights
and gradients of 5 layers every few steps, default bins).
"""

import os
import sys

import numpy as np
from torch.utils.tensorboard import SummaryWriter


def main(argv):
    out = argv[1]
    scalars = int(argv[2]) if len(argv) > 2 else 100_000
    histograms = int(argv[3]) if len(argv) > 3 else 10_000
    steps = scalars // 3
    layers = 5
    every = max(1, steps // (histograms // (2 * layers)))
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(64, 64)).astype(np.float32) for _ in range(layers)]
    writer = SummaryWriter(out, max_queue=1000, flush_secs=3600)
    written = 0
    for step in range(steps):
        writer.add_scalar("Loss/train", 2.0 / (1 + step / 1000), step)
        writer.add_scalar("Accuracy/train", min(1.0, step / steps), step)
        writer.add_scalar("lr", 0.01, step)
        if step % every == 0 and written < histograms:
            for i, w in enumerate(weights):
                w += rng.normal(scale=1e-3, size=w.shape).astype(np.float32)
                writer.add_histogram("fc%d.weight" % i, w, step)
                writer.add_histogram("fc%d.weight.grad" % i, w * 1e-3, step)
                written += 2
    writer.close()
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print("wrote %d scalars and %d histograms, %d bytes, to %s" % (3 * steps, written, size, out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
