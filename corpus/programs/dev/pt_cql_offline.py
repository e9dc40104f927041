"""Conservative Q-Learning (CQL, Kumar et al. 2020) for discrete actions, trained offline on a
fixed data set, as CleanRL-style single-file PyTorch code (and d3rlpy's ``DiscreteCQL``) writes
it.

The environment (``GridWorld``) is written here in numpy: a 7 x 7 grid, the goal in the top
right corner (+1, the episode ends), six pits (-1, the episode ends), -0.02 for every other
step, four actions (up, down, left, right; a move into the border stays put), at most 30 steps
(truncated). The state is the one-hot code of the agent's cell (49 inputs). The data set is
collected once, before training, by a mediocre behaviour policy: a scripted policy that walks
the shortest pit-free path to the goal, taken with probability 1 - ``--behaviour-eps`` (0.5),
and a uniformly random action otherwise, from random free start cells; 300 episodes train,
100 others (another seed) are held out.

The agent is CleanRL's ``QNetwork`` (``network.0``, ``network.2``, ``network.4``: 49-128-128-4,
ReLU) and a ``target_network`` initialised with its weights and updated softly after every
step (``--tau``). The loss of a minibatch of ``--batch-size`` transitions sampled from the data
set is the TD loss, ``F.mse_loss`` between ``Q(s, a)`` and ``r + gamma * (1 - done) *
max_a' Q_target(s', a')``, plus the CQL penalty ``alpha * (logsumexp_a Q(s, a) - Q(s, a_data))``
averaged over the batch (``--alpha``, 1.0); Adam (``--lr``). An epoch is 50 steps. After every
epoch the same loss on the held-out transitions is the validation loss, and the greedy policy
is run from 10 fixed start cells: the mean of their returns is reported (``eval_return``; the
best possible from those cells is 0.888; the behaviour policy's episodes in the data set
return about 0 on average). The recorder records the Q-network under the temporal-difference
objective, with the evaluation returns as episode returns. The mistakes of the families in CASES are selected with ``--bug`` or show in
a setting (``--lr``, ``--alpha``, ``--tau``).
"""

import os
import sys
from collections import deque

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn, optim  # noqa: E402
import torch.nn.functional as F  # noqa: E402

np = common.np

STEPS_PER_EPOCH = 50
SIZE = 7
GOAL = (6, 6)
PITS = {(1, 3), (2, 3), (3, 3), (5, 4), (4, 1), (3, 5)}
MOVES = [(0, 1), (0, -1), (-1, 0), (1, 0)]    # up, down, left, right
EVAL_STARTS = [(0, 0), (0, 6), (6, 0), (2, 1), (1, 5), (4, 3), (5, 2), (2, 5), (0, 3), (6, 3)]


class GridWorld:
    """A 7 x 7 grid with a goal and pits; one-hot observations."""

    def __init__(self, max_steps=30):
        self.max_steps = max_steps
        self.pos = (0, 0)
        self.t = 0

    def obs(self):
        o = np.zeros(SIZE * SIZE, dtype=np.float32)
        o[self.pos[0] * SIZE + self.pos[1]] = 1.0
        return o

    def reset(self, start):
        self.pos, self.t = start, 0
        return self.obs()

    def step(self, action):
        dx, dy = MOVES[action]
        self.pos = (min(max(self.pos[0] + dx, 0), SIZE - 1),
                    min(max(self.pos[1] + dy, 0), SIZE - 1))
        self.t += 1
        if self.pos == GOAL:
            return self.obs(), 1.0, True, False
        if self.pos in PITS:
            return self.obs(), -1.0, True, False
        return self.obs(), -0.02, False, self.t >= self.max_steps


def shortest_path_actions():
    """The scripted policy: for every cell, an action on a shortest pit-free path to the goal."""
    dist = {GOAL: 0}
    queue = deque([GOAL])
    while queue:
        c = queue.popleft()
        for dx, dy in MOVES:
            n = (c[0] + dx, c[1] + dy)
            if 0 <= n[0] < SIZE and 0 <= n[1] < SIZE and n not in PITS and n not in dist:
                dist[n] = dist[c] + 1
                queue.append(n)
    policy = {}
    for cell in dist:
        best = None
        for a, (dx, dy) in enumerate(MOVES):
            n = (min(max(cell[0] + dx, 0), SIZE - 1), min(max(cell[1] + dy, 0), SIZE - 1))
            if n in dist and (best is None or dist[n] < dist[best[1]]):
                best = (a, n)
        policy[cell] = best[0]
    return policy


def collect(episodes, eps, seed):
    """Transitions (s, a, r, s', done) of the epsilon-greedy scripted behaviour policy."""
    rng = np.random.default_rng(seed)
    scripted = shortest_path_actions()
    free = [(i, j) for i in range(SIZE) for j in range(SIZE) if (i, j) not in PITS and (i, j) != GOAL]
    env = GridWorld()
    s_, a_, r_, n_, d_, returns = [], [], [], [], [], []
    for _ in range(episodes):
        obs = env.reset(free[rng.integers(len(free))])
        done, total = False, 0.0
        while not done:
            a = int(rng.integers(4)) if rng.random() < eps else scripted[env.pos]
            nxt, r, terminated, truncated = env.step(a)
            s_.append(obs); a_.append(a); r_.append(r); n_.append(nxt)
            d_.append(float(terminated))
            total += r
            obs, done = nxt, terminated or truncated
        returns.append(total)
    t = lambda v, dt=torch.float32: torch.tensor(np.array(v), dtype=dt)  # noqa: E731
    return (t(s_), t(a_, torch.long), t(r_), t(n_), t(d_)), float(np.mean(returns))


class QNetwork(nn.Module):
    def __init__(self, n_obs, n_actions, hidden):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(n_obs, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, n_actions))

    def forward(self, x):
        return self.network(x)


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--gamma", type=float, default=0.95)
    p.add_argument("--tau", type=float, default=0.01)
    p.add_argument("--alpha", type=float, default=1.0, help="weight of the CQL penalty")
    p.add_argument("--behaviour-eps", type=float, default=0.5)
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--bug", default=None,
                   choices=("penalty-sign-flipped", "argmax-data-term", "no-terminal-mask",
                            "target-not-updated"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    data, behaviour_return = collect(args.episodes, args.behaviour_eps, seed=args.seed)
    val_data, _ = collect(100, args.behaviour_eps, seed=1000 + args.seed)
    n = len(data[0])
    print("data set: %d transitions, behaviour policy's mean return %.3f" % (n, behaviour_return))

    q_network = QNetwork(SIZE * SIZE, 4, args.hidden)
    target_network = QNetwork(SIZE * SIZE, 4, args.hidden)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = optim.Adam(q_network.parameters(), lr=args.lr)
    gen = torch.Generator().manual_seed(args.seed)

    rec = common.recording.torch_recorder(
        q_network, args.out, optimizer=optimizer, task="regression", loss_name="cql_loss",
        steps_per_epoch=STEPS_PER_EPOCH, batch_size=args.batch_size,
        objective="temporal_difference")

    def cql_loss(obs, actions, rewards, next_obs, dones):
        with torch.no_grad():
            target_max = target_network(next_obs).max(dim=1).values
            if args.bug == "no-terminal-mask":
                # BUG (no-terminal-mask): the (1 - done) factor left out: the goal and the pits
                # are bootstrapped from the (never visited) cell the episode ended in.
                td_target = rewards + args.gamma * target_max
            else:
                td_target = rewards + args.gamma * target_max * (1 - dones)
        q_all = q_network(obs)
        q_data = q_all.gather(1, actions.unsqueeze(1)).squeeze(1)
        td_loss = F.mse_loss(q_data, td_target)
        if args.bug == "argmax-data-term":
            # BUG (argmax-data-term): the data term takes the greedy action's value instead of
            # the data set's action: logsumexp - max only flattens Q, nothing favours the data.
            q_pushed_up = q_all.max(dim=1).values
        else:
            q_pushed_up = q_data
        if args.bug == "penalty-sign-flipped":
            # BUG (penalty-sign-flipped): the penalty subtracted: out-of-data actions pushed up.
            cql_penalty = (q_pushed_up - torch.logsumexp(q_all, dim=1)).mean()
        else:
            cql_penalty = (torch.logsumexp(q_all, dim=1) - q_pushed_up).mean()
        return td_loss + args.alpha * cql_penalty, td_target

    eval_env = GridWorld()

    def evaluate():
        returns = []
        with torch.no_grad():
            for start in EVAL_STARTS:
                obs, done, total = eval_env.reset(start), False, 0.0
                while not done:
                    a = q_network(torch.tensor(obs).unsqueeze(0)).argmax(1).item()
                    obs, r, terminated, truncated = eval_env.step(a)
                    total += r
                    done = terminated or truncated
                returns.append(total)
        return returns

    history = common.History()
    eval_return = None
    for epoch in range(args.epochs):
        for b in range(STEPS_PER_EPOCH):
            idx = torch.randint(n, (args.batch_size,), generator=gen)
            obs, actions, rewards, next_obs, dones = (d[idx] for d in data)
            loss, td_target = cql_loss(obs, actions, rewards, next_obs, dones)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

            # soft update of the target network
            if args.bug != "target-not-updated":
                for target_param, param in zip(target_network.parameters(),
                                               q_network.parameters()):
                    target_param.data.copy_(
                        args.tau * param.data + (1.0 - args.tau) * target_param.data)
            # BUG (target-not-updated): the soft update above skipped (a refactoring moved it
            # under a condition that never holds): the targets come from the random initial net.

            val_loss = returns = None
            if b == STEPS_PER_EPOCH - 1:
                with torch.no_grad():
                    val_loss = cql_loss(*val_data)[0].item()
                returns = evaluate()
                eval_return = float(np.mean(returns))
            rec.step(loss, inputs=obs, targets=td_target, val_loss=val_loss,
                     episode_return=returns)
            history.step(loss.item())
        history.epoch(val_loss)
        if (epoch + 1) % 5 == 0:
            print("epoch %d: loss %.4f  held-out loss %.4f  greedy return %.3f" % (
                epoch + 1, np.mean(history.epochs[-1][0]), val_loss, eval_return), flush=True)
    rec.close()
    with torch.no_grad():
        q_mean = q_network(data[0]).mean().item()
    print("greedy return %.3f (behaviour %.3f), mean Q on the data %.3f" % (
        eval_return, behaviour_return, q_mean))
    common.report(history.result(eval_return=eval_return, behaviour_return=behaviour_return,
                                 q_mean=q_mean))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "cql-penalty-sign-flipped", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong loss function / sign): the conservative "
               "penalty of CQL subtracted instead of added, a slip of offline-RL "
               "reimplementations that write the regularizer as Q(s, a_data) - logsumexp",
     "bug": "the CQL penalty written as (Q(s, a_data) - logsumexp_a Q(s, a)).mean(): the actions "
            "absent from the data set are pushed up instead of down, the Q values grow without "
            "bound (mean Q on the data 740, the best return is 0.888), the loss falls from -1.38 "
            "in the first epoch to -227.7 in the last while the held-out loss rises to 34706, "
            "and the greedy policy wanders until the 30-step limit from every start cell "
            "(return -0.600, the behaviour policy -0.026) against the twin's 0.888 (held-out "
            "loss 1.413, mean Q 0.886)",
     "fix": "cql_penalty = (logsumexp_a Q(s, a) - Q(s, a_data)).mean()",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning", "exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-alpha1",
          "buggy": "--bug penalty-sign-flipped --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "cql-argmax-data-term", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong loss computation): the data term of the "
               "CQL penalty taken at the greedy action (q.max(1)) instead of the data set's "
               "action (q.gather(1, a))",
     "bug": "the data term of the penalty is max_a Q(s, a) instead of Q(s, a_data): logsumexp - max "
            "only flattens the values and nothing favours the data set's actions, the TD "
            "bootstrap overestimates the unseen actions (mean Q on the data 14.75, above the "
            "best return of 0.888), the loss falls from 1.038 to 0.466 and the greedy policy "
            "loops until the 30-step limit from every start cell (return -0.600, the behaviour "
            "policy -0.036) against the twin's 0.888 (mean Q 0.945)",
     "fix": "the data term q_all.gather(1, actions.unsqueeze(1)), the data set's action",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-alpha1-seed1",
          "buggy": "--bug argmax-data-term --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-cql", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a discrete CQL agent trained offline on a gridworld data set that finds "
                    "the shortest pit-free paths",
     "healthy": [
         {"id": "alpha05-hidden64-seed2",
          "args": "--alpha 0.5 --hidden 64 --seed 2 --record-every 4",
          "description": "CQL weight 0.5, 64 hidden units"},
     ]},
]


if __name__ == "__main__":
    main()
