"""torch.fx tracing of a model written as an `nn.Module` subclass: its forward becomes a Network.

Layers neurodeploy knows (Linear, Conv2d, pools, Flatten, BatchNorm, GRU, every
`neurodeploy.nn` neuron layer, and per-sample layers wrapped in `neurodeploy.nn.PerStep`) are
leaves of the trace and become nodes named by their attribute
path; Dropout and Identity vanish in eval mode; `a + b` (operator.add, torch.add) becomes a sum
of edges into the consumer, in the operands' order (so a skip connection is two edges); a
time-major `x.flatten(2)` (or `torch.flatten(x, 2)`) flattens each sample's features. Anything
else (another function, a method, a layer called twice, control flow that depends on the data)
is refused in one line naming it.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn

from neurodeploy import ir
from neurodeploy import nn as ndnn
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.frontend.layers import infer_input_shape, node_of

LEAVES = (nn.Linear, nn.Conv2d, nn.AvgPool2d, nn.Flatten, nn.BatchNorm1d, nn.BatchNorm2d,
          nn.Dropout, nn.Identity, nn.GRU, nn.ReLU, ndnn.NeuronLayer, ndnn.PerStep)
VANISH = (nn.Dropout, nn.Identity)
ADDS = (operator.add, operator.iadd, torch.add)


class _Tracer(fx.Tracer):
    """Stops at the layers neurodeploy maps one to one (and at any neurodeploy.nn layer)."""

    def is_leaf_module(self, module: nn.Module, name: str) -> bool:
        return isinstance(module, LEAVES) or super().is_leaf_module(module, name)


def _refuse(node: fx.Node, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(f"the model's forward uses {what} ({node.format_node()[:80]}); "
                                 "neurodeploy traces layers, additions and flatten(2): write it "
                                 "with those, or export the network to NIR")


def _trace(module: nn.Module) -> fx.Graph:
    try:
        return _Tracer().trace(module.eval())
    except Exception as exc:  # fx raises TraceError, TypeError, RuntimeError, ... on control flow
        text = str(exc).strip().splitlines()[0][:140] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(
            f"{type(module).__name__}.forward cannot be traced ({text}); data-dependent "
            "control flow (loops over time included) cannot be read: step through time inside "
            "neurodeploy.nn layers, or export the network to NIR") from None


def network_from_trace(module: nn.Module, input_shape: tuple[int, ...] | None) -> ir.Network:
    """The Network of `module`'s traced forward, one node per leaf layer."""
    graph = _trace(module)
    values: dict[fx.Node, list[str]] = {}
    nodes: dict[str, ir.nodes.Node] = {}
    edges: list[ir.Edge] = []
    output: list[str] | None = None
    first_consumer: nn.Module | None = None
    for node in graph.nodes:
        if node.op == "placeholder":
            if values:
                raise _refuse(node, "a second input")
            values[node] = [ir.INPUT]
        elif node.op == "call_module":
            layer = module.get_submodule(node.target)
            layer = layer.layer if isinstance(layer, ndnn.PerStep) else layer
            sources = _sources(node, values)
            if isinstance(layer, VANISH):
                values[node] = sources
                continue
            name = str(node.target)
            if name in nodes:
                raise _refuse(node, f"layer '{name}' twice")
            if ir.INPUT in sources and first_consumer is None:
                first_consumer = layer
            nodes[name] = node_of(name, layer)
            edges += [ir.Edge(source, name) for source in sources]
            values[node] = [name]
        elif node.op == "call_function" and node.target in ADDS and len(node.args) == 2:
            values[node] = [s for arg in node.args for s in _sources(node, values, arg)]
        elif _is_feature_flatten(node):
            name = node.name
            nodes[name] = ir.Flatten()
            edges += [ir.Edge(source, name) for source in _sources(node, values)]
            values[node] = [name]
        elif node.op == "output":
            output = _sources(node, values)
        else:
            raise _refuse(node, f"'{getattr(node.target, '__name__', node.target)}'")
    if output is None or len(output) != 1 or output[0] == ir.INPUT:
        raise UnsupportedModelError("the model's forward must return the output of one layer "
                                    "(not a sum, a tuple or its input)")
    shape = input_shape or infer_input_shape(first_consumer)
    if shape is None:
        raise UnsupportedModelError(
            f"cannot infer the input shape of {type(module).__name__}: pass input_shape")
    return ir.Network(nodes, tuple(edges), tuple(shape), output[0])


def _sources(node: fx.Node, values: dict[fx.Node, list[str]], arg: object = None) -> list[str]:
    arg = node.args[0] if arg is None and node.args else arg
    if not isinstance(arg, fx.Node) or arg not in values:
        raise _refuse(node, "a value that is not a layer's output")
    return values[arg]


def _is_feature_flatten(node: fx.Node) -> bool:
    """x.flatten(2) / torch.flatten(x, 2) on time-major (T, B, ...) data."""
    if node.op == "call_method" and node.target == "flatten":
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    elif node.op == "call_function" and node.target is torch.flatten:
        start = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
    else:
        return False
    end = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
    return start == 2 and end == -1
