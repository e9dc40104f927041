"""Proximal policy optimization on a cart-pole, written the way the keras.io example "Proximal
Policy Optimization" is: two functional ``keras.Model``s built by the example's ``mlp`` helper,
an ``actor`` (the observation to the two actions' logits) and a ``critic`` (the observation to
one value), a ``Buffer`` that stores a whole epoch's trajectories and, at each episode's end,
computes the GAE-lambda advantages and the rewards-to-go with the example's
``discounted_cumulative_sums`` (``scipy.signal.lfilter``), the actions sampled with
``keras.random.categorical`` from the logits in a ``@tf.function``, the clipped surrogate
objective (``--clip-ratio`` 0.2) optimized for up to ``--train-policy-iterations`` full-batch
``Adam`` steps in a ``tf.GradientTape`` per epoch, stopped early when the approximate KL
exceeds 1.5 ``--target-kl``, and the critic fitted to the returns by MSE for
``--train-value-iterations`` steps with a second ``Adam``.

No gym: the cart-pole is written here in numpy with the equations and constants of gym's
``CartPole-v1`` (the same class as ``keras_actor_critic_cartpole.py``: a force of +-10 N, Euler
steps of 0.02 s, the episode ends when the pole leans more than 12 degrees or the cart leaves
[-2.4, 2.4], or after ``--max-steps`` steps, 200); every step earns 1. A random policy lasts
about 22 steps.

Scaled down from the example (4000 steps an epoch, 30 epochs, 80 + 80 iterations): ``--steps-
per-epoch`` 1000, ``--epochs`` 20, 20 policy and 20 value iterations, hidden layers
``--hidden`` (64, 64) with tanh, the policy's Adam at ``--policy-lr`` 1e-3 (the example's 3e-4
needs its 4000-step epochs), the critic's at ``--value-lr`` 1e-3, gamma 0.99, lambda 0.97,
target KL 0.01.

The run is recorded in callback mode by calling the recorder callback's hooks through a
``keras.callbacks.CallbackList``, as a loop without ``fit`` is (recorders/README.md): the
actor (its weights, the gradients its optimizer applies, the policy loss; one step per policy
iteration, one epoch per PPO epoch); the episode returns are given to the recorder with
``add_return`` where an episode ends. The run's metric is the episode return: the result line
has ``episode_return`` (the mean return of the episodes of the last 3 epochs),
``first_return`` (of the first epoch) and ``eval_return`` (10 greedy episodes on a cart-pole of
another seed at the end). The mistakes of the families in CASES are selected with ``--bug`` or
show in a setting (``--policy-lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


class CartPole:
    """The classic cart-pole (gym's CartPole-v1 dynamics), in numpy."""

    gravity, masscart, masspole, length = 9.8, 1.0, 0.1, 0.5
    force_mag, tau = 10.0, 0.02
    theta_threshold = 12 * 2 * math.pi / 360
    x_threshold = 2.4

    def __init__(self, seed, max_steps=200):
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
        done = bool(abs(x) > self.x_threshold or abs(theta) > self.theta_threshold
                    or self.t >= self.max_steps)
        return self.state.astype(np.float32), 1.0, done


def discounted_cumulative_sums(x, discount):
    # Discounted cumulative sums of vectors for computing rewards-to-go and advantage estimates
    import scipy.signal
    return scipy.signal.lfilter([1], [1, float(-discount)], x[::-1], axis=0)[::-1]


class Buffer:
    # Buffer for storing trajectories
    def __init__(self, observation_dimensions, size, gamma=0.99, lam=0.95):
        # Buffer initialization
        self.observation_buffer = np.zeros((size, observation_dimensions), dtype=np.float32)
        self.action_buffer = np.zeros(size, dtype=np.int32)
        self.advantage_buffer = np.zeros(size, dtype=np.float32)
        self.reward_buffer = np.zeros(size, dtype=np.float32)
        self.return_buffer = np.zeros(size, dtype=np.float32)
        self.value_buffer = np.zeros(size, dtype=np.float32)
        self.logprobability_buffer = np.zeros(size, dtype=np.float32)
        self.gamma, self.lam = gamma, lam
        self.pointer, self.trajectory_start_index = 0, 0

    def store(self, observation, action, reward, value, logprobability):
        # Append one step of agent-environment interaction
        self.observation_buffer[self.pointer] = observation
        self.action_buffer[self.pointer] = action
        self.reward_buffer[self.pointer] = reward
        self.value_buffer[self.pointer] = value
        self.logprobability_buffer[self.pointer] = logprobability
        self.pointer += 1

    def finish_trajectory(self, last_value=0):
        # Finish the trajectory by computing advantage estimates and rewards-to-go
        path_slice = slice(self.trajectory_start_index, self.pointer)
        rewards = np.append(self.reward_buffer[path_slice], last_value)
        values = np.append(self.value_buffer[path_slice], last_value)

        deltas = rewards[:-1] + self.gamma * values[1:] - values[:-1]

        self.advantage_buffer[path_slice] = discounted_cumulative_sums(
            deltas, self.gamma * self.lam)
        self.return_buffer[path_slice] = discounted_cumulative_sums(
            rewards, self.gamma)[:-1]

        self.trajectory_start_index = self.pointer

    def get(self):
        # Get all data of the buffer and normalize the advantages
        self.pointer, self.trajectory_start_index = 0, 0
        advantage_mean, advantage_std = (np.mean(self.advantage_buffer),
                                         np.std(self.advantage_buffer))
        self.advantage_buffer = (self.advantage_buffer - advantage_mean) / advantage_std
        return (self.observation_buffer, self.action_buffer, self.advantage_buffer,
                self.return_buffer, self.logprobability_buffer)


def main():
    p = common.parser(__doc__)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--steps-per-epoch", type=int, default=1000)
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--hidden", type=common.ints, default=[64, 64])
    p.add_argument("--policy-lr", type=float, default=1e-3)
    p.add_argument("--value-lr", type=float, default=1e-3)
    p.add_argument("--train-policy-iterations", type=int, default=20)
    p.add_argument("--train-value-iterations", type=int, default=20)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--lam", type=float, default=0.97)
    p.add_argument("--clip-ratio", type=float, default=0.2)
    p.add_argument("--target-kl", type=float, default=0.01)
    p.add_argument("--bug", default=None,
                   choices=("loss-not-negated", "categorical-on-probs", "ratio-inverted"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    observation_dimensions, num_actions = 4, 2
    env = CartPole(args.seed, args.max_steps)
    steps_per_epoch, epochs = args.steps_per_epoch, args.epochs
    gamma, lam, clip_ratio, target_kl = args.gamma, args.lam, args.clip_ratio, args.target_kl
    hidden_sizes = tuple(args.hidden)
    seed_generator = keras.random.SeedGenerator(1337 + args.seed)

    def mlp(x, sizes, activation=keras.activations.tanh, output_activation=None):
        # Build a feedforward neural network
        for size in sizes[:-1]:
            x = layers.Dense(units=size, activation=activation)(x)
        return layers.Dense(units=sizes[-1], activation=output_activation)(x)

    def logprobabilities(logits, a):
        # Compute the log-probabilities of taking actions a by using the logits (i.e. the
        # output of the actor)
        logprobabilities_all = keras.ops.log_softmax(logits)
        logprobability = keras.ops.sum(
            keras.ops.one_hot(a, num_actions) * logprobabilities_all, axis=1)
        return logprobability

    # Initialize the buffer
    buffer = Buffer(observation_dimensions, steps_per_epoch, gamma, lam)

    # Initialize the actor and the critic as keras models
    observation_input = keras.Input(shape=(observation_dimensions,), dtype="float32")
    logits = mlp(observation_input, list(hidden_sizes) + [num_actions])
    actor = keras.Model(inputs=observation_input, outputs=logits, name="actor")
    value = keras.ops.squeeze(mlp(observation_input, list(hidden_sizes) + [1]), axis=1)
    critic = keras.Model(inputs=observation_input, outputs=value, name="critic")

    # Initialize the policy and the value function optimizers
    policy_optimizer = keras.optimizers.Adam(learning_rate=args.policy_lr)
    value_optimizer = keras.optimizers.Adam(learning_rate=args.value_lr)

    # Sample action from actor
    @tf.function
    def sample_action(observation):
        logits = actor(observation)
        if args.bug == "categorical-on-probs":
            # BUG (categorical-on-probs): the softmax probabilities are handed to
            # keras.random.categorical, which takes logits: the actions are drawn from
            # softmax(probs), close to uniform, whatever the policy has learned
            action = keras.ops.squeeze(keras.random.categorical(
                keras.ops.softmax(logits), 1, seed=seed_generator), axis=1)
        else:
            action = keras.ops.squeeze(
                keras.random.categorical(logits, 1, seed=seed_generator), axis=1)
        return logits, action

    @tf.function
    def value_of(observation):
        return critic(observation)

    # Train the policy by maxizing the PPO-Clip objective
    @tf.function
    def train_policy(observation_buffer, action_buffer, logprobability_buffer,
                     advantage_buffer):
        with tf.GradientTape() as tape:  # Record operations for automatic differentiation.
            if args.bug == "ratio-inverted":
                # BUG (ratio-inverted): old minus new log-probability: the ratio is
                # pi_old / pi_theta, its gradient pushes the actions with a positive advantage
                # down, and the clip keeps it from being noticed for long
                ratio = keras.ops.exp(
                    logprobability_buffer
                    - logprobabilities(actor(observation_buffer), action_buffer))
            else:
                ratio = keras.ops.exp(
                    logprobabilities(actor(observation_buffer), action_buffer)
                    - logprobability_buffer)
            min_advantage = keras.ops.where(
                advantage_buffer > 0,
                (1 + clip_ratio) * advantage_buffer,
                (1 - clip_ratio) * advantage_buffer,
            )
            surrogate = keras.ops.mean(keras.ops.minimum(ratio * advantage_buffer,
                                                         min_advantage))
            if args.bug == "loss-not-negated":
                # BUG (loss-not-negated): the surrogate objective is handed to Adam as the loss
                # without the minus sign: the policy is pushed to make the advantageous
                # actions less likely
                policy_loss = surrogate
            else:
                policy_loss = -surrogate
        policy_grads = tape.gradient(policy_loss, actor.trainable_variables)
        policy_optimizer.apply_gradients(zip(policy_grads, actor.trainable_variables))

        kl = keras.ops.mean(
            logprobability_buffer
            - logprobabilities(actor(observation_buffer), action_buffer))
        kl = keras.ops.sum(kl)
        return kl, policy_loss

    # Train the value function by regression on mean-squared error
    @tf.function
    def train_value_function(observation_buffer, return_buffer):
        with tf.GradientTape() as tape:  # Record operations for automatic differentiation.
            value_loss = keras.ops.mean((return_buffer - critic(observation_buffer)) ** 2)
        value_grads = tape.gradient(value_loss, critic.trainable_variables)
        value_optimizer.apply_gradients(zip(value_grads, critic.trainable_variables))
        return value_loss

    recorders = common.recording.keras_callbacks(
        args.out, mode="callback", optimizer=policy_optimizer, batch_size=steps_per_epoch,
        loss_name="ppo_clip_loss", objective="policy_gradient")
    callbacks = keras.callbacks.CallbackList(
        recorders, model=actor, epochs=epochs, steps=args.train_policy_iterations, verbose=0)

    history = common.History()
    epoch_returns = []
    # Initialize the observation, episode return and episode length
    observation, episode_return, episode_length = env.reset(), 0, 0

    callbacks.on_train_begin()
    # Iterate over the number of epochs
    for epoch in range(epochs):
        callbacks.on_epoch_begin(epoch)
        # Initialize the sum of the returns, lengths and number of episodes for each epoch
        sum_return = 0
        sum_length = 0
        num_episodes = 0
        returns_this_epoch = []

        # Iterate over the steps of each epoch
        for t in range(steps_per_epoch):
            # Get the logits, action, and take one step in the environment
            observation = observation.reshape(1, -1)
            logits, action = sample_action(observation)
            action = int(action[0].numpy())
            observation_new, reward, done = env.step(action)
            episode_return += reward
            episode_length += 1

            # Get the value and log-probability of the action
            value_t = float(value_of(observation)[0])
            logprobability_t = float(logprobabilities(logits, np.array([action]))[0])

            # Store obs, act, rew, v_t, logp_pi_t
            buffer.store(observation, action, reward, value_t, logprobability_t)

            # Update the observation
            observation = observation_new

            # Finish trajectory if reached to a terminal state
            terminal = done
            if terminal or (t == steps_per_epoch - 1):
                last_value = 0 if done else float(value_of(observation.reshape(1, -1))[0])
                buffer.finish_trajectory(last_value)
                if terminal:
                    sum_return += episode_return
                    sum_length += episode_length
                    num_episodes += 1
                    returns_this_epoch.append(episode_return)
                    for rec in recorders:
                        rec.add_return(episode_return)
                    observation, episode_return, episode_length = env.reset(), 0, 0

        # Get values from the buffer
        (observation_buffer, action_buffer, advantage_buffer, return_buffer,
         logprobability_buffer) = buffer.get()

        # Update the policy and implement early stopping using KL divergence
        for i in range(args.train_policy_iterations):
            callbacks.on_train_batch_begin(i)
            kl, policy_loss = train_policy(observation_buffer, action_buffer,
                                           logprobability_buffer, advantage_buffer)
            loss = float(policy_loss)
            history.step(loss)
            callbacks.on_train_batch_end(i, {"loss": loss})
            if kl > 1.5 * target_kl:
                # Early Stopping
                break

        # Update the value function
        for _ in range(args.train_value_iterations):
            value_loss = train_value_function(observation_buffer, return_buffer)

        epoch_returns.append(returns_this_epoch or [episode_return])
        history.epoch()
        callbacks.on_epoch_end(epoch, {"loss": history.epochs[-1][0][-1]})
        # Print mean return and length for each epoch
        print(
            " Epoch: %d. Mean Return: %.1f. Mean Length: %.1f. Policy iterations: %d. "
            "Value loss: %.4g" % (epoch + 1, sum_return / max(num_episodes, 1),
                                  sum_length / max(num_episodes, 1), i + 1,
                                  float(value_loss)), flush=True)
    callbacks.on_train_end()

    # greedy evaluation on a cart-pole of another seed
    eval_env = CartPole(1000 + args.seed, args.max_steps)
    eval_returns = []
    for _ in range(10):
        s, total, done = eval_env.reset(), 0.0, False
        while not done:
            a = int(np.argmax(sample_action(s.reshape(1, -1))[0].numpy()[0]))
            s, r, done = eval_env.step(a)
            total += r
        eval_returns.append(total)
    print("greedy evaluation: mean return %.1f" % np.mean(eval_returns), flush=True)

    last = [r for e in epoch_returns[-3:] for r in e]
    common.report(history.result(layers=common.keras_layers(actor),
                                 episode_return=float(np.mean(last)),
                                 first_return=float(np.mean(epoch_returns[0])),
                                 eval_return=float(np.mean(eval_returns)),
                                 episodes=sum(len(e) for e in epoch_returns)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kppo-loss-not-negated", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (training, the sign of the "
               "objective); Stack Overflow questions on policy-gradient / PPO agents in "
               "TensorFlow whose performance gets worse with training because the objective "
               "to maximize was passed to the optimizer as the loss",
     "bug": "policy_loss = keras.ops.mean(keras.ops.minimum(ratio * advantage_buffer, "
            "min_advantage)) without the minus sign: Adam minimizes the clipped surrogate, "
            "the actions with a positive advantage are made less likely; the episodes get "
            "shorter than a random policy's (the mean return of the first epoch 19.5, of the "
            "last three epochs 9.4, greedy evaluation 9.1) against the twin's 178.3 (greedy "
            "200.0)",
     "fix": "policy_loss = -keras.ops.mean(keras.ops.minimum(ratio * advantage_buffer, "
            "min_advantage))",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug loss-not-negated --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "kppo-categorical-on-probs", "split": "dev", "architecture": "mlp",
     "origin": "Stack Overflow: tf.random.categorical given probabilities (a softmax output) "
               "instead of the logits it expects, so the sampled actions do not follow the "
               "policy; Humbatova et al. 2020: training process, wrong logic of the training "
               "loop (action selection)",
     "bug": "keras.random.categorical(keras.ops.softmax(logits), 1) in sample_action: the "
            "probabilities are taken as logits, the actions are drawn from softmax(probs), "
            "at most 73% for the preferred action, while the buffer stores log_softmax(logits) "
            "as their log-probabilities; the agent acts almost at random whatever it learns "
            "(the mean return of the last three epochs 51.1, greedy evaluation 124.8) against "
            "the twin's 188.8 (greedy 200.0)",
     "fix": "keras.random.categorical(logits, 1, seed=seed_generator)",
     "symptom": "not_learning", "acceptable_symptoms": ["slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug categorical-on-probs --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "healthy-kppo", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "the keras.io PPO (separate actor and critic, GAE-lambda buffer, clipped "
                    "surrogate with KL early stop) on a numpy cart-pole, recorded in callback "
                    "mode, that learns to balance the pole",
     "healthy": [
         {"id": "h32-lr2e-3-seed3",
          "args": "--hidden 32,32 --policy-lr 2e-3 --seed 3 --record-every 4",
          "description": "hidden layers of 32 and 32, the policy's Adam at 2e-3"},
     ]},
]


if __name__ == "__main__":
    main()
