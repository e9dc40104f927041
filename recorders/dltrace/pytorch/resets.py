"""Whether a training loop resets its gradients between updates.

``loss.backward()`` adds into ``p.grad``; a loop that never calls ``optimizer.zero_grad()``
(or zeroes them once an epoch) updates with the running sum of every gradient so far. The
statistics of the gradients show that only indirectly (a norm that climbs, sometimes), so the
recorder watches it directly: hooks on the few smallest parameters of each optimizer run at each
backward pass, before the new gradient is added into ``p.grad``, and see whether ``p.grad`` was
reset (``None``, or all zeros after ``zero_grad(set_to_none=False)``). An optimizer step is
*carried over* when a backward pass reached them since the previous step and none found them
reset: the step updated with gradients of earlier steps. Accumulating on purpose
(``zero_grad()`` once every k micro-batches, after the step) resets before the first
micro-batch of each update, and a GAN whose generator's gradients also collect the
discriminator's backward resets them before its own backward: neither is carried over.

The check costs, per backward pass, a tensor hook and one ``any()`` on each watched parameter,
queued on its device and read later (no synchronization in the hook). With optimizers
(PyTorch 2.0 or later) the boundary between updates is each optimizer's step
(``register_step_post_hook``); without one (a loop that updates ``p -= lr * p.grad`` itself),
the recorder's ``step()``. Not judged: a loop that writes ``p.grad`` itself without a backward
pass (DP-SGD's per-sample gradients, clipped and summed), and an optimizer stepped only through
methods of its own that bypass ``step()`` (SAM's ``first_step``/``second_step``).
"""

import torch

RESOLVE_EVERY = 64


class _Probe:
    """What the hooks on the watched parameters of one optimizer (or of the loop) saw since its
    last update."""

    __slots__ = ("primed", "backward", "reset", "pending")

    def __init__(self):
        self.backward = False   # a backward pass reached one of them since the last update
        self.reset = False      # ... and found its p.grad None (reset by set_to_none)
        self.pending = []       # p.grad.any() at each such pass that found a gradient
        self.primed = False     # its window started at an update: it can be judged


PROBES = 3


def _probe_params(params):
    """The parameters to watch: the smallest few that require gradients, those that have one at
    the first recorded step first (a loop that calls ``rec.step()`` after ``zero_grad()`` leaves
    none with one; then the smallest of all, one of which a backward pass will reach)."""
    wanted = [p for p in params if p.requires_grad and p.numel() > 0]
    wanted.sort(key=lambda p: (p.grad is None, p.numel()))
    return wanted[:PROBES]


class Resets:
    """Counts the updates whose gradients were carried over from before the previous update."""

    def __init__(self, optimizers):
        self.updates = 0        # updates judged (each after a backward pass reached a probe)
        self.carried = 0        # of which carried over, resolved so far
        self._decided = []      # device booleans of updates judged carried over if true
        self._probes = {}       # id(optimizer) -> its probe, from the first recorded step
        self._stepped = set()   # id() of the optimizers that stepped before it
        self._handles = []
        self._loop_probe = None  # the probe whose boundary is the recorder's step()
        self._started = False
        self._optimizers = list(optimizers)
        self._by_optimizer = bool(self._optimizers) and all(
            hasattr(o, "register_step_post_hook") for o in self._optimizers)
        if self._by_optimizer:
            for optimizer in self._optimizers:
                self._handles.append(optimizer.register_step_post_hook(
                    lambda o, _a, _k: self._update(o)))

    def start(self, model):
        """At the first recorded step: picks the parameters to watch and hooks them. An
        optimizer that has not stepped yet (accumulating over micro-batches) is in the middle of
        its first update, whose earlier backward passes the hooks did not see: that update is
        not judged."""
        if self._started:
            return
        self._started = True
        if self._by_optimizer:
            for optimizer in self._optimizers:
                params = _probe_params([p for g in optimizer.param_groups for p in g["params"]])
                if params:
                    probe = self._watch(params)
                    probe.primed = id(optimizer) in self._stepped
                    self._probes[id(optimizer)] = probe
        elif not self._optimizers:
            params = _probe_params(list(model.parameters()))
            if params:
                self._loop_probe = self._watch(params)
                self._loop_probe.primed = True

    def _watch(self, params):
        probe = _Probe()

        def hook_of(param):
            def before_accumulation(grad):
                probe.backward = True
                current = param.grad
                if current is None:
                    probe.reset = True
                elif not probe.reset:
                    values = current._values() if current.is_sparse else current
                    probe.pending.append(values.any())
                return None
            return before_accumulation

        for param in params:
            self._handles.append(param.register_hook(hook_of(param)))
        return probe

    def _update(self, optimizer):
        """An update of an optimizer ends its probe's window."""
        probe = self._probes.get(id(optimizer))
        if probe is None:
            self._stepped.add(id(optimizer))
            return
        self._judge(probe)

    def _judge(self, probe):
        if not probe.backward:
            return
        if probe.primed:
            self.updates += 1
            if not probe.reset:
                # carried over unless some pass found p.grad all zeros
                # (zero_grad(set_to_none=False))
                self._decided.append(torch.stack(probe.pending).all() if probe.pending
                                     else torch.tensor(True))
        probe.primed = True
        probe.backward = False
        probe.reset = False
        probe.pending = []

    def step(self):
        """The recorder's ``step()``: the boundary of a loop without an optimizer. The judged
        updates are read in batches of :data:`RESOLVE_EVERY`, long after their kernels ran, so
        that a GPU is not made to wait."""
        if self._loop_probe is not None:
            self._judge(self._loop_probe)
        if len(self._decided) >= RESOLVE_EVERY:
            self.resolve()

    def resolve(self):
        """Reads the judged updates' device booleans into :attr:`carried`."""
        for flag in self._decided:
            if bool(flag.item()):
                self.carried += 1
        self._decided = []

    def close(self):
        self.resolve()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._probes = {}
        self._loop_probe = None

    def metadata(self):
        """``dltrace.updates`` and ``dltrace.carried_updates``, once an update was judged."""
        if not self.updates:
            return {}
        return {"dltrace.updates": str(self.updates),
                "dltrace.carried_updates": str(self.carried)}
