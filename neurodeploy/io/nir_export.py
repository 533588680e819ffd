"""Write NIR files that other tools' importers turn into networks computing what neurodeploy does.

- sinabs (`sinabs.from_nir`): Affine (bias always), Conv2d, SumPool2d, Flatten, and IF nodes that
  it rebuilds as MultiSpike IAF with subtractive reset, firing at v >= threshold and floored at
  -threshold. Only IAF layers with exactly those semantics are expressible.
- snnTorch (`snntorch.import_nir.import_from_nir`): Affine / Linear, Conv2d, AvgPool2d, Flatten
  (torch dims) and LIF nodes, which it rebuilds as Leaky with beta = 1 - 1e-4/tau (float32),
  reset to zero without delay and one shared threshold. LIF layers with reset to zero are
  expressible (with or without delay: their spikes are identical); tau is chosen so that
  snnTorch's float32 arithmetic gives back beta exactly.
Anything else is refused with an error naming the layer and what the tool cannot express.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError

SNNTORCH_DT = np.float32(1e-4)


def _refuse(tool: str, layer: ir.Layer, why: str) -> UnsupportedModelError:
    kind = ir.neuron_kind(layer.node) if ir.is_neuron(layer.node) else type(layer.node).__name__
    return UnsupportedModelError(f"{tool} cannot express layer '{layer.name}' ({kind}): {why}")


def snntorch_tau(beta: np.ndarray) -> np.ndarray:
    """float32 tau with float32(1 - 1e-4 / tau) == beta exactly, as snnTorch's importer computes."""
    beta = np.asarray(beta, dtype=np.float32)
    tau = (SNNTORCH_DT / (np.float32(1) - beta)).astype(np.float32)
    for _ in range(64):
        back = np.float32(1) - SNNTORCH_DT / tau
        wrong = back != beta
        if not wrong.any():
            return tau
        direction = np.where(back < beta, np.float32(np.inf), np.float32(0))
        tau = np.where(wrong, np.nextafter(tau, direction), tau).astype(np.float32)
    raise ValueError(f"beta={float(beta[wrong][0])!r} is not a float32 value of 1 - 1e-4/tau "
                     "(snnTorch's import arithmetic); betas in [0.5, 1) always are")


def _synapse(layer: ir.Layer, network: ir.Network, tool: str) -> nir.NIRNode:
    node = layer.node
    if isinstance(node, ir.Affine):
        bias = node.bias if node.bias is not None else np.zeros(node.weight.shape[0], np.float32)
        if tool == "snntorch" and node.bias is None:
            return nir.Linear(weight=node.weight)
        return nir.Affine(weight=node.weight, bias=bias)
    if isinstance(node, ir.Conv2d):
        bias = node.bias if node.bias is not None else np.zeros(node.weight.shape[0], np.float32)
        return nir.Conv2d(input_shape=tuple(network.input_shape_of(layer.name)[1:]),
                          weight=node.weight, stride=node.stride, padding=node.padding,
                          dilation=node.dilation, groups=node.groups, bias=bias)
    if isinstance(node, ir.Flatten):
        start = 1 if tool == "snntorch" else 0  # snnTorch builds torch.nn.Flatten(start, end)
        return nir.Flatten(input_type={"input": np.array(network.input_shape_of(layer.name))},
                           start_dim=start, end_dim=-1)
    pools = {"sinabs": (ir.SumPool2d, nir.SumPool2d), "snntorch": (ir.AvgPool2d, nir.AvgPool2d)}
    ours, theirs = pools[tool]
    if isinstance(node, ours) and not any(node.padding):
        return theirs(kernel_size=np.array(node.kernel_size), stride=np.array(node.stride),
                      padding=np.array(node.padding))
    raise _refuse(tool, layer, f"its importer reads only {ours.__name__} pools without padding")


def _sinabs_neuron(layer: ir.Layer, shape: tuple[int, ...]) -> nir.NIRNode:
    node = layer.node
    if not isinstance(node, ir.IAF):
        raise _refuse("sinabs", layer, "sinabs.from_nir builds IAF neurons only from IF nodes")
    threshold = np.broadcast_to(node.threshold, shape).astype(np.float32)
    floor = None if node.min_v is None else np.broadcast_to(node.min_v, shape)
    if node.spike != "multi" or node.reset != "subtract" or node.strict:
        raise _refuse("sinabs", layer, "from_nir builds MultiSpike neurons with subtractive reset "
                      "firing at v >= threshold")
    if floor is None or not np.array_equal(floor, -threshold):
        raise _refuse("sinabs", layer, "from_nir floors the membrane at -threshold (use "
                      "min_v=-threshold)")
    return nir.IF(r=np.ones(shape, np.float32), v_threshold=threshold,
                  v_reset=np.zeros(shape, np.float32))


def _snntorch_neuron(layer: ir.Layer, shape: tuple[int, ...]) -> nir.NIRNode:
    node = layer.node
    if not isinstance(node, ir.LIF):
        raise _refuse("snntorch", layer, "import_from_nir builds Leaky neurons only from LIF nodes")
    if node.reset != "zero":
        raise _refuse("snntorch", layer, "import_from_nir builds neurons that reset to zero")
    threshold = np.broadcast_to(node.threshold, shape).astype(np.float32)
    if np.unique(threshold).size != 1:
        raise _refuse("snntorch", layer, "import_from_nir needs one threshold for all neurons")
    beta = np.broadcast_to(node.beta, shape).astype(np.float32)
    if np.any(beta >= 1) or np.any(beta < 0):
        raise _refuse("snntorch", layer, "beta must lie in [0, 1) to be written as a tau")
    try:
        tau = snntorch_tau(beta)
    except ValueError as exc:
        raise _refuse("snntorch", layer, str(exc)) from None
    return nir.LIF(tau=tau, r=(tau / SNNTORCH_DT).astype(np.float32),
                   v_leak=np.zeros(shape, np.float32), v_threshold=threshold,
                   v_reset=np.zeros(shape, np.float32))


def network_to_tool_nir(network: ir.Network, tool: str) -> nir.NIRGraph:
    """The NIR graph that `tool`'s importer rebuilds into an equivalent network."""
    if tool not in ("sinabs", "snntorch"):
        raise UnsupportedModelError(f"unknown export dialect {tool!r}: use sinabs or snntorch")
    neuron = _sinabs_neuron if tool == "sinabs" else _snntorch_neuron
    nodes = {"input": nir.Input(input_type={"input": np.array(network.input_shape)})}
    edges, previous = [], "input"
    for layer in network.layers:
        if ir.is_neuron(layer.node):
            if getattr(layer.node, "recurrent", None) is not None:
                raise _refuse(tool, layer, "recurrent weights are not supported")
            nodes[layer.name] = neuron(layer, network.output_shape_of(layer.name))
        else:
            nodes[layer.name] = _synapse(layer, network, tool)
        edges.append((previous, layer.name))
        previous = layer.name
    nodes["output"] = nir.Output(output_type={"output": np.array(network.output_shape)})
    edges.append((previous, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def write_for_tool(network: ir.Network, path: str | Path, tool: str) -> None:
    nir.write(str(path), network_to_tool_nir(network, tool))
