"""Per neuron node of a Program: what a simulation did and what the node stores, per sample.

Counts come from the golden engine's result (spikes, events, synaptic operations of the weighted
nodes feeding each neuron, active updates); memory from the Program's arrays. Targets price these
with their energy and time models. The same network run once as a dense int8 ANN (every
connection one MAC) is measured for comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.program.node import SynapseCount
from neurodeploy.program.tables import Table


@dataclass(frozen=True)
class NodeActivity:
    """One neuron node, per sample (means over the batch)."""

    name: str
    kind: str
    neurons: int
    spikes: float  # spike counts; non-zero events for graded outputs
    synops: float
    synops_dense: float
    accumulate_only: bool
    updates: float
    active_updates: float | None
    saturated: float
    synapse_counts: tuple[SynapseCount, ...]
    weight_count: int
    state_words: int
    table_entries: int


def _arrays_of(node) -> tuple[int, int]:
    """(weights, table entries) a node stores."""
    weights = int(node.weight.size) if getattr(node, "weighted", False) else 0
    tables = sum(int(v.values.size) for v in vars(node).values() if isinstance(v, Table))
    return weights, tables


def measure_activity(program: Program, result: SimulationResult) -> list[NodeActivity]:
    """Per neuron node, in order; `result` is the golden engine's run of `program`."""
    steps, batch = result.output.shape[:2]
    rows = []
    for name in program.stateful_nodes:
        node = program.nodes[name]
        counts = tuple(result.synapses[f] for f in program.feeders(name) if f in result.synapses)
        weights = sum(_arrays_of(program.nodes[f])[0] for f in program.feeders(name))
        tally = result.tallies.get(name)
        spikes = float(result.events[name].sum() if node.graded else result.spikes[name].sum())
        rows.append(NodeActivity(
            name, node.kind, program.size(name), spikes / batch,
            sum(c.effective for c in counts) / batch, sum(c.dense for c in counts) / batch,
            bool(counts) and all(c.accumulate_only for c in counts),
            float(program.size(name) * steps),
            None if tally is None or not tally.active else tally.active / batch,
            0.0 if tally is None else tally.saturated / batch, counts, weights,
            node.operations.state_words * program.size(name), _arrays_of(node)[1]))
    return rows


def memory_bytes(row: NodeActivity, weight_bits: int, state_bits: int) -> dict[str, int]:
    """Weights packed at `weight_bits`, states at `state_bits`, 16-bit table entries."""
    return {"weights": math.ceil(row.weight_count * weight_bits / 8),
            "states": math.ceil(row.state_words * state_bits / 8),
            "tables": row.table_entries * 2}


def dense_ann_macs(rows: list[NodeActivity], steps: int) -> float:
    """MACs of the same network run once as a dense ANN: every connection once."""
    return float(np.sum([row.synops_dense for row in rows])) / steps
