"""JEM, "Your classifier is secretly an energy based model" (Grathwohl et al. 2020), in
PyTorch, small: an MLP classifier on scikit-learn's digits trained as a joint energy model.

Written as the paper's repository (``wgrathwohl/JEM``, ``train_wrn_ebm.py``) writes it, with
an MLP in place of the Wide-ResNet: the classifier ``f`` (``fc1`` 64-128, ``fc2`` 128-128,
``out`` 128-10, LeakyReLU 0.2) gives logits whose ``logsumexp`` is the negative energy of the
input, ``E(x) = -logsumexp_y f(x)[y]``. Every step draws ``x_q`` from a replay buffer of 1000
samples (initialized uniform in [-1, 1], a sample re-initialized with probability 0.05) and
refines it by ``--sgld-steps`` (10) steps of stochastic gradient Langevin dynamics as
``sample_q`` does: ``x <- x + sgld_lr * d logsumexp f(x) / dx + sgld_std * noise``
(``--sgld-lr`` 1.0, ``--sgld-std`` 0.01), the model in eval mode and the samples detached
before they go back into the buffer. The loss is the cross-entropy of the labelled batch plus
the generative term ``-(logsumexp f(x_data) - logsumexp f(x_q))``, that is
``E(x_data) - E(x_q)``, as ``l_p_x`` in the repository.

The digits (8x8, pixels 0..16) are scaled to [-1, 1] as JEM scales its images; 20% are held
out (stratified). Adam (``--lr``, 1e-3), batches of 64 (23 steps an epoch), ``--epochs`` 15.
After every epoch the held-out cross-entropy is the validation loss and the held-out accuracy
the validation accuracy; the result line adds ``energy_gap``, the mean energy of the last
batch's SGLD samples minus that of the held-out digits (a JEM that learns the data density
keeps it within a few units of 0; a broken sampler or generative term sends it to thousands).
The mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--sgld-lr``, the SGLD step size).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np


class F_Classifier(nn.Module):
    def __init__(self, n_in=64, width=128, n_classes=10):
        super().__init__()
        self.fc1 = nn.Linear(n_in, width)
        self.fc2 = nn.Linear(width, width)
        self.out = nn.Linear(width, n_classes)

    def forward(self, x):
        h = F.leaky_relu(self.fc1(x), 0.2)
        h = F.leaky_relu(self.fc2(h), 0.2)
        return self.out(h)


def sample_q(f, buffer, batch_size, args, gen):
    """Draws from the replay buffer and refines the draws by SGLD (``sample_q`` of JEM)."""
    idx = torch.randint(0, len(buffer), (batch_size,), generator=gen)
    buffer_samples = buffer[idx]
    random_samples = torch.rand(buffer_samples.shape, generator=gen) * 2 - 1
    choose_random = (torch.rand(batch_size, generator=gen) < args.reinit_freq).float()[:, None]
    x_k = choose_random * random_samples + (1 - choose_random) * buffer_samples
    x_k.requires_grad_(True)
    f.eval()
    for _ in range(args.sgld_steps):
        f_prime = torch.autograd.grad(f(x_k).logsumexp(1).sum(), [x_k])[0]
        noise = torch.randn(x_k.shape, generator=gen)
        if args.bug == "sgld-descends":
            # BUG (sgld-descends): the step taken against the gradient of logsumexp, toward
            # high energy, away from the model's density.
            x_k.data -= args.sgld_lr * f_prime + args.sgld_std * noise
        else:
            x_k.data += args.sgld_lr * f_prime + args.sgld_std * noise
    f.train()
    final_samples = x_k.detach()
    buffer[idx] = final_samples
    return final_samples


def main():
    p = common.parser(__doc__)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--sgld-steps", type=int, default=10)
    p.add_argument("--sgld-lr", type=float, default=1.0)
    p.add_argument("--sgld-std", type=float, default=0.01)
    p.add_argument("--reinit-freq", type=float, default=0.05)
    p.add_argument("--buffer-size", type=int, default=1000)
    p.add_argument("--bug", default=None, choices=("px-sign-flipped", "sgld-descends"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_va, y_tr, y_va = common.split(x, y, seed=args.seed)
    x_tr = torch.tensor(x_tr / 16.0 * 2 - 1, dtype=torch.float32)
    x_va = torch.tensor(x_va / 16.0 * 2 - 1, dtype=torch.float32)
    y_tr = torch.tensor(y_tr, dtype=torch.long)
    y_va = torch.tensor(y_va, dtype=torch.long)

    f = F_Classifier(width=args.width)
    optimizer = torch.optim.Adam(f.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    buffer = torch.rand((args.buffer_size, 64), generator=gen) * 2 - 1
    n = len(x_tr)
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        f, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", loss_added=True, num_classes=10,
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    history = common.History()
    val_acc = gap = None
    for epoch in range(args.epochs):
        perm = torch.randperm(n, generator=gen)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            x_lab, y_lab = x_tr[idx], y_tr[idx]
            x_q = sample_q(f, buffer, len(idx), args, gen)
            logits_all = f(torch.cat([x_lab, x_q]))
            logits, logits_q = logits_all[:len(idx)], logits_all[len(idx):]
            fp, fq = logits.logsumexp(1).mean(), logits_q.logsumexp(1).mean()
            if args.bug == "px-sign-flipped":
                # BUG (px-sign-flipped): the generative term with its sign flipped, fp - fq
                # (E(x_q) - E(x_data)): the data pushed to high energy, the samples to low.
                l_p_x = fp - fq
            else:
                l_p_x = -(fp - fq)
            loss = F.cross_entropy(logits, y_lab) + l_p_x
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            acc = (logits.argmax(1) == y_lab).float().mean().item()
            val_loss = val_accuracy = None
            if b == steps_per_epoch - 1:
                f.eval()
                with torch.no_grad():
                    v_logits = f(x_va)
                    val_loss = F.cross_entropy(v_logits, y_va).item()
                    val_acc = val_accuracy = (v_logits.argmax(1) == y_va).float().mean().item()
                    gap = (v_logits.logsumexp(1).mean() - f(x_q).logsumexp(1).mean()).item()
                f.train()
            rec.step(loss, accuracy=acc, inputs=x_lab, targets=y_lab,
                     val_loss=val_loss, val_accuracy=val_accuracy)
            history.step(loss.item(), acc)
        history.epoch(val_loss, val_accuracy)
        if (epoch + 1) % 3 == 0:
            print("epoch %d: loss %.4f  held-out accuracy %.3f  energy gap %.3f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_acc, gap))
    rec.close()
    common.report(history.result(energy_gap=gap))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "jem-px-sign-flipped", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the generative term of a joint "
               "energy model with its sign flipped)",
     "bug": "l_p_x = fp - fq instead of -(fp - fq): the data are pushed to high energy and the "
            "samples to low, the generative term is unbounded below and swamps the "
            "cross-entropy, the loss falls from 0.40 in the first epoch to -3.3e10 in the 15th, "
            "the energy gap reaches -4.0e10 and the held-out accuracy ends at 0.100 (chance), "
            "against the twin's 0.953 (loss 1.80 -> 0.55, energy gap -0.24)",
     "fix": "l_p_x = -(fp - fq)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["numerical_error", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug px-sign-flipped --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "jem-sgld-descends", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong sign of an update (SGLD stepping against the "
               "gradient of logsumexp, toward high energy)",
     "bug": "the SGLD step subtracted (x -= sgld_lr * d logsumexp / dx): the samples run to high"
            " energy and the model lowers their energy further without bound, the loss falls "
            "from 0.59 to -4.0e9, the energy gap reaches 5.0e9 and the held-out accuracy stays "
            "at 0.103 (chance) from the first epochs, against the twin's 0.947 (loss 1.88 -> "
            "0.53, energy gap -0.21)",
     "fix": "x_k.data += args.sgld_lr * f_prime + args.sgld_std * noise",
     "symptom": "not_learning", "acceptable_symptoms": ["numerical_error"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug sgld-descends --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "jem-sgld-step-too-large", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: wrong hyperparameter (the SGLD step size "
               "of a joint energy model far too large)",
     "bug": "an SGLD step size of 100 (meant 1.0): the samples are thrown far outside [-1, 1], "
            "the held-out accuracy rises to 0.644 by the third epoch and then collapses as the "
            "generative term runs away (loss -1.4e4 in the sixth epoch, -5.8e7 in the 15th, "
            "energy gap 2.5e7), ending at 0.086, against the twin's 0.942 (loss 1.92 -> 0.54, "
            "energy gap -0.28)",
     "fix": "--sgld-lr 1.0",
     "symptom": "not_learning", "acceptable_symptoms": ["numerical_error", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--sgld-lr 100 --seed 2 --record-every 4",
          "fixed": "--sgld-lr 1.0 --seed 2 --record-every 4"},
     ]},
    {"family": "healthy-jem", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a joint energy model (JEM) classifier of digits trained with SGLD samples "
                    "from a replay buffer",
     "healthy": [
         {"id": "width256-sgld20-seed3",
          "args": "--width 256 --sgld-steps 20 --seed 3 --record-every 4",
          "description": "256 units per hidden layer, 20 SGLD steps per sample"},
     ]},
]


if __name__ == "__main__":
    main()
