"""`convert`: lower a Network for a target and write its artifact directory atomically."""

from __future__ import annotations

import json
from pathlib import Path

from neurodeploy import ir
from neurodeploy.fsutil import atomic_directory
from neurodeploy.io.nir_format import write_network


def deploy(network: ir.Network, target: str, out: Path, data_path: Path | None = None,
           timesteps: int | None = None, weight_bits: int = 8) -> dict:
    """Write OUT/ with `model.nir` and `report.json`; return the report."""
    report = {"target": target, "input_shape": list(network.input_shape),
              "layers": [layer.name for layer in network.layers]}
    with atomic_directory(Path(out)) as staging:
        write_network(network, staging / "model.nir")
        (staging / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    return report
