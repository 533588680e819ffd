"""The registry of deployment targets."""

from __future__ import annotations

TARGETS: dict[str, dict[str, str]] = {
    "sim": {"status": "planned", "description": "generic digital neuromorphic core array "
            "(bit-accurate golden model, cycle model)"},
    "loihi": {"status": "planned", "description": "Loihi-style CUBA cores: netx HDF5 + core map"},
    "akida": {"status": "planned", "description": "Akida-style event-based layers + NP map"},
    "fpga": {"status": "planned", "description": "FPGA GRU/SRC pipeline: Verilog + testbench"},
}


def describe_targets() -> list[dict[str, str]]:
    """One row per target: name, status (available or planned) and description."""
    return [{"name": name, **info} for name, info in TARGETS.items()]
