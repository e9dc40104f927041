"""Record a dl-analyze trace (format v1) from a PyTorch training loop.

    from dltrace.pytorch import attach
    rec = attach(model, "run.arrows", optimizer=opt, task="classification",
                 loss_name="CrossEntropyLoss")
    ...
    optimizer.step()
    rec.step(loss, accuracy=acc, inputs=x, targets=y)
"""

from .._core.schema import COLUMNS, FORMAT_VERSION, STAT_COLUMNS
from .._core.writers import sidecar_path
from .recorder import ACTIVATIONS, Recorder, attach, layer_name
from .stats import scalar_stats, tensor_stats

__all__ = ["attach", "Recorder", "tensor_stats", "scalar_stats", "COLUMNS", "STAT_COLUMNS",
           "ACTIVATIONS", "FORMAT_VERSION", "sidecar_path", "layer_name"]
