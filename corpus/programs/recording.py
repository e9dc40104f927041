"""The one place where corpus programs get a trace recorder.

PyTorch programs call ``torch_recorder(model, path, optimizer=..., task=..., ...)``, Keras
programs put ``keras_callbacks(path)`` into ``model.fit(callbacks=...)`` and Lightning programs
put ``lightning_callbacks(path, task=..., ...)`` into ``Trainer(callbacks=...)``. With ``path=None``
(no ``--out`` on the command line) nothing is recorded and the program just trains, which is
how training outcomes are checked.

The recorder is always the repository's own ``dltrace`` package in ``recorders/``
(``dltrace.pytorch.attach``, ``dltrace.keras.Recorder``,
``dltrace.lightning.DltraceCallback``): that folder is put first on the
import path, and an installed ``dltrace`` elsewhere is refused, so that a trace in the corpus
always comes from the recorder of the same commit.

``every`` (``--record-every N`` on every program's command line, set by ``common.parser``)
is the recorder's ``every=N`` option: the per-layer rows of every N-th step (steps 0, N,
2N...), the loss, accuracy, learning rate and validation rows of every step, and every step
whose loss is not finite in full (recorders/README.md, "Options").
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECORDERS = os.path.join(ROOT, "recorders")

# What was used, for the result line: "dltrace" (or None: not recording).
used = None
# The recorder's every=N option, set from --record-every by common.parser.
every = 1


def _dltrace(module):
    if sys.path[:1] != [RECORDERS]:
        sys.path.insert(0, RECORDERS)
    imported = __import__("dltrace." + module, fromlist=["*"])
    # the folder of the dltrace package itself (dltrace.pytorch is a package, dltrace.lightning
    # a module: their own files are at different depths)
    where = os.path.dirname(os.path.abspath(sys.modules["dltrace"].__file__))
    if os.path.realpath(where) != os.path.realpath(os.path.join(RECORDERS, "dltrace")):
        raise SystemExit("dltrace was imported from %s, expected the repository's %s"
                         % (where, os.path.join(RECORDERS, "dltrace")))
    return imported


class _NotRecording:
    """Stands in for a recorder when the run is not recorded."""

    path = None

    def step(self, *args, **kwargs):
        pass

    def add_validation(self, *args, **kwargs):
        pass

    def add_return(self, *args, **kwargs):
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
    used = "dltrace"
    options.setdefault("every", every)
    return module.attach(model, path, **options)


def keras_callbacks(path, **options):
    """``[Recorder(path)]`` for ``model.fit(callbacks=...)``; ``[]`` when ``path`` is None."""
    global used
    if path is None:
        return []
    module = _dltrace("keras")
    used = "dltrace"
    options.setdefault("every", every)
    return [module.Recorder(path, **options)]


def lightning_callbacks(path, **options):
    """``[DltraceCallback(path, ...)]`` for ``Trainer(callbacks=...)``; ``[]`` when ``path`` is
    None. The callback attaches the PyTorch recorder to the LightningModule when training
    starts (its options are ``dltrace.pytorch.attach``'s)."""
    global used
    if path is None:
        return []
    module = _dltrace("lightning")
    used = "dltrace"
    options.setdefault("every", every)
    return [module.DltraceCallback(path, **options)]
