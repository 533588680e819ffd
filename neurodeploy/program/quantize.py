"""Network + calibration -> Program for the `sim` target: integer weights, state units, constants.

Scheme, per neuron node N and the synaptic paths feeding it (a path runs from a neuron or the
input through Linear / Conv2d / pooling / Flatten nodes, at most one of them weighted):
- state unit U (per neuron): from the first weighted path, weights are symmetric,
  W_int = clip(round(W / s), -(2^(b-1) - 1), 2^(b-1) - 1) with one scale s per output channel (or
  per tensor; optionally a power of two); the accumulator unit A = s * s_in (s_in: 1 for spikes,
  2^-k for k-bit graded values) and U = A / 2^e with the largest e that keeps the calibrated state
  range (times a headroom) inside `state_bits`. A path without weights fixes U instead (uniform).
- every other path k keeps U: its scale is s_k = U 2^e_k / s_in_k, with the smallest integer e_k
  that fits its weights; an SNU's own recurrent weight shares the first path's scale.
- each path ends in a Requantize node: acc << e_k (or rounded half up >> -e_k), plus the path's
  bias rounded to U. Average pools become sum pools with their 1/k^2 folded into the weights.
- thresholds, biases and floors are rounded to U; decays and gates to Q0.12; nonlinearities
  (sigmoid, tanh, rho*tanh(x/rho)) become piecewise-linear integer tables.
Rounding is half up everywhere (`neurodeploy.program.formats`); states saturate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.program import neurons, synapses
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.formats import DECAY_BITS, Format, int_dtype, quantize_multiplier, round_half_up
from neurodeploy.program.graph import InputFormat, Program
from neurodeploy.program.node import ProgramNode
from neurodeploy.program.paths import Path, neuron_paths
from neurodeploy.program.tables import build_table

SRC_FRACTION_BITS = 12
STRICT_MIN_STATE_BITS = 3  # a 2-bit state is at most 1, never above a threshold >= 1
#: graded kinds whose tables (or single output unit) need one state unit per layer
PER_TENSOR = (ir.SRC, ir.LI)
#: kinds whose recorded state is after a reset; the format must hold the state before it
RESETTING = (ir.IAF, ir.LIF, ir.CubaLIF)
#: the states of each kind that live in input-current units (what the state format must hold)
UNIT_STATES = {ir.IAF: ("v",), ir.LIF: ("m",), ir.CubaLIF: ("i", "v"), ir.SNU: ("s",),
               ir.SRC: ("i",), ir.LI: ("v",)}


@dataclass(frozen=True)
class QuantSpec:
    """Quantization settings of the `sim` target."""

    weight_bits: int = 8
    activation_bits: int = 8  # graded spikes (SoftSNU, SRC outputs) and real-valued input
    state_bits: int = 24  # 2..32; neurons firing when v > threshold (>= 1) need 3
    per_channel: bool = True
    power_of_two: bool = False
    table_size: int = 1024
    headroom: float = 2.0
    max_input_shift: int = 16

    def __post_init__(self) -> None:
        if not 2 <= self.weight_bits <= 16:
            raise UnsupportedModelError(f"weight bits must be 2..16, got {self.weight_bits}")
        if not 2 <= self.activation_bits <= 12:
            raise UnsupportedModelError(f"activation bits must be 2..12, got {self.activation_bits}")
        if not 2 <= self.state_bits <= 32:
            raise UnsupportedModelError(f"state bits must be 2..32, got {self.state_bits}")

    @property
    def qmax(self) -> int:
        return (1 << (self.weight_bits - 1)) - 1


def _scale(max_abs: np.ndarray, spec: QuantSpec) -> np.ndarray:
    scale = np.where(max_abs > 0, max_abs / spec.qmax, 1.0)
    if spec.power_of_two:
        scale = np.exp2(np.ceil(np.log2(scale)))
    return scale


def _per_neuron(values: np.ndarray | float, shape: tuple[int, ...], per_channel: bool = False
                ) -> np.ndarray:
    """Broadcast per-channel (leading axis) or per-neuron values to the neuron shape."""
    values = np.asarray(values, dtype=np.float64)
    if per_channel and values.ndim == 1 and len(shape) > 1:
        values = values.reshape(-1, *([1] * (len(shape) - 1)))
    return np.broadcast_to(values, shape).copy()


def _power_of_two(ratio: float, what: str) -> int:
    exponent = math.log2(ratio)
    if abs(exponent - round(exponent)) > 1e-9:
        raise UnsupportedModelError(f"{what}: the units of its inputs differ by a non power of two "
                                    "(per-channel scales cannot meet an unweighted input)")
    return round(exponent)


class _NeuronQuantizer:
    """Quantizes one neuron node together with every synaptic path feeding it."""

    def __init__(self, network: ir.Network, name: str, units: Callable[[str], float],
                 spec: QuantSpec, calibration: Calibration) -> None:
        self.network, self.name, self.spec = network, name, spec
        self.node = network.nodes[name]
        self.shape = network.output_shape_of(name)
        self.units = units
        self.state_max = calibration.state_max[name]
        self.drive_max = calibration.drive_max[name]
        self.per_channel = spec.per_channel and not isinstance(self.node, PER_TENSOR) and not (
            isinstance(self.node, ir.SNU) and self.node.soft)
        self.paths = neuron_paths(network, name)
        self.out_unit = spike_unit(self.node, spec)

    # ------------------------------------------------------------------ state unit

    def _input_shift(self, accumulator_unit: np.ndarray) -> int:
        """Largest e <= max_input_shift keeping headroom * range / (A / 2^e) inside state_bits.

        e < 0 when the accumulator is wider than the state: it then enters rounded (>> -e).
        """
        names = next(v for k, v in UNIT_STATES.items() if isinstance(self.node, k))
        reach = np.max([np.broadcast_to(self.state_max[n], self.shape) for n in names], axis=0)
        if isinstance(self.node, RESETTING):  # the state before its reset: at most after + drive
            reach = reach + np.broadcast_to(self.drive_max, self.shape)
        for attr in ("threshold", "bias"):
            value = getattr(self.node, attr, None)
            if isinstance(value, np.ndarray) and not isinstance(self.node, ir.SRC):
                reach = np.maximum(reach, np.abs(np.broadcast_to(value, self.shape)))
        largest = float((reach / accumulator_unit).max(initial=0.0)) * self.spec.headroom
        limit = (1 << (self.spec.state_bits - 1)) - 1
        if largest <= 0:
            return self.spec.max_input_shift
        return int(min(self.spec.max_input_shift, math.floor(math.log2(limit / largest))))

    def _rows(self, path: Path) -> np.ndarray:
        weight = path.effective_weight()
        return np.abs(weight.reshape(weight.shape[0], -1)).max(axis=1)

    def state_unit(self) -> tuple[np.ndarray, np.ndarray | None, int]:
        """U per neuron, the first weighted path's per-channel scale (None when an unweighted
        path fixes U) and the shift e of the path that fixes U (U = A / 2^e)."""
        unweighted = [p for p in self.paths if p.weighted is None]
        if unweighted:
            path = unweighted[0]
            accumulator = np.full(self.shape, self.units(path.source) / path.divisor)
            shift = self._input_shift(accumulator)
            return accumulator / 2.0 ** shift, None, shift
        first = self.paths[0]
        rows = self._rows(first)
        recurrent = getattr(self.node, "recurrent", None)
        if recurrent is not None:
            rows = np.maximum(rows, np.abs(recurrent).max(axis=1))
        scale = _scale(rows if self.per_channel else np.full_like(rows, rows.max()), self.spec)
        accumulator = _per_neuron(scale, self.shape, True) * self.units(first.source)
        shift = self._input_shift(accumulator)
        return accumulator / 2.0 ** shift, scale, shift

    # ------------------------------------------------------------------ emission

    def _int_weight(self, weight: np.ndarray, scale: np.ndarray) -> np.ndarray:
        per_row = scale.reshape(-1, *([1] * (weight.ndim - 1)))
        q = np.clip(round_half_up(weight / per_row), -self.spec.qmax, self.spec.qmax)
        return q.astype(int_dtype(self.spec.weight_bits))

    def _path_scale(self, path: Path, unit: np.ndarray) -> tuple[np.ndarray, int]:
        """(per-channel weight scale, shift e) of a non-first weighted path: s = U 2^e / s_in."""
        per_channel_unit = unit.reshape(unit.shape[0], -1)[:, 0] if unit.ndim > 1 else unit
        rows = self._rows(path)
        need = rows * self.units(path.source) / (per_channel_unit * self.spec.qmax)
        top = float(need.max(initial=0.0))
        shift = math.ceil(math.log2(top)) if top > 0 else 0
        return per_channel_unit * 2.0 ** shift / self.units(path.source), shift

    def emit(self, nodes: dict[str, ProgramNode], edges: list[ir.Edge]) -> float:
        """Add this neuron's paths and node; return its output unit."""
        unit, first_scale, first_shift = self.state_unit()
        for index, path in enumerate(self.paths):
            suffix = "" if len(self.paths) == 1 else str(index)
            if path.weighted is None:
                shift = _power_of_two(self.units(path.source) / path.divisor / float(unit.flat[0]),
                                      self.name)
                scale = None
            elif index == 0 and first_scale is not None:
                scale, shift = first_scale, first_shift
            else:
                scale, shift = self._path_scale(path, unit)
            bias = np.zeros(self.shape, np.int64)
            if path.bias is not None:
                bias = round_half_up(_per_neuron(path.bias, self.shape, True) / unit)
            last = self._emit_path(path, scale, nodes, edges)
            requantize = f"{self.name}.in{suffix}"
            nodes[requantize] = synapses.Requantize(shift, bias)
            edges += [ir.Edge(last, requantize), ir.Edge(requantize, self.name, path.delay)]
        self._emit_recurrent(first_scale, first_shift, nodes, edges)
        nodes[self.name] = self._neuron(unit)
        return float(unit.flat[0]) if isinstance(self.node, ir.LI) else self.out_unit

    def _emit_path(self, path: Path, scale: np.ndarray | None, nodes: dict[str, ProgramNode],
                   edges: list[ir.Edge]) -> str:
        previous = path.source
        for name, node, delay in path.steps:
            if isinstance(node, ir.BatchNorm):
                continue  # folded into the weighted node before it (`Path.effective_weight`)
            if isinstance(node, ir.Affine):
                nodes[name] = synapses.Dense(self._int_weight(path.effective_weight(), scale))
            elif isinstance(node, ir.Conv2d):
                nodes[name] = synapses.Conv2d(self._int_weight(path.effective_weight(), scale),
                                              node.stride, node.padding, node.dilation,
                                              node.groups)
            elif isinstance(node, ir.AvgPool2d | ir.SumPool2d):
                nodes[name] = synapses.SumPool2d(node.kernel_size, node.stride, node.padding)
            else:
                nodes[name] = synapses.Flatten()
            edges.append(ir.Edge(previous, name, delay))
            previous = name
        return previous

    def _emit_recurrent(self, scale: np.ndarray | None, first_shift: int,
                        nodes: dict[str, ProgramNode], edges: list[ir.Edge]) -> None:
        """An SNU's own recurrent weight: a Dense + Requantize loop with a one-step delay, with
        the first path's scale (the unit ratio of its input and this output is a power of two)."""
        recurrent = getattr(self.node, "recurrent", None)
        if recurrent is None:
            return
        if scale is None:
            raise UnsupportedModelError(f"recurrent layer '{self.name}' needs a Linear layer "
                                        "before it")
        shift = first_shift + _power_of_two(self.out_unit / self.units(self.paths[0].source),
                                            self.name)
        dense, requantize = f"{self.name}.recurrent", f"{self.name}.recurrent.in"
        nodes[dense] = synapses.Dense(self._int_weight(recurrent, scale))
        nodes[requantize] = synapses.Requantize(shift, np.zeros(self.shape, np.int64))
        edges += [ir.Edge(self.name, dense), ir.Edge(dense, requantize),
                  ir.Edge(requantize, self.name, 1)]

    # ------------------------------------------------------------------ the neuron

    def _neuron(self, unit: np.ndarray) -> ProgramNode:
        node, shape, spec = self.node, self.shape, self.spec
        state = Format(spec.state_bits)

        def q12(value: np.ndarray) -> np.ndarray:
            return round_half_up(_per_neuron(value, shape) * (1 << DECAY_BITS))

        def threshold() -> np.ndarray:
            if spec.state_bits < STRICT_MIN_STATE_BITS and (not isinstance(node, ir.IAF)
                                                            or node.strict):
                raise UnsupportedModelError(
                    f"layer '{self.name}': {ir.neuron_kind(node)} fires when its state exceeds a "
                    f"threshold of at least 1, which a {spec.state_bits}-bit state never does; "
                    f"use at least {STRICT_MIN_STATE_BITS} state bits")
            return np.maximum(1, round_half_up(_per_neuron(node.threshold, shape) / unit))

        if isinstance(node, ir.IAF):
            min_v = None if node.min_v is None else round_half_up(_per_neuron(node.min_v, shape)
                                                                  / unit)
            return neurons.IAF(threshold(), node.spike, node.reset, node.strict, min_v, state, unit)
        if isinstance(node, ir.LIF):
            return neurons.LIF(q12(np.clip(node.beta, 0.0, 1.0)), threshold(), node.reset,
                               node.reset_delay, state, unit)
        if isinstance(node, ir.CubaLIF):
            return neurons.CubaLIF(q12(np.clip(node.alpha, 0.0, 1.0)),
                                   q12(np.clip(node.beta, 0.0, 1.0)), threshold(), node.reset,
                                   node.reset_delay, state, unit)
        if isinstance(node, ir.SNU):
            out_bias = round_half_up(_per_neuron(node.bias, shape) / unit)
            if not node.soft:
                return neurons.SNU(q12(node.decay), out_bias, state, unit)
            sigmoid = build_table(lambda z: 1.0 / (1.0 + np.exp(-z)), -12.0, 12.0,
                                  spec.table_size, float(unit.flat[0]), self.out_unit)
            return neurons.SoftSNU(q12(node.decay), out_bias, sigmoid, spec.activation_bits,
                                   state, unit)
        if isinstance(node, ir.SRC):
            frac = SRC_FRACTION_BITS
            rho = node.rho
            return neurons.SRC(
                quantize_multiplier(node.alpha, DECAY_BITS), quantize_multiplier(node.r, frac),
                quantize_multiplier(node.rs, frac), quantize_multiplier(node.z, frac),
                quantize_multiplier(node.zs_hyp, frac), quantize_multiplier(node.zs_dep, frac),
                frac, round_half_up(np.minimum(_per_neuron(node.bias, shape), node.bias_max)
                                    * (1 << frac)),
                build_table(lambda i: rho * np.tanh(i / rho), -4 * rho, 4 * rho, spec.table_size,
                            float(unit.flat[0]), 2.0 ** -frac),
                build_table(np.tanh, -8.0, 8.0, spec.table_size, 2.0 ** -frac, 2.0 ** -frac),
                spec.activation_bits, state, unit)
        if isinstance(node, ir.LI):
            return neurons.LI(q12(node.alpha), state, unit)
        raise UnsupportedModelError(f"layer '{self.name}' ({ir.neuron_kind(node)}) has no integer "
                                    "form on this target")


def spike_unit(node: ir.nodes.NeuronNode, spec: QuantSpec) -> float:
    """The real value of one output integer of a spiking or graded-spike neuron: 1 for spike
    counts, 2^-activation_bits for SoftSNU and SRC (an LI outputs its state, in its own unit)."""
    if isinstance(node, ir.SRC) or (isinstance(node, ir.SNU) and node.soft):
        return 2.0 ** -spec.activation_bits
    return 1.0


def _input_format(calibration: Calibration, spec: QuantSpec, shape: tuple[int, ...]
                  ) -> InputFormat:
    """Integers as they are; real values in activation_bits with the smallest power-of-two scale
    whose largest integer (2^(bits-1) - 1) still holds the calibrated maximum."""
    top = calibration.input_max
    if calibration.input_is_integer:
        return InputFormat(shape, 1.0, max(2, math.ceil(math.log2(top + 1)) + 1))
    largest = (1 << (spec.activation_bits - 1)) - 1
    exponent = math.ceil(math.log2(top / largest)) if top > 0 else 0
    return InputFormat(shape, 2.0 ** exponent, spec.activation_bits)


def quantize(network: ir.Network, calibration: Calibration, spec: QuantSpec,
             target: str = "sim") -> Program:
    """Lower `network` to an integer Program using `calibration` ranges and `spec` formats."""
    if not ir.is_neuron(network.nodes[network.output]):
        raise UnsupportedModelError(
            f"the network ends with {type(network.nodes[network.output]).__name__} layer "
            f"'{network.output}'; end it with a neuron layer (for graded outputs, an LI readout)")
    input_format = _input_format(calibration, spec, network.input_shape)
    known: dict[str, float] = {ir.INPUT: input_format.scale}

    def units(source: str) -> float:
        """Output unit of a source; a neuron not quantized yet (a loop) has a fixed one."""
        if source in known:
            return known[source]
        if isinstance(network.nodes[source], ir.LI):
            raise UnsupportedModelError(f"leaky integrator '{source}' feeds a layer before it; "
                                        "its output unit is not known there")
        return spike_unit(network.nodes[source], spec)

    nodes: dict[str, ProgramNode] = {}
    edges: list[ir.Edge] = []
    for layer in network.neuron_layers:
        quantizer = _NeuronQuantizer(network, layer.name, units, spec, calibration)
        known[layer.name] = quantizer.emit(nodes, edges)
    return Program(target, input_format, nodes, tuple(edges), network.output,
                   {key: value for key, value in asdict(spec).items()})
