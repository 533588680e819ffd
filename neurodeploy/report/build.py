"""The deployment report: accuracy float vs quantized, per-layer agreement, costs, cycles."""

from __future__ import annotations

import numpy as np

from neurodeploy import ir
from neurodeploy.cost.model import cost_report
from neurodeploy.quant.program import Program
from neurodeploy.sim.float_engine import simulate_network
from neurodeploy.sim.int_engine import simulate_program
from neurodeploy.sim.result import SimulationResult
from neurodeploy.targets.registry import get_target


def sqnr_db(reference: np.ndarray, approximation: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - approx)^2); inf when identical."""
    noise = float(np.sum((reference.astype(np.float64) - approximation) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    if noise == 0:
        return float("inf")
    return 10 * np.log10(signal / noise) if signal > 0 else float("-inf")


def layer_delays(program: Program) -> dict[str, int]:
    """Steps by which each layer's output lags the float network (Loihi: one per layer)."""
    delays, total = {}, 0
    for layer in program.layers:
        total += int(layer.consts.get("synaptic_delay", 0))
        delays[layer.name] = total
    return delays


def layer_agreement(float_result: SimulationResult, int_result: SimulationResult,
                    delays: dict[str, int] | None = None) -> dict:
    """Per neuron layer: fraction of identical outputs and the SQNR of the quantized outputs,
    each layer aligned by its delay."""
    agreement = {}
    for name, quantized in int_result.layer_outputs.items():
        reference = float_result.layer_outputs[name]
        start = (delays or {}).get(name, 0)
        quantized = quantized[start:start + reference.shape[0]].reshape(reference.shape)
        agreement[name] = {"identical_fraction": float(np.mean(reference == quantized)),
                           "sqnr_db": sqnr_db(reference, quantized)}
    return agreement


def accuracy_entry(float_accuracy: float, quantized_accuracy: float) -> dict:
    """report["accuracy"]: float and quantized accuracy and their difference in points."""
    return {"float": float_accuracy, "quantized": quantized_accuracy,
            "delta_pp": 100 * (quantized_accuracy - float_accuracy)}


def _finite(value: float) -> float | str:
    return value if np.isfinite(value) else ("inf" if value > 0 else "-inf")


def build_report(network: ir.Network, program: Program, x: np.ndarray,
                 labels: np.ndarray | None) -> dict:
    """Everything a hardware engineer checks before trusting a deployment, as plain data."""
    target = get_target(program.target)
    quant = program.settings["quant"]
    float_result = simulate_network(network, x, record_layers=True)
    int_result = simulate_program(program, x, record_layers=True)
    energy = target.energy(program)
    costs = cost_report(program, int_result, energy, quant["weight_bits"])
    placements = program.settings["mapping"]  # placed once, by convert
    cycles = target.timing(program, placements, int_result)
    static_pj = target.static_pj(placements, cycles) if target.static_pj else 0.0
    delays = layer_delays(program)
    agreement = layer_agreement(float_result, int_result, delays)
    last = program.layers[-1].name
    aligned_output = int_result.output[delays[last]:delays[last] + float_result.output.shape[0]]
    for entry in agreement.values():
        entry["sqnr_db"] = _finite(entry["sqnr_db"])
    steps, batch = x.shape[:2]
    report = {
        "target": program.target,
        "samples": int(batch), "timesteps": int(steps),
        "network": [{"name": layer.name,
                     "kind": ir.neuron_kind(layer.node) if ir.is_neuron(layer.node)
                     else type(layer.node).__name__,
                     "shape": list(network.output_shape_of(layer.name))} for layer in network.layers],
        "quantization": {**quant, "input_unit": program.input_unit, "input_bits": program.input_bits,
                         "layers": {layer.name: {"kind": layer.kind, "input_shift": layer.input_shift,
                                                 "state_unit_max": float(np.max(layer.unit)),
                                                 "out_bits": layer.out_bits}
                                    for layer in program.layers}},
        "agreement": {"output_identical_fraction": float(np.mean(float_result.output ==
                                                                 aligned_output)),
                      "output_sqnr_db": _finite(sqnr_db(float_result.output, aligned_output)),
                      "output_delay_steps": delays[last],
                      "layers": agreement},
        "spikes": {"total": costs["totals"]["spikes"],
                   "per_layer": {k: v["spikes"] for k, v in costs["layers"].items()}},
        "synops": {"total": costs["totals"]["synops"], "dense": costs["totals"]["synops_dense"],
                   "per_layer": {k: {"effective": v["synops"], "dense": v["synops_dense"],
                                     "type": v["synop_type"]} for k, v in costs["layers"].items()}},
        "energy": {"total_pj": costs["totals"]["energy_pj"] + static_pj,
                   "dynamic_pj": costs["totals"]["energy_pj"], "static_pj": static_pj,
                   "synaptic_pj": costs["totals"]["synaptic_pj"],
                   "neuron_pj": costs["totals"]["neuron_pj"],
                   "per_layer_pj": {k: v["energy_pj"] for k, v in costs["layers"].items()},
                   "dense_ann_pj": costs["ann"]["energy_pj"], "dense_ann_macs": costs["ann"]["macs"],
                   "snn_over_ann": costs["ann"]["snn_over_ann_energy"],
                   "ann_description": costs["ann"]["description"],
                   "sources": dict(energy.sources)},
        "cycles": cycles,
        "memory": {"total_bytes": costs["totals"]["memory_bytes"],
                   "per_layer": {k: v["memory_bytes"] for k, v in costs["layers"].items()}},
        "mapping": {"cores_used": sum(len(p["cores"]) for p in placements),
                    "cores_available": getattr(target.spec, "cores", None) or
                    target.spec.cores_per_chip,
                    "layers": placements},
        "approximations": program.settings.get("approximations", []),
    }
    if labels is not None:
        report["accuracy"] = accuracy_entry(float_result.accuracy(labels),
                                            int_result.accuracy(labels))
    return report
