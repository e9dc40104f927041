"""Compatibility alias: ``import dltrace_recorder`` is ``dltrace.pytorch``.

New code imports ``from dltrace.pytorch import attach``. This module keeps working both when
the package is installed (``pip install ./recorders``) and with ``recorders/pytorch`` on
``sys.path``, as programs written for the first recorder do.
"""

try:
    import dltrace.pytorch as _impl
except ImportError:  # only recorders/pytorch is on sys.path: add recorders/
    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    import dltrace.pytorch as _impl

from dltrace.pytorch import (ACTIVATIONS, COLUMNS, FORMAT_VERSION, STAT_COLUMNS, Recorder,  # noqa: E402
                             attach, scalar_stats, sidecar_path, tensor_stats)

__all__ = ["attach", "Recorder", "tensor_stats", "scalar_stats", "COLUMNS", "STAT_COLUMNS",
           "ACTIVATIONS", "FORMAT_VERSION", "sidecar_path"]
