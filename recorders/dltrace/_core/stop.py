"""Stopping a run from outside: ``dl-analyze watch --stop-file PATH`` writes PATH at the first
fault; the recorders look for it after every step and end training cleanly.

``stop_file=`` (or the environment variable ``DLTRACE_STOP_FILE``) names the file. When it
appears, the recorder writes every recorded step, adds ``dltrace.stop_reason`` (the file's first
line) and ``dltrace.stopped_at_step`` to the trace's metadata, closes the trace and prints one
line to standard error. Checking costs one ``stat`` per step.
"""

import os
import sys

ENV = "DLTRACE_STOP_FILE"
REASON_KEY = "dltrace.stop_reason"
STEP_KEY = "dltrace.stopped_at_step"
_MAX_REASON = 1000


class TrainingStopped(SystemExit):
    """Raised by the PyTorch recorder's ``step()`` when the stop file appeared (``on_stop="exit"``,
    the default): the trace is closed. A ``SystemExit`` with status 0, so an uncaught one ends the
    program quietly; catch it to go on after the loop."""

    def __init__(self, message, reason, step):
        super().__init__(0)
        self.message = message
        self.reason = reason
        self.step = step

    def __str__(self):
        return self.message


class StopFile:
    """Looks for the stop file; ``path`` None means ``$DLTRACE_STOP_FILE`` (or no stop file)."""

    def __init__(self, path):
        if path is None:
            path = os.environ.get(ENV) or None
        self.path = None if path is None else os.fspath(path)

    def reason(self):
        """The stop reason when the file exists (its first line, or a default), else None."""
        if self.path is None or not os.path.exists(self.path):
            return None
        try:
            with open(self.path, "r", encoding="utf-8", errors="replace") as f:
                first = f.readline(_MAX_REASON).strip()
        except OSError:
            first = ""
        return first or ("stop file %s" % self.path)


def metadata(reason, step):
    return {REASON_KEY: reason, STEP_KEY: str(step)}


def announce(reason, step, trace_path, stop_path):
    message = ("dltrace: training stopped after step %d: %s (stop file %s); the trace is complete:"
               " %s" % (step, reason, stop_path, trace_path))
    print(message, file=sys.stderr, flush=True)
    return message
