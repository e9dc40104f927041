"""What the autograd graph tells about a training step that module hooks cannot see.

Activations applied as functions (``F.relu(self.fc1(x))``, ``torch.sigmoid(out)``) and the
loss function are not modules, so no hook fires for them. Their autograd nodes are still in
the graph of the step: walking back from a layer's input (or from the model's output, or from
the loss) to the node that produced the previous layer's output shows which operations ran in
between. Activation nodes keep their output (``_saved_result``: relu, sigmoid, tanh, softmax,
log_softmax, elu...) or their input (gelu, leaky_relu, silu...) for the backward pass, so the
activation's values can be reduced without running it again.

A gated unit multiplies a layer's output by a gate that went through an activation: a GLU
written by hand (``x[:, :n] * torch.sigmoid(x[:, n:])``, as TabNet does), ``F.glu``, SwiGLU
and GEGLU feed-forward blocks (``F.silu(self.w1(x)) * self.w3(x)``), WaveNet's
``torch.tanh(a) * torch.sigmoid(b)``. The shortest path back to a layer may then run through the
product's linear operand and pass no activation: :func:`gated_unit` looks at the product's
other operand for one.

A custom ``torch.autograd.Function`` between two layers (a spiking neuron's Heaviside step with a
surrogate gradient, a straight-through sign) is an operation the recorder cannot name, and most
often a non-linearity: :func:`activation_of` names it after the Function's class
(``SurrGradSpike`` -> ``surr_grad_spike``), so that a layer is never written ``linear`` because
its non-linearity is one of the user's own. Its output is recorded when it is the next layer's
very input (:func:`first_activation`'s ``output``). A Function that is the identity forward (a
gradient reversal layer) is named the same way: the recorder cannot tell it apart.

Walks are bounded (``MAX_NODES``) and read only node types and saved tensors; a node whose
saved tensors were already freed is skipped.
"""

import re

import torch
import torch.nn.functional as F

# Autograd node class name (without the trailing version digit) -> (activation name, how to
# get its output: "result" = the node's saved output, or a function of its saved input).
_ACTIVATION_NODES = {
    "ReluBackward": ("relu", "result"),
    "Relu6Backward": ("relu6", None),
    "HardtanhBackward": ("hard_tanh", None),
    "SigmoidBackward": ("sigmoid", "result"),
    "TanhBackward": ("tanh", "result"),
    "SoftmaxBackward": ("softmax", "result"),
    "LogSoftmaxBackward": ("log_softmax", "result"),
    "EluBackward": ("elu", None),
    "GeluBackward": ("gelu", F.gelu),
    "SiluBackward": ("silu", F.silu),
    "MishBackward": ("mish", F.mish),
    "LeakyReluBackward": ("leaky_relu", None),
    "SoftplusBackward": ("softplus", None),
    "HardswishBackward": ("hard_swish", F.hardswish),
    "HardsigmoidBackward": ("hard_sigmoid", F.hardsigmoid),
    "CeluBackward": ("celu", None),
    "LogSigmoidBackward": ("log_sigmoid", None),
    # periodic activations (SIREN's sin(omega_0 * x), Fourier features): torch.sin and torch.cos
    # keep their input
    "SinBackward": ("sin", torch.sin),
    "CosBackward": ("cos", torch.cos),
    # F.glu and nn.GLU: the first half of ``dim`` times the sigmoid of the second half
    "GluBackward": ("glu", None),
}

# A gated unit's name by the activation of its gate, when the gated operand passes none (the
# GLU variants of Shazeer 2020); other gates give "gated_<activation>".
_GATED_NAMES = {"sigmoid": "glu", "silu": "swiglu", "gelu": "geglu", "relu": "reglu"}
_GATE_DEPTH = 6  # how far behind a product its gate's activation is looked for
# Normalized over a dimension, these weigh a mixture's experts or attend; they gate nothing.
_NOT_GATES = ("softmax", "log_softmax")

# Loss nodes -> the name of the torch.nn loss module that produces them.
_LOSS_NODES = {
    "MseLossBackward": "MSELoss",
    "BinaryCrossEntropyBackward": "BCELoss",
    "BinaryCrossEntropyWithLogitsBackward": "BCEWithLogitsLoss",
    "SmoothL1LossBackward": "SmoothL1Loss",
    "HuberLossBackward": "HuberLoss",
    "KlDivBackward": "KLDivLoss",
    "SoftMarginLossBackward": "SoftMarginLoss",
    "MultiMarginLossBackward": "MultiMarginLoss",
}

MAX_NODES = 48


def node_kind(node):
    """The node's class name without its version suffix (``ReluBackward0`` -> ``ReluBackward``)."""
    return type(node).__name__.rstrip("0123456789")


def custom_function(node):
    """The snake_case name of the custom ``torch.autograd.Function`` whose backward node this is
    (``SurrGradSpikeBackward`` -> ``surr_grad_spike``), or None for torch's own nodes."""
    if not isinstance(node, torch.autograd.function.BackwardCFunction):
        return None
    name = type(node).__name__
    if name.endswith("Backward"):
        name = name[:-len("Backward")]
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()
    return name or None


def activation_of(node):
    """(activation name, output tensor or None) of an activation node, or None for other nodes.
    A custom autograd Function's node is named by :func:`custom_function`, without a tensor."""
    entry = _ACTIVATION_NODES.get(node_kind(node))
    if entry is None:
        custom = custom_function(node)
        return (custom, None) if custom is not None else None
    name, source = entry
    value = None
    try:
        if source == "result":
            value = node._saved_result
        elif source is not None:
            value = source(node._saved_self)
    except (RuntimeError, AttributeError):
        value = None  # freed after a backward, or not saved by this torch version
    if name == "glu":
        try:
            dim = int(node._saved_dim)
            value = F.glu(node._saved_self, dim - (1 << 64) if dim >= 1 << 63 else dim)
        except (RuntimeError, AttributeError, TypeError, IndexError):
            value = None
    if name == "leaky_relu":
        slope = getattr(node, "_saved_negative_slope", 0.01)
        try:
            value = F.leaky_relu(node._saved_self, float(slope))
        except (RuntimeError, AttributeError, TypeError):
            value = None
    return name, value


def _parents(node):
    for parent, _ in getattr(node, "next_functions", ()) or ():
        if parent is not None:
            yield parent


def parents(node):
    """The nodes ``node`` takes its inputs from (its ``next_functions``, without the Nones)."""
    return _parents(node)


def outputs_reached(start, owners):
    """From ``start`` (a grad_fn), breadth first, not walking past a layer's output: yields
    (layer key, the nodes on the way, nearest first) for each node in ``owners`` (a dict node id
    -> layer key) it reaches, nearest first, and then None if it stopped at MAX_NODES nodes."""
    seen = {id(start)}
    queue = [(start, ())]
    visited = 0
    while queue:
        if visited >= MAX_NODES:
            yield None
            return
        node, path = queue.pop(0)
        visited += 1
        owner = owners.get(id(node))
        if owner is not None:
            yield owner, list(path)
            continue
        path = path + (node,)
        for parent in _parents(node):
            if id(parent) not in seen:
                seen.add(id(parent))
                queue.append((parent, path))


# Products of two matrices: between two computed tensors (not a parameter), they compare
# examples or positions with one another (a query's similarity to a support set, contrastive
# logits z1 @ z2.T, attention written out by hand).
_PRODUCT_NODES = ("MmBackward", "BmmBackward")
# Distances between two sets of rows (a prototypical network's torch.cdist).
_DISTANCE_NODES = ("CdistBackward",)
# Elementwise products and differences: a comparison between examples when both operands are
# broadcast views of computed tensors (F.cosine_similarity(z1.unsqueeze(1), z2.unsqueeze(0)),
# (a.unsqueeze(1) - b.unsqueeze(0)).pow(2).sum(-1)); with one operand broadcast, a gate or a mask.
_PAIRWISE_NODES = ("MulBackward", "SubBackward")
_BROADCAST_NODES = ("ExpandBackward", "UnsqueezeBackward")
# Nodes that only reshape or copy their one input: a parameter seen through them is one still.
_VIEW_NODES = ("TBackward", "TransposeBackward", "PermuteBackward", "ViewBackward",
               "UnsafeViewBackward", "ExpandBackward", "UnsqueezeBackward", "SqueezeBackward",
               "ReshapeAliasBackward", "CloneBackward", "ToCopyBackward")
# What may stand between a broadcast view and the product: a reshape or copy, a division by norms.
_THROUGH_TO_BROADCAST = _VIEW_NODES + ("DivBackward",)


def _computed(node):
    """Whether a product's operand (its grad_fn) is computed, not a parameter seen through
    reshapes (``h @ self.embedding.weight.T``, a tied output layer)."""
    for _ in range(8):
        kind = node_kind(node)
        if kind == "AccumulateGrad":
            return False
        if kind not in _VIEW_NODES:
            return True
        parents = list(_parents(node))
        if len(parents) != 1:
            return True
        node = parents[0]
    return True


def _broadcast_view(node):
    """Whether a product's operand is a broadcast view (unsqueezed or expanded), maybe divided
    by a norm or copied on the way to the product."""
    for _ in range(6):
        kind = node_kind(node)
        if kind in _BROADCAST_NODES:
            return True
        if kind not in _THROUGH_TO_BROADCAST:
            return False
        parents = list(_parents(node))
        if not parents:
            return False
        node = parents[0]
    return False


def data_product(path):
    """The first node on a walked path that compares two computed tensors with one another, or
    None: a product of two computed matrices (see _PRODUCT_NODES), a distance between two sets
    of rows (_DISTANCE_NODES), or an elementwise product or difference of two broadcast views
    (_PAIRWISE_NODES: a cosine similarity or a distance of every row with every other). A loss
    behind such a node is computed from comparisons between a layer's outputs, not from the
    layer's output through an activation: the layer is not the model's output as the loss sees
    it."""
    for node in path:
        kind = node_kind(node)
        if kind in _PRODUCT_NODES or kind in _DISTANCE_NODES or kind in _PAIRWISE_NODES:
            operands = [parent for parent, _ in getattr(node, "next_functions", ()) or ()
                        if parent is not None]
            computed = [parent for parent in operands if _computed(parent)]
            if len(computed) < 2:
                continue
            if kind in _PAIRWISE_NODES and not all(_broadcast_view(p) for p in computed):
                continue
            return node
    return None


def walk_back(start, owners):
    """From ``start`` (a grad_fn), breadth first, to the nearest node in ``owners`` (a dict
    node id -> layer key). Returns (layer key or None, the nodes on the way, nearest first)."""
    if start is None:
        return None, []
    found = next(outputs_reached(start, owners), None)
    return found if found is not None else (None, [])


def first_activation(path, output=None):
    """The activation nearest the producing layer on a walked path: (name, tensor or None).
    ``output``: the tensor whose ``grad_fn`` is the path's first node, if at hand; it is a custom
    Function's output when that Function is the path's first node."""
    for node in reversed(path):
        found = activation_of(node)
        if found is not None:
            if found[1] is None and output is not None and node is path[0] \
                    and getattr(output, "grad_fn", None) is node:
                return found[0], output
            return found
    return None


def _gate_activation(start, owners):
    """The activation node nearest ``start`` (a product's operand), breadth first, at most
    _GATE_DEPTH levels and MAX_NODES nodes, not walking past a layer's output nor a softmax
    (a mixture of experts' weights: ``(torch.softmax(g, -1).unsqueeze(-1) * outs).sum(1)``);
    or None."""
    seen = {id(start)}
    queue = [(start, 0)]
    visited = 0
    while queue and visited < MAX_NODES:
        node, depth = queue.pop(0)
        visited += 1
        if id(node) in owners:
            continue
        entry = _ACTIVATION_NODES.get(node_kind(node))
        if entry is not None:
            if entry[0] in _NOT_GATES:
                continue  # mixture or attention weights, not a gate: no further behind it
            return node
        if depth < _GATE_DEPTH:
            for parent in _parents(node):
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append((parent, depth + 1))
    return None


def _scaled_copy(node, target):
    """True when ``node`` is ``target``, or ``target`` through scalings by constants (the
    ``1.702 * x`` of QuickGELU's ``x * sigmoid(1.702 * x)``)."""
    for _ in range(4):
        if node is target:
            return True
        if node_kind(node) not in ("MulBackward", "DivBackward"):
            return False
        parents = list(_parents(node))
        if len(parents) != 1:
            return False
        node = parents[0]
    return False


def gated_unit(path, owners):
    """A gated unit on a walked path (``walk_back``'s nodes, nearest the start first, towards a
    node of ``owners``): (name, product node, gate activation node), or None.

    A product on the path, after the path's activation if it has one, whose other operand
    reaches an activation before any layer's output (:func:`_gate_activation`) is a gate. With
    no activation on the path the unit is named by the gate's: ``glu`` (sigmoid), ``swiglu``
    (silu), ``geglu`` (gelu), ``reglu`` (relu), ``gated_<name>`` for another; a sigmoid of the
    very operand (``x * torch.sigmoid(x)``, also scaled) is ``silu``. A tanh times a sigmoid
    gate (WaveNet's gated activation) is ``gated_tanh``; a path's other activations stay as
    they are (a squeeze-and-excitation gate after a ReLU leaves the layer ``relu``)."""
    at = len(path)
    for i in range(len(path) - 1, -1, -1):
        if node_kind(path[i]) in _ACTIVATION_NODES:
            at = i
            break
    own = _ACTIVATION_NODES[node_kind(path[at])][0] if at < len(path) else None
    if own is not None and own not in ("tanh", "sigmoid"):
        return None
    for j in range(at - 1, -1, -1):
        product = path[j]
        if node_kind(product) != "MulBackward":
            continue
        operands = list(_parents(product))
        if j + 1 < len(path):
            main = path[j + 1]
        else:
            main = next((p for p in operands if id(p) in owners), None)
        for operand in operands:
            if operand is main:
                continue
            gate = _gate_activation(operand, owners)
            if gate is None:
                continue
            kind = _ACTIVATION_NODES[node_kind(gate)][0]
            if own is not None:
                if {own, kind} == {"tanh", "sigmoid"}:
                    return "gated_tanh", product, gate
                continue
            inputs = list(_parents(gate))
            if kind == "sigmoid" and inputs and main is not None and _scaled_copy(inputs[0], main):
                return "silu", product, gate
            return _GATED_NAMES.get(kind, "gated_" + kind), product, gate
    return None


_NLL_NODES = ("NllLossBackward", "NllLoss2DBackward")


def _near_loss(loss_grad_fn):
    """The nodes of a loss tensor's graph nearest the loss first, as (node, kind): breadth
    first, six levels deep, at most MAX_NODES. A caller that stops early expands no further."""
    if loss_grad_fn is None:
        return
    seen = {id(loss_grad_fn)}
    queue = [(loss_grad_fn, 0)]
    visited = 0
    while queue and visited < MAX_NODES:
        node, depth = queue.pop(0)
        visited += 1
        yield node, node_kind(node)
        if depth < 6:
            for parent in _parents(node):
                if id(parent) not in seen:
                    seen.add(id(parent))
                    queue.append((parent, depth + 1))


def loss_name(loss_grad_fn):
    """The torch.nn loss that produced a loss tensor, read from its graph, or None.

    NLL over a log-softmax is CrossEntropyLoss (that is how F.cross_entropy is built); NLL over
    anything else is NLLLoss; a mean of absolute differences is L1Loss."""
    for node, kind in _near_loss(loss_grad_fn):
        if kind in _LOSS_NODES:
            return _LOSS_NODES[kind]
        if kind in _NLL_NODES:
            parents = list(_parents(node))
            if parents and node_kind(parents[0]) == "LogSoftmaxBackward":
                return "CrossEntropyLoss"
            return "NLLLoss"
        if kind in ("MeanBackward", "SumBackward"):
            parents = list(_parents(node))
            if parents and node_kind(parents[0]) == "AbsBackward":
                return "L1Loss"
    return None


# Loss nodes -> the saved tensors that hold a class or element weight (None when not given).
_WEIGHT_ATTRS = {
    "BinaryCrossEntropyWithLogitsBackward": ("_saved_pos_weight", "_saved_weight"),
    "BinaryCrossEntropyBackward": ("_saved_weight",),
    "NllLossBackward": ("_saved_weight",),
    "NllLoss2DBackward": ("_saved_weight",),
}


def _neutral(name, value):
    """True for a weight that changes nothing: a pos_weight or BCE weight of all ones, an NLL
    class weight equal for every class (the mean reduction divides it out)."""
    flat = value.detach().reshape(-1).double()
    if flat.numel() == 0:
        return True
    if name.startswith("NllLoss"):
        return bool((flat == flat[0]).all())
    return bool((flat == 1).all())


def loss_weighted(loss_grad_fn):
    """True when the loss node of the graph (as :func:`loss_name` finds it) was given a class
    or element weight: ``BCEWithLogitsLoss(pos_weight=...)`` or ``weight=``, ``BCELoss(weight=)``,
    ``CrossEntropyLoss(weight=...)``, ``NLLLoss(weight=...)``; False when it was not; None when
    no such loss node is in the graph.

    The node keeps the weight as a saved tensor. After ``backward()`` a saved tensor is freed:
    reading it raises, while one that was never given reads as None, so a freed weight still
    counts as given (its values are no longer there to tell a neutral one)."""
    node = _loss_node(loss_grad_fn)
    if node is None:
        return None
    kind = node_kind(node)
    for attr in _WEIGHT_ATTRS.get(kind, ()):
        try:
            value = getattr(node, attr)
        except RuntimeError:
            return True  # given, and freed by the backward pass
        except AttributeError:
            continue  # not saved by this torch version
        if isinstance(value, torch.Tensor) and not _neutral(kind, value):
            return True
    return False


def _loss_node(loss_grad_fn):
    """The loss node (one of _LOSS_NODES or an NLL node) nearest the loss, or None."""
    for node, kind in _near_loss(loss_grad_fn):
        if kind in _LOSS_NODES or kind in _NLL_NODES:
            return node
    return None


def sole_owner(start, owners):
    """From ``start`` (a loss's grad_fn), breadth first, the one layer in ``owners`` whose output
    the graph reaches, not walking past a layer's output: (layer key, the nodes on the way,
    nearest first), or (None, []) when it reaches none, several, or more than MAX_NODES nodes.
    For a loss written out by hand (``-(x * torch.log(p) + (1 - x) * torch.log(1 - p)).mean()``),
    which has no loss node for :func:`loss_input` to find: a loss over one output leads back to
    that layer alone; one that adds terms over several layers (a VAE's KL on the encoder's mean
    beside the decoder's reconstruction) names none."""
    if start is None:
        return None, []
    found = None
    for reached in outputs_reached(start, owners):
        if reached is None or (found is not None and reached[0] != found[0]):
            return None, []
        if found is None:
            found = reached
    return found if found is not None else (None, [])


# torch.nn losses by family, keyed by a name lowercased without "_" and a trailing "loss": a
# name a program gives (``"cross_entropy"``, ``"NLLLoss"``) and the one read from a loss node.
_LOSS_FAMILIES = {
    "crossentropy": "ce", "nll": "ce", "bce": "bce", "bcewithlogits": "bce",
    "binarycrossentropy": "bce", "binarycrossentropywithlogits": "bce", "mse": "mse",
    "meansquarederror": "mse", "l1": "l1", "mae": "l1", "meanabsoluteerror": "l1",
    "smoothl1": "huber", "huber": "huber", "kldiv": "kl", "softmargin": "softmargin",
    "multimargin": "multimargin",
}


def _loss_family(name):
    if not name:
        return None
    key = name.lower().replace("_", "").replace(" ", "")
    if key.endswith("loss"):
        key = key[:-4]
    return _LOSS_FAMILIES.get(key)


def loss_input(loss_grad_fn, named=None):
    """The node that produced the loss function's input (the model's output as the loss saw
    it), or None: the first parent of the loss node (for CrossEntropyLoss, the parent of its
    log-softmax). With ``named``, the name the program gives its loss, a loss node of another
    torch.nn loss is a term added beside it and is passed over (a distilled student's
    cross-entropy beside the named KL divergence, a generator's cross-entropy beside the named
    discriminator's BCE); when only such nodes are found (a named cross-entropy over probability
    targets, which torch writes with no loss node, beside a value head's MSE), None."""
    family = _loss_family(named)
    seen = {id(loss_grad_fn)}
    queue = [loss_grad_fn]
    visited = 0
    while queue and visited < MAX_NODES:
        node = queue.pop(0)
        visited += 1
        kind = node_kind(node)
        is_loss = kind in _LOSS_NODES or kind in ("NllLossBackward", "NllLoss2DBackward")
        if is_loss and family is not None and _loss_family(_LOSS_NODES.get(kind, "nll")) != family:
            is_loss = False
        if is_loss:
            parents = list(_parents(node))
            if not parents:
                return None
            first = parents[0]
            if kind.startswith("NllLoss") and node_kind(first) == "LogSoftmaxBackward":
                grand = list(_parents(first))
                return grand[0] if grand else None
            return first
        for parent in _parents(node):
            if id(parent) not in seen:
                seen.add(id(parent))
                queue.append(parent)
    return None


def fan_in_out(tensor):
    """(fan_in, fan_out) of a weight tensor as torch.nn.init computes them, or None below 2-D."""
    if not isinstance(tensor, torch.Tensor) or tensor.dim() < 2:
        return None
    receptive = 1
    for size in tensor.shape[2:]:
        receptive *= int(size)
    return int(tensor.shape[1]) * receptive, int(tensor.shape[0]) * receptive
