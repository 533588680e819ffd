"""Calibration: the ranges of every neuron state, measured by the float reference on data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy import ir
from neurodeploy.sim.float_engine import simulate_network

#: the state of each neuron kind that lives in the layer's state units (input-current units)
UNIT_STATES = {"IAF": ("v",), "LIF": ("m",), "CubaLIF": ("i", "v"), "SNU": ("s",),
               "SoftSNU": ("s",), "SRC": ("i",), "LI": ("v",), "GRU": ("h",)}


@dataclass(eq=False)
class Calibration:
    """Per neuron layer: max |state| per neuron (of its state-unit state), and input range."""

    state_max: dict[str, np.ndarray]
    input_max: float
    input_is_integer: bool


def calibrate(network: ir.Network, x: np.ndarray, max_samples: int = 256) -> Calibration:
    """Run the float reference on (up to `max_samples` of) `x` and record the ranges."""
    sample = np.asarray(x, dtype=np.float32)[:, :max_samples]
    result = simulate_network(network, sample, record_states=True)
    state_max = {}
    for layer in network.neuron_layers:
        states = result.states[layer.name]
        state_max[layer.name] = np.max([np.abs(states[name]).max(axis=(0, 1)) for name in
                                        UNIT_STATES[ir.neuron_kind(layer.node)]], axis=0)
    return Calibration(state_max, float(np.abs(sample).max(initial=0.0)),
                       bool(np.all(sample == np.round(sample))))
