"""The integer engine: the bit-accurate golden model of what a target computes.

Synaptic ops run for all time steps at once (they are stateless); each neuron layer then steps
through time with its kernel from `neurodeploy.sim.kernels`. Deterministic: no randomness, and
every float operation it uses is proven exact (see `neurodeploy.sim.synapses`).
"""

from __future__ import annotations

import numpy as np

from neurodeploy.cost.synops import SynapseCount, count_weighted_op
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.quant.fixed import shift_round
from neurodeploy.quant.program import IntLayer, IntOp, Program
from neurodeploy.sim import kernels
from neurodeploy.sim.result import SimulationResult
from neurodeploy.sim.synapses import affine, exact_float, output_bound, run_op
from neurodeploy.sim.timeline import delayed

# The kernels are exact for |inp| < 2^61; the layer input and the recurrent term each stay
# below 2^60, so their sum does too, and int64 accumulators below 2^60 cannot overflow.
EXACT_LIMIT = 1 << 60


def _require_exact(layer: IntLayer, what: str, bound: float) -> None:
    if bound >= EXACT_LIMIT:
        raise UnsupportedModelError(
            f"layer '{layer.name}': its {what} can reach 2^{np.log2(bound):.0f}, beyond the 2^60 "
            "the integer engine computes exactly; use fewer weight or state bits")


def _layer_input(layer: IntLayer, x: np.ndarray, x_bound: float, event_driven: bool,
                 counts: list[SynapseCount]) -> np.ndarray:
    """The layer's input in state units, (acc << input_shift) + bias, as int32 or int64.

    int32 only where the bounds prove every value fits (|acc| <= bound and
    |(acc << input_shift) + bias| <= total, both < 2^31); otherwise int64, exact below 2^60.
    """
    bounds = [x_bound]  # of |x| and of each op's output
    for op in layer.ops:
        bounds.append(output_bound(op, bounds[-1]))
    bound = bounds[-1]
    total = bound * 2.0 ** layer.input_shift + float(np.abs(layer.bias).max(initial=0))
    _require_exact(layer, "input", max(*bounds, total))
    acc = x
    for op, op_bound in zip(layer.ops, bounds, strict=False):
        if op.weight is not None:
            counts.append(count_weighted_op(op, acc, op_bound))
        acc = run_op(op, acc, op_bound, event_driven)
    if tuple(acc.shape[2:]) != tuple(layer.shape):
        acc = acc.reshape(*acc.shape[:2], *layer.shape)
    if layer.consts.get("synaptic_delay", 0):  # Loihi's Dense delivers one step late
        acc = delayed(acc)
    # numpy converts float -> int32 far faster than float -> int64; float32 and int32
    # accumulators hold integers below 2^24 and 2^31, and `bound` bounds the program input too.
    narrow = acc.dtype in (np.float32, np.int32) and bound < (1 << 31) and total < (1 << 31)
    inp = acc.astype(np.int32 if narrow else np.int64)
    if layer.input_shift > 0:
        inp <<= layer.input_shift  # int32 only when |acc| 2^shift <= total < 2^31
    elif layer.input_shift < 0:
        inp = shift_round(inp, -layer.input_shift)  # int64
    inp += layer.bias.astype(inp.dtype)  # int32 only when |bias| <= total < 2^31
    return inp


def value_bound(layer: IntLayer) -> float:
    """Largest |output| the layer's format allows (spike count, graded value or LI state)."""
    if layer.kind == "LI" or layer.consts.get("readout", 0):
        return float(1 << (layer.state_bits - 1))
    if layer.graded:
        return float((1 << layer.out_bits) - 1)
    if layer.kind == "IAF" and layer.consts["spike"] == "multi":
        return float(((1 << (layer.state_bits - 1)) - 1) // int(layer.arrays["threshold"].min()))
    return 1.0


def _recurrent_as_op(weight: np.ndarray) -> IntOp:
    """The recurrent weight seen as an affine op, for counting."""
    return IntOp("affine", weight)


def _recurrent_term(layer: IntLayer, y: np.ndarray, y_bound: float) -> np.ndarray:
    acc = affine(layer.recurrent, y, y_bound).astype(np.int64)
    return shift_round(acc, -layer.recurrent_shift)


def run_layer(layer: IntLayer, inp: np.ndarray, record: bool = False
              ) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """Step one neuron layer through time. `inp` is `(T, B, *shape)` in state units.

    Returns the outputs, the recorded states, and the number of updates with a non-zero state.
    """
    steps = inp.shape[0]
    zeros = np.zeros(inp.shape[1:], inp.dtype)
    largest = value_bound(layer)
    outputs = np.zeros(inp.shape, np.int8 if largest <= 127 else exact_float(largest) or np.float64)
    names = {"IAF": ("v",), "LIF": ("m",), "SNU": ("s",), "SoftSNU": ("s",), "SRC": ("i", "h", "hs"),
             "LI": ("v",), "CUBA": ("u", "v"), "CubaLIF": ("i", "v")}[layer.kind]
    # int64: Lava's current u leaves 24 (and 32) bits when |a_in| >= 2^17 (see cuba_step)
    records = {name: np.zeros(inp.shape, np.int64) for name in names} if record else {}
    a, c = layer.arrays, layer.consts
    if layer.recurrent is not None:
        acc_bound = output_bound(_recurrent_as_op(layer.recurrent), largest)
        _require_exact(layer, "recurrent input",
                       max(acc_bound, acc_bound * 2.0 ** layer.recurrent_shift))
    state = [zeros.copy() for _ in names]
    y = zeros.copy()
    active = 0
    for t in range(steps):
        if layer.kind == "IAF":
            state[0], y = kernels.iaf_step(state[0], inp[t], a["threshold"], c["spike"], c["reset"],
                                           a.get("min_v"), layer.state_bits,
                                           bool(c.get("strict", 0)))
        elif layer.kind == "LIF":
            state[0], y = kernels.lif_step(state[0], inp[t], a["beta"], a["threshold"], c["reset"],
                                           layer.state_bits, bool(c.get("reset_delay", 1)))
        elif layer.kind in ("SNU", "SoftSNU"):
            drive = inp[t] if layer.recurrent is None else inp[t] + _recurrent_term(layer, y,
                                                                                    largest)
            state[0], y = kernels.snu_step(state[0], y, drive, a["decay"], a["out_bias"],
                                           layer.state_bits, layer.kind == "SoftSNU",
                                           layer.out_bits, layer.tables.get("sigmoid"))
        elif layer.kind == "SRC":
            *state, y = kernels.src_step(*state, inp[t], a["cell_bias"], c, layer.tables["bound"],
                                         layer.tables["tanh"], layer.state_bits, layer.out_bits)
        elif layer.kind == "CubaLIF":
            state[0], state[1], y = kernels.cuba_lif_step(state[0], state[1], inp[t], a["alpha"],
                                                          a["beta"], a["threshold"],
                                                          layer.state_bits)
        elif layer.kind == "CUBA":
            state[0], state[1], y = kernels.cuba_step(state[0], state[1], inp[t], a["du"], a["dv"],
                                                      a["bias"], a["vth"])
            active += int(np.count_nonzero((state[0] != 0) | (state[1] != 0) | (y != 0)))
            if c.get("readout", 0):
                y = state[1]  # a compartment that never fires: its voltage is the output
        elif layer.kind == "LI":
            state[0] = kernels.li_step(state[0], inp[t], a["alpha"], layer.state_bits)
            y = state[0]
        else:
            raise ValueError(f"unknown neuron kind {layer.kind!r}")
        outputs[t] = y
        for name, value in zip(names, state, strict=True):
            if record:
                records[name][t] = value
    return outputs, records, active


def simulate_program(program: Program, x: np.ndarray, record_states: bool = False,
                     record_layers: bool = False, event_driven: bool = False) -> SimulationResult:
    """Run `program` on real-valued time-major input `x` `(T, B, *input_shape)`.

    Targets whose layers deliver spikes a step late (Loihi) set settings["pipeline_delay"] = L;
    the input is then followed by L zero steps so the last steps reach the output: the output
    has T + L steps.
    """
    delay = int(program.settings.get("pipeline_delay", 0))
    if delay:
        x = np.concatenate([x, np.zeros((delay, *x.shape[1:]), dtype=x.dtype)])
    current = program.quantize_input(x)
    bound = float(1 << (program.input_bits - 1))
    events, spikes, states, layer_outputs, synapses, active_updates = {}, {}, {}, {}, {}, {}
    for layer in program.layers:
        counts: list[SynapseCount] = []
        inp = _layer_input(layer, current, bound, event_driven, counts)
        bound = value_bound(layer)
        current, recorded, active = run_layer(layer, inp, record_states)
        if layer.kind == "CUBA":
            active_updates[layer.name] = float(active)
        if layer.recurrent is not None:
            counts.append(count_weighted_op(_recurrent_as_op(layer.recurrent), delayed(current),
                                            bound))
        synapses[layer.name] = counts
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
    graded = frozenset(layer.name for layer in program.layers if layer.graded)
    return SimulationResult(output.astype(np.float32), events, spikes, states, layer_outputs,
                            synapses, graded, active_updates)
