"""Bit-width sweep rendered: a Markdown table and a PNG of accuracy against weight bits."""

from __future__ import annotations

from pathlib import Path

from neurodeploy.report.plotting import line_plot


def _db(value: float | str | None) -> str:
    if value is None:
        return "n/a"
    return value if isinstance(value, str) else f"{value:.1f}"


def _varied(rows: list[dict], key: str) -> bool:
    """True when the rows differ in `key` (a window or activation width was swept)."""
    return len({row.get(key) for row in rows}) > 1


def sweep_markdown(sweep: dict) -> str:
    """The sweep as a Markdown table (window and activation columns when they vary)."""
    rows = sweep["rows"]
    names = list(rows[0]["nodes"]) if rows else []
    windows = _varied(rows, "window")
    activations = any(row.get("activation_bits") is not None for row in rows)
    header = (["window"] if windows else []) + ["weight bits"] + (
        ["activation bits"] if activations else []) + (["float accuracy"] if windows else []) + [
        "accuracy", "identical output"] + [f"SQNR {n} (dB)" for n in names] + [
        "spikes", "energy total (nJ)", "energy dynamic (nJ)"]
    lines = [f"# Bit-width sweep: target `{sweep['target']}`", ""]
    if sweep["float_accuracy"] is not None and not windows:
        lines += [f"Float accuracy {100 * sweep['float_accuracy']:.2f} %; float spikes per sample "
                  f"{sweep['float_spikes']:.1f}.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        accuracy = "n/a" if row["accuracy"] is None else f"{100 * row['accuracy']:.2f} %"
        cells = ([str(row["window"])] if windows else []) + [str(row["weight_bits"])]
        cells += [str(row["activation_bits"])] if activations else []
        if windows:
            cells.append("n/a" if row["float_accuracy"] is None
                         else f"{100 * row['float_accuracy']:.2f} %")
        cells += [accuracy, f"{100 * row['identical_output_fraction']:.2f} %"]
        cells += [_db(row["nodes"][n]["sqnr_db"]) for n in names]
        cells += [f"{row['spikes']:.1f}", f"{row['energy_total_pj'] / 1e3:.1f}",
                  f"{row['energy_dynamic_pj'] / 1e3:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_sweep(sweep: dict, path: Path) -> None:
    """PNG: accuracy (or output agreement) against weight bits, one line per window and
    activation width, with the float line."""
    rows = sweep["rows"]
    labelled = sweep["float_accuracy"] is not None
    widths = sorted({row["weight_bits"] for row in rows})
    series = {}
    for window, activation in dict.fromkeys((r["window"], r["activation_bits"]) for r in rows):
        label = ", ".join(([f"T={window}"] if _varied(rows, "window") else []) + (
            [f"{activation}-bit activations"] if activation is not None else [])) or "quantized"
        chosen = {r["weight_bits"]: r for r in rows
                  if (r["window"], r["activation_bits"]) == (window, activation)}
        series[label] = ([100 * (chosen[w]["accuracy"] if labelled
                                 else chosen[w]["identical_output_fraction"]) for w in widths],
                         "o-")
    line_plot(path, widths, series,
              ("float", 100 * sweep["float_accuracy"]) if labelled else None, "weight bits",
              "accuracy (%)" if labelled else "outputs identical to float (%)",
              f"target {sweep['target']}")
