"""The one place where corpus programs get a trace recorder.

PyTorch programs call ``torch_recorder(model, path, optimizer=..., task=..., ...)`` and Keras
programs put ``keras_callbacks(path)`` into ``model.fit(callbacks=...)``. With ``path=None``
(no ``--out`` on the command line) nothing is recorded and the program just trains, which is
how training outcomes are checked.

Which recorder is used:

1. the ``dltrace`` package (``dltrace.pytorch.attach``, ``dltrace.keras.Recorder``), looked up
   first in the directory named by the environment variable ``DLTRACE_RECORDERS`` (a folder
   holding the ``dltrace`` package), then in the repository's ``recorders/`` folder, then on
   the normal import path;
2. for PyTorch only, when there is no ``dltrace`` package: the older
   ``recorders/pytorch/dltrace_recorder`` with the same ``attach`` API.

A Keras program asked to record when no Keras recorder exists exits with status 3
(``NO_RECORDER``) and a one-line message, so that regenerate.py can report it.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_RECORDER = 3

# What was used, for the result line: "dltrace" or "dltrace_recorder" (or None: not recording).
used = None


def _search_path():
    paths = []
    extra = os.environ.get("DLTRACE_RECORDERS")
    if extra:
        paths.append(os.path.abspath(extra))
    paths.append(os.path.join(ROOT, "recorders"))
    for path in reversed(paths):
        if os.path.isdir(path) and path not in sys.path:
            sys.path.insert(0, path)


def _dltrace(module):
    _search_path()
    try:
        return __import__("dltrace." + module, fromlist=["*"])
    except ImportError:
        return None


class _NotRecording:
    """Stands in for a recorder when the run is not recorded."""

    path = None

    def step(self, *args, **kwargs):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def torch_recorder(model, path, **options):
    """A PyTorch recorder attached to ``model`` writing to ``path`` (None: a no-op recorder)."""
    global used
    if path is None:
        return _NotRecording()
    module = _dltrace("pytorch")
    if module is not None:
        used = "dltrace"
        return module.attach(model, path, **options)
    sys.path.insert(0, os.path.join(ROOT, "recorders", "pytorch"))
    import dltrace_recorder  # noqa: E402
    used = "dltrace_recorder"
    return dltrace_recorder.attach(model, path, **options)


def keras_callbacks(path, **options):
    """``[Recorder(path)]`` for ``model.fit(callbacks=...)``; ``[]`` when ``path`` is None."""
    global used
    if path is None:
        return []
    module = _dltrace("keras")
    if module is None:
        sys.stderr.write("no Keras recorder: the dltrace package (dltrace.keras) is not in %s\n"
                         % os.path.join(ROOT, "recorders"))
        sys.exit(NO_RECORDER)
    used = "dltrace"
    return [module.Recorder(path, **options)]
