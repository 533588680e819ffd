"""The contract every deployment target keeps, and the typed values it returns.

A target is one package holding a frozen hardware spec and the functions below; it registers an
object with these attributes in the `neurodeploy.targets` entry-point group (the built-ins too):

    name, description, spec                  what it is
    options                                  its lowering options: a frozen dataclass type
    check(network) -> list[str]              every part it cannot run (empty: all fine)
    lower(network, calibration, options)     -> Program (its nodes, its arithmetic)
    place(program) -> Placement              nodes on cores, or an error naming the limit
    cost(program, result, placement) -> Cost energy (with sources), time, memory
    emit(program, directory) -> list[str]    its artifact files, beside the program files
    load(directory) -> Program               the Program of an artifact directory
    executors -> dict[str, Executor]         independent runs of the artifacts (RTL, Lava, ...)

Cycles and time steps are never mixed: `Timing.cycles` is None for a target without a clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import NeurodeployError, UnsupportedModelError
from neurodeploy.ir import Network
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.graph import Program


class ResourceLimitError(NeurodeployError):
    """A network does not fit the target: names the node and the limit."""


@dataclass(frozen=True)
class Usage:
    """One resource of the busiest core of a node: used and available."""

    resource: str
    used: float
    available: float

    @property
    def fraction(self) -> float:
        return self.used / self.available if self.available else 0.0


@dataclass(frozen=True)
class NodePlacement:
    """Where a node runs: its cores (and chips), neurons per core and resource use per core."""

    node: str
    neurons: int
    cores: tuple[int, ...]
    neurons_per_core: int
    usage: tuple[Usage, ...] = ()
    chips: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class Placement:
    """All placed nodes; `unit` names what a core is on this target (core, NP, datapath)."""

    nodes: tuple[NodePlacement, ...]
    cores_available: int
    unit: str = "core"

    @property
    def cores_used(self) -> int:
        return len({core for node in self.nodes for core in node.cores})

    @property
    def chips_used(self) -> int:
        return len({chip for node in self.nodes for chip in node.chips})

    def of(self, name: str) -> NodePlacement | None:
        return next((n for n in self.nodes if n.node == name), None)

    def as_dict(self) -> dict:
        return {"unit": self.unit, "cores_used": self.cores_used,
                "cores_available": self.cores_available, "chips_used": self.chips_used,
                "nodes": [{"node": n.node, "neurons": n.neurons, "cores": list(n.cores),
                           "chips": list(n.chips), "neurons_per_core": n.neurons_per_core,
                           "usage": {u.resource: {"used": u.used, "available": u.available,
                                                  "fraction": u.fraction} for u in n.usage}}
                          for n in self.nodes]}


@dataclass(frozen=True)
class Energy:
    """Energy per inference (per sample), in pJ, with the source of every figure."""

    dynamic_pj: float
    static_pj: float
    per_node_pj: Mapping[str, float]
    sources: Mapping[str, str]
    note: str = ""

    @property
    def total_pj(self) -> float:
        return self.dynamic_pj + self.static_pj


@dataclass(frozen=True)
class Timing:
    """Time per inference (per sample): algorithmic steps, and cycles where there is a clock."""

    steps: int
    latency_s: float
    model: str
    cycles: float | None = None
    cycles_per_step: float | None = None
    clock_hz: float | None = None
    step_ns: float | None = None


@dataclass(frozen=True)
class Cost:
    """What a deployment costs per inference (per sample): energy, time, operations, memory.

    `details` holds target-specific figures (JSON-safe) for the report."""

    energy: Energy
    timing: Timing
    synops: Mapping[str, float]
    synops_dense: Mapping[str, float]
    memory_bytes: Mapping[str, int]
    details: Mapping[str, Any] = field(default_factory=dict)


class Executor(Protocol):
    """An independent way to run a target's artifacts (an HDL simulator, Lava, onnxruntime)."""

    name: str

    def unavailable(self) -> str | None:
        """Why it cannot run here (a missing tool), or None."""

    def run(self, directory: Path, program: Program, x: Any) -> SimulationResult:
        """Run the artifacts of `directory` on real input `x`; the golden model's result type."""


class Target(Protocol):
    """See the module docstring."""

    name: str
    description: str
    spec: Any
    options: type
    executors: Mapping[str, Executor]

    def check(self, network: Network) -> list[str]: ...

    def lower(self, network: Network, calibration: Calibration, options: Any) -> Program: ...

    def place(self, program: Program) -> Placement: ...

    def cost(self, program: Program, result: SimulationResult, placement: Placement) -> Cost: ...

    def emit(self, program: Program, directory: Path) -> list[str]: ...

    def load(self, directory: Path) -> Program: ...


def make_options(target: Target, given: Mapping[str, Any]) -> Any:
    """The target's options dataclass from the options the user gave (None: not given).

    An option the target does not have is an error naming the targets' options."""
    fields = {f.name for f in dataclasses.fields(target.options)}
    chosen = {k: v for k, v in given.items() if v is not None}
    unknown = sorted(set(chosen) - fields)
    if unknown:
        raise UnsupportedModelError(
            f"target '{target.name}' has no option {', '.join(unknown)}; its options are "
            f"{', '.join(sorted(fields)) or 'none'}")
    try:
        return target.options(**chosen)
    except (TypeError, ValueError) as exc:
        raise UnsupportedModelError(f"target '{target.name}': {exc}") from None


def refuse_unsupported(target: Target, network: Network) -> None:
    """One error listing every part of `network` the target cannot run."""
    problems = target.check(network)
    if problems:
        raise UnsupportedModelError(f"target '{target.name}' cannot run this network: "
                                    + "; ".join(problems))


#: the signature of a target factory registered in the entry-point group
TargetFactory = Callable[[], Target]
