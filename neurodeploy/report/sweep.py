"""Bit-width sweep rendered: a Markdown table and a PNG of accuracy against weight bits."""

from __future__ import annotations

from pathlib import Path

from neurodeploy.report.plotting import line_plot


def _db(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.1f}"


def sweep_markdown(sweep: dict) -> str:
    """The sweep as a Markdown table."""
    names = list(sweep["rows"][0]["nodes"]) if sweep["rows"] else []
    header = ["weight bits", "accuracy", "identical output"] + [f"SQNR {n} (dB)" for n in names] + [
        "spikes", "energy total (nJ)", "energy dynamic (nJ)"]
    lines = [f"# Bit-width sweep: target `{sweep['target']}`", ""]
    if sweep["float_accuracy"] is not None:
        lines += [f"Float accuracy {100 * sweep['float_accuracy']:.2f} %; float spikes per sample "
                  f"{sweep['float_spikes']:.1f}.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in sweep["rows"]:
        accuracy = "n/a" if row["accuracy"] is None else f"{100 * row['accuracy']:.2f} %"
        cells = [str(row["weight_bits"]), accuracy, f"{100 * row['identical_output_fraction']:.2f} %"]
        cells += [_db(row["nodes"][n]["sqnr_db"]) for n in names]
        cells += [f"{row['spikes']:.1f}", f"{row['energy_total_pj'] / 1e3:.1f}",
                  f"{row['energy_dynamic_pj'] / 1e3:.1f}"]
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
