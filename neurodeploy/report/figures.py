"""The report's pictures as PNG bytes (matplotlib, headless): spike rasters, firing-rate
histograms, activity per layer over time, latency distribution, per-core utilisation on the
mesh, and the sweep's accuracy and per-layer SQNR against weight bits."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np

RASTER_NEURONS = 256  # neurons shown per raster


def _figure(width: float = 6.0, height: float = 3.2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt, *plt.subplots(figsize=(width, height), dpi=90)


def _png(plt, figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def raster(values: np.ndarray, title: str, sample: int = 0) -> bytes:
    """Spikes (or non-zero graded values) of one sample: neuron against step, `(T, B, ...)`."""
    plt, figure, axis = _figure()
    frame = values[:, sample].reshape(values.shape[0], -1)[:, :RASTER_NEURONS]
    steps, neurons = np.nonzero(frame)
    axis.scatter(steps, neurons, s=4, marker="|", color="black")
    axis.set_xlim(-0.5, frame.shape[0] - 0.5)
    axis.set_ylim(-0.5, frame.shape[1] - 0.5)
    axis.set_xlabel("time step")
    axis.set_ylabel("neuron")
    axis.set_title(title)
    return _png(plt, figure)


def rate_histogram(values: np.ndarray, title: str) -> bytes:
    """Firing rate per neuron (non-zero outputs per step, mean over samples)."""
    plt, figure, axis = _figure()
    rates = (values.reshape(*values.shape[:2], -1) != 0).mean(axis=(0, 1))
    axis.hist(rates, bins=20, range=(0, 1), color="tab:blue")
    axis.set_xlabel("firing rate (events per step)")
    axis.set_ylabel("neurons")
    axis.set_title(title)
    return _png(plt, figure)


def activity_over_time(layers: Mapping[str, np.ndarray], title: str) -> bytes:
    """Per layer, the fraction of neurons with a non-zero output at each step (mean over
    samples)."""
    plt, figure, axis = _figure()
    for name, values in layers.items():
        active = (values.reshape(*values.shape[:2], -1) != 0).mean(axis=(1, 2))
        axis.plot(np.arange(len(active)), 100 * active, "o-", markersize=3, label=name)
    axis.set_xlabel("time step")
    axis.set_ylabel("active neurons (%)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return _png(plt, figure)


def latency_histogram(profile: dict) -> bytes:
    """Per-step latency distribution of the cycle-level simulation, with the formula's line."""
    plt, figure, axis = _figure()
    histogram = profile["histogram"]
    edges = np.asarray(histogram["edges"])
    axis.bar(edges[:-1], histogram["counts"], width=np.diff(edges), align="edge",
             color="tab:orange", label="simulated steps")
    for key, style in (("median", "-"), ("p99", "--")):
        axis.axvline(profile["per_step"][key], color="black", linestyle=style, label=key)
    if profile.get("formula_per_step"):
        axis.axvline(profile["formula_per_step"], color="tab:blue", label="formula")
    axis.set_xlabel(f"latency per step ({profile['unit']})")
    axis.set_ylabel("steps x samples")
    axis.set_title("latency per step")
    axis.legend(fontsize=8)
    return _png(plt, figure)


def utilisation_heatmap(profile: dict, columns: int, cores: int) -> bytes:
    """Per-core utilisation on the mesh (core c at column c mod columns, row c // columns)."""
    plt, figure, axis = _figure(6.0, 3.6)
    grid = np.full((max(1, -(-cores // columns)), columns), np.nan)
    for core in profile["cores"]:
        grid[core["core"] // columns, core["core"] % columns] = 100 * core["utilisation"]
    image = axis.imshow(grid, cmap="viridis", vmin=0, vmax=100)
    figure.colorbar(image, ax=axis, label="utilisation (%)")
    axis.set_xlabel("mesh column")
    axis.set_ylabel("mesh row")
    axis.set_title("per-core utilisation (blank: unused)")
    return _png(plt, figure)


def sweep_lines(widths: list[int], series: Mapping[str, list[float | None]], ylabel: str,
                title: str, reference: float | None = None) -> bytes:
    """One line per series against weight bits (None: not measured)."""
    plt, figure, axis = _figure()
    for label, values in series.items():
        axis.plot(widths, [np.nan if v is None else v for v in values], "o-", label=label)
    if reference is not None:
        axis.axhline(reference, color="grey", linestyle="--", label="float")
    axis.set_xticks(widths, [str(w) for w in widths])
    axis.set_xlabel("weight bits")
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return _png(plt, figure)
