"""The Program: a Network after quantization for one target, as a typed graph of integer nodes.

Nodes are `neurodeploy.program.node.ProgramNode` dataclasses; edges are `ir.Edge`s (a delayed
edge delivers the previous step's value); a node receives the sum of its inputs. The input node
`INPUT` holds the quantized data: real x -> round_half_up(x / input.scale), saturated to
input.bits. The output is the value of node `output`, dequantized by its output scale. A Program
is validated when built (shapes, arrays against their formats) and saved as an artifact directory
by `neurodeploy.program.serialize`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from neurodeploy.errors import UnsupportedModelError
from neurodeploy.ir.graph import INPUT, Edge, Group, check_edges, latency, schedule, topological_order
from neurodeploy.program.formats import Rounding, round_half_up
from neurodeploy.program.node import ProgramNode, Tally

#: largest number of values a node may hold per sample (bounds work before allocation)
MAX_NODE_SIZE = 1 << 26


def window_frame(x: np.ndarray) -> np.ndarray:
    """A time-major sequence `(T, B, ...)` as one frame `(B, ...)`: its sum over time (spike
    counts of a rate-coded input), accumulated in float64 and delivered as float32."""
    return np.asarray(x, dtype=np.float64).sum(axis=0).astype(np.float32)


@dataclass(frozen=True)
class InputFormat:
    """The program's input: per-sample shape, real value of one integer, signed width; with
    `window`, the program sees one frame, the input summed over time (`window_frame`), and
    `rounding` says how a real value becomes an integer (half up, or half even as ONNX's
    QuantizeLinear; a window's scale is then a power of two, so the division is exact)."""

    shape: tuple[int, ...]
    scale: float
    bits: int
    window: bool = False
    rounding: Rounding = Rounding.HALF_UP

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "rounding", Rounding(self.rounding))

    def validate(self) -> None:
        if not self.shape or any(d < 1 for d in self.shape) or math.prod(self.shape) > MAX_NODE_SIZE:
            raise ValueError(f"input shape {self.shape} is not a valid per-sample shape")
        if not (math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"input scale {self.scale} must be finite and positive")
        if not 2 <= self.bits <= 24:
            raise ValueError(f"input bits {self.bits} must be 2..24")
        if self.rounding not in (Rounding.HALF_UP, Rounding.HALF_EVEN):
            raise ValueError(f"input rounding {self.rounding} must be half up or half even")
        if self.window and math.frexp(self.scale)[0] != 0.5:
            raise ValueError(f"a window's input scale {self.scale} must be a power of two")

    @property
    def bound(self) -> float:
        return float(1 << (self.bits - 1))

    def quantize(self, x: np.ndarray, tally: Tally | None = None) -> np.ndarray:
        """Real input -> integers of `scale` (rounded, saturated to `bits`, the saturated
        values counted in `tally`), returned as integer-valued float32 (exact: bits <= 24),
        ready for BLAS; a window's input becomes one step, its frame."""
        limit = 1 << (self.bits - 1)
        if self.window:
            x = window_frame(x)[None]
        scaled = np.asarray(x, dtype=np.float64) / self.scale
        values = np.rint(scaled) if self.rounding is Rounding.HALF_EVEN else round_half_up(scaled)
        if tally is None:
            return np.clip(values, -limit, limit - 1).astype(np.float32)
        tally.updates += values.size
        return tally.saturate(values, -limit, limit - 1).astype(np.float32)


@dataclass(eq=False)
class Program:
    """A quantized network for one target; see the module docstring.

    `options` are the target's lowering options (JSON scalars), `approximations` the departures
    from the float network the target had to make, each a sentence for the report.
    """

    target: str
    input: InputFormat
    nodes: dict[str, ProgramNode]
    edges: tuple[Edge, ...]
    output: str
    options: Mapping[str, Any] = field(default_factory=dict)
    approximations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.nodes = dict(self.nodes)
        self.edges = tuple(self.edges)
        self.options = MappingProxyType(dict(self.options))
        self.approximations = tuple(self.approximations)
        self.input.validate()
        if INPUT in self.nodes or self.output not in self.nodes:
            raise UnsupportedModelError(f"the program's output '{self.output}' is not one of its "
                                        f"nodes (or a node is named '{INPUT}')")
        check_edges(list(self.nodes), self.edges, "program")
        self.order = topological_order(list(self.nodes), self.edges)
        self.shapes = self._check_nodes()

    def __getstate__(self) -> dict:
        """Pickled (for worker processes) with its options as a plain dict."""
        return {**self.__dict__, "options": dict(self.options)}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, options=MappingProxyType(state["options"]))

    def _check_nodes(self) -> dict[str, tuple[int, ...]]:
        """Per-sample output shape of every node; ValueError naming the node on any mismatch."""
        shapes: dict[str, tuple[int, ...]] = {INPUT: self.input.shape}
        for name in self.order:
            edges = [e for e in self.edges if e.target == name]
            known = {shapes[e.source] for e in edges if e.source in shapes}
            if not edges or not known:
                raise ValueError(f"node '{name}' receives no input that comes before it")
            if len(known) > 1:
                raise ValueError(f"node '{name}' sums inputs of different shapes {sorted(known)}")
            input_shape = known.pop()
            node = self.nodes[name]
            try:
                node.validate(input_shape)
                shape = tuple(int(d) for d in node.output_shape(input_shape))
            except ValueError as exc:
                raise ValueError(f"node '{name}' ({node.kind}): {exc}") from None
            if not shape or min(shape) < 1 or math.prod(shape) > MAX_NODE_SIZE:
                raise ValueError(f"node '{name}' ({node.kind}) has output shape {shape}")
            shapes[name] = shape
        for edge in self.edges:
            if edge.delay and shapes[edge.source] != self.input_shape_of(edge.target, shapes):
                raise ValueError(f"recurrent edge {edge.source} -> {edge.target} joins shapes "
                                 f"{shapes[edge.source]} and {self.input_shape_of(edge.target, shapes)}")
        return shapes

    def input_shape_of(self, name: str, shapes: dict | None = None) -> tuple[int, ...]:
        shapes = shapes or self.shapes
        sources = [e.source for e in self.edges if e.target == name and e.source in shapes]
        return shapes[sources[0]]

    # ------------------------------------------------------------------ derived structure

    @cached_property
    def schedule(self) -> list[Group]:
        return schedule(self.order, self.edges)

    @cached_property
    def latency(self) -> int:
        """Steps by which the output lags the input (Loihi: one per synaptic delay)."""
        return latency(self.order, self.edges, self.output)

    @cached_property
    def bounds(self) -> dict[str, float]:
        """Largest |value| of every node's output (and of INPUT), from the formats alone.

        Two passes: in the first, a loop's delayed source is not known yet and counts as
        unbounded; the nodes that close loops (neurons) bound their outputs by their own format,
        so the second pass, with every source known, is finite and final."""
        bounds: dict[str, float] = {INPUT: self.input.bound}
        for _ in range(2):
            for name in self.order:
                total = sum(bounds.get(e.source, math.inf) for e in self.edges if e.target == name)
                bounds[name] = self.nodes[name].output_bound(total)
        return bounds

    def input_bound(self, name: str) -> float:
        """Largest |sum of the inputs| of a node."""
        return sum(self.bounds[e.source] for e in self.edges if e.target == name)

    @property
    def output_node(self) -> ProgramNode:
        return self.nodes[self.output]

    @property
    def output_is_graded(self) -> bool:
        return self.output_node.graded

    @property
    def stateful_nodes(self) -> list[str]:
        """Names of the neuron (stateful) nodes, in order."""
        return [name for name in self.order if self.nodes[name].stateful]

    def inputs_of(self, name: str) -> list[Edge]:
        return [edge for edge in self.edges if edge.target == name]

    def feeders(self, name: str) -> list[str]:
        """The weighted nodes whose accumulators reach stateful node `name` through stateless
        nodes only (its synapses)."""
        found, stack, seen = [], [e.source for e in self.inputs_of(name)], set()
        while stack:
            source = stack.pop()
            if source == INPUT or source in seen:
                continue
            seen.add(source)
            node = self.nodes[source]
            if node.stateful:
                continue
            if node.weighted:
                found.append(source)
            stack += [e.source for e in self.inputs_of(source)]
        return sorted(found, key=self.order.index)

    def size(self, name: str) -> int:
        return math.prod(self.shapes[name])

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        return self.input.quantize(x)

    def save(self, directory: str | Path) -> None:
        """Write program.json, program.npz (deterministic bytes) and their manifest into
        `directory`, which must hold nothing else."""
        from neurodeploy.program.serialize import save_program_directory

        save_program_directory(self, directory)

    @classmethod
    def load(cls, directory: str | Path) -> Program:
        """Read and validate the program files of `directory`."""
        from neurodeploy.program.serialize import load_program

        return load_program(directory)
