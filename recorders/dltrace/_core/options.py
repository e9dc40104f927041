"""What to record: every N-th step, a subset of phases and layers; shared by the recorders."""

import fnmatch
import json

from .schema import LAYER_PHASES, MODEL_PHASES, PHASES

# What training does with the recorded loss (``dltrace.objective``): ``minimize`` (the
# default, not written) when the loss falls as the model learns; ``adversarial`` for one
# player's loss in a two-player game (a GAN's generator or discriminator), which stays level
# or rises while both improve; ``policy_gradient`` for a surrogate such as REINFORCE's
# ``-log pi(a|s) * advantage``, whose value and sign say nothing of progress;
# ``temporal_difference`` for a value function's bootstrapped error (a DQN's, an actor-critic's
# critic), whose targets are the network's own estimates: it grows as the values learn the
# returns, so it can rise while the agent improves; ``self_training`` for a loss against targets
# the model computes from its own predictions and refreshes as it trains (Deep Embedded
# Clustering's target distribution, pseudo-labels recomputed every few epochs): each refresh
# moves the targets, so the loss jumps and can rise while the model improves. The analyzer does
# not judge the trend of a loss that is not minimized.
OBJECTIVES = ("minimize", "adversarial", "policy_gradient", "temporal_difference",
              "self_training")


def objective_metadata(objective):
    """The ``dltrace.objective`` entry for ``objective`` (empty for None and "minimize");
    ValueError for anything else than OBJECTIVES."""
    if objective is None or objective == "minimize":
        return {}
    if objective not in OBJECTIVES:
        raise ValueError("objective must be one of %s, got %r"
                         % (", ".join(OBJECTIVES), objective))
    return {"dltrace.objective": objective}


# After a step whose loss is not finite, this many more steps are recorded in full.
STEPS_AFTER_NONFINITE = 3

# Always recorded, whatever ``phases`` says: the non-finite rule reads the loss.
ALWAYS = ("loss",)


class Selection:
    """The recording options of one run, validated.

    ``every``: record every N-th step (steps 0, N, 2N...); the model-level scalars (loss,
    accuracy, learning_rate, val_*) are recorded at every step whatever N is. A step whose
    loss is not finite, and the STEPS_AFTER_NONFINITE steps after it, are recorded whatever
    ``every`` says. ``phases``: the phases to record (None: all). ``layers``: layer names or
    glob patterns (None: all layers). ``record_inputs``: the input/target rows.
    """

    def __init__(self, every=1, phases=None, layers=None, record_inputs=True):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError("every must be a positive integer, got %r" % (every,))
        self.every = every
        if phases is None:
            self.phases = frozenset(PHASES)
            self.phases_given = None
        else:
            if isinstance(phases, str):
                phases = [phases]
            phases = list(phases)
            unknown = [p for p in phases if p not in PHASES]
            if unknown:
                raise ValueError("unknown phase %r: expected some of %s"
                                 % (unknown[0], ", ".join(PHASES)))
            self.phases = frozenset(phases) | frozenset(ALWAYS)
            self.phases_given = [p for p in PHASES if p in self.phases]
        if not record_inputs:
            self.phases = self.phases - {"input", "target"}
        self.record_inputs = bool(record_inputs)
        if layers is None:
            self.patterns = None
        else:
            if isinstance(layers, str):
                layers = [layers]
            self.patterns = [str(p) for p in layers]
            if not self.patterns:
                raise ValueError("layers must name at least one layer or pattern")
        self.layer_phases = tuple(p for p in LAYER_PHASES if p in self.phases)
        self.model_phases = tuple(p for p in MODEL_PHASES if p in self.phases)

    def wants(self, phase):
        return phase in self.phases

    def layer_selected(self, name):
        if self.patterns is None:
            return True
        return any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def check_layers(self, names):
        """Raises ValueError for a pattern that matches none of ``names``."""
        if self.patterns is None:
            return
        for pattern in self.patterns:
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                raise ValueError("layers: %r matches no layer; the layers are: %s"
                                 % (pattern, ", ".join(names)))

    def sampled(self, step):
        return step % self.every == 0

    def metadata(self):
        """The keys that tell a reader what was left out (none when everything is recorded)."""
        meta = {}
        if self.every != 1:
            meta["dltrace.record_every"] = str(self.every)
        if self.phases_given is not None or not self.record_inputs:
            meta["dltrace.record_phases"] = ",".join(p for p in PHASES if p in self.phases)
        if self.patterns is not None:
            meta["dltrace.record_layers"] = json.dumps(self.patterns)
        return meta
