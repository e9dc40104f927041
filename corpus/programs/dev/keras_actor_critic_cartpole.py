"""Advantage actor-critic on a cart-pole, written the way the keras.io example "Actor Critic
Method" is: one functional ``keras.Model`` with a shared ``Dense(128, relu)`` body, an actor head
(``Dense(2, softmax)``, the action probabilities) and a critic head (``Dense(1)``, the state's
value), a ``tf.GradientTape`` held open over a whole episode (the per-step model call in a
``@tf.function``), the discounted returns computed
backwards from the episode's rewards and normalised, the loss ``sum(-log_prob * (ret - value))
+ sum(Huber(value, ret))`` and one ``Adam`` step per episode.

No gym: the cart-pole is written here in numpy with the equations and constants of gym's
``CartPole-v1`` (the same dynamics as ``pt_ppo_cartpole.py``: a force of +-10 N, Euler steps
of 0.02 s, the episode ends when the pole leans more than 12 degrees or the cart leaves
[-2.4, 2.4], or after ``--max-steps`` steps, 200 as ``CartPole-v0``); every step earns 1. A
random policy lasts about 22 steps.

The model: ``common`` (``Dense(--hidden, relu)``, 128 as the example), ``actor``
(``Dense(2, softmax)``) and ``critic`` (``Dense(1)``). Each episode samples its actions from the
current policy (``np.random.choice`` with the probabilities), keeps ``log(p(action))`` and the
critic's value of every step on the tape, then computes the returns with ``--gamma`` (0.99),
normalises them (``(returns - mean) / (std + eps)``) and takes one ``Adam(--lr)`` step (0.01, the
example's) on the summed loss. ``--episodes`` episodes (100) make the run; ten episodes make an
"epoch" of the recorder.

The run is recorded in callback mode (weights, the gradients its optimizer applies, the loss,
one step per episode) by calling the recorder callback's hooks through a
``keras.callbacks.CallbackList``, as a loop without ``fit`` is (recorders/README.md), with each
episode's return in the batch logs (``episode_return``). The run's metric is the episode
return: printed every ten episodes and, in the result line, ``episode_return`` (the mean return
of the last 20 episodes) and ``first_return`` (the mean of the first 20). The mistakes of the
families in CASES are selected with ``--bug`` or show in a setting (``--lr``).
"""

import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np
EPISODES_PER_EPOCH = 10


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


def main():
    p = common.parser(__doc__)
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--bug", default=None,
                   choices=("returns-not-reversed", "no-exploration", "critic-relu"))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    import tensorflow as tf
    from keras import layers, ops

    env = CartPole(args.seed, args.max_steps)
    rng = np.random.default_rng(100 + args.seed)
    gamma = args.gamma
    eps = np.finfo(np.float32).eps.item()
    num_inputs, num_actions, num_hidden = 4, 2, args.hidden

    inputs = layers.Input(shape=(num_inputs,))
    common_ = layers.Dense(num_hidden, activation="relu", name="common")(inputs)
    action = layers.Dense(num_actions, activation="softmax", name="actor")(common_)
    # BUG (critic-relu): the critic head gets activation="relu": the value can never be
    # negative, though the normalised returns are negative for half of the steps.
    critic_act = "relu" if args.bug == "critic-relu" else None
    critic = layers.Dense(1, activation=critic_act, name="critic")(common_)
    model = keras.Model(inputs=inputs, outputs=[action, critic])

    @tf.function
    def forward(state):
        # the per-step model call compiled once: in eager mode it is the loop's slowest part
        return model(state)

    optimizer = keras.optimizers.Adam(learning_rate=args.lr)
    huber_loss = keras.losses.Huber()

    recorders = common.recording.keras_callbacks(
        args.out, mode="callback", optimizer=optimizer, batch_size=1,
        loss_name="actor_critic_loss", objective="policy_gradient")
    callbacks = keras.callbacks.CallbackList(
        recorders, model=model, epochs=-(-args.episodes // EPISODES_PER_EPOCH),
        steps=EPISODES_PER_EPOCH, verbose=0)

    history = common.History()
    episode_returns = []
    running_reward = 0.0
    callbacks.on_train_begin()
    for episode_count in range(args.episodes):
        batch = episode_count % EPISODES_PER_EPOCH
        if batch == 0:
            callbacks.on_epoch_begin(episode_count // EPISODES_PER_EPOCH)
        callbacks.on_train_batch_begin(batch)
        state = env.reset()
        episode_reward = 0.0
        action_probs_history, critic_value_history, rewards_history = [], [], []
        with tf.GradientTape() as tape:
            for timestep in range(1, args.max_steps + 1):
                state = ops.convert_to_tensor(state)
                state = ops.expand_dims(state, 0)

                # Predict action probabilities and estimated future rewards from the state
                action_probs, critic_value = forward(state)
                critic_value_history.append(critic_value[0, 0])

                probs = np.squeeze(ops.convert_to_numpy(action_probs)).astype("float64")
                if args.bug == "no-exploration":
                    # BUG (no-exploration): the greedy action instead of a sample of the
                    # policy, so the agent never tries the other action.
                    action = int(np.argmax(probs))
                else:
                    action = int(rng.choice(num_actions, p=probs / probs.sum()))
                action_probs_history.append(ops.log(action_probs[0, action]))

                state, reward, done = env.step(action)
                rewards_history.append(reward)
                episode_reward += reward
                if done:
                    break

            running_reward = 0.05 * episode_reward + (1 - 0.05) * running_reward

            # Calculate expected value from rewards: the discounted sum of the rewards
            # that follow each step
            returns = []
            discounted_sum = 0
            for r in rewards_history[::-1]:
                discounted_sum = r + gamma * discounted_sum
                if args.bug == "returns-not-reversed":
                    # BUG (returns-not-reversed): append instead of insert(0, ...): the
                    # returns come out in reverse order, the first step gets the last
                    # step's return.
                    returns.append(discounted_sum)
                else:
                    returns.insert(0, discounted_sum)

            # Normalize
            returns = np.array(returns)
            returns = (returns - np.mean(returns)) / (np.std(returns) + eps)
            returns = returns.tolist()

            # Calculating loss values to update our network
            hist = zip(action_probs_history, critic_value_history, returns)
            actor_losses = []
            critic_losses = []
            for log_prob, value, ret in hist:
                diff = ret - value
                actor_losses.append(-log_prob * diff)  # actor loss
                critic_losses.append(
                    huber_loss(ops.expand_dims(value, 0), ops.expand_dims(ret, 0)))

            loss_value = sum(actor_losses) + sum(critic_losses)

        grads = tape.gradient(loss_value, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

        loss = float(loss_value)
        episode_returns.append(episode_reward)
        history.step(loss)
        callbacks.on_train_batch_end(batch, {"loss": loss, "episode_return": episode_reward})
        if batch == EPISODES_PER_EPOCH - 1 or episode_count == args.episodes - 1:
            history.epoch()
            callbacks.on_epoch_end(episode_count // EPISODES_PER_EPOCH,
                                   {"loss": loss})
            print("episode %d: running reward %.1f, mean return (10) %.1f, loss %.4g" % (
                episode_count + 1, running_reward, np.mean(episode_returns[-10:]),
                np.mean(history.epochs[-1][0])), flush=True)
    callbacks.on_train_end()
    common.report(history.result(layers=common.keras_layers(model),
                                 episode_return=float(np.mean(episode_returns[-20:])),
                                 first_return=float(np.mean(episode_returns[:20])),
                                 running_reward=float(running_reward),
                                 episodes=len(episode_returns)))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "kac-returns-not-reversed", "split": "dev", "architecture": "mlp",
     "origin": "Humbatova et al. 2020: wrong target computation (training); Stack Overflow "
               "questions on actor-critic / REINFORCE agents whose discounted returns were "
               "built in the wrong order ('returns.append' where 'returns.insert(0, ...)' "
               "belongs) and that do not learn CartPole",
     "bug": "returns.append(discounted_sum) instead of returns.insert(0, discounted_sum) while "
            "walking the rewards backwards: the returns come out reversed, the first steps of "
            "an episode get the small returns of its end and the steps just before the pole "
            "falls the large ones, so the actions that lead to a fall are reinforced; the "
            "episodes get shorter, not longer (the mean return of the first 20 episodes "
            "17.3, random; of the last 20 of 100 episodes 10.7) against the twin's 111.6",
     "fix": "returns.insert(0, discounted_sum)",
     "symptom": "not_learning", "acceptable_symptoms": ["loss_mismatch"],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed1",
          "buggy": "--bug returns-not-reversed --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "kac-no-exploration", "split": "dev", "architecture": "mlp",
     "origin": "Stack Overflow: policy-gradient agents that pick np.argmax of the policy's "
               "probabilities instead of sampling them and never improve; Humbatova et al. "
               "2020: training process, wrong logic of the training loop (action selection)",
     "bug": "action = np.argmax(action_probs) instead of np.random.choice(2, p=action_probs): "
            "the agent always takes the action it already prefers, log p(action) of the "
            "greedy action is pushed around by the normalised returns but the other action "
            "is never tried; the mean return of the last 20 of 100 episodes is 17.8 (the "
            "first 20: 18.9, a random policy's ~22) against the twin's 154.9",
     "fix": "action = np.random.choice(num_actions, p=np.squeeze(action_probs))",
     "symptom": "not_learning", "acceptable_symptoms": [],
     "root_cause": "model",
     "pairs": [
         {"id": "adam-seed0",
          "buggy": "--bug no-exploration --seed 0 --record-every 4",
          "fixed": "--seed 0 --record-every 4"},
     ]},
    {"family": "healthy-kac", "split": "dev", "architecture": "mlp",
     "origin": "healthy run",
     "description": "the keras.io actor-critic on a numpy cart-pole, one Adam step per "
                    "episode, recorded in callback mode, that learns to balance the pole",
     "healthy": [
         {"id": "episodes120-seed4",
          "args": "--episodes 120 --seed 4 --record-every 4",
          "description": "the example's Dense(128) body and Adam(0.01), 120 episodes"},
     ]},
]


if __name__ == "__main__":
    main()
