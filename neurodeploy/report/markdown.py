"""report.json -> a readable report.md."""

from __future__ import annotations


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _num(value: float, digits: int = 1) -> str:
    if isinstance(value, str):
        return value
    return f"{value:,.{digits}f}"


def accuracy_line(accuracy: dict, quantized_name: str = "quantized") -> list[str]:
    """The bold accuracy sentence of a report (and a blank line)."""
    return [f"**Accuracy**: float {100 * accuracy['float']:.2f} %, {quantized_name} "
            f"{100 * accuracy['quantized']:.2f} % ({accuracy['delta_pp']:+.2f} pp).", ""]


def render_markdown(report: dict) -> str:
    """The report as Markdown: summary, per-layer table, mapping, and where figures come from."""
    quant = report["quantization"]
    lines = [f"# neurodeploy report: target `{report['target']}`", "",
             f"{report['samples']} samples x {report['timesteps']} steps; weights "
             f"{quant['weight_bits']} bit ({'per channel' if quant['per_channel'] else 'per tensor'}"
             f"{', powers of two' if quant['power_of_two'] else ''}), graded spikes "
             f"{quant['activation_bits']} bit, states {quant['state_bits']} bit.", ""]
    if "accuracy" in report:
        lines += accuracy_line(report["accuracy"])
    agreement = report["agreement"]
    lines += [f"Output identical to float in {100 * agreement['output_identical_fraction']:.2f} % "
              f"of values (SQNR {_num(agreement['output_sqnr_db'])} dB).", "",
              "## Per sample", "",
              _row("quantity", "value"), _row("---", "---"),
              _row("spikes", _num(report["spikes"]["total"])),
              _row("synaptic operations (effective)", _num(report["synops"]["total"], 0)),
              _row("synaptic operations (dense)", _num(report["synops"]["dense"], 0)),
              _row("energy", f"{_num(report['energy']['total_pj'] / 1e6, 3)} uJ"),
              _row("same network as a dense int8 ANN", f"{_num(report['energy']['dense_ann_pj'] / 1e6, 3)} uJ"
                   f" (SNN / ANN = {report['energy']['snn_over_ann']:.2f})"),
              _row("cycles" if report["cycles"].get("clock_hz") else "time steps",
                   _num(report["cycles"]["total"], 0)),
              _row("latency", f"{report['cycles']['latency_s'] * 1e6:.1f} us" + (
                  f" at {report['cycles']['clock_hz'] / 1e6:.0f} MHz"
                  if report["cycles"].get("clock_hz") else
                  f" ({report['cycles']['per_step_ns']:.0f} ns per step)")),
              _row("memory", f"{report['memory']['total_bytes']:,} bytes"),
              _row("cores", f"{report['mapping']['cores_used']} of {report['mapping']['cores_available']}"),
              "", "## Layers", "",
              _row("layer", "kind", "spikes", "synops", "type", "energy (nJ)", "identical",
                   "SQNR (dB)", "cores"),
              _row(*["---"] * 9)]
    cores = {p["layer"]: len(p["cores"]) for p in report["mapping"]["layers"]}
    for name, quant_layer in quant["layers"].items():
        layer_agreement = agreement["layers"].get(name, {})
        lines.append(_row(
            name, quant_layer["kind"], _num(report["spikes"]["per_layer"][name]),
            _num(report["synops"]["per_layer"][name]["effective"], 0),
            report["synops"]["per_layer"][name]["type"],
            _num(report["energy"]["per_layer_pj"][name] / 1e3, 2),
            f"{100 * layer_agreement.get('identical_fraction', 0):.2f} %",
            _num(layer_agreement.get("sqnr_db", "n/a")), cores.get(name, 0)))
    if report.get("approximations"):
        lines += ["", "## Approximations", ""] + [f"- {note}" for note in report["approximations"]]
    lines += ["", "## Sources", "",
              f"Energy per operation: {', '.join(sorted(set(report['energy']['sources'].values())))}. "
              f"ANN comparison: {report['energy']['ann_description']}.",
              f"Cycle model: {report['cycles']['model']}.", ""]
    return "\n".join(lines)
