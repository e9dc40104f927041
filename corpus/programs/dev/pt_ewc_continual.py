"""Elastic Weight Consolidation (EWC, Kirkpatrick et al. 2017) in PyTorch: an MLP learns two
tasks one after the other, permuted digits.

Written as the PyTorch EWC repositories write it (``moskomule/ewc.pytorch``'s ``EWC`` class and
its ``ewc_train``): task A is scikit-learn's digits (standardized pixels, 20% held out), task B
the same images with their 64 pixels in a fixed random order (a permuted-digits task, same
labels). The MLP (``fc1``, ``fc2``: ``--hidden`` units, ReLU; ``out``: 10 logits) is trained
with plain SGD (``--lr``) and cross-entropy for ``--epochs`` epochs on task A, minibatches of
``--batch-size`` (23 steps an epoch with 64). Then ``EWC`` estimates the diagonal Fisher
information from ``--fisher-samples`` training images of task A, one at a time: the squared
gradient of the log-likelihood of the model's own prediction, averaged; and saves a copy of the
parameters (theta_A). Task B is then trained for as many epochs with the loss
``cross_entropy + lambda / 2 * sum_i F_i (theta_i - theta_A,i)^2`` (``--ewc-lambda``). Both
tasks are one run, one trace (the steps of B follow those of A).

After every epoch the validation loss and accuracy are those of the tasks seen so far, averaged
over the tasks (task A alone during A; the mean of the held-out A and B during B), as continual
learning reports them. The result line adds the held-out accuracies on both tasks at the end
(``acc_task_a``, ``acc_task_b``) and that on task A before B (``acc_task_a_before``). The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting
(``--ewc-lambda``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np


class MLP(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.out(x)


class EWC:
    """The penalty of one finished task: its diagonal Fisher and its parameters."""

    def __init__(self, model, dataset, bug=None):
        self.model = model
        self.dataset = dataset
        self.bug = bug
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self._precision_matrices = self._diag_fisher()
        self._means = {}
        for n, p in self.params.items():
            if bug == "params-not-copied":
                # BUG (params-not-copied): the parameters saved by reference, not as a copy:
                # theta_A follows theta as B trains, and the penalty is always zero.
                self._means[n] = p
            else:
                self._means[n] = p.detach().clone()

    def _diag_fisher(self):
        precision_matrices = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.model.eval()
        self.model.zero_grad()
        for x in self.dataset:
            if self.bug != "fisher-no-zero-grad":
                self.model.zero_grad()
            # BUG (fisher-no-zero-grad): without the zero_grad above the gradients of all the
            # samples add up, and the "Fisher" is the square of their running sum.
            output = self.model(x[None])
            label = output.max(1)[1]
            loss = F.nll_loss(F.log_softmax(output, dim=1), label)
            loss.backward()
            for n, p in self.model.named_parameters():
                if self.bug == "fisher-not-squared":
                    # BUG (fisher-not-squared): the gradient itself, not its square: the
                    # "Fisher" has negative entries and the penalty is unbounded below.
                    precision_matrices[n] += p.grad.detach() / len(self.dataset)
                else:
                    precision_matrices[n] += p.grad.detach() ** 2 / len(self.dataset)
        self.model.zero_grad()
        self.model.train()
        return precision_matrices

    def penalty(self, model):
        loss = 0
        for n, p in model.named_parameters():
            loss = loss + (self._precision_matrices[n] * (p - self._means[n]) ** 2).sum()
        return loss


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        out = model(x)
        loss = F.cross_entropy(out, y).item()
        acc = (out.argmax(1) == y).float().mean().item()
    model.train()
    return loss, acc


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=15, help="epochs per task")
    p.add_argument("--ewc-lambda", type=float, default=500.0)
    p.add_argument("--fisher-samples", type=int, default=300)
    p.add_argument("--bug", default=None,
                   choices=("params-not-copied", "fisher-not-squared", "fisher-no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    x, y = common.load("digits")
    x_tr, x_va, y_tr, y_va = common.split(x, y, seed=args.seed)
    x_tr, x_va = common.standardize(x_tr, x_va)
    perm = np.random.default_rng(100 + args.seed).permutation(64)
    tasks = []
    for order in (np.arange(64), perm):
        tasks.append((torch.tensor(x_tr[:, order], dtype=torch.float32),
                      torch.tensor(y_tr, dtype=torch.long),
                      torch.tensor(x_va[:, order], dtype=torch.float32),
                      torch.tensor(y_va, dtype=torch.long)))

    model = MLP(args.hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    n = len(y_tr)
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size

    rec = common.recording.torch_recorder(
        model, args.out, optimizer=optimizer, task="classification",
        loss_name="CrossEntropyLoss", loss_added=True, steps_per_epoch=steps_per_epoch,
        num_classes=10, batch_size=args.batch_size)
    history = common.History()
    ewc = None
    acc_a_before = None
    for t, (xt, yt, _, _) in enumerate(tasks):
        if t == 1:
            acc_a_before = evaluate(model, tasks[0][2], tasks[0][3])[1]
            idx = torch.randperm(n, generator=gen)[:args.fisher_samples]
            ewc = EWC(model, tasks[0][0][idx], bug=args.bug)
            print("task A held-out accuracy before task B: %.3f" % acc_a_before)
        for epoch in range(args.epochs):
            order = torch.randperm(n, generator=gen)
            for b in range(steps_per_epoch):
                idx = order[b * args.batch_size:(b + 1) * args.batch_size]
                xb, yb = xt[idx], yt[idx]
                optimizer.zero_grad()
                out = model(xb)
                loss = F.cross_entropy(out, yb)
                if ewc is not None:
                    loss = loss + args.ewc_lambda / 2 * ewc.penalty(model)
                loss.backward()
                optimizer.step()
                acc = (out.argmax(1) == yb).float().mean().item()
                val_loss = val_acc = None
                if b == steps_per_epoch - 1:
                    seen = [evaluate(model, task[2], task[3]) for task in tasks[:t + 1]]
                    val_loss = float(np.mean([s[0] for s in seen]))
                    val_acc = float(np.mean([s[1] for s in seen]))
                rec.step(loss, accuracy=acc, inputs=xb, targets=yb,
                         val_loss=val_loss, val_accuracy=val_acc)
                history.step(loss.item(), acc)
            history.epoch(val_loss, val_acc)
            print("task %s epoch %d: loss %.4f  acc %.3f  val loss %.4f  val acc %.3f" % (
                "AB"[t], epoch + 1, np.mean(history.epochs[-1][0]),
                np.mean(history.epochs[-1][1]), val_loss, val_acc))
    rec.close()

    acc_a = evaluate(model, tasks[0][2], tasks[0][3])[1]
    acc_b = evaluate(model, tasks[1][2], tasks[1][3])[1]
    print("held-out accuracy at the end: task A %.3f, task B %.3f" % (acc_a, acc_b))
    common.report(history.result(acc_task_a=acc_a, acc_task_b=acc_b,
                                 acc_task_a_before=acc_a_before))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ewc-params-not-copied", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong regularization (the anchor parameters of an EWC "
               "penalty saved as references to the live parameters instead of copies)",
     "bug": "theta_A saved as self._means[n] = p: the penalty (p - theta_A)^2 is always zero and task "
            "B is trained as if without EWC; task A's held-out accuracy falls from 0.972 before "
            "B to 0.739 at the end (task B 0.964), the mean over both tasks ends at 0.851 "
            "(loss 0.599), against the twin's task A 0.900, task B 0.908, mean 0.904 (loss 0.360)",
     "fix": "save self._means[n] = p.detach().clone()",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd",
          "buggy": "--bug params-not-copied --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "ewc-fisher-not-squared", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong regularization (the diagonal Fisher of EWC "
               "accumulated from the gradients instead of their squares)",
     "bug": "the Fisher summed from p.grad / N, not p.grad ** 2 / N: it has negative entries, the "
            "penalty is unbounded below and task B's loss turns NaN in its second epoch (the "
            "loss NaN from then on, both tasks at 0.100), against the twin's task A 0.939 and "
            "task B 0.939 (mean held-out loss 0.210)",
     "fix": "accumulate p.grad.detach() ** 2 / len(self.dataset)",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed1",
          "buggy": "--bug fisher-not-squared --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "ewc-fisher-no-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing zero_grad (in the per-sample loop that "
               "estimates EWC's Fisher information)",
     "bug": "without zero_grad in the per-sample Fisher loop the gradients of the 300 samples add "
            "up and every Fisher entry is the square of a running sum, hundreds of times too "
            "large: SGD on the stiff penalty diverges and task B's loss is NaN in its first "
            "epoch (both tasks at 0.100), against the twin's task A 0.917 and task B 0.917 (mean "
            "held-out loss 0.333)",
     "fix": "self.model.zero_grad() before each sample's backward in _diag_fisher",
     "symptom": "numerical_error", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "sgd-seed2",
          "buggy": "--bug fisher-no-zero-grad --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-ewc", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "an MLP learning permuted digits after the digits with an EWC penalty",
     "healthy": [
         {"id": "hidden128-seed3",
          "args": "--hidden 128 --seed 3 --record-every 4",
          "description": "128 units per hidden layer, seed 3"},
     ]},
]


if __name__ == "__main__":
    main()
