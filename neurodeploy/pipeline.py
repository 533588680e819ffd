"""Whole jobs over the API: evaluate a deployment, write its artifact directory, sweep bit widths.

A job converts for a target, runs the float reference and the golden model on the same data,
asks the target to place and price the program, and hands the figures to `neurodeploy.report`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.api import check_input, convert
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
from neurodeploy.report.build import (
    as_deployed_sees_time,
    build_report,
    node_agreement,
    node_delays,
)
from neurodeploy.report.markdown import render_markdown
from neurodeploy.targets.registry import get_target


def evaluate(network: ir.Network, program: Program, x: np.ndarray,
             labels: np.ndarray | None) -> dict:
    """The report of `program` against `network` on `x` (see `neurodeploy.report.build`)."""
    target = get_target(program.target)
    reference = simulate_network(network, x, record_outputs=True)
    deployed = simulate_program(program, x, record_outputs=True)
    placement = target.place(program)
    return build_report(network, program, reference, deployed, placement,
                        target.cost(program, deployed, placement), labels)


def deploy(network: ir.Network, target: str, out: Path, x: np.ndarray, labels: np.ndarray | None,
           options: dict, inputs: Sequence[Path | None] = (),
           calibration: np.ndarray | None = None) -> dict:
    """Convert (calibrating on `calibration`, or on `x` when None) and evaluate on `x`; write
    OUT/: model.nir, program.{json,npz,nir}, the target's artifacts, mapping.json,
    report.{json,md} and last neurodeploy-manifest.json. OUT is swapped in whole
    (`neurodeploy.artifacts.output_directory`): it may not hold or be one of `inputs` (the files
    the network and data came from). Returns the report."""
    x = check_input(x, network.input_shape)
    calibration = x if calibration is None else check_input(calibration, network.input_shape)
    program = convert(network, target, calibration, **options)
    chosen = get_target(target)
    report = evaluate(network, program, x, labels)
    report["calibration"] = {"samples": int(min(calibration.shape[1], MAX_SAMPLES)),
                             "data": "the evaluation data" if calibration is x
                             else "separate calibration data"}
    with output_directory(Path(out), inputs, OutputKind.CONVERT) as staging:
        try:
            write_network(network, staging / "model.nir")
        except UnsupportedModelError:
            pass  # e.g. a GRU: NIR has no node for it; the program files hold the network
        save_program(program, staging)
        write_program_nir(program, staging / "program.nir")
        chosen.emit(program, staging)
        write_json(staging / "mapping.json", report["mapping"])
        write_json(staging / "report.json", report)
        (staging / "report.md").write_text(render_markdown(report))
    return report


def bit_sweep(network: ir.Network, x: np.ndarray, labels: np.ndarray | None, target: str,
              bits: Iterable[int], step: Callable[[], None] = lambda: None,
              activation_bits: Sequence[int | None] = (None,), window: int | None = None,
              workers: int = 1) -> dict:
    """Convert at each weight width in `bits` (and each activation width, for targets that
    have one) and measure it against the float reference; rows carry the window length.

    With `workers` > 1 the rows are computed in that many processes (spawned: torch is not
    fork-safe); every row is a deterministic function of its widths, so the sweep is the same
    bit for bit, in the same order. `step` is called as each row finishes."""
    x = check_input(x, network.input_shape)
    reference = simulate_network(network, x, record_outputs=True)
    float_accuracy = None if labels is None else reference.accuracy(labels)
    jobs = [(width, activation) for width in bits for activation in activation_bits]
    common = (network, x, labels, target, reference, window or x.shape[0])
    if workers <= 1:
        rows = []
        for width, activation in jobs:
            rows.append(sweep_row(*common, width, activation))
            step()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(workers, multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(sweep_row, *common, *job): k for k, job in enumerate(jobs)}
            found: dict[int, dict] = {}
            for future in as_completed(futures):
                found[futures[future]] = future.result()
                step()
        rows = [found[k] for k in range(len(jobs))]
    return {"target": target, "float_accuracy": float_accuracy,
            "float_spikes": reference.total_spikes / x.shape[1], "rows": rows}


def sweep_row(network: ir.Network, x: np.ndarray, labels: np.ndarray | None, target: str,
              reference: SimulationResult, window: int, width: int, activation: int | None
              ) -> dict:
    """One row of `bit_sweep`: convert at these widths, run, compare, price."""
    chosen = get_target(target)
    float_accuracy = None if labels is None else reference.accuracy(labels)
    options = {"weight_bits": width} | ({} if activation is None
                                       else {"activation_bits": activation})
    program = convert(network, target, x, **options)
    deployed = simulate_program(program, x, record_outputs=True)
    placement = chosen.place(program)
    cost = chosen.cost(program, deployed, placement)
    aligned = as_deployed_sees_time(reference, program)
    lag = program.latency
    output = deployed.output[lag:lag + aligned.output.shape[0]]
    return {
        "weight_bits": width, "activation_bits": activation, "window": window,
        "float_accuracy": float_accuracy,
        "accuracy": None if labels is None else deployed.accuracy(labels),
        "identical_output_fraction": float(np.mean(output == aligned.output)),
        "nodes": node_agreement(aligned, deployed, node_delays(program)),
        "spikes": deployed.total_spikes / x.shape[1],
        "energy_total_pj": cost.energy.total_pj,
        "energy_dynamic_pj": cost.energy.dynamic_pj}


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


__all__ = ["bit_sweep", "deploy", "sweep_row", "evaluate", "is_ann", "merge_sweeps", "snn_from_ann"]
