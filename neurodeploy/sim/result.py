"""What a simulation returns, whichever engine ran it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class SimulationResult:
    """Outputs of one simulation of a batch.

    Attributes:
        output: `(T, B, N_out)`; spike counts of a spiking output layer, values of a graded one.
        events: per neuron layer, `(T, B)` counts of its non-zero outputs (spikes, or graded
            events), summed over neurons; a multi-spike neuron counts once per non-zero step here.
        spikes: per neuron layer, `(T, B)` sums of its outputs (spike counts; graded values summed).
        states: per neuron layer and state name, `(T, B, *shape)` when recorded, else empty.
        layer_outputs: per layer, `(T, B, *shape)` when recorded, else empty.
        synapses: per neuron layer, the `SynapseCount` of each weighted op feeding it (integer
            engine only), totals over steps and samples.
        graded_layers: names of the neuron layers with graded outputs (SoftSNU, SRC, LI).
        active_updates: per layer, neuron updates with a non-zero state (Loihi's "active"
            updates), totals over steps and samples, where the engine counts them.
    """

    output: np.ndarray
    events: dict[str, np.ndarray]
    spikes: dict[str, np.ndarray]
    states: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    layer_outputs: dict[str, np.ndarray] = field(default_factory=dict)
    synapses: dict[str, list] = field(default_factory=dict)
    graded_layers: frozenset[str] = frozenset()
    active_updates: dict[str, float] = field(default_factory=dict)

    @property
    def total_spikes(self) -> float:
        """Spikes of spiking layers plus non-zero events of graded ones, over steps and batch."""
        return float(sum(float(self.events[name].sum()) if name in self.graded_layers
                         else float(counts.sum()) for name, counts in self.spikes.items()))

    def predictions(self) -> np.ndarray:
        """Per sample, the argmax over classes of the output summed over time."""
        return self.output.sum(axis=0).argmax(axis=-1)

    def accuracy(self, labels: np.ndarray) -> float:
        return float((self.predictions() == np.asarray(labels)).mean())

    def to_npz_dict(self) -> dict[str, np.ndarray]:
        """Arrays for `simulate -o Y.npz`: `output`, and `spikes/<layer>` per neuron layer."""
        arrays = {"output": self.output}
        arrays.update({f"spikes/{name}": counts for name, counts in self.spikes.items()})
        return arrays
