"""`convert` (Network -> Program for a target) and `deploy` (write the artifact directory)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.fsutil import atomic_directory
from neurodeploy.io.nir_format import write_network
from neurodeploy.quant.calibrate import calibrate
from neurodeploy.quant.program import Program
from neurodeploy.quant.program_nir import write_program_nir
from neurodeploy.quant.quantize import QuantSpec, quantize
from neurodeploy.simulation import check_input
from neurodeploy.targets.registry import get_target


def convert(network: object, target: str = "sim", data: np.ndarray | None = None,
            weight_bits: int = 8, **quant_options) -> Program:
    """Quantize and lower a network for `target`, calibrating ranges on `data` `(T, B, ...)`.

    `quant_options` are fields of `QuantSpec` (activation_bits, state_bits, per_channel,
    power_of_two, table_size, headroom). The Program carries the core mapping in its settings.
    """
    from neurodeploy.io.load import load
    from neurodeploy.targets.sim import describe, map_program

    network = load(network)
    chosen = get_target(target)
    if data is None:
        raise UnsupportedModelError("quantization needs calibration data: pass data=x (or --data)")
    unsupported = {ir.neuron_kind(layer.node) for layer in network.neuron_layers} - set(
        chosen.neuron_kinds)
    if unsupported:
        raise UnsupportedModelError(f"target '{target}' cannot run {sorted(unsupported)} neurons")
    spec = QuantSpec(weight_bits=weight_bits, **{"state_bits": chosen.spec.state_bits,
                                                  **quant_options})
    if weight_bits > chosen.spec.max_weight_bits:
        raise UnsupportedModelError(f"target '{target}' stores at most "
                                    f"{chosen.spec.max_weight_bits}-bit weights")
    x = check_input(data, network.input_shape)
    program = quantize(network, calibrate(network, x), spec, target)
    placements = map_program(program, chosen.spec, weight_bits)
    program.settings["mapping"] = [vars(p) for p in placements]
    program.settings["target_spec"] = describe(replace(chosen.spec))
    return program


def deploy(network: ir.Network, target: str, out: Path, data_x: np.ndarray | None,
           labels: np.ndarray | None, weight_bits: int = 8) -> dict:
    """Convert and write OUT/: model.nir, program.{json,npz,nir}, mapping.json, report.{json,md}."""
    from neurodeploy.report.build import build_report
    from neurodeploy.report.markdown import render_markdown

    program = convert(network, target, data_x, weight_bits)
    report = build_report(network, program, data_x, labels)
    with atomic_directory(Path(out)) as staging:
        write_network(network, staging / "model.nir")
        program.save(staging)
        write_program_nir(program, staging / "program.nir")
        (staging / "mapping.json").write_text(
            json.dumps(program.settings["mapping"], indent=1, sort_keys=True) + "\n")
        (staging / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
        (staging / "report.md").write_text(render_markdown(report))
    return report
