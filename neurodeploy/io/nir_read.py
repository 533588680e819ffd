"""NIR -> Network: neurodeploy's own files exactly, other tools' files in a dialect.

Any graph from one Input to one Output reads: DAGs with branches and merges (a node sums its
inputs), and cycles, each closed by a one-step delayed edge as NIR means them (neurodeploy's own
files list their delayed edges in the graph metadata). Foreign neuron nodes are discretised by a
`neurodeploy.io.dialects.Dialect`, their input gains folded into the Linear / Conv2d layers
feeding them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np

from neurodeploy import ir
from neurodeploy.errors import InvalidFileError, NeurodeployError, UnsupportedModelError
from neurodeploy.io.dialects import Dialect, announce, detect_producer, resolve_dialect
from neurodeploy.io.nir_foreign import fold_gain, foreign_neuron
from neurodeploy.io.nir_write import PRODUCER, f32

READABLE_TYPES = ("Input", "Output", "Affine", "Linear", "Conv2d", "AvgPool2d", "SumPool2d",
                  "Flatten", "IF", "LIF", "CubaLIF", "LI", "NIRGraph")


MAX_FILE_ELEMENTS = 1 << 28


def _check_file(path: Path) -> None:
    """Fail with one line on a missing, truncated or non-NIR file, on node types we can't read,
    and on datasets too large to load, before anything is read into memory."""
    if not path.is_file():
        raise InvalidFileError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            nodes = f.get("node/nodes")
            if not isinstance(nodes, h5py.Group):
                raise InvalidFileError(f"{path}: not a NIR graph (no node/nodes group); "
                                       "write it with nir.write or neurodeploy")
            _check_types(path, nodes, "")
            datasets: list[tuple[str, h5py.Dataset]] = []
            f.visititems(lambda name, item: datasets.append((name, item))
                         if isinstance(item, h5py.Dataset) else None)
            total = sum(dataset.size for _, dataset in datasets)
            if total > MAX_FILE_ELEMENTS:
                raise InvalidFileError(f"{path}: holds {total:,} values, more than the "
                                       f"{MAX_FILE_ELEMENTS:,} neurodeploy reads")
            for name, dataset in datasets:
                if dataset.dtype.kind == "f" and not np.all(np.isfinite(dataset[()])):
                    raise InvalidFileError(f"{path}: {name} holds NaN or infinity; write the "
                                           "file again from a model with finite parameters")
    except NeurodeployError:
        raise
    except (OSError, RuntimeError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidFileError(f"{path}: not a readable NIR (HDF5) file, it may be truncated "
                               f"({_reason(exc)}); write it again") from None


def _check_types(path: Path, nodes: h5py.Group, prefix: str, depth: int = 0) -> None:
    """Every node (of nested graphs too, up to 8 deep) has a type neurodeploy reads."""
    for name, group in nodes.items():
        kind = group.get("type") if isinstance(group, h5py.Group) else None
        value = kind[()] if isinstance(kind, h5py.Dataset) else b"?"
        kind = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        if kind not in READABLE_TYPES:
            raise UnsupportedModelError(
                f"{path}: node '{prefix}{name[:60]}' has type '{kind[:40]}', which neurodeploy "
                f"cannot read; supported node types: {', '.join(READABLE_TYPES)}")
        inner = group.get("nodes")
        if kind == "NIRGraph":
            if depth >= 8 or not isinstance(inner, h5py.Group):
                raise InvalidFileError(f"{path}: node '{prefix}{name[:60]}' is a malformed or too "
                                       "deeply nested subgraph")
            _check_types(path, inner, f"{prefix}{name}.", depth + 1)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:120]}" if text else type(exc).__name__


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
        min_v = f32(meta["min_v"]) if "min_v" in meta else None
        return ir.IAF(f32(meta["threshold"]), _text(meta["spike"]), _text(meta["reset"]), min_v,
                      bool(meta.get("strict", 0))), None
    if kind == "LIF":
        return ir.LIF(f32(meta["beta"]), f32(meta["threshold"]), _text(meta["reset"]),
                      bool(meta.get("reset_delay", 1))), None
    if kind == "CubaLIF":
        return ir.CubaLIF(f32(meta["alpha"]), f32(meta["beta"]), f32(meta["threshold"]),
                          _text(meta.get("reset", "zero")), bool(meta.get("reset_delay", 0))), None
    if kind in ("SNU", "SoftSNU"):
        return ir.SNU(f32(meta["decay"]), f32(meta["bias"]), recurrent,
                      soft=kind == "SoftSNU"), None
    if kind == "SRC":
        scalars = {k: float(meta[k]) for k in
                   ("alpha", "rho", "r", "rs", "z", "zs_hyp", "zs_dep", "bias_max")}
        return ir.SRC(f32(meta["bias"]), **scalars), None
    if kind == "LI":
        return ir.LI(f32(meta["alpha"])), None
    if dialect is None:
        raise UnsupportedModelError(
            f"node '{name}' ({type(node).__name__}) carries no neurodeploy metadata; "
            "pass a dialect (--dialect nir|snntorch|sinabs)")
    return foreign_neuron(name, node, dialect)


def _pair(value: Any) -> tuple[int, int]:
    return tuple(int(i) for i in np.broadcast_to(np.asarray(value), (2,)))  # type: ignore[return-value]


def _synapse_from_nir(node: nir.NIRNode) -> ir.nodes.SynapseNode:
    norm = _meta(node).get("batchnorm")
    if isinstance(norm, dict) and isinstance(node, nir.Affine | nir.Conv2d):
        try:
            return ir.BatchNorm(*(f32(norm[key]) for key in ("mean", "var", "weight", "bias")),
                                eps=float(norm["eps"]), spatial=isinstance(node, nir.Conv2d))
        except (KeyError, TypeError, ValueError):
            raise UnsupportedModelError("a BatchNorm's statistics in the metadata are incomplete; "
                                        "export the model again") from None
    if isinstance(node, nir.Affine):
        return ir.Affine(f32(node.weight), f32(node.bias))
    if isinstance(node, nir.Linear):
        return ir.Affine(f32(node.weight), None)
    if isinstance(node, nir.Conv2d):
        if isinstance(node.padding, str):
            raise UnsupportedModelError("Conv2d with string padding is not supported")
        has_bias = bool(_meta(node).get("has_bias", 1))
        return ir.Conv2d(f32(node.weight), f32(node.bias) if has_bias else None,
                         _pair(node.stride), _pair(node.padding), _pair(node.dilation),
                         int(node.groups))
    if isinstance(node, nir.AvgPool2d | nir.SumPool2d):
        pool = ir.AvgPool2d if isinstance(node, nir.AvgPool2d) else ir.SumPool2d
        return pool(_pair(node.kernel_size), _pair(node.stride), _pair(node.padding))
    if isinstance(node, nir.Flatten):
        return ir.Flatten()
    raise UnsupportedModelError(f"NIR node {type(node).__name__} is not supported here")


NEURON_NIR_TYPES = (nir.IF, nir.LIF, nir.CubaLIF, nir.LI)
MAX_NODES = 10_000


def _back_edges(names: list[str], edges: list[tuple[str, str]], start: str) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first walk from `start` (in stored edge order)."""
    following: dict[str, list[str]] = {name: [] for name in names}
    for source, target in edges:
        following[source].append(target)
    state: dict[str, int] = {}
    back: set[tuple[str, str]] = set()
    stack = [(start, iter(following[start]))]
    state[start] = 1
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            state[node] = 2
            stack.pop()
        elif state.get(child) == 1:
            back.add((node, child))
        elif child not in state:
            state[child] = 1
            stack.append((child, iter(following[child])))
    return back


def _stored_delays(graph: nir.NIRGraph) -> set[tuple[str, str]] | None:
    """The delayed edges neurodeploy recorded in its own files (None for other producers)."""
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    if meta.get("producer") != PRODUCER or "delayed_edges" not in meta:
        return None
    pairs = np.asarray(meta["delayed_edges"]).reshape(-1, 2) if np.size(meta["delayed_edges"]) \
        else np.zeros((0, 2))
    return {(_text(a), _text(b)) for a, b in pairs}


def _own_loop(graph: nir.NIRGraph, name: str, following: dict[str, list[str]]) -> str | None:
    """The Linear node of neurodeploy's SNU self-recurrence around `name`, if there is one."""
    for loop in following[name]:
        node = graph.nodes[loop]
        if (isinstance(node, nir.Linear) and _meta(node).get("loop")
                and name in following[loop]):
            return loop
    return None


def flatten_subgraphs(graph: nir.NIRGraph) -> nir.NIRGraph:
    """The same graph with every nested NIRGraph node replaced by its nodes, named
    `<subgraph>.<node>`: an edge into the subgraph (named by the subgraph, or by its Input node
    as `<subgraph>.<input>`) goes to what its Input feeds, an edge out of it comes from what
    feeds its Output."""
    if not any(isinstance(node, nir.NIRGraph) for node in graph.nodes.values()):
        return graph
    nodes: dict[str, nir.NIRNode] = {}
    entries: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    edges: list[tuple[str, str]] = []
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            nodes[name] = node
            continue
        inner = flatten_subgraphs(node)
        inputs = [n for n, v in inner.nodes.items() if isinstance(v, nir.Input)]
        outputs = [n for n, v in inner.nodes.items() if isinstance(v, nir.Output)]
        if len(inputs) != 1 or len(outputs) != 1:
            raise UnsupportedModelError(f"subgraph '{name}' needs exactly one Input and one "
                                        "Output node")
        for inner_name, inner_node in inner.nodes.items():
            if inner_name not in (inputs[0], outputs[0]):
                nodes[f"{name}.{inner_name}"] = inner_node
        entry = [f"{name}.{b}" for a, b in inner.edges if a == inputs[0]]
        leave = [f"{name}.{a}" for a, b in inner.edges if b == outputs[0]]
        for alias in (name, f"{name}.{inputs[0]}"):
            entries[alias] = entry
        for alias in (name, f"{name}.{outputs[0]}"):
            exits[alias] = leave
        edges += [(f"{name}.{a}", f"{name}.{b}") for a, b in inner.edges
                  if a != inputs[0] and b != outputs[0]]
    for source, target in graph.edges:
        edges += [(a, b) for a in exits.get(source, [source]) for b in entries.get(target, [target])]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata, type_check=False)


def network_from_nir(graph: nir.NIRGraph, dialect: Dialect | None = None) -> ir.Network:
    """Rebuild the Network of a NIR graph: any DAG from its Input to its Output, plus cycles,
    read as NIR means them (each cycle closed by a one-step delayed edge); nested subgraphs are
    flattened first."""
    graph = flatten_subgraphs(graph)
    if len(graph.nodes) > MAX_NODES:
        raise UnsupportedModelError(f"the NIR graph has {len(graph.nodes)} nodes, more than "
                                    f"{MAX_NODES}")
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    outputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Output)]
    if len(inputs) != 1 or len(outputs) != 1:
        raise UnsupportedModelError(f"the NIR graph needs exactly one Input and one Output node, "
                                    f"has {len(inputs)} and {len(outputs)}")
    input_name, output_name = inputs[0], outputs[0]
    input_shape = tuple(int(d) for d in np.asarray(graph.nodes[input_name].input_type["input"]
                                                   ).reshape(-1))
    pairs = [(str(a), str(b)) for a, b in graph.edges]
    for source, target in pairs:
        if source not in graph.nodes or target not in graph.nodes:
            raise UnsupportedModelError(f"edge {source} -> {target} names a node the graph lacks")
    following: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for source, target in pairs:
        following[source].append(target)
    ends = [source for source, target in pairs if target == output_name]
    if len(ends) != 1:
        raise UnsupportedModelError(f"the NIR Output node needs exactly one input, has {len(ends)}")
    delayed = _stored_delays(graph)
    if delayed is None:
        delayed = _back_edges(list(graph.nodes), pairs, input_name)
    absorbed: dict[str, np.ndarray] = {}
    loops: set[str] = set()
    for name, node in graph.nodes.items():
        kind = _text(_meta(node).get("neuron", ""))
        if kind in ("SNU", "SoftSNU") and (loop := _own_loop(graph, name, following)):
            absorbed[name] = f32(graph.nodes[loop].weight)
            loops.add(loop)
    nodes: dict[str, ir.nodes.Node] = {}
    gains: dict[str, np.ndarray] = {}
    for name, node in graph.nodes.items():
        if name in (input_name, output_name) or name in loops:
            continue
        if isinstance(node, NEURON_NIR_TYPES):
            neuron, gain = _neuron_from_nir(name, node, absorbed.get(name), dialect)
            nodes[name] = neuron
            if gain is not None and not np.all(gain == 1.0):
                gains[name] = gain
        else:
            nodes[name] = _synapse_from_nir(node)
    edges = [ir.Edge(ir.INPUT if source == input_name else source, target,
                     1 if (source, target) in delayed else 0)
             for source, target in pairs
             if target != output_name and source not in loops and target not in loops]
    for name, gain in gains.items():
        fold_gain(nodes, edges, name, gain)
    _refuse_rleaky_reset_to_zero(nodes, edges, dialect)
    unreachable = _unreachable(nodes, edges)
    if unreachable:
        raise UnsupportedModelError(f"NIR nodes not reached from the input: {unreachable}")
    return ir.Network(nodes, tuple(edges), input_shape, ends[0])


def _refuse_rleaky_reset_to_zero(nodes: dict[str, object], edges: list[ir.Edge],
                                 dialect: Dialect | None) -> None:
    """snnTorch's RLeaky resets to zero by clearing the whole new membrane, the step's input
    included, (1 - r) (beta m + I), unlike Leaky's beta (1 - r) m + I, which neurodeploy's LIF
    computes: an LIF on a cycle read as snnTorch's with reset to zero is refused, not guessed."""
    if dialect is None or dialect.name != "snntorch" or dialect.reset != "zero":
        return
    for name, node in nodes.items():
        if isinstance(node, ir.LIF) and _on_cycle(name, edges):
            raise UnsupportedModelError(
                f"node '{name}' is an snnTorch RLeaky with reset to zero, which clears the step's "
                "input too; neurodeploy does not implement that: train it with "
                "reset_mechanism='subtract' or use RSynaptic")


def _on_cycle(name: str, edges: list[ir.Edge]) -> bool:
    reached, frontier = set(), [name]
    while frontier:
        current = frontier.pop()
        for edge in edges:
            if edge.source == current and edge.target not in reached:
                if edge.target == name:
                    return True
                reached.add(edge.target)
                frontier.append(edge.target)
    return False


def _unreachable(nodes: dict[str, object], edges: list[ir.Edge]) -> list[str]:
    reached, frontier = set(), [ir.INPUT]
    while frontier:
        current = frontier.pop()
        for edge in edges:
            if edge.source == current and edge.target not in reached:
                reached.add(edge.target)
                frontier.append(edge.target)
    return sorted(set(nodes) - reached)


def _written_dt(graph: nir.NIRGraph) -> float | None:
    """The time step a producer recorded in the graph's metadata (`dt`), if a positive number."""
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    try:
        value = float(np.asarray(meta.get("dt")).reshape(-1)[0]) if "dt" in meta else None
    except (TypeError, ValueError, IndexError):
        return None
    return value if value is not None and np.isfinite(value) and value > 0 else None


def read_network(path: str | Path, dialect: str | None = None, reset: str | None = None,
                 dt: float | None = None, spike: str | None = None,
                 min_v: float | None = None) -> ir.Network:
    """Read a NIR file: neurodeploy's own exactly, others' in a dialect ("nir" when None).

    `reset`, `dt`, `spike` and `min_v` (an IF membrane floor) override the dialect for files
    whose producer deviated from its defaults; a file's own `dt` metadata is used when `dt` is
    not given. Warnings (NeurodeployWarning) say what the file looks like and which flag settles
    a choice the producer did not record.
    """
    path = Path(path)
    _check_file(path)
    try:
        graph = nir.read(str(path), type_check=False)
        producer = detect_producer(graph)
        chosen = None
        if producer != "neurodeploy":
            written = _written_dt(graph)
            chosen = resolve_dialect(dialect, reset, dt if dt is not None else written, spike,
                                     min_v)
            thresholds = any(isinstance(n, nir.IF) and np.any(np.asarray(n.v_threshold) != 1)
                             for n in flatten_subgraphs(graph).nodes.values())
            announce(path, producer, dialect, {"reset": reset, "dt": dt, "spike": spike,
                                                "min_v": min_v, "thresholds": thresholds})
        network = network_from_nir(graph, chosen)
        network.dt = None if chosen is None else chosen.dt
        return network
    except NeurodeployError as exc:
        raise type(exc)(f"{path}: {str(exc).splitlines()[0]}") from None
    except KeyError as exc:
        raise InvalidFileError(f"{path}: the file misses {exc}; write it again") from None
    except (ValueError, AssertionError, TypeError, OSError, AttributeError, IndexError,
            RuntimeError, OverflowError) as exc:
        raise InvalidFileError(f"{path}: malformed NIR file ({_reason(exc)}); write it again"
                               ) from None
