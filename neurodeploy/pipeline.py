"""Whole jobs over the API: evaluate a deployment, write its artifact directory, sweep bit widths.

A job converts for a target, runs the float reference and the golden model on the same data,
asks the target to place and price the program, and hands the figures to `neurodeploy.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.api import check_input, convert, kept_program, load
from neurodeploy.artifacts import OutputKind, output_directory, write_json
from neurodeploy.engine.golden import simulate_program
from neurodeploy.engine.reference import simulate_network
from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.io.nir_write import write_network
from neurodeploy.program.calibrate import MAX_SAMPLES
from neurodeploy.program.graph import Program
from neurodeploy.program.nir import write_program_nir
from neurodeploy.program.serialize import save_program
from neurodeploy.report.agreement import node_agreement, output_agreement
from neurodeploy.report.build import (
    as_deployed_sees_time,
    build_report,
    energy_entry,
    layer_labels,
    node_delays,
)
from neurodeploy.report.html import deployment_html
from neurodeploy.report.markdown import render_markdown
from neurodeploy.scale import Workers, open_workers
from neurodeploy.targets.registry import get_target

KEPT = "none: the model file is already quantized for the target, its integers are kept"
SAME_DATA = ("the evaluation data: calibration and evaluation overlap, so figures may flatter; "
             "pass --calib FILE or --calib-split F")


#: the phases `deploy` reports, in order (the cycle simulation only on targets that have one)
DEPLOY_PHASES = ("quantized", "float reference", "golden model", "mapping, cost, report",
                 "cycle simulation", "written")


def calibration_note(same: bool, note: str | None = None) -> str:
    """How the calibration data relate to the evaluation data, for the report."""
    return SAME_DATA if same else note or "separate calibration data"


def split_calibration(x: np.ndarray, labels: np.ndarray | None, fraction: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, str]:
    """(calibration, evaluation x, evaluation labels, note): the first `fraction` of the samples
    (axis 1) calibrate, the rest evaluate."""
    count = int(round(x.shape[1] * fraction))
    if not 0 < count < x.shape[1]:
        raise UnsupportedModelError(f"--calib-split {fraction} leaves no samples to calibrate or "
                                    f"to evaluate of {x.shape[1]}")
    return (x[:, :count], x[:, count:], None if labels is None else labels[count:],
            f"the first {count} samples of the data (--calib-split {fraction}); evaluated on "
            f"the other {x.shape[1] - count}")


def evaluate(network: ir.Network, program: Program, x: np.ndarray,
             labels: np.ndarray | None) -> dict:
    """The report of `program` against `network` on `x` (see `neurodeploy.report.build`)."""
    return assess(network, program, x, labels)[0]


Progress = Callable[[str], None]
"""Called with the name of each phase as it finishes (a progress bar's step)."""


def _quiet(_: str) -> None:
    """No progress shown."""


def assess(network: ir.Network, program: Program, x: np.ndarray, labels: np.ndarray | None,
           progress: Progress = _quiet) -> tuple[dict, SimulationResult]:
    """The report, and the golden run it came from (outputs and states recorded)."""
    target = get_target(program.target)
    reference = simulate_network(network, x, record_states=True, record_outputs=True)
    progress("float reference")
    deployed = simulate_program(program, x, record_states=True, record_outputs=True)
    progress("golden model")
    placement = target.place(program)
    cost = target.cost(program, deployed, placement)
    report = build_report(network, program, reference, deployed, placement, cost, labels)
    progress("mapping, cost, report")
    simulate = getattr(target, "cycle_simulation", None)
    if simulate is not None:
        report["cycle_simulation"] = simulate(program, deployed, placement, x, cost).summary()
        progress("cycle simulation")
    return report, deployed


def deploy(model: object, target: str, out: Path, x: np.ndarray, labels: np.ndarray | None,
           options: dict, inputs: Sequence[Path | None] = (),
           calibration: np.ndarray | None = None, calibration_source: str | None = None,
           progress: Progress = _quiet) -> dict:
    """Convert `model` (anything `load` takes; calibrating on `calibration`, or on `x` when None,
    unless it is a file the target keeps as it is, `kept_program`) and evaluate on `x`; write
    OUT/: model.nir, program.{json,npz,nir}, the target's artifacts, mapping.json,
    report.{json,md} and last neurodeploy-manifest.json. OUT is swapped in whole
    (`neurodeploy.artifacts.output_directory`): it may not hold or be one of `inputs` (the files
    the network and data came from). `progress` hears each of the DEPLOY_PHASES as it ends.
    Returns the report."""
    network = load(model)
    x = check_input(x, network.input_shape)
    calibration = x if calibration is None else check_input(calibration, network.input_shape)
    program = kept_program(model, target, options)
    used = {"samples": 0, "data": KEPT}
    if program is None:
        program = convert(network, target, calibration, **options)
        used = {"samples": int(min(calibration.shape[1], MAX_SAMPLES)),
                "data": calibration_note(calibration is x, calibration_source)}
    progress("quantized")
    report, deployed = assess(network, program, x, labels, progress)
    report["calibration"] = used
    with output_directory(Path(out), inputs, OutputKind.CONVERT) as staging:
        try:
            write_network(network, staging / "model.nir")
        except UnsupportedModelError:
            pass  # e.g. a GRU: NIR has no node for it; the program files hold the network
        _write_program(program, staging)
        write_json(staging / "mapping.json", report["mapping"])
        write_json(staging / "report.json", report)
        markdown = render_markdown(report)
        (staging / "report.md").write_text(markdown)
        (staging / "report.html").write_text(deployment_html(report, deployed, markdown))
    progress("written")
    return report


def _write_program(program: Program, staging: Path) -> None:
    """The program files, its integer NIR and the target's artifacts."""
    save_program(program, staging)
    write_program_nir(program, staging / "program.nir")
    get_target(program.target).emit(program, staging)


def save_deployment(program: Program, out: str | Path, inputs: Sequence[Path | None] = ()
                    ) -> None:
    """Write `program` as OUT/ (program files, the target's artifacts, the manifest) without
    evaluating it: what executors run, e.g. a program changed through the API."""
    with output_directory(Path(out), inputs, OutputKind.CONVERT) as staging:
        _write_program(program, staging)


def bit_sweep(network: ir.Network, x: np.ndarray, labels: np.ndarray | None, target: str,
              bits: Iterable[int], step: Callable[[], None] = lambda: None,
              activation_bits: Sequence[int | None] = (None,), window: int | None = None,
              calibration: np.ndarray | None = None, calibration_source: str | None = None,
              workers: int | Workers = 1, ray_address: str | None = None) -> dict:
    """Convert at each weight width in `bits` (and each activation width, for targets that
    have one) and measure it against the float reference; rows carry the window length.
    Calibrates on `calibration` (default: `x` itself, which the sweep states).

    The rows are computed by `workers` (`neurodeploy.scale`): a count of spawned local
    processes, an entered `Workers`, or Ray tasks on the cluster at `ray_address`. Every row is
    a deterministic function of its widths, so the sweep is the same bit for bit, in the same
    order. `step` is called as each row finishes."""
    x = check_input(x, network.input_shape)
    calibration = x if calibration is None else check_input(calibration, network.input_shape)
    reference = simulate_network(network, x, record_states=True, record_outputs=True)
    float_accuracy = None if labels is None else reference.accuracy(labels)
    jobs = [(width, activation) for width in bits for activation in activation_bits]
    common = (network, x, labels, target, reference, window or x.shape[0], calibration)
    with open_workers(workers, ray_address) as pool:
        found = pool.map(sweep_row, jobs, common, step)
    rows = [row for row, _ in found]
    layer_names = found[-1][1] if found else {}
    return {"target": target, "float_accuracy": float_accuracy,
            "float_spikes": reference.spike_count / x.shape[1], "labels": layer_names,
            "calibration": {"samples": int(min(calibration.shape[1], MAX_SAMPLES)),
                            "data": calibration_note(calibration is x, calibration_source)},
            "rows": rows}


def sweep_row(network: ir.Network, x: np.ndarray, labels: np.ndarray | None, target: str,
              reference: SimulationResult, window: int, calibration: np.ndarray, width: int,
              activation: int | None) -> tuple[dict, dict[str, str]]:
    """One row of `bit_sweep` (and the program's layer labels): convert at these widths, run,
    compare with the float reference, price."""
    chosen = get_target(target)
    options = {"weight_bits": width} | ({} if activation is None
                                       else {"activation_bits": activation})
    program = convert(network, target, calibration, **options)
    deployed = simulate_program(program, x, record_states=True, record_outputs=True)
    placement = chosen.place(program)
    cost = chosen.cost(program, deployed, placement)
    aligned = as_deployed_sees_time(reference, program)
    lag = program.latency - reference.latency
    output = deployed.output[lag:lag + aligned.output.shape[0]]
    nodes = node_agreement(aligned, deployed, program, node_delays(program, reference),
                           bool(program.input.window))
    row = {"weight_bits": width, "activation_bits": activation, "window": window,
           "float_accuracy": None if labels is None else reference.accuracy(labels),
           "accuracy": None if labels is None else deployed.accuracy(labels),
           "output": output_agreement(aligned.output, output, program.output_is_graded),
           "nodes": {name: entry.as_dict() for name, entry in nodes.items()},
           "spikes": deployed.spike_count / x.shape[1],
           "graded_values": deployed.graded_values / x.shape[1],
           "energy": energy_entry(cost.energy)}
    return row, layer_labels(network, program)


def merge_sweeps(sweeps: Sequence[dict]) -> dict:
    """Sweeps over several windows as one: the rows of all, the first window's float figures."""
    first = sweeps[0]
    return {**first, "rows": [row for sweep in sweeps for row in sweep["rows"]]}


def is_ann(source: Path | object) -> bool:
    """True for an .onnx file, or an nn.Module or .pt model holding ReLU layers (an ANN to
    convert first)."""
    from torch import nn

    from neurodeploy.io.model_file import load_torch_file

    if isinstance(source, nn.Module):
        return any(isinstance(m, nn.ReLU) for m in source.modules())
    path = Path(source)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return True
    if suffix not in (".pt", ".pth") or not Path(path).is_file():
        return False
    return any(isinstance(m, nn.ReLU) for m in load_torch_file(Path(path)).modules())


def snn_from_ann(source: Path | object, data_path: Path, timesteps: int | None
                 ) -> tuple[ir.Network, np.ndarray, np.ndarray | None]:
    """ann2snn with its defaults on static data; returns the SNN and the data it should see."""
    from neurodeploy.frontend.ann2snn import ann2snn
    from neurodeploy.io.data import encode, read_static

    x, y = read_static(data_path)
    steps = 32 if timesteps is None else timesteps
    conversion = ann2snn(source, x, y, timesteps=steps, spike="single")
    return conversion.network, encode(x, steps, "direct"), y


__all__ = ["assess", "bit_sweep", "calibration_note", "deploy", "evaluate", "is_ann", "merge_sweeps",
           "snn_from_ann", "split_calibration", "sweep_row", "DEPLOY_PHASES", "Progress"]
