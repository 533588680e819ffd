"""The float, discrete-time Network: a graph of named nodes with known shapes.

Data flows time-major `(T, B, *shape)`. The input pseudo-node `INPUT` carries the data; every
other node receives the sum of its incoming edges (a delayed edge: the source's value one step
earlier) and is evaluated once per step. The network's output is the node named `output`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neurodeploy.errors import UnsupportedModelError
from neurodeploy.ir import nodes
from neurodeploy.ir.checks import check_node
from neurodeploy.ir.graph import (
    INPUT,
    Edge,
    Group,
    check_edges,
    predecessors,
    schedule,
    successors,
    topological_order,
)
from neurodeploy.ir.nodes import Node, is_neuron, neuron_kind


@dataclass(frozen=True)
class Layer:
    """A named node of the network."""

    name: str
    node: Node


@dataclass(eq=False)
class Network:
    """A graph of float nodes; see the module docstring.

    `nodes` keeps insertion order (the order of the source model); `order` is a topological order
    of the undelayed edges; `input_shape` is the per-step, per-sample shape of the data; `dt` the
    time step a continuous-time source (a NIR file) was discretised at.
    """

    nodes: dict[str, Node]
    edges: tuple[Edge, ...]
    input_shape: tuple[int, ...]
    output: str
    dt: float | None = None  # seconds per step, when the source model was in continuous time

    def __post_init__(self) -> None:
        self.nodes = dict(self.nodes)
        self.edges = tuple(self.edges)
        self.input_shape = tuple(int(d) for d in self.input_shape)
        if not self.nodes:
            raise UnsupportedModelError("the network has no layers")
        if INPUT in self.nodes:
            raise UnsupportedModelError(f"'{INPUT}' is reserved for the network input; rename "
                                        "that layer")
        if self.output not in self.nodes:
            raise UnsupportedModelError(f"the network output '{self.output}' is not one of its "
                                        "layers")
        check_edges(list(self.nodes), self.edges, "network")
        self.order = topological_order(list(self.nodes), self.edges)
        self._shapes = self._infer_shapes()
        fed = {edge.target for edge in self.edges}
        unfed = [name for name in self.nodes if name not in fed]
        if unfed:
            raise UnsupportedModelError(f"layers {unfed} receive no input")

    @classmethod
    def chain(cls, layers: Sequence[Layer], input_shape: Sequence[int]) -> Network:
        """A feed-forward chain: input -> layers[0] -> layers[1] -> ... -> output."""
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            raise UnsupportedModelError(f"layer names must be unique, got {names}")
        if not layers:
            raise UnsupportedModelError("the network has no layers")
        edges = [Edge(a, b) for a, b in zip([INPUT, *names[:-1]], names, strict=True)]
        return cls({layer.name: layer.node for layer in layers}, tuple(edges), tuple(input_shape),
                   names[-1])

    def _infer_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes: dict[str, tuple[int, ...]] = {INPUT: self.input_shape}
        received: dict[str, tuple[int, ...]] = {}
        for name in self.order:
            incoming = {shapes[e.source] for e in predecessors(self.edges, name)
                        if e.source in shapes}
            if not incoming:
                raise UnsupportedModelError(f"layer '{name}' is fed only by recurrent (delayed) "
                                            "edges from layers after it")
            if len(incoming) > 1:
                raise UnsupportedModelError(f"layer '{name}' sums inputs of different shapes "
                                            f"{sorted(incoming)}")
            shape = received[name] = incoming.pop()
            node = self.nodes[name]
            try:
                check_node(node, shape)
                if hasattr(node, "output_shape"):
                    shape = tuple(int(d) for d in node.output_shape(shape))
                    check_node(nodes.Flatten(), shape)  # the output is a valid shape too
            except ValueError as exc:
                raise UnsupportedModelError(f"layer '{name}': {exc}") from None
            shapes[name] = tuple(shape)
        for edge in self.edges:  # recurrent edges, seen only now, must agree too
            if shapes[edge.source] != received[edge.target]:
                raise UnsupportedModelError(
                    f"edge {edge.source} -> {edge.target}: shape {shapes[edge.source]} does not "
                    f"match the other inputs {received[edge.target]}")
        self._received = received
        return shapes

    # ------------------------------------------------------------------ structure

    @property
    def layers(self) -> list[Layer]:
        """Every node as a Layer, in topological order."""
        return [Layer(name, self.nodes[name]) for name in self.order]

    @property
    def neuron_layers(self) -> list[Layer]:
        return [layer for layer in self.layers if is_neuron(layer.node)]

    def inputs_of(self, name: str) -> list[Edge]:
        return predecessors(self.edges, name)

    def consumers_of(self, name: str) -> list[Edge]:
        return successors(self.edges, name)

    def schedule(self) -> list[Group]:
        return schedule(self.order, self.edges)

    @property
    def is_chain(self) -> bool:
        """True for input -> n1 -> n2 -> ... -> output with no other edges (in any order: NIR
        files list edges unordered)."""
        expected = {Edge(a, b) for a, b in zip([INPUT, *self.order[:-1]], self.order, strict=True)}
        return (len(self.edges) == len(expected) and set(self.edges) == expected
                and self.output == self.order[-1])

    def as_chain(self, what: str) -> list[Layer]:
        """The layers in order, or a one-line error when the network is not a plain chain."""
        if not self.is_chain:
            extra = next((e for e in self.edges if e.delay or e.source not in (INPUT, *self.order)
                          or len(self.inputs_of(e.target)) > 1), None)
            detail = (f" (edge {extra.source} -> {extra.target}"
                      f"{', delayed' if extra and extra.delay else ''})" if extra else "")
            raise UnsupportedModelError(f"{what} takes chains of layers; this network has "
                                        f"branches, merges or recurrent edges{detail}")
        return self.layers

    # ------------------------------------------------------------------ shapes

    def output_shape_of(self, name: str) -> tuple[int, ...]:
        """Per-sample output shape of the named node."""
        return self._shapes[name]

    def input_shape_of(self, name: str) -> tuple[int, ...]:
        """Per-sample shape of what the named node receives."""
        return self._received[name]

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self._shapes[self.output]

    @property
    def output_is_graded(self) -> bool:
        return bool(getattr(self.nodes[self.output], "graded", True))

    def summary(self) -> str:
        """One line per node: name, kind, inputs and output shape."""
        lines = []
        for layer in self.layers:
            node = layer.node
            kind = neuron_kind(node) if is_neuron(node) else type(node).__name__
            sources = ", ".join(e.source + ("(t-1)" if e.delay else "")
                                for e in self.inputs_of(layer.name))
            lines.append(f"{layer.name:>6}  {kind:<9} <- {sources:<12} -> "
                         f"{self.output_shape_of(layer.name)}")
        return "\n".join(lines)
