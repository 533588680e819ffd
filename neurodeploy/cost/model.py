"""The cost model: spikes, synaptic operations, neuron updates, memory and energy per sample.

Counts come from the integer engine's actual activity (`SimulationResult.synapses`, `.events`,
`.spikes`, `.active_updates`); energy applies a target's `EnergyModel` (per-operation figures
with sources). The same network run once as a dense int8 ANN (every connection a MAC) is given
for comparison.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from neurodeploy.cost.synops import SynapseCount
from neurodeploy.quant.program import IntLayer, Program
from neurodeploy.sim.result import SimulationResult


class EnergyModel(Protocol):
    """Energy of a target's operations, in pJ, with the source of every figure."""

    sources: dict[str, str]

    def synaptic_pj(self, count: SynapseCount) -> float:
        """All of `count.effective` synaptic operations."""

    def neuron_pj(self, layer: IntLayer, updates: float, active: float | None) -> float:
        """`updates` neuron updates of `layer`, `active` of them with activity (if known)."""

    def spike_pj(self, spikes: float) -> float:
        """Delivering `spikes` output events."""

    def dense_mac_pj(self) -> float:
        """One MAC of the comparison int8 ANN."""


def _memory_bytes(layer, weight_bits: int) -> dict[str, int]:
    weights = sum(op.weight.size for op in layer.ops if op.weight is not None)
    if layer.recurrent is not None:
        weights += layer.recurrent.size
    states = {"SRC": 3, "CubaLIF": 2, "CUBA": 2}.get(layer.kind, 1) * layer.size
    tables = sum(t.values.size for t in layer.tables.values())
    return {"weights": math.ceil(weights * weight_bits / 8),
            "states": math.ceil(states * layer.state_bits / 8),
            "tables": tables * 2}


def cost_report(program: Program, result: SimulationResult, energy: EnergyModel,
                weight_bits: int) -> dict:
    """Per-layer and total costs, per sample (means over the simulated batch)."""
    steps, batch = result.output.shape[:2]
    layers, totals = {}, {"spikes": 0.0, "synops": 0.0, "synops_dense": 0.0, "energy_pj": 0.0,
                          "synaptic_pj": 0.0, "neuron_pj": 0.0, "memory_bytes": 0}
    ann_macs = 0.0
    for layer in program.layers:
        counts = result.synapses.get(layer.name, [])
        synops = sum(c.effective for c in counts) / batch
        dense = sum(c.dense for c in counts) / batch
        synaptic_pj = sum(energy.synaptic_pj(c) for c in counts) / batch
        updates = layer.size * steps
        active = result.active_updates.get(layer.name)
        neuron_pj = energy.neuron_pj(layer, updates, None if active is None else active / batch)
        spikes = float(result.events[layer.name].sum() if layer.graded
                       else result.spikes[layer.name].sum()) / batch
        neuron_pj += energy.spike_pj(spikes)
        memory = _memory_bytes(layer, weight_bits)
        layers[layer.name] = {
            "kind": layer.kind, "neurons": layer.size, "spikes": spikes,
            "spikes_per_neuron_per_step": spikes / (layer.size * steps),
            "synops": synops, "synops_dense": dense,
            "synop_type": "AC" if counts and all(c.accumulate_only for c in counts) else "MAC",
            "neuron_updates": updates, "synaptic_pj": synaptic_pj, "neuron_pj": neuron_pj,
            "energy_pj": synaptic_pj + neuron_pj, "memory_bytes": memory}
        for key in ("spikes", "synops", "synops_dense", "synaptic_pj", "neuron_pj"):
            totals[key] += layers[layer.name][key]
        totals["energy_pj"] += synaptic_pj + neuron_pj
        totals["memory_bytes"] += sum(memory.values())
        ann_macs += dense / steps
    ann_pj = ann_macs * energy.dense_mac_pj()
    return {
        "layers": layers, "totals": totals, "timesteps": steps,
        "ann": {"macs": ann_macs, "energy_pj": ann_pj,
                "description": "the same network run once as a dense int8 ANN: every connection "
                               "one MAC (8-bit weight read, int8 multiply, int32 add)",
                "snn_over_ann_energy": totals["energy_pj"] / ann_pj if ann_pj else float(np.nan)},
    }
