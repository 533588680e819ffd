"""report.json -> a readable report.md."""

from __future__ import annotations

from neurodeploy.report.timing import timing_markdown


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _num(value: float | str | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def _detail(value: object) -> list[str]:
    """A target's detail: a two-column table for a mapping of scalars, else a JSON block."""
    import json

    if isinstance(value, dict) and all(isinstance(v, int | float | str | None)
                                       for v in value.values()):
        return ["| item | value |", "| --- | --- |",
                *(_row(k, _num(v, 1) if isinstance(v, float) else v) for k, v in value.items())]
    if isinstance(value, int | float | str):
        return [_num(value, 1) if isinstance(value, float) else str(value)]
    return ["```json", json.dumps(value, indent=1, sort_keys=True, default=str), "```"]


def _cores(cores: list[int]) -> str:
    return str(cores[0]) if len(cores) == 1 else f"{cores[0]}-{cores[-1]}" if \
        cores == list(range(cores[0], cores[-1] + 1)) else ", ".join(map(str, cores))


def _placement(mapping: dict) -> list[str]:
    """Where each node sits and how full its cores are (each resource: used / available)."""
    kinds = sorted({kind for node in mapping["nodes"] for kind in node.get("usage", {})})
    unit = mapping["unit"]
    lines = ["", "## Placement", "", _row("node", f"{unit}s", "neurons per " + unit,
                                          *(f"{kind} per {unit}" for kind in kinds)),
             _row(*["---"] * (3 + len(kinds)))]
    for node in mapping["nodes"]:
        usage = node.get("usage", {})
        lines.append(_row(node["node"], _cores(node["cores"]), node["neurons_per_core"], *(
            f"{usage[k]['used']:,.0f} / {usage[k]['available']:,.0f} "
            f"({100 * usage[k]['fraction']:.1f} %)" if k in usage else "" for k in kinds)))
    return lines


def _fraction(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def energy_cell(energy: dict) -> str:
    """Energy per sample, labelled: dynamic / static / total."""
    return (f"{energy['dynamic_pj'] / 1e6:.3f} / {energy['static_pj'] / 1e6:.3f} / "
            f"{energy['total_pj'] / 1e6:.3f} uJ")


def output_sentence(output: dict) -> str:
    """How the deployed output agrees with float: spike agreement, or SQNR when graded."""
    if output["graded"]:
        return (f"Output (graded) SQNR {_num(output['sqnr_db'])} dB against float, largest "
                f"error {output['max_abs_error']:.4g}.")
    spikes = output["spikes"]
    kept = "n/a" if spikes["active_kept"] is None else f"{100 * spikes['active_kept']:.1f} %"
    return (f"Output spike agreement with float: rate {100 * spikes['rate']:.1f} %, timing "
            f"{100 * spikes['timing']:.1f} %; {kept} of the output neurons firing in float "
            f"fire deployed ({100 * spikes['active_fraction_float']:.1f} % of neurons x "
            f"samples fire in float, {100 * spikes['active_fraction_deployed']:.1f} % deployed).")


def accuracy_line(accuracy: dict, deployed_name: str = "deployed") -> list[str]:
    """The bold accuracy sentence of a report (and a blank line)."""
    return [f"**Accuracy**: float {100 * accuracy['float']:.2f} %, {deployed_name} "
            f"{100 * accuracy['quantized']:.2f} % ({accuracy['delta_pp']:+.2f} pp).", ""]


def time_cells(report: dict) -> list[list[str]]:
    """Rows for time: cycles where the target has a clock, algorithmic steps otherwise."""
    cycles, time = report["cycles"], report["time"]
    rows = [["time steps", f"{time['steps']:,}"]]
    if cycles.get("total") is not None:
        rows.append(["cycles", f"{cycles['total']:,.0f} ({cycles['per_step']:,.0f} per step)"])
        rows.append(["latency", f"{cycles['latency_s'] * 1e6:.1f} us at "
                                f"{cycles['clock_hz'] / 1e6:.0f} MHz"])
    else:
        per_step = f" ({time['step_ns']:.0f} ns per step)" if time.get("step_ns") else ""
        rows.append(["latency", f"{time['latency_s'] * 1e6:.1f} us{per_step}"])
    return rows


def render_markdown(report: dict) -> str:
    """The report as Markdown: summary, per-node table, placement, and where figures come from."""
    options = report["quantization"]["options"]
    lines = [f"# neurodeploy report: target `{report['target']}`", "",
             f"{report['samples']} samples x {report['timesteps']} steps"
             + (" (collapsed into one frame; outputs compared as sums over the window)"
                if report.get("frames") else "") + "; options: "
             + ", ".join(f"{k} {v}" for k, v in sorted(options.items())) + ".", ""]
    if "accuracy" in report:
        lines += accuracy_line(report["accuracy"])
    agreement = report["agreement"]
    lines += [output_sentence(agreement["output"]), ""]
    if "calibration" in report:
        lines += [f"Calibration: {report['calibration']['data']} "
                  f"({report['calibration']['samples']} samples used).", ""]
    energy = report["energy"]
    lines += ["## Per sample", "", _row("quantity", "value"), _row("---", "---"),
              _row("spikes (spiking nodes only)", _num(report["spikes"]["total"])),
              _row("non-zero graded values (readouts, graded spikes)",
                   _num(sum(report["spikes"].get("graded_values_per_node", {}).values()))),
              _row("synaptic operations (effective)", _num(report["synops"]["total"], 0)),
              _row("synaptic operations (dense)", _num(report["synops"]["dense"], 0)),
              _row("energy, dynamic / static / total", energy_cell(energy))]
    if energy.get("dense_ann_pj") is not None:
        lines.append(_row(energy.get("ann_description") or "same network as a dense int8 ANN",
                          f"{energy['dense_ann_pj'] / 1e6:.3f} uJ (deployed / dense = "
                          f"{energy['snn_over_ann']:.2f})"))
    lines += [_row(*cells) for cells in time_cells(report)]
    mapping = report["mapping"]
    lines += [_row("memory", f"{report['memory']['total_bytes']:,} bytes"),
              _row(f"{mapping['unit']}s", f"{mapping['cores_used']} of "
                                          f"{mapping['cores_available']}"), ""]
    nodes = report["quantization"]["nodes"]
    placed = {n["node"]: len(n["cores"]) for n in mapping["nodes"]}
    lines += ["## Neuron nodes", "",
              "Spike agreement 2 sum min(a, b) / (sum a + sum b): rate over the window per "
              "neuron, timing per step; active / silent kept: neurons firing / silent in float "
              "that still fire / stay silent. SQNR only on graded values and membranes.", "",
              _row("node", "kind", "spikes", "graded values", "synops", "energy (nJ)",
                   "rate agr.", "timing agr.", "active kept", "silent kept", "SQNR (dB)",
                   "membrane SQNR (dB)", "saturated", mapping["unit"] + "s"),
              _row(*["---"] * 14)]
    graded_values = report["spikes"].get("graded_values_per_node", {})
    for name in report["quantization"]["nodes"]:
        if name not in report["spikes"]["per_node"] and name not in graded_values:
            continue
        entry = agreement["nodes"].get(name, {})
        spikes = entry.get("spikes") or {}
        saturated = report["saturation"].get(name, {}).get("fraction_of_updates")
        lines.append(_row(
            report.get("labels", {}).get(name, name), nodes[name]["kind"],
            _num(report["spikes"]["per_node"].get(name)), _num(graded_values.get(name)),
            _num(report["synops"]["per_node"].get(name), 0),
            _num(energy["per_node_pj"].get(name, 0.0) / 1e3, 2),
            *(_fraction(spikes.get(k)) for k in ("rate", "timing", "active_kept", "silent_kept")),
            _num(entry.get("sqnr_db")), _num(entry.get("membrane_sqnr_db")),
            "n/a" if saturated is None else f"{100 * saturated:.3f} %", placed.get(name, 0)))
    if report.get("approximations"):
        lines += ["", "## Approximations", ""] + [f"- {note}" for note in report["approximations"]]
    lines += _placement(mapping)
    if "cycle_simulation" in report:
        lines += timing_markdown(report["cycle_simulation"])
    details = report.get("details", {})
    scalars = {k: v for k, v in details.items() if isinstance(v, int | float | str)}
    if scalars:
        lines += ["", "## Target details", "", *_detail(scalars)]
    for key, value in details.items():
        if key not in scalars:
            lines += ["", f"## {key.replace('_', ' ').capitalize()}", "", *_detail(value)]
    lines += ["", "## Sources", "",
              f"Energy: {', '.join(sorted(set(energy['sources'].values())))}. {energy['note']}.",
              f"Time model: {report['cycles']['model']}.", ""]
    return "\n".join(lines)
