"""Soft Actor-Critic (Haarnoja et al. 2018) on the inverted pendulum, as CleanRL's single-file
``sac_continuous_action.py`` writes it.

No gym: the pendulum is written here in numpy with the classic equations of gym's
``Pendulum-v1`` (g = 10, m = l = 1, dt = 0.05, torque in [-2, 2], speed clipped to 8 rad/s,
the observation ``[cos th, sin th, th_dot]``, the reward ``-(th^2 + 0.1 th_dot^2 + 0.001
u^2)``, a random start angle in [-pi, pi] and speed in [-1, 1]); an episode is truncated after
``--episode-len`` steps (200, as gym). A random policy earns about -1200 an episode, a pendulum
swung up and held about -150.

The agent is CleanRL's: two soft Q-networks ``qf1`` and ``qf2`` (``SoftQNetwork``: the state
and action concatenated, two ``Linear`` layers of ``--hidden`` units with ReLU, one value) and
their target copies updated by Polyak averaging with ``--tau`` every step; an ``Actor`` (two
``Linear`` layers with ReLU, ``fc_mean`` and ``fc_logstd`` heads, the log-std squashed by tanh
into [-5, 2]) whose action is a tanh-squashed Gaussian sample (``rsample``) rescaled to the
torque range, its log-probability corrected by ``- log(scale (1 - tanh(x)^2) + 1e-6)``. The
first ``--learning-starts`` steps act at random; then every environment step samples
``--batch-size`` transitions of the replay buffer and updates the critics (the MSE of both Q's
to ``r + gamma (min Q'(s', a') - alpha log pi(a'|s'))``, one Adam at ``--q-lr`` over both),
and every ``--policy-frequency`` steps the actor that many times (``alpha log pi - min Q``,
Adam at ``--policy-lr``) and the temperature (automatic entropy tuning: ``log_alpha`` learned
by Adam at ``--q-lr`` towards the target entropy -1, the action's dimension negated).

Each update is one recorded step (the critics' TD loss, ``objective="temporal_difference"``;
inputs the batch's observations, targets its TD targets) of the three networks held in one
``nn.ModuleDict`` with both optimizers; an epoch is one episode's 200 steps. The returns are
given with ``rec.add_return`` where an episode ends. The run's metric is the episode return:
the result line adds the mean return of the last 5 training episodes (``episode_return``) and
of 3 deterministic episodes (the tanh of the mean action) at the end (``eval_return``). The
mistakes of the families in CASES are selected with ``--bug`` or show in a setting.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torch.optim as optim  # noqa: E402

np = common.np

LOG_STD_MAX = 2
LOG_STD_MIN = -5


class Pendulum:
    """gym's Pendulum-v1, in numpy."""

    max_speed, max_torque, dt, g, m, l = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0

    def __init__(self, seed, max_steps=200):
        self.rng = np.random.default_rng(seed)
        self.max_steps = max_steps
        self.state = None
        self.t = 0

    def reset(self):
        self.state = np.array([self.rng.uniform(-np.pi, np.pi), self.rng.uniform(-1.0, 1.0)])
        self.t = 0
        return self._obs()

    def _obs(self):
        th, thdot = self.state
        return np.array([np.cos(th), np.sin(th), thdot], dtype=np.float32)

    def step(self, u):
        th, thdot = self.state
        u = float(np.clip(u, -self.max_torque, self.max_torque))
        angle = ((th + np.pi) % (2 * np.pi)) - np.pi
        cost = angle ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2
        newthdot = thdot + (3 * self.g / (2 * self.l) * np.sin(th)
                            + 3.0 / (self.m * self.l ** 2) * u) * self.dt
        newthdot = float(np.clip(newthdot, -self.max_speed, self.max_speed))
        newth = th + newthdot * self.dt
        self.state = np.array([newth, newthdot])
        self.t += 1
        return self._obs(), -cost, False, self.t >= self.max_steps


class ReplayBuffer:
    def __init__(self, size, obs_dim, act_dim, rng):
        self.obs = np.zeros((size, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((size, obs_dim), dtype=np.float32)
        self.actions = np.zeros((size, act_dim), dtype=np.float32)
        self.rewards = np.zeros((size, 1), dtype=np.float32)
        self.dones = np.zeros((size, 1), dtype=np.float32)
        self.size, self.pos, self.full, self.rng = size, 0, False, rng

    def add(self, obs, next_obs, action, reward, done):
        self.obs[self.pos] = obs
        self.next_obs[self.pos] = next_obs
        self.actions[self.pos] = action
        self.rewards[self.pos] = reward
        self.dones[self.pos] = done
        self.pos = (self.pos + 1) % self.size
        self.full = self.full or self.pos == 0

    def sample(self, batch_size):
        idx = self.rng.integers(0, self.size if self.full else self.pos, size=batch_size)
        return (torch.from_numpy(self.obs[idx]), torch.from_numpy(self.actions[idx]),
                torch.from_numpy(self.next_obs[idx]), torch.from_numpy(self.dones[idx]),
                torch.from_numpy(self.rewards[idx]))


class SoftQNetwork(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim + act_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, 1)

    def forward(self, x, a):
        x = torch.cat([x, a], 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Actor(nn.Module):
    def __init__(self, obs_dim, act_dim, hidden, low, high):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc_mean = nn.Linear(hidden, act_dim)
        self.fc_logstd = nn.Linear(hidden, act_dim)
        # action rescaling
        self.register_buffer("action_scale", torch.tensor((high - low) / 2.0,
                                                          dtype=torch.float32))
        self.register_buffer("action_bias", torch.tensor((high + low) / 2.0,
                                                         dtype=torch.float32))
        self.bug = None

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        mean = self.fc_mean(x)
        log_std = self.fc_logstd(x)
        log_std = torch.tanh(log_std)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)
        return mean, log_std

    def get_action(self, x):
        mean, log_std = self(x)
        std = log_std.exp()
        normal = torch.distributions.Normal(mean, std)
        x_t = normal.rsample()  # for reparameterization trick (mean + std * N(0,1))
        y_t = torch.tanh(x_t)
        action = y_t * self.action_scale + self.action_bias
        log_prob = normal.log_prob(x_t)
        if self.bug != "no-tanh-correction":
            # Enforcing Action Bound
            log_prob -= torch.log(self.action_scale * (1 - y_t.pow(2)) + 1e-6)
        # BUG (no-tanh-correction): the change-of-variables term of the tanh squashing left
        # out: log pi is that of the unbounded Gaussian.
        log_prob = log_prob.sum(1, keepdim=True)
        mean = torch.tanh(mean) * self.action_scale + self.action_bias
        return action, log_prob, mean


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--total-timesteps", type=int, default=5000)
    p.add_argument("--episode-len", type=int, default=200)
    p.add_argument("--buffer-size", type=int, default=100000)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--tau", type=float, default=0.005)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-starts", type=int, default=1000)
    p.add_argument("--policy-lr", type=float, default=3e-4)
    p.add_argument("--q-lr", type=float, default=1e-3)
    p.add_argument("--policy-frequency", type=int, default=2)
    p.add_argument("--bug", default=None,
                   choices=("alpha-loss-sign", "obs-not-updated", "no-tanh-correction",
                            "max-of-twin-q"))
    args = p.parse_args()
    common.torch_setup(args.seed)
    rng = np.random.default_rng(args.seed)

    env = Pendulum(args.seed, max_steps=args.episode_len)
    obs_dim, act_dim = 3, 1
    low, high = np.array([-2.0]), np.array([2.0])

    actor = Actor(obs_dim, act_dim, args.hidden, low, high)
    actor.bug = args.bug
    qf1 = SoftQNetwork(obs_dim, act_dim, args.hidden)
    qf2 = SoftQNetwork(obs_dim, act_dim, args.hidden)
    qf1_target = SoftQNetwork(obs_dim, act_dim, args.hidden)
    qf2_target = SoftQNetwork(obs_dim, act_dim, args.hidden)
    qf1_target.load_state_dict(qf1.state_dict())
    qf2_target.load_state_dict(qf2.state_dict())
    q_optimizer = optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=args.q_lr)
    actor_optimizer = optim.Adam(list(actor.parameters()), lr=args.policy_lr)

    # Automatic entropy tuning
    target_entropy = -float(act_dim)
    log_alpha = torch.zeros(1, requires_grad=True)
    alpha = log_alpha.exp().item()
    a_optimizer = optim.Adam([log_alpha], lr=args.q_lr)

    rb = ReplayBuffer(args.buffer_size, obs_dim, act_dim, rng)
    agent = nn.ModuleDict({"actor": actor, "qf1": qf1, "qf2": qf2})
    rec = common.recording.torch_recorder(
        agent, args.out, optimizer=[q_optimizer, actor_optimizer], task="regression",
        loss_name="soft_q_mse", steps_per_epoch=args.episode_len, batch_size=args.batch_size,
        objective="temporal_difference")

    history = common.History()
    returns = []
    episode_return = 0.0
    obs = env.reset()
    for global_step in range(args.total_timesteps):
        # ALGO LOGIC: put action logic here
        if global_step < args.learning_starts:
            actions = rng.uniform(low, high).astype(np.float32)
        else:
            with torch.no_grad():
                actions, _, _ = actor.get_action(torch.from_numpy(obs).unsqueeze(0))
            actions = actions[0].numpy()

        next_obs, reward, terminated, truncated = env.step(actions[0])
        episode_return += reward
        rb.add(obs, next_obs, actions, reward, terminated)

        # CRUCIAL step easy to overlook
        if args.bug != "obs-not-updated":
            obs = next_obs
        # BUG (obs-not-updated): `obs = next_obs` left out: the agent keeps acting on, and
        # storing, the episode's first observation; every transition's state is that of the
        # episode's start.
        if terminated or truncated:
            returns.append(episode_return)
            rec.add_return(episode_return)
            print("step %d: episode %d return %.1f alpha %.3f" % (
                global_step + 1, len(returns), episode_return, alpha), flush=True)
            episode_return = 0.0
            obs = env.reset()

        # ALGO LOGIC: training.
        if global_step >= args.learning_starts:
            b_obs, b_actions, b_next_obs, b_dones, b_rewards = rb.sample(args.batch_size)
            with torch.no_grad():
                next_state_actions, next_state_log_pi, _ = actor.get_action(b_next_obs)
                qf1_next_target = qf1_target(b_next_obs, next_state_actions)
                qf2_next_target = qf2_target(b_next_obs, next_state_actions)
                if args.bug == "max-of-twin-q":
                    # BUG (max-of-twin-q): the larger of the two target Q's taken, so the
                    # twin critics add to the overestimation they are there to prevent.
                    next_q = torch.max(qf1_next_target, qf2_next_target)
                else:
                    next_q = torch.min(qf1_next_target, qf2_next_target)
                min_qf_next_target = next_q - alpha * next_state_log_pi
                next_q_value = b_rewards.flatten() + (1 - b_dones.flatten()) * args.gamma * (
                    min_qf_next_target).view(-1)

            qf1_a_values = qf1(b_obs, b_actions).view(-1)
            qf2_a_values = qf2(b_obs, b_actions).view(-1)
            qf1_loss = F.mse_loss(qf1_a_values, next_q_value)
            qf2_loss = F.mse_loss(qf2_a_values, next_q_value)
            qf_loss = qf1_loss + qf2_loss

            # optimize the model
            q_optimizer.zero_grad()
            qf_loss.backward()
            q_optimizer.step()

            if global_step % args.policy_frequency == 0:  # TD 3 Delayed update support
                for _ in range(args.policy_frequency):
                    pi, log_pi, _ = actor.get_action(b_obs)
                    qf1_pi = qf1(b_obs, pi)
                    qf2_pi = qf2(b_obs, pi)
                    min_qf_pi = torch.min(qf1_pi, qf2_pi)
                    actor_loss = ((alpha * log_pi) - min_qf_pi).mean()

                    actor_optimizer.zero_grad()
                    actor_loss.backward()
                    actor_optimizer.step()

                    with torch.no_grad():
                        _, log_pi, _ = actor.get_action(b_obs)
                    if args.bug == "alpha-loss-sign":
                        # BUG (alpha-loss-sign): the minus sign of the temperature loss
                        # dropped: alpha grows while the policy's entropy is above the
                        # target and shrinks below it, the opposite of the tuning.
                        alpha_loss = (log_alpha.exp() * (log_pi + target_entropy)).mean()
                    else:
                        alpha_loss = (-log_alpha.exp() * (log_pi + target_entropy)).mean()

                    a_optimizer.zero_grad()
                    alpha_loss.backward()
                    a_optimizer.step()
                    alpha = log_alpha.exp().item()

            # update the target networks
            for param, target_param in zip(qf1.parameters(), qf1_target.parameters()):
                target_param.data.copy_(args.tau * param.data + (1 - args.tau) * target_param.data)
            for param, target_param in zip(qf2.parameters(), qf2_target.parameters()):
                target_param.data.copy_(args.tau * param.data + (1 - args.tau) * target_param.data)

            rec.step(qf_loss, inputs=b_obs, targets=next_q_value)
            history.step(qf_loss.item())
            if (global_step + 1) % args.episode_len == 0:
                history.epoch()
    rec.close()

    # Deterministic evaluation episodes on their own environment.
    eval_env = Pendulum(1000 + args.seed, max_steps=args.episode_len)
    eval_returns = []
    with torch.no_grad():
        for _ in range(3):
            s, done, total = eval_env.reset(), False, 0.0
            while not done:
                _, _, mean_action = actor.get_action(torch.from_numpy(s).unsqueeze(0))
                s, r, terminated, truncated = eval_env.step(mean_action[0, 0].item())
                total += r
                done = terminated or truncated
            eval_returns.append(total)
    print("episodes %d, last 5 mean return %.1f, deterministic return %.1f, alpha %.4f" % (
        len(returns), np.mean(returns[-5:]), np.mean(eval_returns), alpha))
    common.report(history.result(episode_return=float(np.mean(returns[-5:])),
                                 eval_return=float(np.mean(eval_returns)),
                                 episodes=len(returns), alpha=alpha))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "sac-alpha-loss-sign", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong loss function): the sign of SAC's "
               "temperature loss dropped, a known slip of SAC reimplementations (issues of "
               "SAC repositories on an entropy coefficient that grows without bound)",
     "bug": "alpha_loss = (log_alpha.exp() * (log_pi + target_entropy)).mean() without the "
            "minus sign: the temperature grows while the policy's entropy is above the target "
            "(alpha 1.0 at the first update, 3.6 at step 2000, 1742 at the end), the entropy "
            "bonus swamps the rewards in the soft targets and the TD loss rises from 15.6 in "
            "the first epoch to 7.6e4; the last 5 training episodes return -1113 (the "
            "deterministic policy -868, a random policy's about -1000 to -1200) against the "
            "twin's -186 (deterministic -2.7)",
     "fix": "alpha_loss = (-log_alpha.exp() * (log_pi + target_entropy)).mean()",
     "symptom": "not_learning", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-h64-seed0",
          "buggy": "--bug alpha-loss-sign --record-every 24",
          "fixed": "--record-every 24"},
     ]},
    {"family": "sac-obs-not-updated", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training data, wrong data / missing preprocessing step): "
               "the `obs = next_obs` of an off-policy loop left out (CleanRL marks it "
               "\"CRUCIAL step easy to overlook\"), a recurring Stack Overflow question on "
               "agents that do not learn",
     "bug": "obs = next_obs left out: the agent acts on, and stores as every transition's "
            "state, the episode's first observation, so the critics learn Q of one state per "
            "episode and bootstrap from next states they never see as inputs; the TD loss "
            "rises from 55 in the first epoch to 2.0e7 and the last 5 training episodes return "
            "-1193 (deterministic -1530) against the twin's -154 (deterministic -164)",
     "fix": "obs = next_obs after storing the transition",
     "symptom": "not_learning", "acceptable_symptoms": ["exploding_gradient"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-h64-seed1",
          "buggy": "--bug obs-not-updated --seed 1 --record-every 24",
          "fixed": "--seed 1 --record-every 24"},
     ]},
    {"family": "healthy-sac", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a Soft Actor-Critic on a numpy pendulum that learns to swing it up",
     "healthy": [
         {"id": "hidden128-tau1e-2-seed2",
          "args": "--hidden 128 --tau 0.01 --seed 2 --record-every 24",
          "description": "128 hidden units, Polyak tau 0.01"},
     ]},
]


if __name__ == "__main__":
    main()
