"""The registry of deployment targets: name -> Target (spec data plus small code).

A Target bundles what a backend provides: its hardware spec, the neuron kinds it runs, lowering
(Network + calibration -> Program), placement on cores, an energy model, a timing model, and
an emitter of target artifacts. Each target module builds its own in a `target()` function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from neurodeploy.errors import UnsupportedModelError


@dataclass(frozen=True)
class Target:
    """A deployment target; see the module docstring."""

    name: str
    description: str
    spec: Any
    neuron_kinds: tuple[str, ...]
    lower: Callable[..., Any]  # (network, calibration, weight_bits, options) -> Program
    place: Callable[..., list[dict]]  # (program) -> placements; raises on exceeded limits
    energy: Callable[..., Any]  # (program) -> EnergyModel
    timing: Callable[..., dict]  # (program, placements, result) -> {"total", "latency_s", ...}
    emit: Callable[[Any, Path], list[str]] | None = None  # (program, directory) -> file names
    static_pj: Callable[..., float] | None = None  # (placements, timing) -> pJ per inference


MODULES = {"sim": "neurodeploy.targets.sim", "loihi": "neurodeploy.targets.loihi.target"}
PLANNED = {"akida": "Akida-style event-based layers + NP map"}


def get_target(name: str) -> Target:
    """The Target called `name`, or a NeurodeployError naming the available ones."""
    if name == "fpga":
        raise UnsupportedModelError("the fpga target compiles its own datapath: use "
                                    "neurodeploy convert --target fpga, or "
                                    "neurodeploy.targets.fpga.compile.compile_network")
    if name in MODULES:
        return import_module(MODULES[name]).target()
    if name in PLANNED:
        raise UnsupportedModelError(f"target '{name}' is not implemented yet; use "
                                    f"{' or '.join(f'--target {n}' for n in MODULES)}")
    raise UnsupportedModelError(f"unknown target '{name}'; choose one of "
                                f"{', '.join([*MODULES, *PLANNED])}")


def describe_targets() -> list[dict[str, str]]:
    """One row per target: name, status (available or planned) and description."""
    rows = [{"name": "sim", "status": "available", "description": "generic digital neuromorphic "
             "core array (bit-accurate golden model, mapping, cycle model)"},
            {"name": "loihi", "status": "available", "description": "Loihi-style CUBA cores: "
             "Lava-exact arithmetic, netx HDF5 + core map, energy"},
            {"name": "fpga", "status": "available", "description": "microcoded fixed-point GRU / "
             "SRC datapath: Verilog + testbench, co-simulated in Icarus and Verilator"}]
    rows += [{"name": n, "status": "planned", "description": d} for n, d in PLANNED.items()]
    return rows
