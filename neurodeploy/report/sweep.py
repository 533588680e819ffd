"""Bit-width sweep: accuracy, per-layer agreement, spikes and energy at each weight width."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.cost.model import cost_report
from neurodeploy.pipeline import convert
from neurodeploy.report.build import layer_agreement, layer_delays
from neurodeploy.report.plotting import line_plot
from neurodeploy.sim.float_engine import simulate_network
from neurodeploy.sim.int_engine import simulate_program
from neurodeploy.targets.registry import get_target


def bit_sweep(network: ir.Network, x: np.ndarray, labels: np.ndarray | None, target: str,
              bits: Iterable[int], step: Callable[[], None] = lambda: None) -> dict:
    """Quantize at each weight width in `bits` and measure it against the float reference."""
    chosen = get_target(target)
    float_result = simulate_network(network, x, record_layers=True)
    rows = []
    for width in bits:
        program = convert(network, target, x, weight_bits=width)
        result = simulate_program(program, x, record_layers=True)
        costs = cost_report(program, result, chosen.energy(program), width)
        delays = layer_delays(program)
        agreement = layer_agreement(float_result, result, delays)
        lag = delays[program.layers[-1].name]
        aligned = result.output[lag:lag + float_result.output.shape[0]]
        rows.append({
            "weight_bits": width,
            "accuracy": None if labels is None else result.accuracy(labels),
            "identical_output_fraction": float(np.mean(aligned == float_result.output)),
            "layers": {name: {"sqnr_db": float(a["sqnr_db"]),
                              "identical_fraction": a["identical_fraction"]}
                       for name, a in agreement.items()},
            "spikes": costs["totals"]["spikes"], "energy_pj": costs["totals"]["energy_pj"]})
        step()
    return {"target": target, "float_accuracy": None if labels is None
            else float_result.accuracy(labels), "float_spikes": float_result.total_spikes /
            x.shape[1], "rows": rows}


def sweep_markdown(sweep: dict) -> str:
    """The sweep as a Markdown table."""
    names = list(sweep["rows"][0]["layers"]) if sweep["rows"] else []
    header = ["weight bits", "accuracy", "identical output"] + [f"SQNR {n} (dB)" for n in names] + [
        "spikes", "energy (nJ)"]
    lines = [f"# Bit-width sweep: target `{sweep['target']}`", ""]
    if sweep["float_accuracy"] is not None:
        lines += [f"Float accuracy {100 * sweep['float_accuracy']:.2f} %; float spikes per sample "
                  f"{sweep['float_spikes']:.1f}.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in sweep["rows"]:
        accuracy = "n/a" if row["accuracy"] is None else f"{100 * row['accuracy']:.2f} %"
        cells = [str(row["weight_bits"]), accuracy, f"{100 * row['identical_output_fraction']:.2f} %"]
        cells += [f"{row['layers'][n]['sqnr_db']:.1f}" for n in names]
        cells += [f"{row['spikes']:.1f}", f"{row['energy_pj'] / 1e3:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_sweep(sweep: dict, path: Path) -> None:
    """PNG: accuracy (or output agreement) against weight bits, with the float line."""
    labelled = sweep["float_accuracy"] is not None
    values = [100 * (row["accuracy"] if labelled else row["identical_output_fraction"])
              for row in sweep["rows"]]
    line_plot(path, [row["weight_bits"] for row in sweep["rows"]], {"quantized": (values, "o-")},
              ("float", 100 * sweep["float_accuracy"]) if labelled else None, "weight bits",
              "accuracy (%)" if labelled else "outputs identical to float (%)",
              f"target {sweep['target']}")
