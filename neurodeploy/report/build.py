"""The deployment report: accuracy float vs deployed, per-node agreement, costs, time, placement.

Every figure comes from the engines' results and the target's Placement and Cost; this module
only arranges them as plain data (report.json), which `neurodeploy.report.markdown` renders.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neurodeploy import ir
from neurodeploy.engine.result import SimulationResult
from neurodeploy.ir.graph import latency
from neurodeploy.program.graph import Program
from neurodeploy.report.metrics import sqnr_db
from neurodeploy.targets.base import Cost, Placement


def finite(value: float) -> float | str:
    """A JSON-safe number: infinities as strings."""
    return value if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def as_deployed_sees_time(reference: SimulationResult, program: Program) -> SimulationResult:
    """The float reference on the deployed program's time axis: for a program that collapses
    its input window into one frame, every output summed over the window (spike counts)."""
    if not program.input.window:
        return reference
    return dataclasses.replace(
        reference, output=reference.output.sum(axis=0, keepdims=True),
        node_outputs={name: values.sum(axis=0, keepdims=True)
                      for name, values in reference.node_outputs.items()})


def node_delays(program: Program) -> dict[str, int]:
    """Steps by which each node's output lags the float network (Loihi: one per layer)."""
    return {name: latency(program.order, program.edges, name) for name in program.stateful_nodes}


def node_agreement(reference: SimulationResult, deployed: SimulationResult,
                   delays: dict[str, int]) -> dict[str, dict]:
    """Per neuron node present in both runs: identical outputs and the SQNR of the deployed ones,
    aligned by the node's delay."""
    agreement = {}
    for name, values in deployed.node_outputs.items():
        if name not in reference.node_outputs or name not in delays:
            continue
        expected = reference.node_outputs[name]
        start = delays[name]
        got = values[start:start + expected.shape[0]]
        if got.size != expected.size:  # e.g. a pool folded into the layer on chip
            agreement[name] = {"identical_fraction": None, "sqnr_db": None,
                               "not_compared": f"deployed shape {got.shape[2:]} differs from "
                                               f"the float node's {expected.shape[2:]}"}
            continue
        got = got.reshape(expected.shape)
        agreement[name] = {"identical_fraction": float(np.mean(expected == got)),
                           "sqnr_db": finite(sqnr_db(expected, got))}
    return agreement


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
    window = reference.output.shape[0]
    reference = as_deployed_sees_time(reference, program)
    steps, batch = reference.output.shape[:2]
    delays = node_delays(program)
    lag = program.latency
    output = deployed.output[lag:lag + steps]
    error = np.abs(output.astype(np.float64) - reference.output)
    timing, energy = cost.timing, cost.energy
    saturation = {name: {"saturated_per_sample": tally.saturated / batch,
                         "fraction_of_updates": tally.saturated / tally.updates
                         if tally.updates else 0.0}
                  for name, tally in deployed.tallies.items()}
    spikes = {name: float(deployed.events[name].sum() if name in deployed.graded
                          else deployed.spikes[name].sum()) / batch for name in deployed.spikes}
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
        "quantization": {"options": dict(program.options),
                         "input": {"shape": list(program.input.shape),
                                   "scale": program.input.scale, "bits": program.input.bits},
                         "nodes": {name: program.nodes[name].describe() for name in program.order}},
        "agreement": {"output_identical_fraction": float(np.mean(output == reference.output)),
                      "output_sqnr_db": finite(sqnr_db(reference.output, output)),
                      "output_max_abs_error": float(error.max(initial=0.0)),
                      "final_step_max_abs_error": float(error[-1].max(initial=0.0)),
                      "output_delay_steps": lag,
                      "nodes": node_agreement(reference, deployed, delays)},
        "saturation": saturation,
        "spikes": {"total": float(sum(spikes.values())), "per_node": spikes,
                   "graded_nodes": sorted(deployed.graded)},
        "synops": {"total": float(sum(cost.synops.values())),
                   "dense": float(sum(cost.synops_dense.values())),
                   "per_node": dict(cost.synops)},
        "energy": {"total_pj": energy.total_pj, "dynamic_pj": energy.dynamic_pj,
                   "static_pj": energy.static_pj, "per_node_pj": dict(energy.per_node_pj),
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
