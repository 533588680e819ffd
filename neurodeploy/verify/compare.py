"""One comparison path for two runs of a network: per layer agreement and the first divergence.

Every pair goes through `compare`: the golden model against an independent executor (exact), a
fresh golden run against a deployed program's (exact), the float reference against the golden
model (within tolerances). Both runs are first put on one time axis (`Aligned`): a program's
pipeline delays are cut off per layer, a time-collapsed program's reference summed over the
window. Per layer:

    identical      fraction of equal values (neuron level when both runs recorded neurons)
    spike agreement  2 sum min(a, b) / (sum a + sum b) over spike counts (1 when both silent):
                   a silent or saturated layer scores low, unlike "fraction of equal zeros"
    SQNR           10 log10(sum a^2 / sum (a - b)^2) on graded outputs and on membranes

The first divergence is the earliest step at which any layer differs (layers in schedule order
at that step), with the sample, the neuron, both values and the upstream activity at that step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from neurodeploy.engine.result import SimulationResult
from neurodeploy.ir.graph import INPUT
from neurodeploy.program.graph import Program
from neurodeploy.report.metrics import spike_agreement, sqnr_db

SHOWN_INPUTS = 8  # upstream values listed with a divergence


@dataclass(frozen=True)
class Divergence:
    """Where two runs first differ: step (on the first run's time axis), layer, sample, neuron
    (None when only layer sums were recorded), both values, and the upstream activity."""

    step: int
    layer: str
    sample: int
    neuron: tuple[int, ...] | None
    expected: float
    got: float
    upstream: dict[str, list[tuple[tuple[int, ...], float]]] = field(default_factory=dict)

    def describe(self, expected_name: str = "expected", got_name: str = "got") -> str:
        where = "its sum" if self.neuron is None else f"neuron {list(self.neuron)}"
        text = (f"step {self.step}, layer '{self.layer}', sample {self.sample}, {where}: "
                f"{expected_name} {self.expected:.6g}, {got_name} {self.got:.6g}")
        active = [f"{source}{list(index)}={value:.4g}" for source, values in self.upstream.items()
                  for index, value in values]
        return text + (f"; upstream at that step: {', '.join(active)}" if active else
                       "; no upstream activity at that step" if self.upstream else "")

    def as_dict(self) -> dict:
        return {"step": self.step, "layer": self.layer, "sample": self.sample,
                "neuron": None if self.neuron is None else list(self.neuron),
                "expected": self.expected, "got": self.got,
                "upstream": {s: [[list(i), v] for i, v in values]
                             for s, values in self.upstream.items()}}


@dataclass(frozen=True)
class LayerAgreement:
    """How one layer of two runs agrees (see the module docstring); `skipped` says why a layer
    was not compared."""

    layer: str
    graded: bool
    identical_fraction: float | None = None
    spike_agreement: float | None = None
    sqnr_db: float | None = None
    membrane_sqnr_db: float | None = None
    max_abs_error: float | None = None
    neuron_level: bool = False
    skipped: str | None = None

    def as_dict(self) -> dict:
        def number(value: float | None) -> float | str | None:
            return value if value is None or math.isfinite(value) else str(value)

        return {"layer": self.layer, "graded": self.graded, "neuron_level": self.neuron_level,
                "identical_fraction": self.identical_fraction,
                "spike_agreement": self.spike_agreement, "sqnr_db": number(self.sqnr_db),
                "membrane_sqnr_db": number(self.membrane_sqnr_db),
                "max_abs_error": self.max_abs_error, "skipped": self.skipped}


@dataclass(frozen=True)
class Comparison:
    """Two runs compared: `expected_name` (e.g. "float", "golden") against `got_name`."""

    expected_name: str
    got_name: str
    layers: tuple[LayerAgreement, ...]
    output: LayerAgreement
    first: Divergence | None
    accuracy: tuple[float, float] | None = None
    spikes_only: bool = False  # divergences searched in spiking layers only (float vs deployed)

    @property
    def identical(self) -> bool:
        return not self.spikes_only and self.first is None and \
            self.output.identical_fraction == 1.0

    def describe_first(self) -> str:
        if self.first is not None:
            what = "first spike divergence" if self.spikes_only else "first divergence"
            return f"{what}: " + self.first.describe(self.expected_name, self.got_name)
        if not self.spikes_only:
            return f"{self.got_name} equals {self.expected_name}" if self.identical else \
                f"{self.got_name} differs from {self.expected_name} in its output only"
        if any(layer.spike_agreement is not None for layer in self.layers):
            return "every spiking layer spikes as in " + self.expected_name
        return "no spiking layers (graded layers are compared by SQNR)"

    def as_dict(self) -> dict:
        return {"expected": self.expected_name, "got": self.got_name,
                "identical": self.identical, "output": self.output.as_dict(),
                "layers": [layer.as_dict() for layer in self.layers],
                "first_divergence": None if self.first is None else self.first.as_dict(),
                "accuracy": None if self.accuracy is None else
                {self.expected_name: self.accuracy[0], self.got_name: self.accuracy[1]}}


@dataclass(frozen=True)
class Aligned:
    """One run on the common time axis: per layer `(T, B, *shape)` values (or `(T, B, 1)` layer
    sums when neurons were not recorded), membranes in real units where known, the output."""

    output: np.ndarray
    values: dict[str, np.ndarray]
    neuron_level: dict[str, bool]
    membranes: dict[str, np.ndarray]
    inputs: np.ndarray | None = None  # (T, B, *input shape) values feeding the first layers


def align_deployed(result: SimulationResult, program: Program, steps: int,
                   delays: dict[str, int] | None = None, inputs: np.ndarray | None = None,
                   lag: int | None = None) -> Aligned:
    """A run of `program` with each layer's first `delays[layer]` steps cut off and the output's
    first `lag` (default: the program's latency), `steps` kept."""
    delays = delays or {}
    values, levels, membranes = {}, {}, {}
    for name in program.stateful_nodes:
        start = delays.get(name, 0)
        if name in result.node_outputs:
            values[name], levels[name] = result.node_outputs[name][start:start + steps], True
        elif name in result.spikes:
            values[name] = result.spikes[name][start:start + steps, ..., None]
            levels[name] = False
        membrane = getattr(program.nodes[name], "membrane", None)
        recorded = result.states.get(name, {})
        if membrane is not None and membrane[0] in recorded:
            state, unit = membrane
            membranes[name] = recorded[state][start:start + steps] * np.asarray(unit, np.float64)
    lag = program.latency if lag is None else lag
    return Aligned(result.output[lag:lag + steps], values, levels, membranes, inputs)


def align_reference(result: SimulationResult, names: list[str], window: bool,
                    membrane_states: dict[str, str] | None = None,
                    inputs: np.ndarray | None = None) -> Aligned:
    """A float reference run (summed over time when the program collapses a window)."""
    def on_axis(array: np.ndarray) -> np.ndarray:
        return array.sum(axis=0, keepdims=True) if window else array

    values = {n: on_axis(result.node_outputs[n]) for n in names if n in result.node_outputs}
    membranes = {}
    for name, state in (membrane_states or {}).items():
        if not window and state in result.states.get(name, {}):
            membranes[name] = result.states[name][state]
    return Aligned(on_axis(result.output), values, dict.fromkeys(values, True), membranes,
                   None if inputs is None else on_axis(inputs))


def _first_difference(expected: np.ndarray, got: np.ndarray) -> tuple[int, ...] | None:
    """Index (step, sample, *neuron) of the earliest-step difference, or None."""
    differs = expected != got
    if not differs.any():
        return None
    steps = np.flatnonzero(differs.reshape(differs.shape[0], -1).any(axis=1))
    step = int(steps[0])
    index = np.argwhere(differs[step])[0]
    return (step, *map(int, index))


def upstream_of(program: Program, name: str) -> list[tuple[str, int]]:
    """The neuron nodes (or INPUT) feeding `name` through stateless nodes, with their delays."""
    found, stack = [], [(e.source, e.delay) for e in program.inputs_of(name)]
    seen = set()
    while stack:
        source, delay = stack.pop()
        if (source, delay) in seen:
            continue
        seen.add((source, delay))
        if source == INPUT or program.nodes[source].stateful:
            found.append((source, delay))
        else:
            stack += [(e.source, delay + e.delay) for e in program.inputs_of(source)]
    return sorted(found, key=lambda item: (item[0] != INPUT, item[0], item[1]))


def _active(values: np.ndarray, step: int, sample: int) -> list[tuple[tuple[int, ...], float]]:
    if not 0 <= step < values.shape[0]:
        return []
    frame = values[step, sample]
    index = np.argwhere(frame != 0)
    order = np.argsort(-np.abs(frame[tuple(index.T)]), kind="stable")[:SHOWN_INPUTS]
    return [(tuple(map(int, index[i])), float(frame[tuple(index[i])])) for i in order]


def _upstream(program: Program | None, run: Aligned, layer: str, step: int, sample: int
              ) -> dict[str, list]:
    if program is None or layer not in program.nodes:
        return {}
    activity = {}
    for source, delay in upstream_of(program, layer):
        values = run.inputs if source == INPUT else run.values.get(source)
        if values is not None and (source == INPUT or run.neuron_level.get(source)):
            label = source if not delay else f"{source}@{step - delay}"
            activity[label] = _active(values, step - delay, sample)
    return activity


def _layer(name: str, graded: bool, expected: Aligned, got: Aligned
           ) -> tuple[LayerAgreement, tuple[int, ...] | None, bool]:
    a, b = expected.values.get(name), got.values.get(name)
    if a is None or b is None:
        missing = "the first" if a is None else "the second"
        return LayerAgreement(name, graded, skipped=f"not recorded by {missing} run"), None, False
    level = expected.neuron_level.get(name, False) and got.neuron_level.get(name, False)
    if not level and (expected.neuron_level.get(name) or got.neuron_level.get(name)):
        a, b = (v.reshape(*v.shape[:2], -1).sum(axis=2, keepdims=True) for v in (a, b))
    if a.shape != b.shape:
        why = f"shapes differ: {a.shape[2:]} and {b.shape[2:]} (e.g. a pool folded into it)"
        return LayerAgreement(name, graded, skipped=why), None, False
    membrane = None
    if name in expected.membranes and name in got.membranes and \
            expected.membranes[name].shape == got.membranes[name].shape:
        membrane = sqnr_db(expected.membranes[name], got.membranes[name])
    error = float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0))
    agreement = LayerAgreement(
        name, graded, float(np.mean(a == b)), None if graded else spike_agreement(a, b),
        sqnr_db(a, b) if graded else None, membrane, error, level)
    return agreement, _first_difference(a, b), level


def compare(expected: Aligned, got: Aligned, expected_name: str, got_name: str,
            program: Program | None, graded: frozenset[str] = frozenset(),
            labels: np.ndarray | None = None, layers: list[str] | None = None,
            spiking_divergence_only: bool = False) -> Comparison:
    """Compare two aligned runs layer by layer (in `layers` order, default the program's)."""
    names = layers if layers is not None else (program.stateful_nodes if program else [])
    agreements, firsts = [], []
    for order, name in enumerate(names):
        agreement, first, level = _layer(name, name in graded, expected, got)
        agreements.append(agreement)
        if first is not None and not (spiking_divergence_only and name in graded):
            firsts.append((first[0], order, name, first, level))
    output = _output_agreement(expected.output, got.output, program)
    divergence = None
    if firsts:
        step, _, name, index, level = min(firsts)
        a, b = expected.values[name], got.values[name]
        if not level:
            a, b = (v.reshape(*v.shape[:2], -1).sum(axis=2, keepdims=True) for v in (a, b))
        divergence = Divergence(step, name, index[1], tuple(index[2:]) if level else None,
                                float(a[index]), float(b[index]),
                                _upstream(program, expected, name, step, index[1]))
    accuracy = None
    if labels is not None:
        accuracy = tuple(float((run.output.sum(axis=0).argmax(-1) == labels).mean())
                         for run in (expected, got))
    return Comparison(expected_name, got_name, tuple(agreements), output, divergence, accuracy,
                      spiking_divergence_only)


def _output_agreement(a: np.ndarray, b: np.ndarray, program: Program | None) -> LayerAgreement:
    graded = program.output_is_graded if program is not None else True
    if a.shape != b.shape:
        return LayerAgreement("output", graded, skipped=f"shapes differ: {a.shape} and {b.shape}")
    return LayerAgreement("output", graded, float(np.mean(a == b)),
                          None if graded else spike_agreement(a, b),
                          sqnr_db(a, b) if graded else None, None,
                          float(np.max(np.abs(a.astype(np.float64) - b), initial=0.0)), True)
