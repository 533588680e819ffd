"""Calibration: the ranges of every neuron state and drive, measured by the float reference.

The float run itself is the caller's (an engine's) business: this module only reduces the
recorded states and node outputs, so quantization never runs an engine. A neuron's drive is the
sum of its inputs at each step; with the state after the step it bounds the state before any
reset, which the state's format must hold too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodeploy import ir

#: calibrate on at most this many samples
MAX_SAMPLES = 256


@dataclass(eq=False)
class Calibration:
    """Per neuron node and state: max |state| per neuron; the input's range; the data used."""

    x: np.ndarray
    state_max: dict[str, dict[str, np.ndarray]]
    input_max: float
    input_is_integer: bool
    drive_max: dict[str, np.ndarray]
    #: per node, max |sum over time of its output| per value (a window's spike count)
    total_max: dict[str, np.ndarray] = field(default_factory=dict)


def calibration_sample(x: np.ndarray) -> np.ndarray:
    """The part of `x` `(T, B, ...)` calibration uses: up to MAX_SAMPLES samples, float32."""
    return np.asarray(x, dtype=np.float32)[:, :MAX_SAMPLES]


def _drive(network: ir.Network, name: str, sample: np.ndarray,
           outputs: dict[str, np.ndarray]) -> np.ndarray:
    """Max |sum of a node's inputs| per neuron over steps and samples (a delayed edge shifted)."""
    total = 0.0
    for edge in network.inputs_of(name):
        value = sample if edge.source == ir.INPUT else outputs[edge.source]
        if edge.delay:
            value = np.concatenate([np.zeros_like(value[:1]), value[:-1]])
        total = total + value
    return np.abs(total).max(axis=(0, 1)).astype(np.float64)


def measure(network: ir.Network, sample: np.ndarray, states: dict[str, dict[str, np.ndarray]],
            outputs: dict[str, np.ndarray]) -> Calibration:
    """Reduce the recorded states and node outputs `(T, B, *shape)` of a float run of `network`
    on `sample` to a Calibration."""
    state_max = {name: {state: np.abs(values).max(axis=(0, 1)).astype(np.float64)
                        for state, values in recorded.items()}
                 for name, recorded in states.items()}
    drive_max = {layer.name: _drive(network, layer.name, sample, outputs)
                 for layer in network.neuron_layers}
    total_max = {name: np.abs(values.sum(axis=0)).max(axis=0).astype(np.float64)
                 for name, values in outputs.items()}
    return Calibration(sample, state_max, float(np.abs(sample).max(initial=0.0)),
                       bool(np.all(sample == np.round(sample))), drive_max, total_max)
