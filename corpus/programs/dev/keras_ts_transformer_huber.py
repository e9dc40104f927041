"""A Keras time-series Transformer forecasting the next hour of a generated building load.

Written the way Keras' "timeseries transformer" examples write it: a custom
``keras.layers.Layer`` subclass, ``PositionalEmbedding``, projects every time step with a Dense
layer and adds a learned position vector (``add_weight``); then encoder blocks of
``MultiHeadAttention``, residual additions and ``LayerNormalization`` with a position-wise
feed-forward pair of Dense layers, a ``GlobalAveragePooling1D`` and a Dense head predicting the
next value. ``keras.losses.Huber`` and ``keras.optimizers.AdamW``; the last fifth of the windows
(the latest part of the series) is held out for validation.

The series (generated here): 2000 hourly readings of three channels, a building's electric load
in kW (a base of about 800 kW with daily and weekly cycles, driven by the temperature), the
outdoor temperature in degrees C and the occupancy share; windows of ``--window`` hours predict
the next hour's load. Every channel is standardized with the training part's mean and standard
deviation, and so is the target (``(load - mean) / std``). The mistakes of the families in CASES
are selected with ``--bug`` or show in a setting (``--lr``, ``--weight-decay``).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import common  # noqa: E402

np = common.np


def building_series(hours, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    temp = (12 + 8 * np.sin(2 * np.pi * (t - 9) / 24) + 6 * np.sin(2 * np.pi * t / (24 * 30))
            + np.cumsum(rng.normal(0, 0.3, hours)) * 0.2)
    weekday = ((t // 24) % 7) < 5
    hour = t % 24
    occupancy = np.where(weekday & (hour >= 8) & (hour < 19), 0.85, 0.1) \
        + rng.normal(0, 0.05, hours)
    load = (800 + 350 * occupancy + 9 * np.abs(temp - 18) ** 1.3
            + 40 * np.sin(2 * np.pi * hour / 24) + rng.normal(0, 15, hours))
    return np.stack([load, temp, occupancy], axis=1).astype("float32")


def main():
    p = common.parser(__doc__)
    p.add_argument("--hours", type=int, default=2000)
    p.add_argument("--window", type=int, default=24)
    p.add_argument("--d-model", type=int, default=16)
    p.add_argument("--heads", type=int, default=2)
    p.add_argument("--blocks", type=int, default=1)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.004)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bug", default=None, choices=("raw-kw-target",))
    args = p.parse_args()
    keras = common.keras_setup(args.seed)
    from keras import layers, ops

    class PositionalEmbedding(layers.Layer):
        """Dense projection of each time step plus a learned position vector."""

        def __init__(self, length, dim, **kwargs):
            super().__init__(**kwargs)
            self.length, self.dim = length, dim
            self.proj = layers.Dense(dim)

        def build(self, input_shape):
            self.proj.build(input_shape)
            self.pos = self.add_weight(name="pos", shape=(self.length, self.dim),
                                       initializer=keras.initializers.RandomNormal(stddev=0.02))

        def call(self, x):
            return self.proj(x) + ops.expand_dims(self.pos, 0)

    series = building_series(args.hours, args.seed)
    n_train_hours = int(args.hours * 0.8)
    mean, std = series[:n_train_hours].mean(0), series[:n_train_hours].std(0)
    scaled = (series - mean) / std
    starts = np.arange(args.hours - args.window)
    x = np.stack([scaled[s:s + args.window] for s in starts])
    # BUG (raw-kw-target): the target is the next hour's load in kW (about 800 to 1300), the
    # inputs are standardized.
    target_col = series[:, 0] if args.bug == "raw-kw-target" else scaled[:, 0]
    y = target_col[starts + args.window].astype("float32")
    n_train = int(len(x) * 0.8)
    x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    inputs = keras.Input(shape=(args.window, 3))
    h = PositionalEmbedding(args.window, args.d_model, name="pos_embedding")(inputs)
    for b in range(args.blocks):
        att = layers.MultiHeadAttention(num_heads=args.heads, key_dim=args.d_model // args.heads,
                                        name="mha_%d" % b)(h, h)
        h = layers.LayerNormalization(epsilon=1e-6, name="ln_att_%d" % b)(h + att)
        ff = layers.Dense(args.d_model * 2, activation="relu", name="ff_in_%d" % b)(h)
        ff = layers.Dense(args.d_model, name="ff_out_%d" % b)(ff)
        h = layers.LayerNormalization(epsilon=1e-6, name="ln_ff_%d" % b)(h + ff)
    h = layers.GlobalAveragePooling1D()(h)
    outputs = layers.Dense(1, name="head")(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=args.lr,
                                                   weight_decay=args.weight_decay),
                  loss=keras.losses.Huber(delta=1.0), metrics=["mae"])
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=args.epochs,
                        batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=common.recording.keras_callbacks(args.out))
    for e, vl in enumerate(history.history["val_loss"]):
        print("epoch %d: loss %.4g val loss %.4g val mae %.4f" % (
            e + 1, history.history["loss"][e], vl, history.history["val_mae"][e]))
    pred = model.predict(x_val, verbose=0)[:, 0]
    r2 = float(1 - np.mean((pred - y_val) ** 2) / np.var(y_val))
    # the error in kW, whichever units the model was trained in
    scale = 1.0 if args.bug == "raw-kw-target" else float(std[0])
    mae_kw = float(np.mean(np.abs(pred - y_val)) * scale)
    print("validation R^2 %.3f, MAE %.1f kW (load std %.1f kW)" % (r2, mae_kw, float(std[0])))
    steps = -(-len(x_train) // args.batch_size) * len(history.history["loss"])
    common.report(common.keras_result(history, steps, layers=common.keras_layers(model),
                                      val_r2=r2, val_mae_kw=mae_kw))


# The ground truth of every run of this program, stated from the program (corpus/README.md).
CASES = [
    {"family": "ktsposf-raw-kw-target", "split": "dev", "architecture": "transformer",
     "origin": "DeepLocalize benchmark (Stack Overflow): a forecaster whose loss 'barely "
               "decreases', the target left in its units while the inputs are scaled; "
               "Humbatova et al. 2020: missing target normalization",
     "bug": "the target is the next hour's load in kW (about 800 to 1300) while the inputs "
            "are standardized: under the Huber loss (delta 1, a gradient of at most 1) and "
            "AdamW(2e-3) the head moves by about the learning rate per step and in 8 epochs "
            "the loss falls only from 1089 to 1068 (validation MAE 1073 kW, R^2 -49.9) where "
            "the fixed twin (standardized target) reaches R^2 0.884 (MAE 39.5 kW)",
     "fix": "standardize the target with the training part's mean and standard deviation",
     "symptom": "saturation", "acceptable_symptoms": ["slow_convergence", "not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "d16-seed1",
          "buggy": "--bug raw-kw-target --seed 1 --record-every 4",
          "fixed": "--seed 1 --record-every 4"},
     ]},
    {"family": "ktsposf-adamw-lr-too-low", "split": "dev", "architecture": "transformer",
     "origin": "DeepFD / DeepDiagnosis fault type: learning rate too low",
     "bug": "AdamW(learning_rate=1e-5): in 8 epochs the loss falls only from 0.749 to 0.587 "
            "and the validation R^2 is -0.061 (MAE 152 kW, the load's standard deviation "
            "155 kW) where the fixed twin (2e-3) reaches 0.872 (MAE 50.8 kW)",
     "fix": "AdamW(learning_rate=2e-3)",
     "symptom": "slow_convergence", "acceptable_symptoms": ["not_learning"],
     "root_cause": "model",
     "pairs": [
         {"id": "d16-seed2",
          "buggy": "--lr 1e-5 --seed 2 --record-every 4",
          "fixed": "--seed 2 --record-every 4"},
     ]},
    {"family": "ktsposf-weight-decay-dominates", "split": "dev", "architecture": "transformer",
     "origin": "Humbatova et al. 2020: wrong regularization (a weight decay far too large: "
               "AdamW(weight_decay=30)); DeepFD fault type: regularization",
     "bug": "AdamW(2e-3, weight_decay=30): every step shrinks the weights by 6%, the model "
            "is pulled to a constant prediction: the loss stays between 0.451 and 0.457 for "
            "8 epochs and the validation R^2 is -0.003 (MAE 127 kW, the load's standard "
            "deviation 136 kW) where the fixed twin (weight_decay=0.004) reaches 0.723 and "
            "is still improving (validation loss 0.440, 0.264, 0.149 after epochs 1, 4, 8)",
     "fix": "AdamW(weight_decay=0.004)",
     "symptom": "not_learning", "acceptable_symptoms": ["dead_or_zero", "unchanged_values"],
     "root_cause": "model",
     "pairs": [
         {"id": "d16-seed3",
          "buggy": "--weight-decay 30 --seed 3 --record-every 4",
          "fixed": "--seed 3 --record-every 4"},
     ]},
    {"family": "healthy-ktsposf", "split": "dev", "architecture": "transformer",
     "origin": "healthy run",
     "description": "a Keras time-series Transformer (a custom PositionalEmbedding layer, "
                    "MultiHeadAttention and LayerNormalization blocks, a Dense head) "
                    "forecasting a generated building load with the Huber loss and AdamW, "
                    "that trains well",
     "healthy": [
         {"id": "d32-h4-bs32-lr1e-3-seed4",
          "args": "--d-model 32 --heads 4 --lr 1e-3 --batch-size 32 --epochs 6 --seed 4 --record-every 4",
          "description": "a model width of 32, 4 heads, AdamW(1e-3), batches of 32, 6 epochs: "
                         "validation R^2 0.790"},
         {"id": "w16-wd5e-2-bs128-seed6",
          "args": "--window 16 --weight-decay 0.05 --batch-size 128 --epochs 12 --lr 4e-3 --seed 6 --record-every 4",
          "description": "16-hour windows, AdamW(4e-3, weight_decay=0.05), batches of 128, "
                         "12 epochs: validation R^2 0.819"},
     ]},
]


if __name__ == "__main__":
    main()
