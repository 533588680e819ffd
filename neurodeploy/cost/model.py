"""The cost model: spikes, synaptic operations, neuron updates, memory and energy per sample.

Counts come from the integer engine's actual activity (`SimulationResult.synapses`, `.events`,
`.spikes`); energy applies a per-operation table (`neurodeploy.cost.energy`). The same network
run once as a dense int8 ANN (every connection a MAC) is given for comparison.
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy.cost.energy import OperationEnergy, neuron_update_energy
from neurodeploy.quant.program import Program
from neurodeploy.sim.result import SimulationResult


def _memory_bytes(layer, weight_bits: int) -> dict[str, int]:
    weights = sum(op.weight.size for op in layer.ops if op.weight is not None)
    if layer.recurrent is not None:
        weights += layer.recurrent.size
    states = {"SRC": 3}.get(layer.kind, 1) * layer.size
    tables = sum(t.values.size for t in layer.tables.values())
    return {"weights": math.ceil(weights * weight_bits / 8),
            "states": math.ceil(states * layer.state_bits / 8),
            "tables": tables * 2}


def cost_report(program: Program, result: SimulationResult, table: OperationEnergy,
                weight_bits: int, activation_bits: int) -> dict:
    """Per-layer and total costs, per sample (means over the simulated batch)."""
    steps, batch = result.output.shape[:2]
    layers, totals = {}, {"spikes": 0.0, "synops": 0.0, "synops_dense": 0.0, "energy_pj": 0.0,
                          "synaptic_pj": 0.0, "neuron_pj": 0.0, "memory_bytes": 0}
    ann_macs = 0.0
    for layer in program.layers:
        counts = result.synapses.get(layer.name, [])
        synops = sum(c.effective for c in counts) / batch
        dense = sum(c.dense for c in counts) / batch
        synaptic_pj = sum(
            c.effective / batch * (table.accumulate(weight_bits) if c.accumulate_only
                                   else table.multiply_accumulate(weight_bits, activation_bits))
            for c in counts)
        updates = layer.size * steps
        neuron_pj = updates * neuron_update_energy(layer.kind, layer.state_bits, table)
        spikes = float(result.events[layer.name].sum() if layer.graded
                       else result.spikes[layer.name].sum()) / batch
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
    ann_pj = ann_macs * table.multiply_accumulate(8, 8)
    return {
        "layers": layers, "totals": totals, "timesteps": steps,
        "ann": {"macs": ann_macs, "energy_pj": ann_pj,
                "description": "the same network run once as a dense int8 ANN: every connection "
                               "one MAC (8-bit weight read, int8 multiply, int32 add)",
                "snn_over_ann_energy": totals["energy_pj"] / ann_pj if ann_pj else float(np.nan)},
    }
