"""The trace format v1 as the recorders write it: columns, phases, metadata keys."""

FORMAT_VERSION = "1"

COLUMNS = ("epoch", "batch", "step", "layer_index", "layer_name", "layer_type", "phase",
           "mean", "std", "min", "max", "l2_norm", "zero_fraction",
           "nan_count", "inf_count", "numel")

# Order of the statistic columns in a trace row, after the key columns.
STAT_COLUMNS = ("mean", "std", "min", "max", "l2_norm", "zero_fraction",
                "nan_count", "inf_count", "numel")

# Per-layer phases, and the model-level ones (layer_index -1, layer_name "model").
LAYER_PHASES = ("forward", "activation", "backward", "gradient", "weight")
# ``episode_return``: the returns (undiscounted sums of rewards) of the episodes that ended
# since the previous recorded step, for a reinforcement-learning objective; a step where none
# ended has no such row.
MODEL_PHASES = ("input", "target", "loss", "accuracy", "learning_rate", "episode_return",
                "val_loss", "val_accuracy")
PHASES = ("input", "target", "forward", "activation", "loss", "accuracy", "backward",
          "gradient", "weight", "learning_rate", "episode_return", "val_loss", "val_accuracy")

MODEL = "model"
