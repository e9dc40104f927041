"""Proximal policy optimization (PPO, Schulman et al. 2017) on a cart-pole written here in
numpy, as CleanRL's single-file ``ppo.py`` writes it.

The environment (``CartPole``) is the classic cart-pole with the equations and constants of
gym's ``CartPole-v1`` (the same class as ``pt_dqn_cartpole.py``): a force of +-10 N, Euler
steps of 0.02 s, the episode ends when the pole leans more than 12 degrees or the cart leaves
[-2.4, 2.4] (terminated) or after ``--max-steps`` steps (truncated); every step earns 1.
``--num-envs`` copies run side by side in a ``SyncVectorEnv``-like list that resets an env as
soon as its episode ends (the observation returned is then the new episode's first).

The agent is CleanRL's ``Agent`` with a shared trunk: ``shared`` (two ``Linear`` layers of
``--hidden`` units with tanh, orthogonal initialization with gain sqrt(2)), an ``actor`` head
(``Linear`` to the two actions' logits, gain 0.01) giving a ``Categorical`` policy and a
``critic`` head (``Linear`` to one value, gain 1). Every iteration collects ``--num-steps``
steps of each env with the current policy (actions, their log-probabilities and values
under ``torch.no_grad()``), computes generalized advantage estimates (``--gamma``,
``--gae-lambda``, the value of the state after the last step bootstrapped, no bootstrap
across an episode's end) and returns (advantages + values), then runs ``--update-epochs``
epochs over the rollout in ``--num-minibatches`` shuffled minibatches: the clipped surrogate
``max(-A * ratio, -A * clip(ratio, 1 - eps, 1 + eps))`` with per-minibatch normalized
advantages, the value loss ``0.5 * (V - returns)^2``, the entropy bonus; loss = pg_loss -
``--ent-coef`` * entropy + ``--vf-coef`` * v_loss, ``clip_grad_norm_`` at 0.5, Adam with
eps 1e-5 whose learning rate anneals linearly to 0 over the iterations. Each optimizer update
is one recorded step (inputs: the minibatch's observations, targets: its returns); four
iterations make an epoch. The run's metric is the episode return: the result line adds the
mean return of the last 20 training episodes (``episode_return``) and of 5 greedy episodes at
the end (``eval_return``). The mistakes of the families in CASES are selected with ``--bug`` or
show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

import torch  # noqa: E402
from torch import nn, optim  # noqa: E402
from torch.distributions.categorical import Categorical  # noqa: E402

np = common.np

ITERATIONS_PER_EPOCH = 4


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


class SyncVectorEnv:
    """``num_envs`` cart-poles stepped together, each reset as soon as its episode ends."""

    def __init__(self, seed, num_envs, max_steps):
        self.envs = [CartPole(seed * 100 + i, max_steps) for i in range(num_envs)]
        self.returns = np.zeros(num_envs)
        self.finished = []     # the returns of the episodes that ended

    def reset(self):
        return np.stack([env.reset() for env in self.envs])

    def step(self, actions):
        obs, rewards, dones = [], [], []
        for i, (env, a) in enumerate(zip(self.envs, actions)):
            o, r, terminated, truncated = env.step(int(a))
            self.returns[i] += r
            if terminated or truncated:
                self.finished.append(self.returns[i])
                self.returns[i] = 0.0
                o = env.reset()
            obs.append(o)
            rewards.append(r)
            dones.append(float(terminated or truncated))
        return np.stack(obs), np.array(rewards, dtype=np.float32), np.array(dones, np.float32)


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, obs_dim, n_actions, hidden):
        super().__init__()
        self.shared = nn.Sequential(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
        )
        self.actor = layer_init(nn.Linear(hidden, n_actions), std=0.01)
        self.critic = layer_init(nn.Linear(hidden, 1), std=1.0)

    def get_value(self, x):
        return self.critic(self.shared(x))

    def get_action_and_value(self, x, action=None):
        hidden = self.shared(x)
        logits = self.actor(hidden)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(hidden)


def main():
    p = common.parser(__doc__)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=2.5e-3)
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--num-steps", type=int, default=128, help="steps of each env per rollout")
    p.add_argument("--iterations", type=int, default=48)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=4)
    p.add_argument("--update-epochs", type=int, default=4)
    p.add_argument("--clip-coef", type=float, default=0.2)
    p.add_argument("--ent-coef", type=float, default=0.01)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--max-steps", type=int, default=500, help="episode length limit")
    p.add_argument("--bug", default=None,
                   choices=("gae-no-done-mask", "resample-actions", "entropy-sign",
                            "clip-min"))
    args = p.parse_args()
    common.torch_setup(args.seed)

    envs = SyncVectorEnv(args.seed, args.num_envs, args.max_steps)
    batch_size = args.num_envs * args.num_steps
    minibatch_size = batch_size // args.num_minibatches
    agent = Agent(4, 2, args.hidden)
    optimizer = optim.Adam(agent.parameters(), lr=args.lr, eps=1e-5)

    steps_per_epoch = ITERATIONS_PER_EPOCH * args.update_epochs * args.num_minibatches
    rec = common.recording.torch_recorder(
        agent, args.out, optimizer=optimizer, loss_name="ppo_loss",
        steps_per_epoch=steps_per_epoch, batch_size=minibatch_size,
        objective="policy_gradient")

    # rollout storage
    obs = torch.zeros((args.num_steps, args.num_envs, 4))
    actions = torch.zeros((args.num_steps, args.num_envs))
    logprobs = torch.zeros((args.num_steps, args.num_envs))
    rewards = torch.zeros((args.num_steps, args.num_envs))
    dones = torch.zeros((args.num_steps, args.num_envs))
    values = torch.zeros((args.num_steps, args.num_envs))

    next_obs = torch.tensor(envs.reset())
    next_done = torch.zeros(args.num_envs)
    history = common.History()
    for iteration in range(1, args.iterations + 1):
        # Annealing the rate.
        frac = 1.0 - (iteration - 1.0) / args.iterations
        optimizer.param_groups[0]["lr"] = frac * args.lr

        for step in range(args.num_steps):
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            ended = len(envs.finished)
            o, r, d = envs.step(action.numpy())
            if len(envs.finished) > ended:
                rec.add_return(envs.finished[ended:])
            rewards[step] = torch.from_numpy(r)
            next_obs, next_done = torch.from_numpy(o), torch.from_numpy(d)

        # bootstrap value if not done
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                if args.bug == "gae-no-done-mask":
                    # BUG (gae-no-done-mask): the done flags are left out of the recursion, so
                    # the last step of an episode bootstraps the value of the next episode's
                    # first state and its advantage runs on into the next episode: falling
                    # costs nothing.
                    nextnonterminal = 1.0
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = \
                    delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
            returns = advantages + values

        # flatten the batch
        b_obs = obs.reshape((-1, 4))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)

        # Optimizing the policy and value network
        b_inds = np.arange(batch_size)
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, batch_size, minibatch_size):
                mb_inds = b_inds[start:start + minibatch_size]

                if args.bug == "resample-actions":
                    # BUG (resample-actions): the stored actions are not passed, so
                    # get_action_and_value samples new ones and the ratio compares the
                    # log-probability of a fresh random action with the stored action's.
                    _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                        b_obs[mb_inds])
                else:
                    _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                        b_obs[mb_inds], b_actions.long()[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()

                mb_advantages = b_advantages[mb_inds]
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (
                    mb_advantages.std() + 1e-8)

                # Policy loss
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(
                    ratio, 1 - args.clip_coef, 1 + args.clip_coef)
                if args.bug == "clip-min":
                    # BUG (clip-min): the paper's min of the (positive) objectives taken as a
                    # min of the negated losses: the most optimistic of the two is optimized
                    # and the clip never holds the ratio back.
                    pg_loss = torch.min(pg_loss1, pg_loss2).mean()
                else:
                    pg_loss = torch.max(pg_loss1, pg_loss2).mean()

                # Value loss
                newvalue = newvalue.view(-1)
                v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

                entropy_loss = entropy.mean()
                if args.bug == "entropy-sign":
                    # BUG (entropy-sign): the entropy bonus added to the loss instead of
                    # subtracted: the policy is pushed to determinism.
                    loss = pg_loss + args.ent_coef * entropy_loss + v_loss * args.vf_coef
                else:
                    loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

                rec.step(loss, inputs=b_obs[mb_inds], targets=b_returns[mb_inds])
                history.step(loss.item())

        if iteration % ITERATIONS_PER_EPOCH == 0:
            history.epoch()
            recent = envs.finished[-20:] or [0.0]
            print("iteration %d: episodes %d, loss %.4f, mean return (last 20) %.1f" % (
                iteration, len(envs.finished), np.mean(history.epochs[-1][0]),
                np.mean(recent)), flush=True)
    rec.close()

    # Greedy evaluation episodes on their own environment.
    eval_env = CartPole(1000 + args.seed, max_steps=args.max_steps)
    eval_returns = []
    with torch.no_grad():
        for _ in range(5):
            s, done, total = eval_env.reset(), False, 0.0
            while not done:
                logits = agent.actor(agent.shared(torch.tensor(s).unsqueeze(0)))
                s, r, terminated, truncated = eval_env.step(logits.argmax(1).item())
                total += r
                done = terminated or truncated
            eval_returns.append(total)
    print("episodes %d, last 20 mean return %.1f, greedy return %.1f" % (
        len(envs.finished), np.mean(envs.finished[-20:]), np.mean(eval_returns)))
    common.report(history.result(episode_return=float(np.mean(envs.finished[-20:])),
                                 eval_return=float(np.mean(eval_returns)),
                                 episodes=len(envs.finished)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ppo-gae-no-done-mask", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (training, wrong target / loss computation): the done "
               "mask left out of the generalized advantage estimate, a known slip of PPO "
               "reimplementations (\"The 37 implementation details of PPO\", ICLR blog track "
               "2022) and of Stack Overflow questions on PPO agents that do not learn CartPole",
     "bug": "the recursion of the generalized advantage estimate ignores the done flags "
            "(nextnonterminal = 1): an episode's last step bootstraps the value of the next "
            "episode's first state and its advantage runs on into the next episode, so falling "
            "costs nothing; the loss falls from 42.3 in the first epoch to 3.07 while the last "
            "20 training episodes return 10.7 (greedy 9.4, below a random policy's ~22) against "
            "the twin's 104.0 (greedy 143.2)",
     "fix": "nextnonterminal = 1 - dones[t + 1] (1 - next_done at the rollout's last step)",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-anneal-seed0",
          "buggy": "--bug gae-no-done-mask --record-every 4",
          "fixed": "--record-every 4"},
     ]},
    {"family": "ppo-resample-actions", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 (API, wrong argument / missing argument): the stored "
               "actions not passed to get_action_and_value in the update, so the policy's "
               "log-probability is that of a freshly sampled action",
     "bug": "the update calls agent.get_action_and_value(b_obs[mb_inds]) without the stored "
            "actions: new actions are sampled and the ratio compares their log-probability "
            "with the stored actions', so the surrogate's gradient does not follow the "
            "advantages; the last 20 training episodes return 22.7 (greedy 22.2, a random "
            "policy's) against the twin's 104.8 (greedy 496.2)",
     "fix": "agent.get_action_and_value(b_obs[mb_inds], b_actions.long()[mb_inds])",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-anneal-seed1",
          "buggy": "--bug resample-actions --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-ppo", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "a PPO actor-critic on a numpy cart-pole that learns to balance the pole",
     "healthy": [
         {"id": "hidden32-lr5e-3-seed3",
          "args": "--hidden 32 --lr 5e-3 --seed 3 --record-every 4",
          "description": "32 hidden units, Adam at 5e-3 annealed to 0"},
     ]},
]


if __name__ == "__main__":
    main()
