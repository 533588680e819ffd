"""Assertions for hardware-in-the-loop tests, on the comparison path `verify` uses; a failure
names what failed and the first divergence (step, layer, sample, neuron, values, upstream)."""

from __future__ import annotations

import numpy as np

from neurodeploy.engine.result import SimulationResult
from neurodeploy.verify.checks import Status, Tolerances, tolerance_checks
from neurodeploy.verify.pairs import exact, float_vs_deployed

__tracebackhide__ = True  # pytest shows the caller's line, not ours


def assert_bit_exact(program, x: np.ndarray, expected: SimulationResult, got: SimulationResult,
                     names: tuple[str, str] = ("golden", "executor")) -> None:
    """Two runs of `program` on `x` (e.g. the golden model and an executor) are identical in
    every layer and in the output."""
    comparison = exact(program, x, expected, got, names)
    if not comparison.identical:
        layers = [f"layer '{layer.layer}': {layer.identical_fraction:.4%} identical"
                  for layer in comparison.layers if layer.identical_fraction not in (None, 1.0)]
        raise AssertionError(f"{names[1]} is not bit-exact with {names[0]} on target "
                             f"'{program.target}': {comparison.describe_first()}"
                             + (f" ({'; '.join(layers)})" if layers else ""))


def assert_agrees(reference: SimulationResult, deployed: SimulationResult, program,
                  labels: np.ndarray | None = None, max_accuracy_drop: float = 2.0,
                  min_spike_agreement: float | None = None, min_sqnr_db: float = 10.0) -> None:
    """The float reference and a deployed run agree within tolerances: accuracy drop (points,
    with labels), spike agreement per spiking layer (default: the target's), SQNR per graded
    layer (see `neurodeploy.verify.checks.Tolerances` for the defaults and their figures)."""
    tolerances = Tolerances(max_accuracy_drop, min_spike_agreement, min_sqnr_db)
    comparison = float_vs_deployed(reference, program, deployed, labels, ("float", "deployed"))
    failed = [check for check in tolerance_checks(comparison, tolerances.for_target(program.target))
              if check.status is Status.FAILED]
    if failed:
        text = "; ".join(f"{check.name}: {check.detail}" for check in failed)
        first = comparison.describe_first()
        raise AssertionError(f"deployed program for '{program.target}' disagrees with the float "
                             f"model: {text}" + ("" if first in text else f"; {first}"))
