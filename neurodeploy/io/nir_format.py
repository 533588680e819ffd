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
from neurodeploy.io.dialects import Dialect, announce, detect_producer, resolve_dialect

PRODUCER = "neurodeploy"
READABLE_TYPES = ("Input", "Output", "Affine", "Linear", "Conv2d", "AvgPool2d", "SumPool2d",
                  "Flatten", "IF", "LIF", "CubaLIF", "LI")
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
                "threshold": _per_neuron(node.threshold, shape)}
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
            return nir.Linear(weight=_f32(node.weight))
        return nir.Affine(weight=_f32(node.weight), bias=_f32(node.bias))
    if isinstance(node, ir.Conv2d):
        out_c = node.weight.shape[0]
        bias = _f32(node.bias) if node.bias is not None else np.zeros(out_c, np.float32)
        return nir.Conv2d(input_shape=tuple(input_shape[1:]), weight=_f32(node.weight),
                          stride=node.stride, padding=node.padding, dilation=node.dilation,
                          groups=node.groups, bias=bias,
                          metadata={PRODUCER: {"has_bias": int(node.bias is not None)}})
    if isinstance(node, ir.AvgPool2d | ir.SumPool2d):
        pool = nir.AvgPool2d if isinstance(node, ir.AvgPool2d) else nir.SumPool2d
        return pool(kernel_size=np.array(node.kernel_size), stride=np.array(node.stride),
                    padding=np.array(node.padding))
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
        if isinstance(layer.node, ir.GRU):
            raise UnsupportedModelError(f"layer '{layer.name}' is a GRU, which NIR cannot express")
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


def _neuron_from_nir(name: str, node: nir.NIRNode, recurrent: np.ndarray | None,
                     dialect: Dialect | None) -> tuple[ir.nodes.NeuronNode, np.ndarray | None]:
    """The exact neuron of a neurodeploy node, or a foreign node read in `dialect`.

    Returns the node and, for foreign nodes, the input gain to fold into the preceding layer.
    """
    meta = _meta(node)
    kind = _text(meta.get("neuron", ""))
    if kind == "IAF":
        min_v = _f32(meta["min_v"]) if "min_v" in meta else None
        return ir.IAF(_f32(meta["threshold"]), _text(meta["spike"]), _text(meta["reset"]), min_v,
                      bool(meta.get("strict", 0))), None
    if kind == "LIF":
        return ir.LIF(_f32(meta["beta"]), _f32(meta["threshold"]), _text(meta["reset"]),
                      bool(meta.get("reset_delay", 1))), None
    if kind == "CubaLIF":
        return ir.CubaLIF(_f32(meta["alpha"]), _f32(meta["beta"]), _f32(meta["threshold"])), None
    if kind in ("SNU", "SoftSNU"):
        return ir.SNU(_f32(meta["decay"]), _f32(meta["bias"]), recurrent,
                      soft=kind == "SoftSNU"), None
    if kind == "SRC":
        scalars = {k: float(meta[k]) for k in
                   ("alpha", "rho", "r", "rs", "z", "zs_hyp", "zs_dep", "bias_max")}
        return ir.SRC(_f32(meta["bias"]), **scalars), None
    if kind == "LI":
        return ir.LI(_f32(meta["alpha"])), None
    if dialect is None:
        raise UnsupportedModelError(
            f"node '{name}' ({type(node).__name__}) carries no neurodeploy metadata; "
            "pass a dialect (--dialect nir|snntorch|sinabs)")
    if recurrent is not None:
        raise UnsupportedModelError(f"node '{name}': recurrent foreign neurons are not supported")
    return _foreign_neuron(name, node, dialect)


def _no_leak_no_reset_value(name: str, node: nir.NIRNode, dialect: Dialect) -> None:
    if hasattr(node, "v_leak") and np.any(np.asarray(node.v_leak) != 0):
        raise UnsupportedModelError(f"node '{name}': v_leak != 0 is not supported")
    if dialect.reset == "zero" and np.any(np.asarray(getattr(node, "v_reset", 0)) != 0):
        raise UnsupportedModelError(f"node '{name}': v_reset != 0 is not supported")


def _foreign_neuron(name: str, node: nir.NIRNode, dialect: Dialect
                    ) -> tuple[ir.nodes.NeuronNode, np.ndarray]:
    """A standard NIR neuron node as `dialect` means it (see `neurodeploy.io.dialects`)."""
    _no_leak_no_reset_value(name, node, dialect)
    r = np.asarray(node.r, dtype=np.float64)
    if isinstance(node, nir.IF):
        threshold = _f32(node.v_threshold)
        single = dialect.spike == "single"
        min_v = -threshold if dialect.floor_at_minus_threshold else None
        gain = r * dialect.dt
        return ir.IAF(threshold, dialect.spike, dialect.reset, min_v,
                      dialect.strict and single), gain
    if dialect.name == "sinabs":
        raise UnsupportedModelError(
            f"node '{name}' is a {type(node).__name__}; the sinabs dialect reads IF nodes only "
            "(sinabs LIF decays exponentially and spikes several times per step)")
    if isinstance(node, nir.CubaLIF):
        if dialect.name != "nir":
            raise UnsupportedModelError(f"node '{name}' is a CubaLIF; read it with --dialect nir")
        tau_syn = np.asarray(node.tau_syn, dtype=np.float64)
        tau_mem = np.asarray(node.tau_mem, dtype=np.float64)
        gain = (np.asarray(node.w_in, np.float64) * dialect.dt / tau_syn) * (r * dialect.dt / tau_mem)
        return ir.CubaLIF((1.0 - dialect.dt / tau_syn).astype(np.float32),
                          (1.0 - dialect.dt / tau_mem).astype(np.float32),
                          _f32(node.v_threshold)), gain
    tau = np.asarray(node.tau, dtype=np.float64)
    decay = (1.0 - dialect.dt / tau).astype(np.float32)
    gain = r * dialect.dt / tau
    if dialect.unit_gain and np.allclose(gain, 1.0, rtol=1e-3):
        gain = np.ones_like(gain)
    if isinstance(node, nir.LIF):
        return ir.LIF(decay, _f32(node.v_threshold), dialect.reset, dialect.reset_delay), gain
    return ir.LI(decay), gain


def _fold_gain(layers: list[ir.Layer], name: str, gain: np.ndarray | None) -> None:
    """Scale the preceding weighted layer's outputs by `gain` (the neuron's input gain)."""
    if gain is None or np.all(gain == 1.0):
        return
    previous = layers[-1].node if layers else None
    if isinstance(previous, ir.Affine):
        factor = gain.reshape(-1)
        previous.weight = (previous.weight * factor[:, None]).astype(np.float32)
        if previous.bias is not None:
            previous.bias = (previous.bias * factor).astype(np.float32)
        return
    if isinstance(previous, ir.Conv2d) and np.all(gain == gain.reshape(gain.shape[0], -1)[:, :1]
                                                   .reshape(-1, *[1] * (gain.ndim - 1))):
        factor = gain.reshape(gain.shape[0], -1)[:, 0]
        previous.weight = (previous.weight * factor[:, None, None, None]).astype(np.float32)
        if previous.bias is not None:
            previous.bias = (previous.bias * factor).astype(np.float32)
        return
    raise UnsupportedModelError(
        f"node '{name}' scales its input by {float(np.max(gain)):.4g} (r, tau, dt), but is not "
        "preceded by a Linear or Conv2d layer to fold it into; check --dt")


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
    if isinstance(node, nir.AvgPool2d | nir.SumPool2d):
        pool = ir.AvgPool2d if isinstance(node, nir.AvgPool2d) else ir.SumPool2d
        return pool(_pair(node.kernel_size), _pair(node.stride), _pair(node.padding))
    if isinstance(node, nir.Flatten):
        return ir.Flatten()
    raise UnsupportedModelError(f"NIR node {type(node).__name__} is not supported here")


NEURON_NIR_TYPES = (nir.IF, nir.LIF, nir.CubaLIF, nir.LI)


def network_from_nir(graph: nir.NIRGraph, dialect: Dialect | None = None) -> ir.Network:
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
            neuron, gain = _neuron_from_nir(current, node, recurrent, dialect)
            _fold_gain(layers, current, gain)
            layers.append(ir.Layer(current, neuron))
        else:
            layers.append(ir.Layer(current, _synapse_from_nir(node)))
    unused = set(graph.nodes) - visited
    if unused:
        raise UnsupportedModelError(f"NIR nodes not on the input-output chain: {sorted(unused)}")
    return ir.Network(layers, input_shape)


def read_network(path: str | Path, dialect: str | None = None, reset: str | None = None,
                 dt: float | None = None, spike: str | None = None) -> ir.Network:
    """Read a NIR file: neurodeploy's own exactly, others' in a dialect ("nir" when None).

    `reset`, `dt` and `spike` override the dialect for files whose producer deviated from its
    defaults. Warnings (NeurodeployWarning) say what the file looks like and which flag settles
    a choice the producer did not record.
    """
    path = Path(path)
    _check_file(path)
    try:
        graph = nir.read(str(path), type_check=False)
    except (KeyError, ValueError, AssertionError, TypeError, OSError) as exc:
        raise InvalidFileError(f"{path}: malformed NIR file ({type(exc).__name__}: "
                               f"{str(exc)[:120]}); write it again") from None
    producer = detect_producer(graph)
    chosen = None
    if producer != "neurodeploy":
        chosen = resolve_dialect(dialect, reset, dt, spike)
        announce(path, producer, dialect, {"reset": reset, "dt": dt, "spike": spike})
    try:
        return network_from_nir(graph, chosen)
    except KeyError as exc:
        raise InvalidFileError(f"{path}: neurodeploy metadata misses {exc}; write it again") \
            from None
