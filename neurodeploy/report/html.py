"""One self-contained HTML page per report (every picture embedded as a data: URI): the
deployment's rasters, firing rates, activity over time, latency and core utilisation, or the
sweep's accuracy and per-layer SQNR against weight bits; the Markdown report follows as text."""

from __future__ import annotations

import base64
import html

import numpy as np

from neurodeploy.engine.result import SimulationResult
from neurodeploy.report import figures
from neurodeploy.report.markdown import output_sentence


def _image(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}"></figure>'


def _page(title: str, parts: list[str], markdown: str) -> str:
    style = ("body{font-family:sans-serif;max-width:1300px;margin:1em auto;padding:0 1em}"
             "figure{display:inline-block;margin:4px}img{max-width:600px}"
             "pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px}")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
            f"{html.escape(title)}</title><style>{style}</style></head><body>"
            f"<h1>{html.escape(title)}</h1>{''.join(parts)}"
            f"<h2>Report</h2><pre>{html.escape(markdown)}</pre></body></html>\n")


def deployment_html(report: dict, deployed: SimulationResult, markdown: str) -> str:
    """The deployment report page; `deployed` is the golden run with recorded outputs."""
    labels = report.get("labels", {})
    layers = {labels.get(n, n): deployed.node_outputs[n] for n in deployed.spikes
              if n in deployed.node_outputs}
    parts = []
    if "accuracy" in report:
        accuracy = report["accuracy"]
        parts.append(f"<p><b>Accuracy</b>: float {100 * accuracy['float']:.2f} %, deployed "
                     f"{100 * accuracy['quantized']:.2f} % ({accuracy['delta_pp']:+.2f} pp).</p>")
    parts.append(f"<p>{html.escape(output_sentence(report['agreement']['output']))}</p>")
    parts.append("<h2>Spikes per layer (sample 0)</h2>")
    for name, values in layers.items():
        parts.append(_image(figures.raster(values, f"raster: {name}"), f"raster {name}"))
        parts.append(_image(figures.rate_histogram(values, f"firing rates: {name}"),
                            f"firing rates {name}"))
    if layers:
        parts.append(_image(figures.activity_over_time(layers, "activity per layer"),
                            "activity per layer over time"))
    profile = report.get("cycle_simulation")
    if profile is not None:
        parts.append("<h2>Time</h2>")
        parts.append(_image(figures.latency_histogram(profile), "latency distribution"))
        parts.append(_image(figures.utilisation_heatmap(
            profile, profile["mesh_columns"], report["mapping"]["cores_available"]),
            "per-core utilisation"))
    return _page(f"neurodeploy report: target {report['target']}", parts, markdown)


def _node_series(rows: list[dict], names: list[str], labels: dict) -> dict[str, list]:
    """Per layer, SQNR of graded values or of the membrane per row (dB; None if not measured)."""
    series = {}
    for name in names:
        for key, suffix in (("sqnr_db", ""), ("membrane_sqnr_db", " membrane")):
            values = [row["nodes"].get(name, {}).get(key) for row in rows]
            if any(v is not None for v in values):
                series[labels.get(name, name) + suffix] = [
                    None if v is None else float(v) if not isinstance(v, str) else np.nan
                    for v in values]
    return series


def sweep_html(sweep: dict, markdown: str) -> str:
    """The sweep page: accuracy, output agreement and per-layer SQNR against weight bits (the
    first window and activation width)."""
    rows = sweep["rows"]
    first = (rows[0]["window"], rows[0]["activation_bits"])
    rows = sorted((r for r in rows if (r["window"], r["activation_bits"]) == first),
                  key=lambda r: r["weight_bits"])
    widths = [r["weight_bits"] for r in rows]
    labels = sweep.get("labels", {})
    parts = []
    if sweep["float_accuracy"] is not None:
        parts.append(_image(figures.sweep_lines(
            widths, {"deployed": [100 * r["accuracy"] for r in rows]}, "accuracy (%)",
            f"accuracy vs weight bits on {sweep['target']}", 100 * sweep["float_accuracy"]),
            "accuracy vs bits"))
    spiking = [r for r in rows if not r["output"]["graded"]]
    if spiking:
        parts.append(_image(figures.sweep_lines(
            widths, {"rate": [100 * r["output"]["spikes"]["rate"] for r in rows],
                     "timing": [100 * r["output"]["spikes"]["timing"] for r in rows]},
            "spike agreement (%)", "output spike agreement with float"), "agreement vs bits"))
    series = _node_series(rows, list(rows[0]["nodes"]) if rows else [], labels)
    if series:
        parts.append(_image(figures.sweep_lines(widths, series, "SQNR (dB)",
                                                "per-layer SQNR vs weight bits"),
                            "per-layer SQNR vs bits"))
    return _page(f"bit-width sweep: {sweep.get('model', '')} on {sweep['target']}", parts,
                 markdown)
