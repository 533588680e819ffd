"""Files of an ANN-to-SNN conversion: the SNN (.pt or .nir) and its report (.json, .md, .png)."""

from __future__ import annotations

from pathlib import Path

import torch

from neurodeploy.artifacts import write_json
from neurodeploy.frontend.ann2snn import Conversion
from neurodeploy.io.nir_write import write_network
from neurodeploy.report.plotting import line_plot


def plot_curve(report: dict, path: Path) -> None:
    """PNG: SNN accuracy against timesteps, plain and converted, with the ANN line."""
    curve = report["curve"]
    line_plot(path, curve["timesteps"],
              {"plain sinabs.from_model": ([100 * a for a in curve["plain"]], "s--"),
               "normalised + balanced": ([100 * a for a in curve["converted"]], "o-")},
              ("ANN", 100 * report["ann_accuracy"]), "timesteps", "accuracy (%)",
              f"{report['spike']}-spike IAF, {report['encoding']} input", log2_x=True)


def conversion_markdown(report: dict) -> str:
    lines = ["# ANN to SNN conversion", "",
             f"{report['spike']}-spike IAF neurons, {report['encoding']} input, "
             f"{report['timesteps']} steps; normalised: {report['normalised']} "
             f"(percentile {report['percentile']}).", ""]
    if "ann_accuracy" in report:
        lines += [f"ANN {100 * report['ann_accuracy']:.2f} %; SNN {100 * report['snn_accuracy']:.2f} %"
                  f" ({report['delta_pp']:+.2f} pp); plain sinabs.from_model "
                  f"{100 * report['plain_accuracy']:.2f} %.", "",
                  "| timesteps | plain | converted |", "| --- | --- | --- |"]
        curve = report["curve"]
        for steps, plain, ours in zip(curve["timesteps"], curve["plain"], curve["converted"],
                                      strict=True):
            lines.append(f"| {steps} | {100 * plain:.2f} % | {100 * ours:.2f} % |")
        lines.append("")
    lines += [f"Spikes per inference: {report['spikes_per_inference']:.0f}.", "",
              "| layer | normalisation lambda |", "| --- | --- |"]
    lines += [f"| {f['layer']} | {f['lambda']:.4g} |" for f in report["normalisation"]]
    lines += ["", "| layer | balancing input scale | rate MSE | unbalanced |",
              "| --- | --- | --- | --- |"]
    lines += [f"| {b['layer']} | {b['input_scale']} | {b['rate_mse']:.3g} | "
              f"{b['rate_mse_unbalanced']:.3g} |" for b in report["balancing"]]
    return "\n".join(lines) + "\n"


def write_conversion(conversion: Conversion, directory: Path, name: str) -> list[str]:
    """Write the SNN as `name` (.pt: torch.save of the model; .nir) plus report files."""
    stem = Path(name).stem
    if name.lower().endswith(".nir"):
        write_network(conversion.network, directory / name)
    else:
        torch.save(conversion.model, directory / name)
    names = [name, f"{stem}.report.json", f"{stem}.report.md"]
    write_json(directory / names[1], conversion.report)
    (directory / names[2]).write_text(conversion_markdown(conversion.report))
    if "curve" in conversion.report:
        names.append(f"{stem}.accuracy_vs_timesteps.png")
        plot_curve(conversion.report, directory / names[3])
    return names
