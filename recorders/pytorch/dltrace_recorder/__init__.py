"""dltrace_recorder: record a dl-analyze trace (format v1) from a PyTorch training loop.

    import dltrace_recorder as dltrace
    rec = dltrace.attach(model, "run.csv", optimizer=opt, task="classification",
                         loss_name="CrossEntropyLoss")
    ...
    optimizer.step()
    rec.step(loss, accuracy=acc, inputs=x, targets=y)
"""

from .recorder import ACTIVATIONS, FORMAT_VERSION, Recorder, attach
from .stats import STAT_COLUMNS, scalar_stats, tensor_stats
from .writers import COLUMNS, sidecar_path

__all__ = ["attach", "Recorder", "tensor_stats", "scalar_stats", "COLUMNS", "STAT_COLUMNS",
           "ACTIVATIONS", "FORMAT_VERSION", "sidecar_path"]
