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


def output_figure(row: dict) -> float | str | None:
    """A row's output agreement: rate spike agreement (spiking output) or SQNR (graded)."""
    output = row["output"]
    return output["sqnr_db"] if output["graded"] else output["spikes"]["rate"]


def node_figure(entry: dict) -> str:
    """A layer's cell: rate / timing spike agreement, or SQNR of graded values; membrane SQNR."""
    spikes = entry.get("spikes")
    cell = (f"{100 * spikes['rate']:.1f} / {100 * spikes['timing']:.1f} %" if spikes
            else f"{_db(entry.get('sqnr_db'))} dB")
    membrane = entry.get("membrane_sqnr_db")
    return cell + ("" if membrane is None else f"; v {_db(membrane)} dB")


def sweep_markdown(sweep: dict) -> str:
    """The sweep as a Markdown table (window and activation columns when they vary)."""
    rows = sweep["rows"]
    names = list(rows[0]["nodes"]) if rows else []
    labels = sweep.get("labels", {})
    windows = _varied(rows, "window")
    activations = any(row.get("activation_bits") is not None for row in rows)
    graded_output = bool(rows) and rows[0]["output"]["graded"]
    header = (["window"] if windows else []) + ["weight bits"] + (
        ["activation bits"] if activations else []) + (["float accuracy"] if windows else []) + [
        "accuracy", "output SQNR (dB)" if graded_output else "output spike agreement"] + [
        labels.get(n, n) for n in names] + [
        "spikes", "graded values", "energy dynamic / static / total (nJ)"]
    lines = [f"# Bit-width sweep: target `{sweep['target']}`", ""]
    if sweep["float_accuracy"] is not None and not windows:
        lines += [f"Float accuracy {100 * sweep['float_accuracy']:.2f} %; float spikes per sample "
                  f"{sweep['float_spikes']:.1f}.", ""]
    if "calibration" in sweep:
        lines += [f"Calibration: {sweep['calibration']['data']} "
                  f"({sweep['calibration']['samples']} samples used).", ""]
    lines += ["Layers: rate / timing spike agreement with float (2 sum min(a, b) / (sum a + "
              "sum b), per neuron over the window / per step) or SQNR of graded values; v: "
              "membrane SQNR.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        accuracy = "n/a" if row["accuracy"] is None else f"{100 * row['accuracy']:.2f} %"
        cells = ([str(row["window"])] if windows else []) + [str(row["weight_bits"])]
        cells += [str(row["activation_bits"])] if activations else []
        if windows:
            cells.append("n/a" if row["float_accuracy"] is None
                         else f"{100 * row['float_accuracy']:.2f} %")
        figure = output_figure(row)
        cells += [accuracy, _db(figure) if graded_output else f"{100 * figure:.1f} %"]
        cells += [node_figure(row["nodes"][n]) for n in names]
        energy = row["energy"]
        cells += [f"{row['spikes']:.1f}", f"{row['graded_values']:.1f}",
                  f"{energy['dynamic_pj'] / 1e3:.1f} / {energy['static_pj'] / 1e3:.1f} / "
                  f"{energy['total_pj'] / 1e3:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot_sweep(sweep: dict, path: Path) -> None:
    """PNG: accuracy (or output spike agreement) against weight bits, one line per window and
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
        series[label] = ([100 * chosen[w]["accuracy"] if labelled else
                          _percent_or_db(chosen[w]) for w in widths], "o-")
    graded = bool(rows) and rows[0]["output"]["graded"]
    line_plot(path, widths, series,
              ("float", 100 * sweep["float_accuracy"]) if labelled else None, "weight bits",
              "accuracy (%)" if labelled else
              "output SQNR (dB)" if graded else "output spike agreement (%)",
              f"accuracy vs weight bits: {sweep.get('model', 'model')} on `{sweep['target']}`")


def _percent_or_db(row: dict) -> float:
    figure = output_figure(row)
    if isinstance(figure, str):  # an infinite SQNR: identical outputs
        return float(figure)
    return figure if row["output"]["graded"] else 100 * figure
