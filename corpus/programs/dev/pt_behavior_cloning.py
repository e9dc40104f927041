"""Behaviour cloning (imitation learning) on a cart-pole in PyTorch, as the RL course notebooks
write it (the "Imitation learning" homework of Berkeley's CS285 and its behaviour-cloning
notebooks): an expert generates demonstrations, an MLP policy is fitted to its (state, action)
pairs by supervised learning, and the policy is judged by rolling it out.

The environment (``CartPole``) is the classic cart-pole with the equations and constants of
gym's ``CartPole-v1``, written here in numpy: a cart of 1 kg, a pole of 0.1 kg and half-length
0.5 m, a force of +-10 N, Euler steps of 0.02 s; the state is the cart's position (m) and
velocity (m/s) and the pole's angle (rad) and angular velocity (rad/s), drawn uniformly in
[-0.05, 0.05] at a reset; the episode ends when the pole leans more than 12 degrees or the cart
leaves [-2.4, 2.4], or after 200 steps; every step earns 1. The expert is a hand-written linear
controller (push right when ``0.1 x + 0.5 x_dot + 10 theta + 2 theta_dot > 0``) with a random
action in 20% of the steps while it demonstrates (its own action is still the label), so that
the demonstrations visit states off its own path. ``--demos`` episodes (20) are recorded for
training and 5 others are held out.

The notebooks' loop: the states are standardized with the training demonstrations' mean and
standard deviation; the ``policy`` is an ``nn.Sequential`` MLP (4-64, ReLU, 64-64, ReLU,
64-2: the two actions' logits) trained with ``nn.CrossEntropyLoss`` and Adam
(``--lr``, 1e-3) on minibatches of 64 shuffled pairs, 12 epochs. After every epoch the held-out
demonstrations' cross-entropy is the validation loss and their action accuracy the validation
accuracy, and the policy (greedy) is rolled out for 10 episodes: the result line adds the mean
return of the last epoch's rollouts (``mean_return``, at most 200; a random policy about 24),
the share of them that reach 200 (``success_rate``) and the expert's own mean return
(``expert_return``). The mistakes of the families in CASES are selected with ``--bug`` or show
in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

np = common.np
MAX_STEPS = 200


class CartPole:
    """The classic cart-pole (gym's CartPole-v1 dynamics), in numpy."""

    gravity, masscart, masspole, length = 9.8, 1.0, 0.1, 0.5
    force_mag, tau = 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, rng):
        self.rng = rng
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length

    def reset(self):
        self.state = self.rng.uniform(-0.05, 0.05, size=4)
        self.t = 0
        return self.state.copy()

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        costheta, sintheta = math.cos(theta), math.sin(theta)
        temp = (force + self.polemass_length * theta_dot ** 2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta ** 2 / self.total_mass))
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        self.state = np.array([x, x_dot, theta, theta_dot])
        self.t += 1
        done = (abs(x) > self.x_threshold or abs(theta) > self.theta_threshold
                or self.t >= MAX_STEPS)
        return self.state.copy(), 1.0, done


def expert(state):
    x, x_dot, theta, theta_dot = state
    return int(0.1 * x + 0.5 * x_dot + 10.0 * theta + 2.0 * theta_dot > 0)


def collect(episodes, rng, explore=0.2, bug=None):
    env = CartPole(rng)
    states, actions, returns = [], [], []
    for _ in range(episodes):
        obs, done, ret = env.reset(), False, 0.0
        while not done:
            action = expert(obs)
            taken = int(rng.integers(2)) if rng.random() < explore else action
            next_obs, reward, done = env.step(taken)
            if bug == "next-state":
                # BUG (next-state): the observation returned by env.step is stored with the
                # action that produced it: action t is paired with state t+1.
                states.append(next_obs)
            else:
                states.append(obs)
            actions.append(action)
            obs, ret = next_obs, ret + reward
        returns.append(ret)
    return np.array(states, dtype=np.float32), np.array(actions, dtype=np.int64), returns


def rollout(policy, mean, std, rng, episodes=10):
    env = CartPole(rng)
    returns = []
    policy.eval()
    with torch.no_grad():
        for _ in range(episodes):
            obs, done, ret = env.reset(), False, 0.0
            while not done:
                s = torch.tensor((obs - mean) / std, dtype=torch.float32).unsqueeze(0)
                obs, reward, done = env.step(int(policy(s).argmax(1).item()))
                ret += reward
            returns.append(ret)
    policy.train()
    return returns


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--demos", type=int, default=20)
    p.add_argument("--explore", type=float, default=0.2)
    p.add_argument("--bug", default=None, choices=("next-state", "mse-class-index", "shuffled-separately"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    rng = np.random.default_rng(args.seed)
    states, actions, expert_returns = collect(args.demos, rng, args.explore, bug=args.bug)
    val_states, val_actions, _ = collect(5, np.random.default_rng(1000 + args.seed),
                                         args.explore)
    print("demonstrations: %d pairs, expert return %.1f" % (len(states),
                                                             np.mean(expert_returns)))
    # the demonstrations shuffled once, as the notebooks do before keeping them
    if args.bug == "shuffled-separately":
        # BUG (shuffled-separately): the states and the actions shuffled by two separate
        # rng.shuffle calls: every state is paired with a random demonstration's action.
        rng.shuffle(states)
        rng.shuffle(actions)
    else:
        order = rng.permutation(len(states))
        states, actions = states[order], actions[order]
    mean, std = states.mean(0), states.std(0) + 1e-8
    x = torch.from_numpy((states - mean) / std)
    y = torch.from_numpy(actions)
    val_x = torch.from_numpy((val_states - mean) / std)
    val_y = torch.from_numpy(val_actions)

    h = args.hidden
    policy = nn.Sequential(nn.Linear(4, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(),
                           nn.Linear(h, 2))
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.lr)
    if args.bug == "mse-class-index":
        # BUG (mse-class-index): the continuous-control notebook's nn.MSELoss kept for the
        # discrete actions: the two logits are regressed on the action's class index.
        criterion = nn.MSELoss()
        loss_fn = lambda out, target: criterion(out, target.float().unsqueeze(1))  # noqa: E731
    else:
        criterion = nn.CrossEntropyLoss()
        loss_fn = criterion
    steps_per_epoch = math.ceil(len(x) / args.batch_size)
    rec = common.recording.torch_recorder(
        policy, args.out, optimizer=optimizer, task="classification",
        loss_name=type(criterion).__name__, num_classes=2,
        steps_per_epoch=steps_per_epoch, batch_size=args.batch_size)
    g = torch.Generator().manual_seed(args.seed)
    eval_rng = np.random.default_rng(2000 + args.seed)
    history = common.History()
    returns = []
    for epoch in range(args.epochs):
        perm = torch.randperm(len(x), generator=g)
        for b in range(steps_per_epoch):
            idx = perm[b * args.batch_size:(b + 1) * args.batch_size]
            xb, yb = x[idx], y[idx]
            optimizer.zero_grad()
            out = policy(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            acc = (out.argmax(1) == yb).float().mean()
            val_loss = val_acc = None
            if b == steps_per_epoch - 1:
                with torch.no_grad():
                    vo = policy(val_x)
                    val_loss = loss_fn(vo, val_y).item()
                    val_acc = (vo.argmax(1) == val_y).float().mean().item()
            rec.step(loss, accuracy=acc, inputs=xb, targets=yb, val_loss=val_loss,
                     val_accuracy=val_acc)
            history.step(loss.item(), acc.item())
        history.epoch(val_loss, val_acc)
        returns = rollout(policy, mean, std, eval_rng)
        print("epoch %d: loss %.4f acc %.3f | val loss %.4f acc %.3f | return %.1f" % (
            epoch + 1, np.mean(history.epochs[-1][0]), np.mean(history.epochs[-1][1]),
            val_loss, val_acc, np.mean(returns)))
    rec.close()
    common.report(history.result(
        mean_return=float(np.mean(returns)),
        success_rate=float(np.mean([r >= MAX_STEPS for r in returns])),
        expert_return=float(np.mean(expert_returns))))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "bc-mse-class-index", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (MSE on the class index of a "
               "discrete action)",
     "bug": "nn.MSELoss() between the policy's two logits and the action's class index "
            "(broadcast to both): both logits regress on the same 0/1 target, so their argmax "
            "says nothing; the loss falls from 0.180 to 0.021, but the held-out action "
            "accuracy ends at 0.474 and the rollouts' mean return at 14.3 (success rate 0), "
            "against the twin's 0.983 and 200.0 (success rate 1)",
     "fix": "nn.CrossEntropyLoss() on the logits and the integer actions",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug mse-class-index --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "bc-shuffled-separately", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong labels (states and actions shuffled "
               "independently)",
     "bug": "rng.shuffle(states) and rng.shuffle(actions) as two calls: every state gets a "
            "random demonstration's action; the loss stays at 0.69 (0.697 to 0.690, training "
            "accuracy 0.523), the held-out action accuracy ends at 0.682 and the mean return at "
            "53.3 (success rate 0), against the twin's 0.992 and 200.0 (success rate 1)",
     "fix": "one permutation applied to the states and the actions together",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug shuffled-separately --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-bc", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a behaviour-cloning policy of a cart-pole expert that trains well",
     "healthy": [
         {"id": "hidden128-demos15-seed3",
          "args": "--hidden 128 --demos 15 --seed 3 --record-every 4",
          "description": "128 hidden units, 15 demonstrations"},
     ]},
]


if __name__ == "__main__":
    main()
