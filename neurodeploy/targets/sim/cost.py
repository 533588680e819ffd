"""Energy and time of a Program on the `sim` core array, from the golden model's activity.

Per time step, the neuron nodes run in order (each on its cores in parallel), then all cores meet
at a barrier:

    cycles(node, t) = max over its cores of (synops into the core * cycles_per_synop
                                             + neurons on the core * cycles_per_neuron_update)
    cycles(t)       = sum over nodes of cycles(node, t) + barrier_cycles

Synaptic events are assumed spread over a node's cores in proportion to their neurons. Energy:
each synaptic operation an AC (spike inputs) or a MAC (graded inputs), each neuron update its
state traffic, multiplies, table reads and adds (Horowitz 2014); no static power is modelled.
"""

from __future__ import annotations

from neurodeploy.cost.activity import dense_ann_macs, measure_activity, memory_bytes
from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.targets.base import Cost, Energy, Placement, Timing
from neurodeploy.targets.sim.spec import CoreArraySpec


def cost(program: Program, result: SimulationResult, placement: Placement, spec: CoreArraySpec,
         weight_bits: int, activation_bits: int, state_bits: int) -> Cost:
    steps, batch = result.output.shape[:2]
    table = spec.energy
    rows = measure_activity(program, result)
    per_node_pj, cycles_per_node, memory = {}, {}, {}
    for row in rows:
        synaptic = sum(table.synapses(c, weight_bits, activation_bits)
                       for c in row.synapse_counts) / batch
        neuron = row.updates * table.neuron_update(program.nodes[row.name].operations, state_bits)
        per_node_pj[row.name] = synaptic + neuron
        share = placement.of(row.name).neurons_per_core / max(row.neurons, 1)
        cycles_per_node[row.name] = (row.synops / steps * share * spec.cycles_per_synop
                                     + placement.of(row.name).neurons_per_core
                                     * spec.cycles_per_neuron_update)
        memory[row.name] = sum(memory_bytes(row, weight_bits, state_bits).values())
    per_step = sum(cycles_per_node.values()) + spec.barrier_cycles
    total = per_step * steps
    ann_macs = dense_ann_macs(rows, steps)
    energy = Energy(sum(per_node_pj.values()), 0.0, per_node_pj, dict(table.sources),
                    "dynamic energy of the operations; no static power is modelled")
    timing = Timing(steps, total / spec.clock_hz,
                    "nodes in order per step, the cores of a node in parallel, then a barrier",
                    total, per_step, spec.clock_hz)
    return Cost(energy, timing, {r.name: r.synops for r in rows},
                {r.name: r.synops_dense for r in rows}, memory,
                {"cycles_per_node_per_step": cycles_per_node,
                 "dense_ann": {"macs": ann_macs,
                               "energy_pj": ann_macs * table.multiply_accumulate(8, 8),
                               "description": "the same network run once as a dense int8 ANN: "
                                              "every connection one MAC (8-bit weight read, int8 "
                                              "multiply, int32 add)"}})
