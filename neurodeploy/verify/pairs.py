"""The comparisons a hardware-in-the-loop test makes, as functions of runs: the float reference
against a deployed run (aligned, within tolerances), and two runs of a program (exact). `verify`
and the pytest assertions both use these, so they report the same figures."""

from __future__ import annotations

import dataclasses

import numpy as np

from neurodeploy import ir
from neurodeploy.engine.golden import simulate_program
from neurodeploy.engine.reference import simulate_network
from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.report.build import node_delays
from neurodeploy.verify.compare import (
    Aligned,
    Comparison,
    align_deployed,
    align_reference,
    compare,
)


def golden_run(program: Program, x: np.ndarray) -> SimulationResult:
    return simulate_program(program, x, record_states=True, record_outputs=True)


def program_inputs(program: Program, x: np.ndarray) -> np.ndarray:
    """The input integers the golden model feeds (with the latency's zero steps)."""
    values = program.input.quantize(x)
    lag = program.latency
    return np.concatenate([values, np.zeros((lag, *values.shape[1:]), values.dtype)]) \
        if lag else values


def on_own_axis(program: Program, result: SimulationResult, x: np.ndarray) -> Aligned:
    """A run of `program` on its own time axis (latency included)."""
    steps = result.output.shape[0]
    aligned = align_deployed(result, program, steps, inputs=program_inputs(program, x))
    return dataclasses.replace(aligned, output=result.output)


def float_run(network: ir.Network, x: np.ndarray) -> SimulationResult:
    """The float reference with states and every node's output recorded."""
    return simulate_network(network, x, record_states=True, record_outputs=True)


def float_vs_deployed(reference: SimulationResult, program: Program, deployed: SimulationResult,
                      labels: np.ndarray | None = None, names: tuple[str, str] = ("float", "golden")
                      ) -> Comparison:
    """The float reference against a run of `program`, aligned (pipeline delays, windows),
    divergences searched in spiking layers only."""
    layers = [name for name in program.stateful_nodes if name in reference.node_outputs]
    membranes = {}
    for name in layers:
        membrane = program.nodes[name].membrane
        if membrane is not None:
            recorded = reference.states.get(name, {})
            state = membrane[0] if membrane[0] in recorded else (
                next(iter(recorded)) if len(recorded) == 1 else None)
            if state is not None:
                membranes[name] = state
    expected = align_reference(reference, layers, program.input.window, membranes)
    got = align_deployed(deployed, program, expected.output.shape[0],
                         node_delays(program, reference), lag=program.latency - reference.latency)
    return compare(expected, got, *names, None, deployed.graded, labels, layers,
                   spiking_divergence_only=True)


def exact(program: Program, x: np.ndarray, expected: SimulationResult, got: SimulationResult,
          names: tuple[str, str] = ("golden", "executor"), expected_program: Program | None = None
          ) -> Comparison:
    """Two runs of (nearly) the same program on `x`, compared value for value on its own time
    axis; upstream activity of a divergence comes from `expected_program` (default `program`)."""
    base = expected_program or program
    return compare(on_own_axis(base, expected, x), on_own_axis(program, got, x), *names, base,
                   expected.graded)
