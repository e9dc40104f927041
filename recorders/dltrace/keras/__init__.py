"""Record a dl-analyze trace (format v1) from Keras 3 ``model.fit`` (TensorFlow backend).

    from dltrace.keras import Recorder
    model.fit(x, y, callbacks=[Recorder("run.arrows")])
"""

from .recorder import ACTIVATION_LAYERS, Recorder
from .stats import reduce

__all__ = ["Recorder", "reduce", "ACTIVATION_LAYERS"]
