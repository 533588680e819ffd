"""torch module -> Network: a (nested) Sequential as a chain, any other module traced."""

from __future__ import annotations

from torch import nn

from neurodeploy import ir
from neurodeploy import nn as ndnn
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.frontend.layers import SKIPPED, infer_input_shape, node_of


def _flatten_children(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """Children of (nested) Sequential containers as (dotted name, layer) pairs, in order;
    a PerStep wrapper stands for the layer it wraps."""
    items = []
    for name, child in module.named_children():
        full = f"{prefix}{name}"
        child = child.layer if isinstance(child, ndnn.PerStep) else child
        if isinstance(child, nn.Sequential):
            items.extend(_flatten_children(child, f"{full}."))
        else:
            items.append((full, child))
    return items


def network_from_torch(
    module: nn.Module, input_shape: tuple[int, ...] | None = None
) -> ir.Network:
    """Build the Network of a (nested) `nn.Sequential` / `neurodeploy.nn.Sequential`, or of any
    other `nn.Module` by tracing its forward (`neurodeploy.frontend.trace`).

    `input_shape` is the per-step sample shape; it is inferred for networks that start with a
    Linear layer, read from `neurodeploy.nn.Sequential(..., input_shape=...)`, or must be given.
    """
    if isinstance(module, nn.GRU | ndnn.GRU):  # a bare GRU is a one-layer network
        node = node_of("0", module)
        return ir.Network.chain([ir.Layer("0", node)], (node.weight_ih.shape[1],))
    if isinstance(module, ndnn.NeuronLayer):
        raise UnsupportedModelError("a bare neuron layer is not a network: wrap it in nn.Sequential")
    if not isinstance(module, nn.Sequential):
        from neurodeploy.frontend.trace import network_from_trace

        return network_from_trace(module, input_shape)
    children = [(n, m) for n, m in _flatten_children(module) if not isinstance(m, SKIPPED)]
    if not children:
        raise UnsupportedModelError("the model has no layers")
    shape = input_shape or getattr(module, "input_shape", None) or infer_input_shape(children[0][1])
    if shape is None:
        raise UnsupportedModelError(
            "cannot infer the input shape of a network that starts with "
            f"{type(children[0][1]).__name__}: build it with "
            "neurodeploy.nn.Sequential(..., input_shape=(C, H, W)) or pass input_shape")
    if not isinstance(shape, tuple | list) or not all(isinstance(d, int) for d in shape):
        raise UnsupportedModelError(f"the model's input shape {shape!r} is not a tuple of ints")
    layers = [ir.Layer(name, node_of(name, child)) for name, child in children]
    return ir.Network.chain(layers, tuple(shape))
