"""What a simulation returns, whichever engine (or independent executor) ran it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from neurodeploy.program.node import SynapseCount, Tally


@dataclass(eq=False)
class SimulationResult:
    """Outputs and activity of one simulation of a batch.

    Attributes:
        output: `(T, B, N_out)`; spike counts of a spiking output node, real values of a graded
            one. T includes the program's `latency` extra steps (zero input) when it lags.
        events: per neuron node, `(T, B)` counts of its non-zero outputs summed over neurons.
        spikes: per neuron node, `(T, B)` sums of its outputs (spike counts; graded values summed).
        states: per neuron node and state name, `(T, B, *shape)` when recorded (real values for
            the float engine, integers for the integer engine).
        node_outputs: per node, `(T, B, *shape)` real values when recorded.
        synapses: per weighted node, its synaptic operations (integer engine only).
        tallies: per neuron node, updates and saturations (integer engine only).
        graded: names of the neuron nodes with graded outputs.
        latency: steps the output lags the input.
        cycles: clock cycles the run took, from an executor that counts them (RTL simulators).
        node_latency: per node, steps its output lags the input, where a float network delays
            it itself (e.g. a netx file's synapses); a node not listed lags none.
    """

    output: np.ndarray
    events: dict[str, np.ndarray]
    spikes: dict[str, np.ndarray]
    states: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    node_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    synapses: dict[str, SynapseCount] = field(default_factory=dict)
    tallies: dict[str, Tally] = field(default_factory=dict)
    graded: frozenset[str] = frozenset()
    latency: int = 0
    cycles: int | None = None
    node_latency: dict[str, int] = field(default_factory=dict)

    @property
    def spike_count(self) -> float:
        """Spikes of spiking nodes only (counts of multi-spike ones), over steps and batch."""
        return float(sum(float(counts.sum()) for name, counts in self.spikes.items()
                         if name not in self.graded))

    @property
    def graded_values(self) -> float:
        """Non-zero outputs of graded nodes (readouts, graded spikes): never spikes."""
        return float(sum(float(self.events[name].sum()) for name in self.graded))

    def predictions(self) -> np.ndarray:
        """Per sample, the argmax over classes of the output summed over time."""
        return self.output.sum(axis=0).argmax(axis=-1)

    def accuracy(self, labels: np.ndarray) -> float:
        return float((self.predictions() == np.asarray(labels)).mean())

    @classmethod
    def concatenate(cls, parts: Sequence[SimulationResult]) -> SimulationResult:
        """One result from runs on consecutive slices of a batch (same program, same steps):
        arrays joined on the batch axis, counts added (an executor's `cycles` are not kept).
        Equal to one run on the whole batch when every sample runs on its own, as in the
        integer engine."""
        first = parts[0]
        if len(parts) == 1:
            return first

        def join(arrays: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(arrays, axis=1)

        return cls(
            join([p.output for p in parts]),
            {name: join([p.events[name] for p in parts]) for name in first.events},
            {name: join([p.spikes[name] for p in parts]) for name in first.spikes},
            {name: {key: join([p.states[name][key] for p in parts]) for key in states}
             for name, states in first.states.items()},
            {name: join([p.node_outputs[name] for p in parts]) for name in first.node_outputs},
            {name: SynapseCount(sum(p.synapses[name].effective for p in parts),
                                sum(p.synapses[name].dense for p in parts),
                                all(p.synapses[name].accumulate_only for p in parts))
             for name in first.synapses},
            {name: Tally(**{f.name: sum(getattr(p.tallies[name], f.name) for p in parts)
                            for f in fields(Tally)})
             for name in first.tallies},
            first.graded, first.latency)

    def to_npz_dict(self, neurons: bool = False) -> dict[str, np.ndarray]:
        """Arrays for `simulate -o Y.npz`: `output`, and `spikes/<node>` per neuron node (sums
        over neurons); with `neurons`, also `neurons/<node>`, each neuron's recorded output."""
        arrays = {"output": self.output}
        arrays.update({f"spikes/{name}": counts for name, counts in self.spikes.items()})
        if neurons:
            arrays.update({f"neurons/{name}": _compact(self.node_outputs[name],
                                                        name in self.graded)
                           for name in self.spikes if name in self.node_outputs})
        return arrays


def _compact(values: np.ndarray, graded: bool) -> np.ndarray:
    """Spike counts as int8 where they fit (graded values stay real)."""
    if graded or np.abs(values).max(initial=0) > 127 or not np.all(values == np.round(values)):
        return values
    return values.astype(np.int8)
