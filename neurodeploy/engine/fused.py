"""Dispatch of the compiled neuron kernels (`neurodeploy.engine.compiled`) for the golden engine.

`compiled_kind(node)` says whether a node has a compiled kernel (IAF, LIF, CubaLIF, LI of the
`sim` target; any other node steps through its own Python `step`). `run_neuron` runs one over a
whole sequence, optionally fused with the `Requantize` feeding it and, event-driven, with the
`Dense` feeding that, from a given state, and returns the outputs, the final state, per-step
events and sums, the saturations, and in the event-driven mode what it saw of the Dense's input.
Constants are flattened to int64 once per node and kept while the node lives.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numba
import numpy as np

from neurodeploy.engine import compiled
from neurodeploy.engine.events import Activity, accumulator_dtype, columns
from neurodeploy.ir.nodes import Reset, Spikes
from neurodeploy.program.neurons import IAF, LI, LIF, CubaLIF
from neurodeploy.program.node import ProgramNode
from neurodeploy.program.synapses import Dense, Requantize

_KINDS = {IAF: "iaf", LIF: "lif", CubaLIF: "cubalif", LI: "li"}
_CONSTANTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MIN_BLOCK = 64  # neurons per parallel job, at least, when a batch is split across neurons
# the source dtypes the kernels are compiled for (others become int64: fewer compilations):
# spikes and the quantized input (gathered); int8 and float32 GEMM outputs (copied)
_GATHERED = (np.dtype(np.int8), np.dtype(np.float32), np.dtype(np.int64))
_COPIED = (np.dtype(np.int32), np.dtype(np.float32), np.dtype(np.int64))


@dataclass(frozen=True)
class NeuronRun:
    """What one compiled run produced: outputs `(T, B, *shape)`, the final state (int64
    `(B, *shape)` arrays in `state_names` order), events and sums `(T, B)`, saturations, and
    when it accumulated a Dense's events, what it saw of that Dense's input."""

    output: np.ndarray
    state: tuple[np.ndarray, ...]
    events: np.ndarray
    sums: np.ndarray
    saturated: int
    dense_input: Activity | None = None


def compiled_kind(node: ProgramNode) -> str | None:
    """The compiled kernel of `node` (its exact class), or None."""
    return _KINDS.get(type(node))


def _flat(values: np.ndarray | None, size: int) -> np.ndarray:
    if values is None:
        return np.zeros(size, np.int64)
    return np.ascontiguousarray(np.broadcast_to(np.asarray(values, np.int64).reshape(-1), size))


def _constants(node: ProgramNode, size: int) -> dict[str, np.ndarray]:
    if node not in _CONSTANTS:
        names = {"iaf": ("threshold", "min_v"), "lif": ("beta", "threshold"),
                 "cubalif": ("alpha", "beta", "threshold"), "li": ("alpha",)}[compiled_kind(node)]
        _CONSTANTS[node] = {name: _flat(getattr(node, name), size) for name in names}
        if compiled_kind(node) == "iaf" and node.min_v is None:  # no floor: the state's own
            _CONSTANTS[node]["min_v"][:] = node.state.lo
    return _CONSTANTS[node]


def _blocks(batch: int, size: int) -> int:
    """Neuron blocks per sample: enough jobs for every thread even at batch 1."""
    threads = numba.get_num_threads()
    return max(1, min(size // _MIN_BLOCK, math.ceil(2 * threads / max(batch, 1))))


def run_neuron(node: ProgramNode, source: np.ndarray, requantize: Requantize | None,
               state: tuple[np.ndarray, ...] | None, out_dtype: type,
               dense: tuple[Dense, float] | None = None) -> NeuronRun:
    """Run `node` over `source` `(T, B, ...)` from `state` (zeros when None). `source` is the
    node's input; with `requantize`, the accumulator that node maps to its input; with `dense`
    (a Dense node and the bound of its input), that Dense's input, accumulated event by event."""
    kind = compiled_kind(node)
    steps, batch = source.shape[:2]
    shape = tuple(node.unit.shape)
    size = math.prod(shape)
    flat = np.ascontiguousarray(source).reshape(steps, batch, -1)
    if flat.dtype == np.bool_:
        flat = flat.view(np.int8)
    if flat.dtype not in (_GATHERED if dense else _COPIED):
        flat = flat.astype(np.int64)  # exact: integers, or integer-valued floats below 2^53
    shift = requantize.shift if requantize is not None else 0
    bias = _flat(None if requantize is None else requantize.bias, size)
    if requantize is not None:
        bias = _CONSTANTS.setdefault(requantize, {"bias": bias})["bias"]
    states = [np.zeros((batch, size), np.int64) for _ in node.state_names] if state is None else [
        np.array(np.broadcast_to(s, (batch, *shape)), np.int64).reshape(batch, size)
        for s in state]
    weights, buffer_dtype = (None, np.int64) if dense is None else (
        columns(dense[0]), accumulator_dtype(*dense))
    with compiled.threads_for(steps * batch * max(size, flat.shape[2])):
        blocks = _blocks(batch, size)
        jobs = batch * blocks
        out = np.empty((steps, batch, size), out_dtype)
        events = np.zeros((steps, batch, blocks), np.int64)
        sums = np.zeros((steps, batch, blocks), np.int64)
        saturated = np.zeros(jobs, np.int64)
        seen, wide = np.zeros(jobs, np.int64), np.zeros(jobs, np.int64)
        buffer = np.empty((jobs, -(-size // blocks) + flat.shape[2] if dense else 0),
                          buffer_dtype)  # per job: its accumulator and scratch indices
        head = (flat, weights, buffer, seen, wide, shift, bias)
        lo, hi = node.state.lo, node.state.hi
        constants = _constants(node, size)
        tail = (out, events, sums, saturated, blocks)
        if kind == "iaf":
            compiled.iaf_run(*head, constants["threshold"], constants["min_v"], lo, hi,
                             node.spike is Spikes.MULTI,
                             node.reset is Reset.SUBTRACT, int(node.strict), states[0], *tail)
        elif kind == "lif":
            compiled.lif_run(*head, constants["beta"], constants["threshold"], lo, hi,
                             node.reset is Reset.SUBTRACT, node.reset_delay, states[0], *tail)
        elif kind == "cubalif":
            compiled.cuba_lif_run(*head, constants["alpha"], constants["beta"],
                                  constants["threshold"], lo, hi, node.reset is Reset.SUBTRACT,
                                  node.reset_delay, states[0], states[1], *tail)
        else:
            compiled.li_run(*head, constants["alpha"], lo, hi, states[0], *tail)
    dense_input = None if dense is None else Activity(int(seen.sum()), flat.size,
                                                      bool(wide.any()))
    return NeuronRun(out.reshape(steps, batch, *shape),
                     tuple(s.reshape(batch, *shape) for s in states),
                     events.sum(axis=2), sums.sum(axis=2), int(saturated.sum()), dense_input)
