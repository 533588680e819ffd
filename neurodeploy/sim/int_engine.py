"""The integer engine: the bit-accurate golden model of what a target computes.

Synaptic ops run for all time steps at once (they are stateless); each neuron layer then steps
through time with its kernel from `neurodeploy.sim.kernels`. Deterministic: no randomness, and
every float operation it uses is proven exact (see `neurodeploy.sim.synapses`).
"""

from __future__ import annotations

import numpy as np

from neurodeploy.quant.fixed import shift_round
from neurodeploy.quant.program import IntLayer, Program
from neurodeploy.sim import kernels
from neurodeploy.sim.result import SimulationResult
from neurodeploy.sim.synapses import affine, run_op


def _layer_input(layer: IntLayer, x: np.ndarray, event_driven: bool) -> np.ndarray:
    acc = x
    for op in layer.ops:
        acc = run_op(op, acc, event_driven)
    if tuple(acc.shape[2:]) != tuple(layer.shape):
        acc = acc.reshape(*acc.shape[:2], *layer.shape)
    return (acc << layer.input_shift) + layer.bias


def _recurrent_term(layer: IntLayer, y: np.ndarray) -> np.ndarray:
    return shift_round(affine(layer.recurrent, y), -layer.recurrent_shift)


def run_layer(layer: IntLayer, inp: np.ndarray, record: bool = False
              ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Step one neuron layer through time. `inp` is `(T, B, *shape)` in state units."""
    steps = inp.shape[0]
    zeros = np.zeros(inp.shape[1:], np.int64)
    outputs = np.zeros_like(inp)
    names = {"IAF": ("v",), "LIF": ("m",), "SNU": ("s",), "SoftSNU": ("s",), "SRC": ("i", "h", "hs"),
             "LI": ("v",)}[layer.kind]
    records = {name: np.zeros_like(inp) for name in names} if record else {}
    a, c = layer.arrays, layer.consts
    state = [zeros.copy() for _ in names]
    y = zeros.copy()
    for t in range(steps):
        if layer.kind == "IAF":
            state[0], y = kernels.iaf_step(state[0], inp[t], a["threshold"], c["spike"], c["reset"],
                                           a.get("min_v"), layer.state_bits)
        elif layer.kind == "LIF":
            state[0], y = kernels.lif_step(state[0], inp[t], a["beta"], a["threshold"], c["reset"],
                                           layer.state_bits)
        elif layer.kind in ("SNU", "SoftSNU"):
            drive = inp[t] if layer.recurrent is None else inp[t] + _recurrent_term(layer, y)
            state[0], y = kernels.snu_step(state[0], y, drive, a["decay"], a["out_bias"],
                                           layer.state_bits, layer.kind == "SoftSNU",
                                           layer.out_bits, layer.tables.get("sigmoid"))
        elif layer.kind == "SRC":
            *state, y = kernels.src_step(*state, inp[t], a["cell_bias"], c, layer.tables["bound"],
                                         layer.tables["tanh"], layer.state_bits, layer.out_bits)
        elif layer.kind == "LI":
            state[0] = kernels.li_step(state[0], inp[t], a["alpha"], layer.state_bits)
            y = state[0]
        else:
            raise ValueError(f"unknown neuron kind {layer.kind!r}")
        outputs[t] = y
        for name, value in zip(names, state, strict=True):
            if record:
                records[name][t] = value
    return outputs, records


def simulate_program(program: Program, x: np.ndarray, record_states: bool = False,
                     record_layers: bool = False, event_driven: bool = False) -> SimulationResult:
    """Run `program` on real-valued time-major input `x` `(T, B, *input_shape)`."""
    current = program.quantize_input(x)
    events, spikes, states, layer_outputs = {}, {}, {}, {}
    for layer in program.layers:
        inp = _layer_input(layer, current, event_driven)
        current, recorded = run_layer(layer, inp, record_states)
        flat = current.reshape(*current.shape[:2], -1)
        events[layer.name] = (flat != 0).sum(axis=2)
        values = flat * layer.out_unit if layer.graded else flat
        spikes[layer.name] = values.sum(axis=2).astype(np.float64)
        if record_states:
            states[layer.name] = recorded
        if record_layers:
            layer_outputs[layer.name] = (current * layer.out_unit if layer.graded else current
                                         ).astype(np.float64)
    last = program.layers[-1]
    flat = current.reshape(*current.shape[:2], -1)
    output = (flat * last.out_unit) if last.graded else flat
    return SimulationResult(output.astype(np.float32), events, spikes, states, layer_outputs)
