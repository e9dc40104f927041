"""REINFORCE (a policy gradient) on a contextual bandit written here: which of four
newsletter layouts to show a visitor, learned from clicks only.

A visitor is six numbers (standardized session features: time on site, pages seen, ...).
The layout the visitor clicks most is decided by an interaction of the features: layout
``2 * [x0 * x1 > 0] + [x2 > 0]``; the best layout is clicked with probability 0.8, any other
with 0.2 (a random policy earns 0.35 clicks a visit). 4096 visitors are drawn for training,
1024 for validation. The policy (``Policy``, an ``nn.Module``): ``fc1`` and ``fc2``
(``--hidden`` units, ReLU) and a ``Linear`` head (``head``) giving the four layouts' logits;
a ``torch.distributions.Categorical`` samples the layout shown. The loss of a batch of
visitors is ``-(log_prob * advantage).mean()``, the advantage being the click minus a running
mean of the clicks (the baseline, updated after every batch with ``--baseline-momentum``).
Adam (or ``--optimizer``). The batch's mean click is the step's accuracy; the validation
accuracy is the greedy policy's expected clicks on the validation visitors. The mistakes of
the families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.distributions import Categorical  # noqa: E402

np = common.np

ARMS = 4


def visitors(n, rng):
    x = rng.standard_normal((n, 6)).astype(np.float32)
    best = 2 * (x[:, 0] * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 0).astype(np.int64)
    return x, best


def click_probability(best, action):
    return torch.where(action == best, torch.tensor(0.8), torch.tensor(0.2))


class Policy(nn.Module):
    def __init__(self, hidden, linear=False):
        super().__init__()
        self.fc1 = nn.Linear(6, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.head = nn.Linear(hidden, ARMS)
        self.linear = linear

    def forward(self, x):
        if self.linear:
            # BUG (no-nonlinearity): the ReLUs were dropped: three stacked Linear layers
            # are one linear map of the features.
            return self.head(self.fc2(self.fc1(x)))
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--optimizer", default="Adam", choices=("Adam", "SGD", "RMSprop"))
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--momentum", type=float, default=0.0, help="SGD only")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--baseline-momentum", type=float, default=0.9)
    p.add_argument("--bug", default=None,
                   choices=("no-nonlinearity", "sign-flipped", "no-zero-grad"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    x_tr, best_tr = visitors(4096, rng)
    x_va, best_va = visitors(1024, rng)
    x_tr, x_va = torch.from_numpy(x_tr), torch.from_numpy(x_va)
    best_tr, best_va = torch.from_numpy(best_tr), torch.from_numpy(best_va)

    policy = Policy(args.hidden, linear=args.bug == "no-nonlinearity")
    if args.optimizer == "SGD":
        optimizer = torch.optim.SGD(policy.parameters(), lr=args.lr, momentum=args.momentum)
    else:
        optimizer = getattr(torch.optim, args.optimizer)(policy.parameters(), lr=args.lr)
    steps_per_epoch = len(x_tr) // args.batch_size
    rec = common.recording.torch_recorder(
        policy, args.out, optimizer=optimizer, objective="policy_gradient",
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)

    baseline = 0.35
    history = common.History()
    g = torch.Generator().manual_seed(args.seed)
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x_tr), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, best = x_tr[idx], best_tr[idx]
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            # BUG (no-zero-grad): optimizer.zero_grad() is missing: every batch's policy
            # gradient is added to the sum of all earlier ones.
            dist = Categorical(logits=policy(xb))
            action = dist.sample()
            reward = torch.bernoulli(click_probability(best, action), generator=g)
            advantage = reward - baseline
            if args.bug == "sign-flipped":
                # BUG (sign-flipped): the minus sign of the policy-gradient loss is lost:
                # gradient descent on log_prob * advantage lowers the expected clicks.
                loss = (dist.log_prob(action) * advantage).mean()
            else:
                loss = -(dist.log_prob(action) * advantage).mean()
            loss.backward()
            optimizer.step()
            mean_click = reward.mean().item()
            baseline = (args.baseline_momentum * baseline
                        + (1 - args.baseline_momentum) * mean_click)
            val_acc = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    greedy = policy(x_va).argmax(1)
                    val_acc = click_probability(best_va, greedy).mean().item()
            rec.step(loss, accuracy=mean_click, inputs=xb, targets=action,
                     val_accuracy=val_acc, episode_return=reward)
            history.step(loss.item(), mean_click)
        history.epoch(None, val_acc)
        print("epoch %d: loss %.4f clicks %.3f greedy val clicks %.3f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_acc))
    rec.close()
    common.report(history.result(layers=["fc1", "fc2", "head"]))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "pgbandit-no-nonlinearity", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing activation function (the ReLUs between the "
               "policy's Linear layers dropped)",
     "bug": "the policy is fc1, fc2 and head without the ReLUs between them, one linear map "
            "of the features, which cannot express the x0 * x1 interaction that decides the "
            "best layout: after 6 epochs the visitors click 0.54 times (greedy validation "
            "0.51) against the twin's 0.72 (0.76)",
     "fix": "torch.relu after fc1 and fc2",
     "symptom": "missing_activation", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam",
          "buggy": "--bug no-nonlinearity --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "pgbandit-sign-flipped", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the policy-gradient loss without "
               "its minus sign)",
     "bug": "loss = (log_prob * advantage).mean() instead of its negative: gradient descent "
            "makes the clicked layouts less likely; the clicks fall from 0.30 in the first "
            "epoch to 0.21 in the sixth (greedy validation 0.21, a random policy earns 0.35) "
            "against the twin's 0.72 (0.76)",
     "fix": "loss = -(log_prob * advantage).mean()",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug sign-flipped --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "pgbandit-missing-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: missing optimizer.zero_grad() (gradients accumulate "
               "over the batches)",
     "bug": "optimizer.zero_grad() is left out: the policy gradients of all batches add up, "
            "the policy turns nearly deterministic (the loss near 0) and the clicks end at "
            "0.40 in the sixth epoch (0.46 in the first; greedy validation 0.39) against the "
            "twin's 0.70 (0.73)",
     "fix": "optimizer.zero_grad() before every forward",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["not_learning", "saturation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed4",
          "buggy": "--bug no-zero-grad --seed 4 --record-every 4",
          "fixed": "--seed 4 --record-every 4"},
     ]},
    {"family": "pgbandit-lr-too-high", "split": "dev", "architecture": "mlp",
     "origin": "AUTOTRAINER / DeepFD fault type: learning rate too high",
     "bug": "Adam at 0.3 (meant 3e-3): the first updates push the logits so far apart that "
            "the policy always shows one layout and its gradient vanishes (the loss is 0.0000 "
            "from the second epoch on); the clicks stay at 0.34-0.35, a random policy's "
            "(greedy validation 0.34) against the twin's 0.71 (0.76)",
     "fix": "learning rate 3e-3",
     "symptom": "not_learning", "acceptable_symptoms": ["saturation", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed2",
          "buggy": "--lr 0.3 --seed 2 --record-every 4",
          "fixed": "--lr 3e-3 --seed 2 --record-every 4"},
     ]},
    {"family": "pgbandit-lr-too-low", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "Adam at 1e-5 (meant 3e-3): in 6 epochs the clicks stay at 0.35 "
            "(greedy validation 0.35) against the twin's 0.72 (0.72)",
     "fix": "learning rate 3e-3",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed3",
          "buggy": "--lr 1e-5 --seed 3 --record-every 4",
          "fixed": "--lr 3e-3 --seed 3 --record-every 4"},
     ]},
    {"family": "healthy-pgbandit", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a REINFORCE policy on a contextual bandit whose clicks rise",
     "healthy": [
         {"id": "sgd-momentum-seed1",
          "args": "--optimizer SGD --lr 0.1 --momentum 0.9 --seed 1 --record-every 4",
          "description": "SGD 0.1 with momentum 0.9"},
         {"id": "rmsprop-seed2",
          "args": "--optimizer RMSprop --lr 1e-3 --seed 2 --record-every 4",
          "description": "RMSprop 1e-3"},
         {"id": "adam-w32-bs32-seed3",
          "args": "--hidden 32 --batch-size 32 --lr 2e-3 --seed 3 --record-every 4",
          "description": "Adam 2e-3, 32 units, batches of 32"},
     ]},
]


if __name__ == "__main__":
    main()
