"""One small line-plot helper for the report PNGs (matplotlib, headless, deterministic)."""

from __future__ import annotations

from pathlib import Path


def line_plot(path: Path, x: list[float], series: dict[str, tuple[list[float], str]],
              reference: tuple[str, float] | None, xlabel: str, ylabel: str, title: str,
              log2_x: bool = False) -> None:
    """Save a PNG with one line per `series` entry (label -> (values, style)) and an optional
    horizontal reference line (label, value)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4), dpi=100)
    for label, (values, style) in series.items():
        axis.plot(x, values, style, label=label)
    if reference is not None:
        axis.axhline(reference[1], color="grey", linestyle="--", label=reference[0])
    if log2_x:
        axis.set_xscale("log", base=2)
    axis.set_xticks(x, [str(v) for v in x])
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)
