"""Network -> NIR (nir 1.0.8 HDF5 files), faithfully.

Every layer becomes a standard NIR node that other tools can open; what NIR cannot express
(reset by subtraction, multi-spike IAF, SNU's gated reset and ReLU floor, sSNU, SRC) travels in the
node's `metadata["neurodeploy"]`, from which `neurodeploy.io.nir_read` restores the exact model.
The mapping is documented in docs/nir.md. Time is discrete with dt = 1 (graph metadata `dt`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nir
import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError

PRODUCER = "neurodeploy"
INPUT, OUTPUT = "input", "output"


def f32(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def _per_neuron(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(f32(value), shape).copy()


def _tau(decay: np.ndarray) -> np.ndarray:
    """NIR time constant (dt = 1, forward Euler) of a decay factor: decay = 1 - 1/tau; a decay of
    1 (no leak) gets float32's largest tau, for which 1 - 1/tau is 1 in float32 too."""
    with np.errstate(divide="ignore"):
        tau = 1.0 / (1.0 - decay.astype(np.float64))
    return np.where(np.isfinite(tau) & (tau > 0), np.minimum(tau, np.finfo(np.float32).max),
                    np.finfo(np.float32).max).astype(np.float32)


def _neuron_to_nir(node: ir.nodes.NeuronNode, shape: tuple[int, ...]) -> nir.NIRNode:
    zeros, ones = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    kind = ir.neuron_kind(node)
    if isinstance(node, ir.IAF):
        meta = {"neuron": kind, "spike": node.spike, "reset": node.reset,
                "threshold": _per_neuron(node.threshold, shape), "strict": int(node.strict)}
        if node.min_v is not None:
            meta["min_v"] = _per_neuron(node.min_v, shape)
        return nir.IF(r=ones, v_threshold=_per_neuron(node.threshold, shape), v_reset=zeros,
                      metadata={PRODUCER: meta})
    if isinstance(node, ir.LIF):
        beta = _per_neuron(node.beta, shape)
        tau = _tau(beta)
        meta = {"neuron": kind, "reset": node.reset, "beta": beta,
                "threshold": _per_neuron(node.threshold, shape),
                "reset_delay": int(node.reset_delay)}
        return nir.LIF(tau=tau, r=tau, v_leak=zeros, v_threshold=meta["threshold"], v_reset=zeros,
                       metadata={PRODUCER: meta})
    if isinstance(node, ir.CubaLIF):  # exact in plain NIR: w_in = tau_syn, r = tau_mem (dt = 1)
        alpha, beta = _per_neuron(node.alpha, shape), _per_neuron(node.beta, shape)
        tau_syn, tau_mem = _tau(alpha), _tau(beta)
        meta = {"neuron": kind, "alpha": alpha, "beta": beta,
                "threshold": _per_neuron(node.threshold, shape), "reset": str(node.reset),
                "reset_delay": int(node.reset_delay)}
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem, v_leak=zeros,
                           v_threshold=meta["threshold"], v_reset=zeros, w_in=tau_syn,
                           metadata={PRODUCER: meta})
    if isinstance(node, ir.SNU):
        decay, bias = _per_neuron(node.decay, shape), _per_neuron(node.bias, shape)
        tau = _tau(decay)
        meta = {"neuron": kind, "decay": decay, "bias": bias}
        return nir.LIF(tau=tau, r=tau, v_leak=zeros, v_threshold=-bias, v_reset=zeros,
                       metadata={PRODUCER: meta})
    if isinstance(node, ir.SRC):
        tau = _tau(np.full(shape, node.alpha, np.float32))
        meta = {"neuron": kind, "bias": _per_neuron(node.bias, shape)}
        meta.update({k: float(getattr(node, k)) for k in
                     ("alpha", "rho", "r", "rs", "z", "zs_hyp", "zs_dep", "bias_max")})
        return nir.LI(tau=tau, r=tau, v_leak=zeros, metadata={PRODUCER: meta})
    if isinstance(node, ir.LI):
        alpha = _per_neuron(node.alpha, shape)
        tau = _tau(alpha)
        return nir.LI(tau=tau, r=tau, v_leak=zeros,
                      metadata={PRODUCER: {"neuron": kind, "alpha": alpha}})
    raise TypeError(type(node).__name__)


def _synapse_to_nir(node: ir.nodes.SynapseNode, input_shape: tuple[int, ...]) -> nir.NIRNode:
    if isinstance(node, ir.Affine):
        if node.bias is None:
            return nir.Linear(weight=f32(node.weight))
        return nir.Affine(weight=f32(node.weight), bias=f32(node.bias))
    if isinstance(node, ir.Conv2d):
        out_c = node.weight.shape[0]
        bias = f32(node.bias) if node.bias is not None else np.zeros(out_c, np.float32)
        return nir.Conv2d(input_shape=tuple(input_shape[1:]), weight=f32(node.weight),
                          stride=node.stride, padding=node.padding, dilation=node.dilation,
                          groups=node.groups, bias=bias,
                          metadata={PRODUCER: {"has_bias": int(node.bias is not None)}})
    if isinstance(node, ir.AvgPool2d | ir.SumPool2d):
        pool = nir.AvgPool2d if isinstance(node, ir.AvgPool2d) else nir.SumPool2d
        return pool(kernel_size=np.array(node.kernel_size), stride=np.array(node.stride),
                    padding=np.array(node.padding))
    if isinstance(node, ir.Flatten):
        return nir.Flatten(input_type={"input": np.array(input_shape)}, start_dim=0, end_dim=-1)
    if isinstance(node, ir.BatchNorm):
        return _batchnorm_to_nir(node, input_shape)
    raise TypeError(type(node).__name__)


def _batchnorm_to_nir(node: ir.BatchNorm, input_shape: tuple[int, ...]) -> nir.NIRNode:
    """NIR has no BatchNorm: its per-channel affine y = scale x + shift as a diagonal Affine
    (over (C,)) or a depthwise 1x1 Conv2d (over (C, H, W)), with the exact statistics in the
    metadata for neurodeploy to restore."""
    scale, shift = node.scale_shift()
    meta = {PRODUCER: {"batchnorm": {"mean": f32(node.mean), "var": f32(node.var),
                                     "weight": f32(node.weight), "bias": f32(node.bias),
                                     "eps": float(node.eps)}}}
    if not node.spatial:
        return nir.Affine(weight=f32(np.diag(scale)), bias=f32(shift), metadata=meta)
    channels = len(scale)
    return nir.Conv2d(input_shape=tuple(input_shape[1:]), weight=f32(scale).reshape(channels, 1, 1, 1),
                      stride=1, padding=0, dilation=1, groups=channels, bias=f32(shift),
                      metadata=meta)


def network_to_nir(network: ir.Network) -> nir.NIRGraph:
    """The NIR graph of a Network: Input -> nodes -> Output; recurrent edges become cycles (NIR's
    own reading of a cycle is a one-step delay), listed in the graph metadata as well."""
    nodes: dict[str, nir.NIRNode] = {
        INPUT: nir.Input(input_type={"input": np.array(network.input_shape)})}
    edges: list[tuple[str, str]] = []
    for layer in network.layers:
        if isinstance(layer.node, ir.GRU):
            raise UnsupportedModelError(f"layer '{layer.name}' is a GRU, which NIR cannot express")
        if ir.is_neuron(layer.node):
            shape = network.output_shape_of(layer.name)
            nodes[layer.name] = _neuron_to_nir(layer.node, shape)
            recurrent = getattr(layer.node, "recurrent", None)
            if recurrent is not None:
                loop = f"{layer.name}.recurrent"
                nodes[loop] = nir.Linear(weight=f32(recurrent), metadata={PRODUCER: {"loop": 1}})
                edges += [(layer.name, loop), (loop, layer.name)]
        else:
            nodes[layer.name] = _synapse_to_nir(layer.node, network.input_shape_of(layer.name))
    forward_delays = [e for e in network.edges if e.delay and not _closes_loop(network, e)]
    if forward_delays:
        edge = forward_delays[0]
        raise UnsupportedModelError(f"edge {edge.source} -> {edge.target} delays without a loop, "
                                    "which NIR cannot express")
    edges += [(e.source, e.target) for e in network.edges]
    nodes[OUTPUT] = nir.Output(output_type={"output": np.array(network.output_shape)})
    edges.append((network.output, OUTPUT))
    delayed = [[e.source, e.target] for e in network.edges if e.delay]
    metadata = {"producer": PRODUCER, "dt": 1.0,
                "delayed_edges": np.array(delayed, dtype="S") if delayed else np.zeros((0, 2), "S1")}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def _closes_loop(network: ir.Network, edge: ir.Edge) -> bool:
    """True when `edge` points backward (or to itself) in the network's topological order."""
    order = network.order
    return edge.source != INPUT and order.index(edge.source) >= order.index(edge.target)


def write_network(network: ir.Network, path: str | Path) -> None:
    """Write `network` as a NIR file at `path`."""
    nir.write(str(path), network_to_nir(network))


