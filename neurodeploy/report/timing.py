"""The cycle-level simulation in report.md: per-step latency distribution against the formula,
per-core utilisation and stalls, hot spots."""

from __future__ import annotations


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def timing_markdown(profile: dict) -> list[str]:
    """Lines of the "Cycle-level simulation" section of report.md."""
    unit, per_step = profile["unit"], profile["per_step"]
    formula = profile["formula_per_step"]
    lines = ["", "## Cycle-level simulation", "",
             f"{profile['samples']} samples x {profile['steps']} steps simulated on the core "
             f"array (per-core pipelines, 2-D mesh with contention, barrier), driven by the golden "
             f"model's events. Per step, in {unit}:", "",
             _row("min", "median", "p99", "max", "mean", "formula (mean activity)"),
             _row(*["---"] * 6),
             _row(*(f"{per_step[k]:,.0f}" for k in ("min", "median", "p99", "max", "mean")),
                  "n/a" if formula is None else f"{formula:,.0f}")]
    if formula:
        lines += ["", f"Mean / formula {profile['mean_over_formula']:.3f}; p99 / formula "
                      f"{profile['p99_over_formula']:.3f}. Per inference (all steps) "
                      f"{profile['per_inference_mean']:,.0f} {unit} on average."]
    lines += ["", _row("core", "nodes", "utilisation", "stalled"), _row("---", "---", "---", "---")]
    lines += [_row(c["core"], ", ".join(c["nodes"]), f"{100 * c['utilisation']:.1f} %",
                   f"{100 * c['stall_fraction']:.1f} %") for c in profile["cores"]]
    links = ", ".join(f"{link['link']} ({link['packets_per_sample']:,.0f} packets per sample)"
                      for link in profile["hot_links"])
    lines += ["", f"Hot spots: cores {', '.join(map(str, profile['hot_cores']))}; links "
                  f"{links or 'none'}; packets waited {profile['packet_wait_per_sample']:,.0f} "
                  f"{unit} per sample at busy links."]
    return lines
