"""The registry of deployment targets: name -> Target (spec data plus small code)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    """A deployment target: its hardware spec and whether it is available yet."""

    name: str
    description: str
    available: bool
    spec: Any = None
    neuron_kinds: tuple[str, ...] = field(default=())


def _sim() -> Target:
    from neurodeploy.targets.sim import CoreArraySpec

    return Target("sim", "generic digital neuromorphic core array: bit-accurate golden model, "
                  "mapping and cycle model", True, CoreArraySpec(),
                  ("IAF", "LIF", "SNU", "SoftSNU", "SRC", "LI"))


PLANNED = {
    "loihi": "Loihi-style CUBA cores: netx HDF5 + core map",
    "akida": "Akida-style event-based layers + NP map",
    "fpga": "FPGA GRU/SRC pipeline: Verilog + testbench",
}


def get_target(name: str) -> Target:
    """The Target called `name`, or a NeurodeployError naming the available ones."""
    from neurodeploy.errors import UnsupportedModelError

    if name == "sim":
        return _sim()
    if name in PLANNED:
        raise UnsupportedModelError(f"target '{name}' is not implemented yet; use --target sim")
    raise UnsupportedModelError(f"unknown target '{name}'; choose sim, {', '.join(PLANNED)}")


def describe_targets() -> list[dict[str, str]]:
    """One row per target: name, status (available or planned) and description."""
    rows = [{"name": "sim", "status": "available", "description": "generic digital neuromorphic "
             "core array (bit-accurate golden model, mapping, cycle model)"}]
    rows += [{"name": n, "status": "planned", "description": d} for n, d in PLANNED.items()]
    return rows
