"""How a deployed run agrees with the float reference, per layer, without flattering silence.

Spiking layers (values s[t, b, n], spike counts) are compared by spike agreement (`metrics`):

    rate agreement    A(sum_t s_ref, sum_t s_dep)      per neuron and sample, over the window
    timing agreement  A(s_ref, s_dep)                  per neuron, sample and step (<= rate)
    active kept       |active_ref and active_dep| / |active_ref|   neurons that fired in float
    silent kept       |silent_ref and silent_dep| / |silent_ref|   neurons silent in float

with A(a, b) = 2 sum min(a, b) / (sum a + sum b): neurons silent in both runs add nothing, so a
layer that falls silent or fires at random scores low even where most values are equal zeros
(the old "identical fraction"). SQNR = 10 log10(sum r^2 / sum (r - d)^2) is computed only on
graded values (readouts, graded spikes) and on membranes in real units, never on 0/1 spikes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.report.metrics import spike_agreement, sqnr_db


def finite(value: float | None) -> float | str | None:
    """A JSON-safe number: infinities as strings."""
    if value is None or math.isfinite(value):
        return value
    return "inf" if value > 0 else "-inf"


@dataclass(frozen=True)
class SpikeAgreement:
    """Spike agreement of one spiking layer (see the module docstring)."""

    rate: float
    timing: float
    active_kept: float | None
    silent_kept: float | None
    active_fraction_float: float
    active_fraction_deployed: float

    @classmethod
    def of(cls, reference: np.ndarray, deployed: np.ndarray) -> SpikeAgreement:
        """`reference`, `deployed`: `(T, B, ...)` spike counts on one time axis."""
        ref = reference.reshape(*reference.shape[:2], -1).astype(np.float64)
        dep = deployed.reshape(*deployed.shape[:2], -1).astype(np.float64)
        ref_counts, dep_counts = ref.sum(axis=0), dep.sum(axis=0)
        active_ref, active_dep = ref_counts != 0, dep_counts != 0
        silent_ref = ~active_ref
        return cls(spike_agreement(ref_counts, dep_counts), spike_agreement(ref, dep),
                   float((active_ref & active_dep).sum() / active_ref.sum())
                   if active_ref.any() else None,
                   float((silent_ref & ~active_dep).sum() / silent_ref.sum())
                   if silent_ref.any() else None,
                   float(active_ref.mean()), float(active_dep.mean()))


@dataclass(frozen=True)
class NodeAgreement:
    """One layer: spike agreement (spiking layers), SQNR of graded values (graded layers),
    SQNR of the membrane (where both runs recorded it), or why it was not compared."""

    name: str
    graded: bool
    spikes: SpikeAgreement | None = None
    sqnr_db: float | None = None
    membrane_sqnr_db: float | None = None
    not_compared: str | None = None

    def as_dict(self) -> dict:
        return {"graded": self.graded,
                "spikes": None if self.spikes is None else vars(self.spikes).copy(),
                "sqnr_db": finite(self.sqnr_db), "membrane_sqnr_db": finite(self.membrane_sqnr_db),
                "not_compared": self.not_compared}


def float_membrane(reference: SimulationResult, program: Program, name: str) -> np.ndarray | None:
    """The float run's membrane of `name`: its state of the same name as the node's membrane
    state, else its only state."""
    recorded = reference.states.get(name, {})
    membrane = program.nodes[name].membrane
    if membrane is None or not recorded:
        return None
    state = membrane[0] if membrane[0] in recorded else (
        next(iter(recorded)) if len(recorded) == 1 else None)
    return None if state is None else recorded[state]


def deployed_membrane(deployed: SimulationResult, program: Program, name: str
                      ) -> np.ndarray | None:
    """The deployed run's membrane of `name` in real units, when its states were recorded."""
    membrane = program.nodes[name].membrane
    if membrane is None or membrane[0] not in deployed.states.get(name, {}):
        return None
    return deployed.states[name][membrane[0]] * np.asarray(membrane[1], np.float64)


def node_agreement(reference: SimulationResult, deployed: SimulationResult, program: Program,
                   delays: dict[str, int], window: bool = False) -> dict[str, NodeAgreement]:
    """Per neuron node recorded by both runs, aligned by its delay (`window`: the reference was
    summed over a collapsed window, so membranes are not comparable)."""
    agreement = {}
    for name, values in deployed.node_outputs.items():
        if name not in reference.node_outputs or name not in delays:
            continue
        graded = name in deployed.graded
        expected = reference.node_outputs[name]
        start, steps = delays[name], expected.shape[0]
        got = values[start:start + steps]
        if got.size != expected.size:  # e.g. a pool folded into the layer on chip
            agreement[name] = NodeAgreement(name, graded, not_compared=(
                f"deployed shape {got.shape[2:]} differs from the float node's "
                f"{expected.shape[2:]}"))
            continue
        got = got.reshape(expected.shape)
        membrane = None
        ref_v, dep_v = float_membrane(reference, program, name), \
            deployed_membrane(deployed, program, name)
        if not window and ref_v is not None and dep_v is not None:
            dep_v = dep_v[start:start + steps]
            if dep_v.shape == ref_v.shape:
                membrane = sqnr_db(ref_v, dep_v)
        agreement[name] = NodeAgreement(
            name, graded, None if graded else SpikeAgreement.of(expected, got),
            sqnr_db(expected, got) if graded else None, membrane)
    return agreement


def output_agreement(reference: np.ndarray, deployed: np.ndarray, graded: bool) -> dict:
    """The output layer: spike agreement when it spikes, SQNR when it is graded; the largest
    absolute error either way."""
    error = np.abs(deployed.astype(np.float64) - reference)
    return {"graded": graded,
            "spikes": None if graded else vars(SpikeAgreement.of(reference, deployed)).copy(),
            "sqnr_db": finite(sqnr_db(reference, deployed)) if graded else None,
            "max_abs_error": float(error.max(initial=0.0)),
            "final_step_max_abs_error": float(error[-1].max(initial=0.0)) if len(error) else 0.0}
