"""Deep Q-Learning on a cart-pole written here in numpy, as the PyTorch "Reinforcement Learning
(DQN) Tutorial" writes it.

The environment (``CartPole``) is the classic cart-pole of Barto, Sutton and Anderson (1983)
with the equations and constants of gym's ``CartPole-v1``: a cart of 1 kg and a pole of 0.1 kg
and half-length 0.5 m, a force of +-10 N, Euler steps of 0.02 s; the state is the cart's
position and velocity and the pole's angle and angular velocity, drawn uniformly in
[-0.05, 0.05] at a reset; the episode ends when the pole leans more than 12 degrees or the
cart leaves [-2.4, 2.4] (terminated) or after ``--max-steps`` steps (truncated); every step
earns a reward of 1.

The agent is the tutorial's: a Q-network ``DQN`` (``layer1``, ``layer2`` of ``--hidden`` units
with ReLU, ``layer3`` giving the two actions' values), a ``policy_net`` and a ``target_net``
initialised with its weights, a ``ReplayMemory`` (a ``deque`` of ``Transition`` namedtuples,
``--memory`` of them), epsilon-greedy action selection with epsilon decaying exponentially from
``--eps-start`` to ``--eps-end`` over ``--eps-decay`` steps, and after every environment step
one optimization on a batch sampled from the memory: ``nn.SmoothL1Loss`` between
``Q(s, a)`` (``policy_net(s).gather(1, a)``) and ``r + gamma * max_a' Q_target(s', a')``
(0 for terminal states), ``optim.AdamW(amsgrad=True)``, ``clip_grad_value_`` at 100, then a
soft update of the target net with ``--tau`` (or a hard copy every ``--target-every`` steps).
The recorder records ``policy_net``; every optimization is a step, 250 environment steps an
epoch. The run's metric is the episode return: the result line adds the mean return of the
last 20 training episodes (``episode_return``) and of 5 greedy episodes at the end
(``eval_return``). The mistakes of the families in CASES are selected with ``--bug`` or show
in a setting (``--lr``).
"""

import math
import os
import random
import sys
from collections import deque, namedtuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn, optim  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np

STEPS_PER_EPOCH = 250


class CartPole:
    """The classic cart-pole (gym's CartPole-v1 dynamics), in numpy."""

    gravity, masscart, masspole, length = 9.8, 1.0, 0.1, 0.5
    force_mag, tau = 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, seed, max_steps=500):
        self.rng = np.random.default_rng(seed)
        self.max_steps = max_steps
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length
        self.state = None
        self.t = 0

    def reset(self):
        self.state = self.rng.uniform(-0.05, 0.05, size=4)
        self.t = 0
        return self.state.astype(np.float32)

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
        terminated = bool(abs(x) > self.x_threshold or abs(theta) > self.theta_threshold)
        truncated = self.t >= self.max_steps
        return self.state.astype(np.float32), 1.0, terminated, truncated


Transition = namedtuple("Transition", ("state", "action", "next_state", "reward"))


class ReplayMemory(object):

    def __init__(self, capacity):
        self.memory = deque([], maxlen=capacity)

    def push(self, *args):
        """Save a transition"""
        self.memory.append(Transition(*args))

    def sample(self, batch_size):
        return random.sample(self.memory, batch_size)

    def __len__(self):
        return len(self.memory)


class DQN(nn.Module):

    def __init__(self, n_observations, n_actions, hidden):
        super(DQN, self).__init__()
        self.layer1 = nn.Linear(n_observations, hidden)
        self.layer2 = nn.Linear(hidden, hidden)
        self.layer3 = nn.Linear(hidden, n_actions)

    # Called with either one element to determine next action, or a batch
    # during optimization. Returns tensor([[left0exp,right0exp]...]).
    def forward(self, x):
        x = F.relu(self.layer1(x))
        x = F.relu(self.layer2(x))
        return self.layer3(x)


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--eps-start", type=float, default=0.9)
    p.add_argument("--eps-end", type=float, default=0.05)
    p.add_argument("--eps-decay", type=float, default=1000)
    p.add_argument("--tau", type=float, default=0.005)
    p.add_argument("--target-every", type=int, default=0,
                   help="hard copy of the policy net every N steps instead of the soft update")
    p.add_argument("--memory", type=int, default=10000)
    p.add_argument("--max-steps", type=int, default=500, help="episode length limit")
    p.add_argument("--env-steps", type=int, default=3000)
    p.add_argument("--bug", default=None,
                   choices=("no-terminal-mask", "no-zero-grad", "target-self-update"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    env = CartPole(args.seed, max_steps=args.max_steps)
    n_actions, n_observations = 2, 4
    policy_net = DQN(n_observations, n_actions, args.hidden)
    target_net = DQN(n_observations, n_actions, args.hidden)
    target_net.load_state_dict(policy_net.state_dict())

    optimizer = optim.AdamW(policy_net.parameters(), lr=args.lr, amsgrad=True)
    memory = ReplayMemory(args.memory)
    criterion = nn.SmoothL1Loss()

    rec = common.recording.torch_recorder(
        policy_net, args.out, optimizer=optimizer, task="regression",
        loss_name="SmoothL1Loss", steps_per_epoch=STEPS_PER_EPOCH,
        batch_size=args.batch_size, objective="temporal_difference")

    steps_done = 0

    def select_action(state):
        nonlocal steps_done
        sample = random.random()
        eps_threshold = args.eps_end + (args.eps_start - args.eps_end) * \
            math.exp(-1. * steps_done / args.eps_decay)
        steps_done += 1
        if sample > eps_threshold:
            with torch.no_grad():
                # t.max(1) will return the largest column value of each row.
                return policy_net(state).max(1).indices.view(1, 1)
        else:
            return torch.tensor([[random.randrange(n_actions)]], dtype=torch.long)

    def optimize_model():
        transitions = memory.sample(args.batch_size)
        # Transpose the batch: a Transition of batch-arrays.
        batch = Transition(*zip(*transitions))

        non_final_mask = torch.tensor(tuple(map(lambda s: s is not None, batch.next_state)),
                                      dtype=torch.bool)
        non_final_next_states = torch.cat([s for s in batch.next_state if s is not None])
        state_batch = torch.cat(batch.state)
        action_batch = torch.cat(batch.action)
        reward_batch = torch.cat(batch.reward)

        # Q(s_t, a): the model computes Q(s_t), then we select the columns of the actions taken.
        state_action_values = policy_net(state_batch).gather(1, action_batch)

        # V(s_{t+1}) for all next states, from the "older" target_net; 0 for final states.
        next_state_values = torch.zeros(args.batch_size)
        with torch.no_grad():
            next_state_values[non_final_mask] = target_net(non_final_next_states).max(1).values
        expected_state_action_values = (next_state_values * args.gamma) + reward_batch

        loss = criterion(state_action_values, expected_state_action_values.unsqueeze(1))

        if args.bug != "no-zero-grad":
            optimizer.zero_grad()
        # BUG (no-zero-grad): optimizer.zero_grad() forgotten: every step's gradient is added
        # to all the earlier ones.
        loss.backward()
        # In-place gradient clipping
        torch.nn.utils.clip_grad_value_(policy_net.parameters(), 100)
        optimizer.step()
        return loss, state_batch, expected_state_action_values

    history = common.History()
    returns = []
    episode_return = 0.0
    state = torch.tensor(env.reset(), dtype=torch.float32).unsqueeze(0)
    for t in range(args.env_steps):
        action = select_action(state)
        observation, reward, terminated, truncated = env.step(action.item())
        episode_return += reward
        reward = torch.tensor([reward])
        if terminated and args.bug != "no-terminal-mask":
            next_state = None
        # BUG (no-terminal-mask): the terminal observation is stored as a next state like any
        # other (the `if terminated: next_state = None` left out), so the state where the pole
        # fell is bootstrapped too: no transition tells the agent that falling ends the rewards.
        else:
            next_state = torch.tensor(observation, dtype=torch.float32).unsqueeze(0)
        memory.push(state, action, next_state, reward)
        state = next_state

        if len(memory) >= args.batch_size:
            loss, xb, yb = optimize_model()

            if args.target_every:
                if history.steps % args.target_every == 0:
                    target_net.load_state_dict(policy_net.state_dict())
            else:
                # Soft update of the target network's weights
                # θ′ ← τ θ + (1 −τ )θ′
                target_net_state_dict = target_net.state_dict()
                policy_net_state_dict = policy_net.state_dict()
                for key in policy_net_state_dict:
                    if args.bug == "target-self-update":
                        # BUG (target-self-update): the soft update blends the target net
                        # with itself (a copy-paste slip): it never moves from its random
                        # initial weights, and the bootstrap targets come from a random net.
                        target_net_state_dict[key] = target_net_state_dict[key] * args.tau \
                            + target_net_state_dict[key] * (1 - args.tau)
                    else:
                        target_net_state_dict[key] = policy_net_state_dict[key] * args.tau \
                            + target_net_state_dict[key] * (1 - args.tau)
                target_net.load_state_dict(target_net_state_dict)

            rec.step(loss, inputs=xb, targets=yb)
            history.step(loss.item())

        if terminated or truncated:
            returns.append(episode_return)
            rec.add_return(episode_return)
            episode_return = 0.0
            state = torch.tensor(env.reset(), dtype=torch.float32).unsqueeze(0)

        if (t + 1) % STEPS_PER_EPOCH == 0 and history.steps:
            history.epoch()
            recent = returns[-10:] or [episode_return]
            print("env step %d: episodes %d, TD loss %.4f, mean return (last 10) %.1f" % (
                t + 1, len(returns), np.mean(history.epochs[-1][0]), np.mean(recent)),
                flush=True)
    rec.close()

    # Greedy evaluation episodes on their own environment.
    eval_env = CartPole(1000 + args.seed, max_steps=args.max_steps)
    eval_returns = []
    with torch.no_grad():
        for _ in range(5):
            s, done, total = eval_env.reset(), False, 0.0
            while not done:
                a = policy_net(torch.tensor(s).unsqueeze(0)).argmax(1).item()
                s, r, terminated, truncated = eval_env.step(a)
                total += r
                done = terminated or truncated
            eval_returns.append(total)
    print("episodes %d, last 20 mean return %.1f, greedy return %.1f" % (
        len(returns), np.mean(returns[-20:]), np.mean(eval_returns)))
    common.report(history.result(episode_return=float(np.mean(returns[-20:])),
                                 eval_return=float(np.mean(eval_returns)),
                                 episodes=len(returns)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "dqn-no-terminal-mask", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong target / loss computation): the terminal "
               "transitions of a DQN bootstrapped like any other (the done mask of the Bellman "
               "target left out), a frequent Stack Overflow question on DQN agents that do not "
               "learn CartPole",
     "bug": "the terminal observation is stored as the next state (`if terminated: next_state "
            "= None` left out), so r + gamma * max Q_target(s') bootstraps the state where the "
            "pole fell too: every Q value heads for 1 / (1 - gamma) and the actions stop "
            "mattering; the TD loss falls to 9e-4 while the last 20 episodes return 9.3 (greedy "
            "9.4, below a random policy's ~22) against the twin's 141.8 (greedy 139.6)",
     "fix": "store next_state = None for terminated transitions so their target is the reward",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-soft-tau-seed0",
          "buggy": "--bug no-terminal-mask --env-steps 4000 --record-every 16",
          "fixed": "--env-steps 4000 --record-every 16"},
     ]},
    {"family": "dqn-target-self-update", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong parameter update / copy-paste); DQN "
               "target network never updated from the policy network",
     "bug": "the soft update blends the target net's weights with themselves "
            "(target * tau + target * (1 - tau)): the target net keeps its random initial "
            "weights, the policy net fits 1 + gamma * max of a random net, the TD loss falls to "
            "9e-4 and the last 20 episodes return 9.7 (greedy 10.0) against the twin's 140.8 "
            "(greedy 163.4)",
     "fix": "target = policy * tau + target * (1 - tau)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-soft-tau-seed1",
          "buggy": "--bug target-self-update --env-steps 4000 --seed 1 --record-every 16",
          "fixed": "--env-steps 4000 --seed 1 --record-every 16"},
     ]},
    {"family": "dqn-no-zero-grad", "split": "dev", "architecture": "mlp",
     "origin": "DeepFD / Humbatova et al. 2020: missing optimizer.zero_grad() in a PyTorch "
               "training loop (gradients accumulate across steps)",
     "bug": "optimizer.zero_grad() forgotten in optimize_model(): every step's gradient is "
            "added to all earlier ones (clip_grad_value_ at 100 clips each entry, AdamW with "
            "amsgrad normalises the step); the TD loss rises from 0.28 in the first epoch to 1.62 in the last and "
            "the last 20 episodes return 46.0 (greedy 68.4) against the twin's 152.7 (greedy "
            "165.4)",
     "fix": "optimizer.zero_grad() before loss.backward()",
     "symptom": "exploding_gradient", "acceptable_symptoms": ["not_learning", "oscillation"],
     "root_cause": "model",
     "pairs": [
         {"id": "adamw-soft-tau-seed2",
          "buggy": "--bug no-zero-grad --env-steps 4000 --seed 2 --record-every 16",
          "fixed": "--env-steps 4000 --seed 2 --record-every 16"},
     ]},
    {"family": "healthy-dqn", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a DQN agent on a numpy cart-pole that learns to balance the pole",
     "healthy": [
         {"id": "hard-copy500-seed3",
          "args": "--target-every 500 --env-steps 4000 --seed 3 --record-every 16",
          "description": "the target net copied from the policy net every 500 steps instead of "
                         "the soft update"},
         {"id": "hidden128-bs128-seed4",
          "args": "--hidden 128 --batch-size 128 --env-steps 4000 --seed 4 --record-every 16",
          "description": "128 hidden units, batches of 128"},
     ]},
]


if __name__ == "__main__":
    main()
