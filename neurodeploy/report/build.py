"""The deployment report: accuracy float vs deployed, per-node agreement, costs, time, placement.

Every figure comes from the engines' results and the target's Placement and Cost; this module
only arranges them as plain data (report.json), which `neurodeploy.report.markdown` renders.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from neurodeploy import ir
from neurodeploy.engine.result import SimulationResult
from neurodeploy.ir.graph import latencies
from neurodeploy.program.graph import Program
from neurodeploy.report.agreement import node_agreement, output_agreement
from neurodeploy.targets.base import Cost, Energy, Placement


def as_deployed_sees_time(reference: SimulationResult, program: Program) -> SimulationResult:
    """The float reference on the deployed program's time axis: for a program that collapses
    its input window into one frame, every output summed over the window (spike counts)."""
    if not program.input.window:
        return reference
    return dataclasses.replace(
        reference, output=reference.output.sum(axis=0, keepdims=True),
        node_outputs={name: values.sum(axis=0, keepdims=True)
                      for name, values in reference.node_outputs.items()})


def node_delays(program: Program, reference: SimulationResult | None = None) -> dict[str, int]:
    """Steps by which each node's output lags the float network's (Loihi: one per layer), less
    the delays the float network has itself (its run's `node_latency`, e.g. a netx file's)."""
    own = {} if reference is None else reference.node_latency
    lags = latencies(program.order, program.edges)
    return {name: lags.get(name, 0) - own.get(name, 0) for name in program.stateful_nodes}


def layer_labels(network: ir.Network, program: Program) -> dict[str, str]:
    """Per neuron node, its NIR / module name with the layer's kind and size, e.g. "fc1 (LIF,
    64)"; a node the network does not name keeps its program name."""
    names = {layer.name: layer for layer in network.layers}
    labels = {}
    for name in program.stateful_nodes:
        layer = names.get(name)
        labels[name] = name if layer is None else (
            f"{name} ({_kind(layer.node)}, {int(np.prod(network.output_shape_of(name)))})")
    return labels


def energy_entry(energy: Energy) -> dict:
    """Energy per sample, always all three: dynamic (operations), static (leakage over the
    latency; 0 where the target models none) and total = dynamic + static."""
    return {"dynamic_pj": energy.dynamic_pj, "static_pj": energy.static_pj,
            "total_pj": energy.total_pj}


def accuracy_entry(float_accuracy: float, deployed_accuracy: float) -> dict:
    """report["accuracy"]: float and deployed accuracy and their difference in points."""
    return {"float": float_accuracy, "quantized": deployed_accuracy,
            "delta_pp": 100 * (deployed_accuracy - float_accuracy)}


def _kind(node: object) -> str:
    return ir.neuron_kind(node) if ir.is_neuron(node) else type(node).__name__


def build_report(network: ir.Network, program: Program, reference: SimulationResult,
                 deployed: SimulationResult, placement: Placement, cost: Cost,
                 labels: np.ndarray | None) -> dict:
    """Everything a hardware engineer checks before trusting a deployment, as plain data."""
    window = reference.output.shape[0] - reference.latency
    reference = as_deployed_sees_time(reference, program)
    steps, batch = reference.output.shape[:2]
    delays = node_delays(program, reference)
    lag = program.latency - reference.latency
    output = deployed.output[lag:lag + steps]
    timing, energy = cost.timing, cost.energy
    saturation = {name: {"saturated_per_sample": tally.saturated / batch,
                         "fraction_of_updates": tally.saturated / tally.updates
                         if tally.updates else 0.0}
                  for name, tally in deployed.tallies.items()}
    spikes = {name: float(deployed.spikes[name].sum()) / batch for name in deployed.spikes
              if name not in deployed.graded}
    graded = {name: float(deployed.events[name].sum()) / batch for name in sorted(deployed.graded)}
    agreement = node_agreement(reference, deployed, program, delays, bool(program.input.window))
    dense_ann = cost.details.get("dense_ann", {})
    report = {
        "target": program.target,
        "samples": int(batch), "timesteps": int(window),
        "frames": bool(program.input.window),
        "network": [{"name": layer.name, "kind": _kind(layer.node),
                     "inputs": [e.source + (" (t-1)" if e.delay else "")
                                for e in network.inputs_of(layer.name)],
                     "shape": list(network.output_shape_of(layer.name))}
                    for layer in network.layers],
        "labels": layer_labels(network, program),
        "quantization": {"options": dict(program.options),
                         "input": {"shape": list(program.input.shape),
                                   "scale": program.input.scale, "bits": program.input.bits},
                         "nodes": {name: program.nodes[name].describe() for name in program.order}},
        "agreement": {"output": output_agreement(reference.output, output,
                                                 program.output_is_graded),
                      "output_delay_steps": lag,
                      "nodes": {name: entry.as_dict() for name, entry in agreement.items()}},
        "saturation": saturation,
        "spikes": {"total": float(sum(spikes.values())), "per_node": spikes,
                   "graded_nodes": sorted(deployed.graded),
                   "graded_values_per_node": graded,
                   "note": "binary or multi-spike counts only; graded outputs (readout membranes, "
                           "graded spikes) are counted apart as non-zero values"},
        "synops": {"total": float(sum(cost.synops.values())),
                   "dense": float(sum(cost.synops_dense.values())),
                   "per_node": dict(cost.synops)},
        "energy": {**energy_entry(energy), "per_node_pj": dict(energy.per_node_pj),
                   "sources": dict(energy.sources), "note": energy.note,
                   "dense_ann_pj": dense_ann.get("energy_pj"),
                   "dense_ann_macs": dense_ann.get("macs"),
                   "snn_over_ann": (energy.total_pj / dense_ann["energy_pj"]
                                    if dense_ann.get("energy_pj") else None),
                   "ann_description": dense_ann.get("description")},
        "cycles": {"total": timing.cycles, "per_step": timing.cycles_per_step,
                   "clock_hz": timing.clock_hz, "latency_s": timing.latency_s,
                   "model": timing.model},
        "time": {"steps": timing.steps, "latency_s": timing.latency_s,
                 "step_ns": timing.step_ns, "model_dt_s": network.dt,
                 "model_dt_note": "the time step the network was discretised at (from its NIR "
                                  "file or --dt); none for a discrete-time model"},
        "memory": {"total_bytes": int(sum(cost.memory_bytes.values())),
                   "per_node": dict(cost.memory_bytes)},
        "mapping": placement.as_dict(),
        "approximations": list(program.approximations),
        "details": {k: v for k, v in cost.details.items() if k != "dense_ann"},
    }
    if labels is not None:
        report["accuracy"] = accuracy_entry(reference.accuracy(labels), deployed.accuracy(labels))
    return report
