"""dltrace: record dl-analyze traces (format v1) from training runs.

    from dltrace.pytorch import attach          # PyTorch training loops
    from dltrace.keras import Recorder          # Keras 3 model.fit (TensorFlow backend)
    from dltrace.lightning import DltraceCallback   # PyTorch Lightning Trainer

The framework subpackages import their framework; this package itself needs only numpy.
"""

from ._core.schema import COLUMNS, FORMAT_VERSION, PHASES, STAT_COLUMNS
from ._core.stop import TrainingStopped
from ._core.writers import sidecar_path

__version__ = "0.2.0"

__all__ = ["COLUMNS", "FORMAT_VERSION", "PHASES", "STAT_COLUMNS", "sidecar_path", "TrainingStopped",
           "__version__"]
