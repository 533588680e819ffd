"""Calibration: the ranges of every neuron state, measured by the float reference on data.

The float run itself is the caller's (an engine's) business: this module only reduces the
recorded states, so quantization never runs an engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: calibrate on at most this many samples
MAX_SAMPLES = 256


@dataclass(eq=False)
class Calibration:
    """Per neuron node and state: max |state| per neuron; the input's range; the data used."""

    x: np.ndarray
    state_max: dict[str, dict[str, np.ndarray]]
    input_max: float
    input_is_integer: bool


def calibration_sample(x: np.ndarray) -> np.ndarray:
    """The part of `x` `(T, B, ...)` calibration uses: up to MAX_SAMPLES samples, float32."""
    return np.asarray(x, dtype=np.float32)[:, :MAX_SAMPLES]


def measure(sample: np.ndarray, states: dict[str, dict[str, np.ndarray]]) -> Calibration:
    """Reduce recorded states `(T, B, *shape)` of a float run on `sample` to a Calibration."""
    state_max = {name: {state: np.abs(values).max(axis=(0, 1)).astype(np.float64)
                        for state, values in recorded.items()}
                 for name, recorded in states.items()}
    return Calibration(sample, state_max, float(np.abs(sample).max(initial=0.0)),
                       bool(np.all(sample == np.round(sample))))
