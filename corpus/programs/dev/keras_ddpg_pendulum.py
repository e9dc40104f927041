"""Deep Deterministic Policy Gradient on the inverted pendulum, written the way the keras.io
example "Deep Deterministic Policy Gradient (DDPG)" is: an actor and a critic as functional
``keras.Model``s, a target actor and a target critic that follow them with ``tau``, a replay
``Buffer`` class, Ornstein-Uhlenbeck action noise, and the updates in a ``@tf.function`` with
two ``GradientTape``s and two ``Adam`` optimizers.

No gym: the pendulum is written here in numpy with the classic equations of gym's
``Pendulum-v1`` (g = 10, m = l = 1, dt = 0.05, torque in [-2, 2], speed clipped to 8 rad/s,
the observation ``[cos th, sin th, th_dot]``, the reward ``-(th^2 + 0.1 th_dot^2 + 0.001
u^2)``, a random start angle in [-pi, pi]); an episode is ``--episode-len`` steps (150; gym
has 200), 20 episodes in all. A random policy earns about -900 an episode of 150 steps, a
pendulum swung up and held about -150.

The actor: ``Dense(--width, relu)`` x2 and ``Dense(1, tanh)`` with its kernel drawn in
[-0.003, 0.003], times the torque bound. The critic: the state through ``Dense(16, relu)`` and
``Dense(32, relu)``, the action through ``Dense(32, relu)``, concatenated, ``Dense(--width,
relu)`` x2 and ``Dense(1)``. Every environment step stores ``(s, a, r, s')`` in the buffer and
runs one update on a batch of ``--batch-size`` (64) sampled from it: the critic regresses
``r + gamma Q'(s', mu'(s'))`` under MSE with Adam(``--critic-lr`` 2e-3), the actor ascends
``Q(s, mu(s))`` with Adam(``--actor-lr`` 2e-3), then both targets move by ``tau`` (0.02; the
example's 0.005 needs more episodes than a corpus run has). The widths are ``--width`` (64;
the example's 256).

The run is recorded in callback mode on the critic (its weights, the gradients its optimizer
applies and its loss, one step per update, one "epoch" per episode) by calling the recorder
callback's hooks through a ``keras.callbacks.CallbackList``, as a loop without ``fit`` is
(recorders/README.md). The episodic reward is the run's metric: printed each episode and, in
the result line, ``reward`` (the last episode), ``first_reward`` and ``avg_reward`` (the mean
of the last 10 episodes). The mistakes of the families in CASES are selected with ``--bug`` or
show in a setting (``--critic-lr``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


class Pendulum:
    """gym's Pendulum-v1, in numpy."""

    max_speed, max_torque, dt, g, m, l = 8.0, 2.0, 0.05, 10.0, 1.0, 1.0

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.state = None

    def reset(self):
        self.state = np.array([self.rng.uniform(-np.pi, np.pi), self.rng.uniform(-1.0, 1.0)])
        return self._obs()

    def _obs(self):
        th, thdot = self.state
        return np.array([np.cos(th), np.sin(th), thdot], dtype="float32")

    def step(self, u):
        th, thdot = self.state
        u = float(np.clip(u, -self.max_torque, self.max_torque))
        angle = ((th + np.pi) % (2 * np.pi)) - np.pi
        cost = angle ** 2 + 0.1 * thdot ** 2 + 0.001 * u ** 2
        thdot = thdot + (3 * self.g / (2 * self.l) * np.sin(th)
                         + 3.0 / (self.m * self.l ** 2) * u) * self.dt
        thdot = float(np.clip(thdot, -self.max_speed, self.max_speed))
        th = th + thdot * self.dt
        self.state = np.array([th, thdot])
        return self._obs(), -cost


class OUActionNoise:
    def __init__(self, mean, std_deviation, rng, theta=0.15, dt=1e-2, x_initial=None):
        self.theta = theta
        self.mean = mean
        self.std_dev = std_deviation
        self.dt = dt
        self.x_initial = x_initial
        self.rng = rng
        self.reset()

    def __call__(self):
        x = (self.x_prev + self.theta * (self.mean - self.x_prev) * self.dt
             + self.std_dev * np.sqrt(self.dt) * self.rng.normal(size=self.mean.shape))
        self.x_prev = x
        return x

    def reset(self):
        if self.x_initial is not None:
            self.x_prev = self.x_initial
        else:
            self.x_prev = np.zeros_like(self.mean)


class Buffer:
    def __init__(self, num_states, num_actions, rng, buffer_capacity=50000, batch_size=64,
                 bug=None):
        self.buffer_capacity = buffer_capacity
        self.batch_size = batch_size
        self.buffer_counter = 0
        self.rng = rng
        self.bug = bug
        self.state_buffer = np.zeros((self.buffer_capacity, num_states), dtype="float32")
        self.action_buffer = np.zeros((self.buffer_capacity, num_actions), dtype="float32")
        self.reward_buffer = np.zeros((self.buffer_capacity, 1), dtype="float32")
        self.next_state_buffer = np.zeros((self.buffer_capacity, num_states), dtype="float32")

    def record(self, obs_tuple):
        index = self.buffer_counter % self.buffer_capacity
        self.state_buffer[index] = obs_tuple[0]
        self.action_buffer[index] = obs_tuple[1]
        self.reward_buffer[index] = obs_tuple[2]
        if self.bug == "next-state-is-state":
            # BUG (next-state-is-state): copy-paste: the state is stored where the next state
            # belongs, so the critic bootstraps from Q'(s, mu'(s)) of the same state.
            self.next_state_buffer[index] = obs_tuple[0]
        else:
            self.next_state_buffer[index] = obs_tuple[3]
        self.buffer_counter += 1

    def sample(self):
        record_range = min(self.buffer_counter, self.buffer_capacity)
        batch_indices = self.rng.choice(record_range, self.batch_size)
        return (self.state_buffer[batch_indices], self.action_buffer[batch_indices],
                self.reward_buffer[batch_indices], self.next_state_buffer[batch_indices])


def main():
    p = common.parser(__doc__)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--episode-len", type=int, default=150)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--critic-lr", type=float, default=0.002)
    p.add_argument("--actor-lr", type=float, default=0.002)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--tau", type=float, default=0.02)
    p.add_argument("--noise-std", type=float, default=0.2)
    p.add_argument("--bug", default=None,
                   choices=("actor-loss-sign", "target-update-swapped", "next-state-is-state"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    env = Pendulum(args.seed)
    rng = np.random.default_rng(100 + args.seed)
    num_states, num_actions = 3, 1
    upper_bound, lower_bound = Pendulum.max_torque, -Pendulum.max_torque

    def get_actor():
        last_init = keras.initializers.RandomUniform(minval=-0.003, maxval=0.003)
        inputs = layers.Input(shape=(num_states,))
        out = layers.Dense(args.width, activation="relu")(inputs)
        out = layers.Dense(args.width, activation="relu")(out)
        outputs = layers.Dense(1, activation="tanh", kernel_initializer=last_init)(out)
        outputs = outputs * upper_bound
        return keras.Model(inputs, outputs)

    def get_critic():
        state_input = layers.Input(shape=(num_states,))
        state_out = layers.Dense(16, activation="relu")(state_input)
        state_out = layers.Dense(32, activation="relu")(state_out)
        action_input = layers.Input(shape=(num_actions,))
        action_out = layers.Dense(32, activation="relu")(action_input)
        concat = layers.Concatenate()([state_out, action_out])
        out = layers.Dense(args.width, activation="relu")(concat)
        out = layers.Dense(args.width, activation="relu")(out)
        outputs = layers.Dense(1)(out)
        return keras.Model([state_input, action_input], outputs)

    actor_model = get_actor()
    critic_model = get_critic()
    target_actor = get_actor()
    target_critic = get_critic()
    target_actor.set_weights(actor_model.get_weights())
    target_critic.set_weights(critic_model.get_weights())

    critic_optimizer = keras.optimizers.Adam(args.critic_lr)
    actor_optimizer = keras.optimizers.Adam(args.actor_lr)
    gamma, tau = args.gamma, args.tau
    buffer = Buffer(num_states, num_actions, rng, 50000, args.batch_size, bug=args.bug)
    ou_noise = OUActionNoise(mean=np.zeros(1), std_deviation=float(args.noise_std) * np.ones(1),
                             rng=rng)

    @tf.function
    def update(state_batch, action_batch, reward_batch, next_state_batch):
        with tf.GradientTape() as tape:
            target_actions = target_actor(next_state_batch, training=True)
            y = reward_batch + gamma * target_critic(
                [next_state_batch, target_actions], training=True)
            critic_value = critic_model([state_batch, action_batch], training=True)
            critic_loss = keras.ops.mean(keras.ops.square(y - critic_value))
        critic_grad = tape.gradient(critic_loss, critic_model.trainable_variables)
        critic_optimizer.apply_gradients(zip(critic_grad, critic_model.trainable_variables))

        with tf.GradientTape() as tape:
            actions = actor_model(state_batch, training=True)
            critic_value = critic_model([state_batch, actions], training=True)
            if args.bug == "actor-loss-sign":
                # BUG (actor-loss-sign): the minus sign is lost: gradient descent on the mean
                # Q value drives the actor towards the worst actions.
                actor_loss = keras.ops.mean(critic_value)
            else:
                actor_loss = -keras.ops.mean(critic_value)
        actor_grad = tape.gradient(actor_loss, actor_model.trainable_variables)
        actor_optimizer.apply_gradients(zip(actor_grad, actor_model.trainable_variables))
        return critic_loss, actor_loss

    def update_target(target, original, tau):
        target_weights = target.get_weights()
        original_weights = original.get_weights()
        for i in range(len(target_weights)):
            target_weights[i] = original_weights[i] * tau + target_weights[i] * (1 - tau)
        target.set_weights(target_weights)

    @tf.function
    def policy_action(state):
        return tf.squeeze(actor_model(state))

    def policy(state, noise_object):
        sampled_actions = policy_action(tf.convert_to_tensor(state[None, :]))
        sampled_actions = float(sampled_actions) + float(noise_object()[0])
        return np.clip(sampled_actions, lower_bound, upper_bound)

    recorders = common.recording.keras_callbacks(
        args.out, mode="callback", optimizer=critic_optimizer, batch_size=args.batch_size,
        task="regression", loss_name="mean_squared_error", objective="temporal_difference")
    callbacks = keras.callbacks.CallbackList(recorders, model=critic_model,
                                             epochs=args.episodes, steps=args.episode_len,
                                             verbose=0)
    history = common.History()
    ep_reward_list = []
    callbacks.on_train_begin()
    for ep in range(args.episodes):
        callbacks.on_epoch_begin(ep)
        prev_state = env.reset()
        episodic_reward = 0.0
        actor_losses = []
        for t in range(args.episode_len):
            action = policy(prev_state, ou_noise)
            state, reward = env.step(action)
            buffer.record((prev_state, action, reward, state))
            episodic_reward += reward

            callbacks.on_train_batch_begin(t)
            critic_loss, actor_loss = update(*buffer.sample())
            if args.bug == "target-update-swapped":
                # BUG (target-update-swapped): the arguments are the wrong way round: the
                # online networks are pulled towards their targets, which never move.
                update_target(actor_model, target_actor, tau)
                update_target(critic_model, target_critic, tau)
            else:
                update_target(target_actor, actor_model, tau)
                update_target(target_critic, critic_model, tau)
            critic_loss = float(critic_loss)
            actor_losses.append(float(actor_loss))
            history.step(critic_loss)
            callbacks.on_train_batch_end(t, {"loss": critic_loss})
            prev_state = state
        ep_reward_list.append(episodic_reward)
        history.epoch()
        callbacks.on_epoch_end(ep, {"loss": history.epochs[-1][0][-1],
                                    "episodic_reward": episodic_reward,
                                    "episode_return": episodic_reward})
        print("episode %d: reward %.1f avg(5) %.1f critic loss %.4g actor loss %.4g" % (
            ep + 1, episodic_reward, np.mean(ep_reward_list[-5:]),
            np.mean(history.epochs[-1][0]), np.mean(actor_losses)), flush=True)
    callbacks.on_train_end()
    common.report(history.result(layers=common.keras_layers(critic_model),
                                 reward=float(ep_reward_list[-1]),
                                 first_reward=float(ep_reward_list[0]),
                                 avg_reward=float(np.mean(ep_reward_list[-10:]))))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kddpg-actor-loss-sign", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong loss function (the DDPG actor loss without its "
               "minus sign, Stack Overflow 'DDPG reward gets worse'); DeepFD fault type: loss",
     "bug": "actor_loss = mean(critic_value) instead of -mean(critic_value): gradient descent "
            "drives the actor to the actions the critic values least; the episodic reward "
            "stays at -1081 over the last 10 of 20 episodes (-1233 in the last; the first "
            "five -1078, a random policy's) against the twin's -601 (first five -997, best "
            "-269); the critic's loss looks the same (12.4 against 13.4)",
     "fix": "actor_loss = -keras.ops.mean(critic_value)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug actor-loss-sign --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kddpg-target-update-swapped", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020 taxonomy: wrong parameter passing (the soft target "
               "update called as update_target(online, target, tau), arguments swapped)",
     "bug": "update_target(actor_model, target_actor, tau) and likewise for the critic: the "
            "online networks are pulled by tau = 0.02 every step towards targets that never "
            "move from their initial weights, so the critic's values stay near their start "
            "(the actor loss -Q at 6.3 in the last episode against the twin's 154.5, the "
            "critic loss 1.05 against 11.6) and the episodic reward is -917 over the last "
            "10 of 20 episodes (-951 over the last five, -1071 in the last; the first five "
            "-1015) against the twin's -645 (-455 over the last five, best -255)",
     "fix": "update_target(target_actor, actor_model, tau), update_target(target_critic, "
            "critic_model, tau)",
     "symptom": "not_learning", "acceptable_symptoms": ["unchanged_values", "slow_convergence"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug target-update-swapped --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kddpg", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "DDPG written as the keras.io example on a numpy pendulum, recorded on "
                    "the critic, that learns to swing the pendulum up",
     "healthy": [
         {"id": "episodes24-seed0",
          "args": "--episodes 24 --seed 0 --record-every 4",
          "description": "24 episodes of 150 steps, the defaults"},
     ]},
]


if __name__ == "__main__":
    main()
