"""Deep Q-learning on a cart-pole, written the way the keras.io example "Deep Q-Learning for
Atari Breakout" writes its loop, scaled down to a cart-pole: a Q-network ``model`` and a target
network ``model_target`` built by the same ``create_q_model()`` (functional ``keras.Model``s:
``Dense(--hidden, relu)`` twice and a linear ``Dense(2)``, one value per action), an
epsilon-greedy policy (``epsilon_random_frames`` of pure exploration, then epsilon falling
linearly from 1.0 to 0.05 over ``epsilon_greedy_frames``), a replay buffer kept as the
example's parallel Python lists (``action_history``, ``state_history``,
``state_next_history``, ``rewards_history``, ``done_history``, the oldest dropped beyond
``max_memory_length``), and every ``update_after_actions`` frames one update on a sampled
batch: ``updated_q_values = rewards + gamma * reduce_max(model_target(next_states))``, the
terminal states' targets set to -1 (``updated_q_values * (1 - done) - done``), the Q-values of
the actions taken picked with a one-hot mask inside a ``tf.GradientTape``,
``keras.losses.Huber()`` between the two and ``Adam(--lr, clipnorm=1.0)``; every
``update_target_network`` frames ``model_target.set_weights(model.get_weights())``.

No gym: the cart-pole is written here in numpy with the equations and constants of gym's
``CartPole-v1`` (the same as ``keras_actor_critic_cartpole.py``: a force of +-10 N, Euler
steps of 0.02 s, the episode ends when the pole leans more than 12 degrees or the cart leaves
[-2.4, 2.4], or after ``--max-steps`` steps, 200); every step earns 1. A random policy lasts
about 22 steps.

The run is ``--frames`` environment frames (5000), one update every 2 frames (2500 updates,
batches of 32), the target copied every 250 frames; 250 frames make an "epoch" of the
recorder. The run is recorded in callback mode (weights, the gradients its optimizer applies,
the loss, one step per update; no forward rows: a loop of its own) by calling the recorder
callback's hooks through a ``keras.callbacks.CallbackList``, as a loop without ``fit`` is
(recorders/README.md), declared ``objective="temporal_difference"``; each episode's return is
given to the recorder with ``add_return`` where the episode ends. The run's metric is the
episode return: the result line has ``episode_return`` (the mean return of the last 20 training
episodes), ``first_return`` (of the first 20) and ``eval_return`` (10 greedy episodes of the
trained Q-network on a cart-pole of another seed). The mistakes of the families in CASES are
selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
FRAMES_PER_EPOCH = 250


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
        terminated = bool(abs(x) > self.x_threshold or abs(theta) > self.theta_threshold)
        truncated = self.t >= self.max_steps
        return self.state.astype(np.float32), 1.0, terminated, truncated


def main():
    p = common.parser(__doc__)
    p.add_argument("--frames", type=int, default=5000)
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--update-every", type=int, default=2)
    p.add_argument("--target-every", type=int, default=250)
    p.add_argument("--random-frames", type=int, default=500)
    p.add_argument("--greedy-frames", type=int, default=2500)
    p.add_argument("--bug", default=None,
                   choices=("no-done-mask", "target-copy-swapped", "mask-sum-all"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers

    env = CartPole(args.seed, args.max_steps)
    rng = np.random.default_rng(100 + args.seed)
    num_actions = 2
    gamma = args.gamma
    batch_size = args.batch_size
    epsilon, epsilon_min, epsilon_max = 1.0, 0.05, 1.0
    epsilon_interval = epsilon_max - epsilon_min
    epsilon_random_frames = args.random_frames
    epsilon_greedy_frames = float(args.greedy_frames)
    max_memory_length = 10000
    update_after_actions = args.update_every
    update_target_network = args.target_every

    def create_q_model():
        inputs = layers.Input(shape=(4,))
        layer1 = layers.Dense(args.hidden, activation="relu")(inputs)
        layer2 = layers.Dense(args.hidden, activation="relu")(layer1)
        action = layers.Dense(num_actions, activation="linear")(layer2)
        return keras.Model(inputs=inputs, outputs=action)

    # The first model makes the predictions for Q-values which are used to make an action.
    model = create_q_model()
    # Build a target model for the prediction of future rewards.
    model_target = create_q_model()
    model_target.set_weights(model.get_weights())

    optimizer = keras.optimizers.Adam(learning_rate=args.lr, clipnorm=1.0)
    loss_function = keras.losses.Huber()

    @tf.function
    def q_values_of(state):
        return model(state, training=False)

    @tf.function
    def train_step(state_sample, state_next_sample, rewards_sample, action_sample,
                   done_sample):
        # Build the updated Q-values for the sampled future states, using the target model
        future_rewards = model_target(state_next_sample, training=False)
        # Q value = reward + discount factor * expected future reward
        updated_q_values = rewards_sample + gamma * tf.reduce_max(future_rewards, axis=1)
        if args.bug != "no-done-mask":
            # If final frame set the last value to -1
            updated_q_values = updated_q_values * (1 - done_sample) - done_sample
        # BUG (no-done-mask): the line above is left out: a state where the pole fell is
        # valued as if the episode went on

        # Create a mask so we only calculate loss on the updated Q-values
        masks = tf.one_hot(action_sample, num_actions)
        with tf.GradientTape() as tape:
            # Train the model on the states and updated Q-values
            q_values = model(state_sample, training=True)
            # Apply the masks to the Q-values to get the Q-value for action taken
            if args.bug == "mask-sum-all":
                # BUG (mask-sum-all): reduce_sum without axis=1 sums the whole batch into
                # one number, which the loss then compares with every target
                q_action = tf.reduce_sum(tf.multiply(q_values, masks))
            else:
                q_action = tf.reduce_sum(tf.multiply(q_values, masks), axis=1)
            # Calculate loss between new Q-value and old Q-value
            loss = loss_function(updated_q_values, q_action)
        # Backpropagation
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    recorders = common.recording.keras_callbacks(
        args.out, mode="callback", optimizer=optimizer, batch_size=batch_size,
        task="regression", loss_name="huber", objective="temporal_difference")
    updates_per_epoch = FRAMES_PER_EPOCH // update_after_actions
    callbacks = keras.callbacks.CallbackList(
        recorders, model=model, epochs=-(-args.frames // FRAMES_PER_EPOCH),
        steps=updates_per_epoch, verbose=0)

    # Experience replay buffers
    action_history, state_history, state_next_history = [], [], []
    rewards_history, done_history, episode_reward_history = [], [], []
    history = common.History()
    running_reward = 0.0
    frame_count = 0
    batch = 0

    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    state = env.reset()
    episode_reward = 0.0
    while frame_count < args.frames:
        frame_count += 1

        # Use epsilon-greedy for exploration
        if frame_count < epsilon_random_frames or epsilon > rng.random():
            # Take random action
            action = int(rng.integers(num_actions))
        else:
            # Predict action Q-values from environment state
            action_probs = q_values_of(tf.convert_to_tensor(state[None, :]))
            # Take best action
            action = int(tf.argmax(action_probs[0]).numpy())

        # Decay probability of taking random action
        epsilon -= epsilon_interval / epsilon_greedy_frames
        epsilon = max(epsilon, epsilon_min)

        # Apply the sampled action in our environment
        state_next, reward, terminated, truncated = env.step(action)
        episode_reward += reward

        # Save actions and states in replay buffer
        action_history.append(action)
        state_history.append(state)
        state_next_history.append(state_next)
        done_history.append(float(terminated))
        rewards_history.append(reward)
        state = state_next

        # Update every update_after_actions frame once the batch size is over 32
        if frame_count % update_after_actions == 0 and len(done_history) > batch_size:
            # Get indices of samples for replay buffers
            indices = rng.choice(len(done_history), size=batch_size)
            state_sample = np.array([state_history[i] for i in indices])
            state_next_sample = np.array([state_next_history[i] for i in indices])
            rewards_sample = np.array([rewards_history[i] for i in indices], dtype="float32")
            action_sample = np.array([action_history[i] for i in indices])
            done_sample = np.array([done_history[i] for i in indices], dtype="float32")

            callbacks.on_train_batch_begin(batch)
            loss = float(train_step(state_sample, state_next_sample, rewards_sample,
                                    action_sample, done_sample))
            history.step(loss)
            callbacks.on_train_batch_end(batch, {"loss": loss})
            batch += 1

        if frame_count % update_target_network == 0:
            if args.bug == "target-copy-swapped":
                # BUG (target-copy-swapped): the copy goes the wrong way: the Q-network is
                # reset to the target's old weights, the target never learns anything
                model.set_weights(model_target.get_weights())
            else:
                # update the the target network with new weights
                model_target.set_weights(model.get_weights())

        # Limit the state and reward history
        if len(rewards_history) > max_memory_length:
            del rewards_history[:1]
            del state_history[:1]
            del state_next_history[:1]
            del action_history[:1]
            del done_history[:1]

        if terminated or truncated:
            episode_reward_history.append(episode_reward)
            for rec in recorders:
                rec.add_return(episode_reward)
            running_reward = float(np.mean(episode_reward_history[-100:]))
            state = env.reset()
            episode_reward = 0.0

        if frame_count % FRAMES_PER_EPOCH == 0:
            epoch = frame_count // FRAMES_PER_EPOCH - 1
            history.epoch()
            losses = history.epochs[-1][0]
            callbacks.on_epoch_end(epoch, {"loss": losses[-1] if losses else 0.0})
            recent = episode_reward_history[-10:] or [episode_reward]
            print("frame %d: epsilon %.2f, episodes %d, mean return (10) %.1f, loss %.4g" % (
                frame_count, epsilon, len(episode_reward_history), np.mean(recent),
                np.mean(losses) if losses else float("nan")), flush=True)
            batch = 0
            if frame_count < args.frames:
                callbacks.on_epoch_begin(epoch + 1)
    callbacks.on_train_end()

    # greedy evaluation on a cart-pole of another seed
    eval_env = CartPole(1000 + args.seed, args.max_steps)
    eval_returns = []
    for _ in range(10):
        s, total, done = eval_env.reset(), 0.0, False
        while not done:
            a = int(tf.argmax(q_values_of(tf.convert_to_tensor(s[None, :]))[0]).numpy())
            s, r, term, trunc = eval_env.step(a)
            total += r
            done = term or trunc
        eval_returns.append(total)
    print("greedy evaluation: mean return %.1f" % np.mean(eval_returns), flush=True)

    common.report(history.result(layers=common.keras_layers(model),
                                 episode_return=float(np.mean(episode_reward_history[-20:])),
                                 first_return=float(np.mean(episode_reward_history[:20])),
                                 eval_return=float(np.mean(eval_returns)),
                                 episodes=len(episode_reward_history)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kdqn-no-done-mask", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong target computation (training); Stack Overflow "
               "questions on DQN agents that bootstrap through terminal states "
               "(the '(1 - done)' factor forgotten) and do not learn CartPole",
     "bug": "updated_q_values = rewards + gamma * max Q_target(s') without "
            "'* (1 - done) - done': the transition where the pole falls is valued as if the "
            "episode went on, and since every step earns 1 all actions converge to the same "
            "value, 1 / (1 - gamma), whatever follows them; the agent learns nothing about "
            "falling (the mean return of the first 20 episodes 16.9, of the last 20 of 5000 "
            "frames 9.25, greedy evaluation 9.1) against the twin's 123.4 and 127.7",
     "fix": "updated_q_values = updated_q_values * (1 - done_sample) - done_sample",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed0",
          "buggy": "--bug no-done-mask --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "kdqn-target-copy-swapped", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong parameter passing / training process (the hard "
               "target-network update written the wrong way round, "
               "model.set_weights(model_target.get_weights()))",
     "bug": "model.set_weights(model_target.get_weights()) every 250 frames instead of "
            "model_target.set_weights(model.get_weights()): the Q-network is reset to the "
            "target's initial weights every 250 frames and the target never changes, so "
            "whatever 125 updates learned is thrown away; the mean return of the last 20 "
            "episodes is 11.95 (the first 20: 24.1, greedy evaluation 20.7) against the "
            "twin's 173.1 and 180.8",
     "fix": "model_target.set_weights(model.get_weights())",
     "symptom": "not_learning", "acceptable_symptoms": ["unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed1",
          "buggy": "--bug target-copy-swapped --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kdqn-mask-sum-all", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong tensor shape / wrong loss computation "
               "(tf.reduce_sum without axis=1 over the masked Q-values, broadcast by the "
               "loss against the batch's targets); Stack Overflow: 'DQN loss with one-hot "
               "mask reduce_sum axis'",
     "bug": "q_action = tf.reduce_sum(tf.multiply(q_values, masks)) without axis=1: the "
            "chosen actions' Q-values of the whole batch are summed into one number that "
            "the Huber loss compares with every one of the 32 targets, so no single "
            "Q-value is fitted to its own target; the mean return of the last 20 episodes "
            "is 10.65 (the first 20: 20.6, greedy evaluation 10.7) against the twin's "
            "143.35 and 152.7",
     "fix": "q_action = tf.reduce_sum(tf.multiply(q_values, masks), axis=1)",
     "symptom": "loss_mismatch", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "seed2",
          "buggy": "--bug mask-sum-all --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "healthy-kdqn", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "the keras.io Deep Q-Learning loop (Q-network and target network, "
                    "epsilon-greedy, replay lists, Huber loss on the masked Q-values, Adam "
                    "with clipnorm) on a numpy cart-pole, recorded in callback mode, that "
                    "learns to balance the pole",
     "healthy": [
         {"id": "hidden32-lr7e-4-seed4",
          "args": "--hidden 32 --lr 7e-4 --seed 4 --record-every 4",
          "description": "two Dense(32) layers, Adam(7e-4)"},
     ]},
]


if __name__ == "__main__":
    main()
