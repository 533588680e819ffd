"""Network <-> NIR (nir 1.0.8 HDF5 files), faithfully.

Every layer becomes a standard NIR node that other tools can open; what NIR cannot express
(reset by subtraction, multi-spike IAF, SNU's gated reset and ReLU floor, sSNU, SRC) travels in the
node's `metadata["neurodeploy"]`, from which `read_network` restores the exact model. The mapping is
documented in docs/nir.md. Time is discrete with dt = 1 (graph metadata `dt`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np

from neurodeploy import ir
from neurodeploy.errors import InvalidFileError, UnsupportedModelError

PRODUCER = "neurodeploy"
READABLE_TYPES = ("Input", "Output", "Affine", "Linear", "Conv2d", "AvgPool2d", "Flatten", "IF",
                  "LIF", "LI")
INPUT, OUTPUT = "input", "output"


def _f32(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def _per_neuron(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(_f32(value), shape).copy()


def _tau(decay: np.ndarray) -> np.ndarray:
    """NIR time constant (dt = 1, forward Euler) of a decay factor: decay = 1 - 1/tau."""
    with np.errstate(divide="ignore"):
        return (1.0 / (1.0 - decay.astype(np.float64))).astype(np.float32)


# ----------------------------------------------------------------------------- writing


def _neuron_to_nir(node: ir.nodes.NeuronNode, shape: tuple[int, ...]) -> nir.NIRNode:
    zeros, ones = np.zeros(shape, np.float32), np.ones(shape, np.float32)
    kind = ir.neuron_kind(node)
    if isinstance(node, ir.IAF):
        meta = {"neuron": kind, "spike": node.spike, "reset": node.reset,
                "threshold": _per_neuron(node.threshold, shape)}
        if node.min_v is not None:
            meta["min_v"] = float(node.min_v)
        return nir.IF(r=ones, v_threshold=_per_neuron(node.threshold, shape), v_reset=zeros,
                      metadata={PRODUCER: meta})
    if isinstance(node, ir.LIF):
        beta = _per_neuron(node.beta, shape)
        tau = _tau(beta)
        meta = {"neuron": kind, "reset": node.reset, "beta": beta,
                "threshold": _per_neuron(node.threshold, shape)}
        return nir.LIF(tau=tau, r=tau, v_leak=zeros, v_threshold=meta["threshold"], v_reset=zeros,
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
            return nir.Linear(weight=_f32(node.weight))
        return nir.Affine(weight=_f32(node.weight), bias=_f32(node.bias))
    if isinstance(node, ir.Conv2d):
        out_c = node.weight.shape[0]
        bias = _f32(node.bias) if node.bias is not None else np.zeros(out_c, np.float32)
        return nir.Conv2d(input_shape=tuple(input_shape[1:]), weight=_f32(node.weight),
                          stride=node.stride, padding=node.padding, dilation=node.dilation,
                          groups=node.groups, bias=bias,
                          metadata={PRODUCER: {"has_bias": int(node.bias is not None)}})
    if isinstance(node, ir.AvgPool2d):
        return nir.AvgPool2d(kernel_size=np.array(node.kernel_size),
                             stride=np.array(node.stride), padding=np.array(node.padding))
    if isinstance(node, ir.Flatten):
        return nir.Flatten(input_type={"input": np.array(input_shape)}, start_dim=0, end_dim=-1)
    raise TypeError(type(node).__name__)


def network_to_nir(network: ir.Network) -> nir.NIRGraph:
    """The NIR graph of a Network: Input -> layers -> Output, recurrent weights as cycles."""
    nodes: dict[str, nir.NIRNode] = {
        INPUT: nir.Input(input_type={"input": np.array(network.input_shape)})}
    edges: list[tuple[str, str]] = []
    previous = INPUT
    for layer in network.layers:
        if ir.is_neuron(layer.node):
            shape = network.output_shape_of(layer.name)
            nodes[layer.name] = _neuron_to_nir(layer.node, shape)
            recurrent = getattr(layer.node, "recurrent", None)
            if recurrent is not None:
                loop = f"{layer.name}.recurrent"
                nodes[loop] = nir.Linear(weight=_f32(recurrent))
                edges += [(layer.name, loop), (loop, layer.name)]
        else:
            nodes[layer.name] = _synapse_to_nir(layer.node, network.input_shape_of(layer.name))
        edges.append((previous, layer.name))
        previous = layer.name
    nodes[OUTPUT] = nir.Output(output_type={"output": np.array(network.output_shape)})
    edges.append((previous, OUTPUT))
    metadata = {"producer": PRODUCER, "dt": 1.0}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write_network(network: ir.Network, path: str | Path) -> None:
    """Write `network` as a NIR file at `path`."""
    nir.write(str(path), network_to_nir(network))


# ----------------------------------------------------------------------------- reading


def _check_file(path: Path) -> None:
    """Fail with one line on a missing, truncated or non-NIR file, or on node types we can't read."""
    if not path.is_file():
        raise InvalidFileError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "node" not in f or "nodes" not in f["node"]:
                raise InvalidFileError(f"{path}: not a NIR graph (no node/nodes group); "
                                       "write it with nir.write or neurodeploy")
            for name, group in f["node"]["nodes"].items():
                kind = group["type"][()].decode() if "type" in group else "?"
                if kind not in READABLE_TYPES:
                    raise UnsupportedModelError(
                        f"{path}: node '{name}' has type '{kind}', which neurodeploy cannot read; "
                        f"supported node types: {', '.join(READABLE_TYPES)}")
    except OSError as exc:
        raise InvalidFileError(f"{path}: not a readable NIR (HDF5) file, it may be truncated "
                               f"({str(exc).splitlines()[0][:120]}); write it again") from None


def _meta(node: nir.NIRNode) -> dict:
    meta = node.metadata.get(PRODUCER, {}) if isinstance(node.metadata, dict) else {}
    return meta if isinstance(meta, dict) else {}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _neuron_from_nir(name: str, node: nir.NIRNode, recurrent: np.ndarray | None) -> ir.nodes.Node:
    meta = _meta(node)
    kind = _text(meta.get("neuron", ""))
    if kind == "IAF":
        min_v = float(meta["min_v"]) if "min_v" in meta else None
        return ir.IAF(_f32(meta["threshold"]), _text(meta["spike"]), _text(meta["reset"]), min_v)
    if kind == "LIF":
        return ir.LIF(_f32(meta["beta"]), _f32(meta["threshold"]), _text(meta["reset"]))
    if kind in ("SNU", "SoftSNU"):
        return ir.SNU(_f32(meta["decay"]), _f32(meta["bias"]), recurrent, soft=kind == "SoftSNU")
    if kind == "SRC":
        scalars = {k: float(meta[k]) for k in
                   ("alpha", "rho", "r", "rs", "z", "zs_hyp", "zs_dep", "bias_max")}
        return ir.SRC(_f32(meta["bias"]), **scalars)
    if kind == "LI":
        return ir.LI(_f32(meta["alpha"]))
    raise UnsupportedModelError(
        f"node '{name}' ({type(node).__name__}) carries no neurodeploy metadata; neurodeploy "
        "reads neuron nodes written by neurodeploy (files of other tools need a dialect)")


def _pair(value: Any) -> tuple[int, int]:
    return tuple(int(i) for i in np.broadcast_to(np.asarray(value), (2,)))  # type: ignore[return-value]


def _synapse_from_nir(node: nir.NIRNode) -> ir.nodes.SynapseNode:
    if isinstance(node, nir.Affine):
        return ir.Affine(_f32(node.weight), _f32(node.bias))
    if isinstance(node, nir.Linear):
        return ir.Affine(_f32(node.weight), None)
    if isinstance(node, nir.Conv2d):
        if isinstance(node.padding, str):
            raise UnsupportedModelError("Conv2d with string padding is not supported")
        has_bias = bool(_meta(node).get("has_bias", 1))
        return ir.Conv2d(_f32(node.weight), _f32(node.bias) if has_bias else None,
                         _pair(node.stride), _pair(node.padding), _pair(node.dilation),
                         int(node.groups))
    if isinstance(node, nir.AvgPool2d):
        return ir.AvgPool2d(_pair(node.kernel_size), _pair(node.stride), _pair(node.padding))
    if isinstance(node, nir.Flatten):
        return ir.Flatten()
    raise UnsupportedModelError(f"NIR node {type(node).__name__} is not supported here")


NEURON_NIR_TYPES = (nir.IF, nir.LIF, nir.LI)


def network_from_nir(graph: nir.NIRGraph) -> ir.Network:
    """Rebuild the Network of a NIR graph that is a chain from its Input to its Output."""
    successors: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        successors[src].append(dst)
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise UnsupportedModelError(f"the NIR graph needs exactly one Input node, has {len(inputs)}")
    input_shape = tuple(int(d) for d in graph.nodes[inputs[0]].input_type["input"])
    layers, visited, current = [], {inputs[0]}, inputs[0]
    while True:
        following = [n for n in successors[current] if n not in visited]
        if len(following) != 1:
            raise UnsupportedModelError(
                f"the NIR graph branches or ends early at node '{current}' (next: {following}); "
                "neurodeploy reads chains of layers")
        current = following[0]
        visited.add(current)
        node = graph.nodes[current]
        if isinstance(node, nir.Output):
            break
        if isinstance(node, NEURON_NIR_TYPES):
            loops = [n for n in successors[current] if current in successors[n]]
            if len(loops) > 1 or (loops and not isinstance(graph.nodes[loops[0]], nir.Linear)):
                raise UnsupportedModelError(f"node '{current}': only one Linear self-loop allowed")
            recurrent = _f32(graph.nodes[loops[0]].weight) if loops else None
            visited.update(loops)
            layers.append(ir.Layer(current, _neuron_from_nir(current, node, recurrent)))
        else:
            layers.append(ir.Layer(current, _synapse_from_nir(node)))
    unused = set(graph.nodes) - visited
    if unused:
        raise UnsupportedModelError(f"NIR nodes not on the input-output chain: {sorted(unused)}")
    return ir.Network(layers, input_shape)


def read_network(path: str | Path) -> ir.Network:
    """Read a NIR file written by neurodeploy (or holding only standard synapse nodes)."""
    path = Path(path)
    _check_file(path)
    try:
        graph = nir.read(str(path), type_check=False)
    except (KeyError, ValueError, AssertionError, TypeError, OSError) as exc:
        raise InvalidFileError(f"{path}: malformed NIR file ({type(exc).__name__}: "
                               f"{str(exc)[:120]}); write it again") from None
    try:
        return network_from_nir(graph)
    except KeyError as exc:
        raise InvalidFileError(f"{path}: neurodeploy metadata misses {exc}; write it again") \
            from None
