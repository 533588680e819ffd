"""`convert` (Network -> Program for a target) and `deploy` (write the artifact directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.fsutil import atomic_directory, write_json
from neurodeploy.io.nir_format import write_network
from neurodeploy.quant.calibrate import calibrate
from neurodeploy.quant.program import Program
from neurodeploy.quant.program_nir import write_program_nir
from neurodeploy.simulation import check_input
from neurodeploy.targets.registry import get_target


def convert(network: object, target: str = "sim", data: np.ndarray | None = None,
            weight_bits: int = 8, **options) -> Program:
    """Quantize and lower a network for `target`, calibrating ranges on `data` `(T, B, ...)`.

    `options` go to the target's lowering (for `sim`: fields of `QuantSpec` such as
    activation_bits, state_bits, per_channel, power_of_two). The Program carries its placement
    on cores in settings["mapping"]; limits the network exceeds raise an error naming the layer.
    """
    from neurodeploy.io.load import load

    network = load(network)
    chosen = get_target(target)
    if data is None:
        raise UnsupportedModelError("quantization needs calibration data: pass data=x (or --data)")
    unsupported = {ir.neuron_kind(layer.node) for layer in network.neuron_layers} - set(
        chosen.neuron_kinds)
    if unsupported:
        others = "--target sim runs every kind" + (
            ", --target fpga runs SRC" if "SRC" in unsupported else "")
        raise UnsupportedModelError(f"target '{target}' cannot run {sorted(unsupported)} neurons;"
                                    f" {others}")
    x = check_input(data, network.input_shape)
    program = chosen.lower(network, calibrate(network, x), weight_bits, options)
    program.settings["mapping"] = chosen.place(program)
    return program


def deploy(network: ir.Network, target: str, out: Path, data_x: np.ndarray | None,
           labels: np.ndarray | None, weight_bits: int = 8, lanes: int = 4,
           options: dict | None = None) -> dict:
    """Convert and write OUT/: model.nir, program.{json,npz,nir}, mapping.json, report.{json,md},
    and the target's artifacts (fpga: rtl/, tb/, mem/, fpga.{json,npz})."""
    from neurodeploy.report.build import build_report
    from neurodeploy.report.markdown import render_markdown

    if target == "fpga":
        from neurodeploy.targets.fpga.target import deploy_fpga

        if data_x is None:
            raise UnsupportedModelError("the fpga target needs --data to choose its formats")
        with atomic_directory(Path(out)) as staging:
            return deploy_fpga(network, staging, check_input(data_x, network.input_shape), labels,
                               weight_bits, lanes)

    program = convert(network, target, data_x, weight_bits, **(options or {}))
    chosen = get_target(target)
    report = build_report(network, program, data_x, labels)
    with atomic_directory(Path(out)) as staging:
        write_network(network, staging / "model.nir")
        program.save(staging)
        write_program_nir(program, staging / "program.nir")
        if chosen.emit is not None:
            chosen.emit(program, staging)
        write_json(staging / "mapping.json", program.settings["mapping"])
        write_json(staging / "report.json", report)
        (staging / "report.md").write_text(render_markdown(report))
    return report


def is_ann(path: Path) -> bool:
    """True for an .onnx file or a .pt model holding ReLU layers (an ANN to convert first)."""
    from torch import nn

    from neurodeploy.io.model_file import load_torch_file

    suffix = Path(path).suffix.lower()
    if suffix == ".onnx":
        return True
    if suffix not in (".pt", ".pth") or not Path(path).is_file():
        return False
    return any(isinstance(m, nn.ReLU) for m in load_torch_file(Path(path)).modules())


def snn_from_ann(path: Path, data_path: Path, timesteps: int | None
                 ) -> tuple[ir.Network, np.ndarray, np.ndarray | None]:
    """ann2snn with its defaults on static data; returns the SNN and the data it should see."""
    from neurodeploy.frontend.ann2snn import ann2snn
    from neurodeploy.io.data import encode, read_static

    x, y = read_static(data_path)
    steps = 32 if timesteps is None else timesteps
    conversion = ann2snn(path, x, y, timesteps=steps, spike="single")
    return conversion.network, encode(x, steps, "direct"), y
