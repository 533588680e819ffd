"""Network + calibration -> Program: integer weights, state units, fixed-point constants, tables.

Scheme (per neuron layer and the synaptic ops feeding it):
- weights: symmetric, W_int = clip(round(W / s_w), -(2^(b-1) - 1), 2^(b-1) - 1), with one scale per
  output channel (or per tensor; optionally a power of two). Average pools become sum pools and
  their 1/k^2 is folded into the layer's weights. A recurrent weight R shares its row's scale.
- accumulator unit A = s_w * s_in (s_in: 1 for spikes, 2^-k for k-bit graded values);
  state unit U = A / 2^e, with the largest e that keeps the calibrated state range (times a
  headroom) inside `state_bits`. Accumulators enter the state as acc << e (e >= 0) or rounded
  half up as acc >> -e (e < 0, when the accumulator is wider than the state).
- thresholds, biases and floors are rounded to state units; decays and gates to Q0.12;
  nonlinearities (sigmoid, tanh, rho*tanh(x/rho)) become piecewise-linear integer tables.
Rounding is half up everywhere (`neurodeploy.quant.fixed`); states saturate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.quant.calibrate import Calibration
from neurodeploy.quant.fixed import quantize_multiplier
from neurodeploy.quant.program import IntLayer, IntOp, Program
from neurodeploy.quant.tables import build_table
from neurodeploy.sim.kernels import DECAY_BITS

SRC_FRACTION_BITS = 12
STRICT_MIN_STATE_BITS = 3  # a 2-bit state is at most 1, never above a threshold >= 1
PER_TENSOR_KINDS = ("SoftSNU", "SRC", "LI")  # their tables need one state unit per layer


@dataclass(frozen=True)
class QuantSpec:
    """Quantization settings."""

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


def _round(x: np.ndarray | float) -> np.ndarray:
    """Round half up to int64."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def _int_dtype(bits: int) -> type:
    return np.int8 if bits <= 8 else np.int16 if bits <= 16 else np.int32


def _scale(max_abs: np.ndarray, spec: QuantSpec) -> np.ndarray:
    qmax = (1 << (spec.weight_bits - 1)) - 1
    scale = np.where(max_abs > 0, max_abs / qmax, 1.0)
    if spec.power_of_two:
        scale = np.exp2(np.ceil(np.log2(scale)))
    return scale


def neuron_stages(network: ir.Network) -> list[tuple[list[ir.Layer], ir.Layer]]:
    """Split the chain into (synaptic layers, the neuron layer they feed) pairs."""
    stages, pending = [], []
    for layer in network.layers:
        if ir.is_neuron(layer.node):
            stages.append((pending, layer))
            pending = []
        else:
            pending.append(layer)
    if pending:
        raise UnsupportedModelError(
            f"the network ends with {type(pending[-1].node).__name__} layer '{pending[-1].name}'; "
            "end it with a neuron layer (for graded outputs, an LI readout)")
    return stages


def _power_of_two_ratio(numerator: float, denominator: float, what: str) -> int:
    ratio = math.log2(numerator / denominator)
    if abs(ratio - round(ratio)) > 1e-9:
        raise UnsupportedModelError(f"{what}: input and output units differ by a non power of two")
    return round(ratio)


class _StageQuantizer:
    """Quantizes one neuron layer together with the synaptic ops feeding it."""

    def __init__(self, network: ir.Network, ops: list[ir.Layer], neuron: ir.Layer,
                 in_unit: float, spec: QuantSpec, calibration: Calibration) -> None:
        self.network, self.ops, self.neuron, self.spec = network, ops, neuron, spec
        self.in_unit = in_unit
        self.kind = ir.neuron_kind(neuron.node)
        self.shape = network.output_shape_of(neuron.name)
        self.state_max = calibration.state_max[neuron.name]

    def quantize(self) -> IntLayer:
        weighted = [layer for layer in self.ops if isinstance(layer.node, ir.Affine | ir.Conv2d)]
        if len(weighted) > 1:
            raise UnsupportedModelError(
                f"layers {[w.name for w in weighted]} are consecutive weighted layers without a "
                "neuron between them; fuse them into one before deploying")
        divisor = 1
        for layer in self.ops:
            if isinstance(layer.node, ir.AvgPool2d):
                divisor *= layer.node.kernel_size[0] * layer.node.kernel_size[1]
            if isinstance(layer.node, ir.AvgPool2d | ir.SumPool2d):
                if any(layer.node.padding) and weighted and weighted[0].node.bias is not None:
                    raise UnsupportedModelError(
                        f"layer '{layer.name}': a padded average pool after a biased layer is not "
                        "supported; remove the padding or the bias")
        recurrent = getattr(self.neuron.node, "recurrent", None)
        per_channel = self.spec.per_channel and self.kind not in PER_TENSOR_KINDS
        out_unit = self._out_unit()
        if weighted:
            node = weighted[0].node
            w_eff = node.weight.astype(np.float64) / divisor
            rows = np.abs(w_eff.reshape(w_eff.shape[0], -1)).max(axis=1)
            if recurrent is not None:
                rows = np.maximum(rows, np.abs(recurrent).max(axis=1))
            scale = _scale(rows if per_channel else np.full_like(rows, rows.max()), self.spec)
            accumulator_unit = self._per_neuron(scale, isinstance(node, ir.Conv2d)) * self.in_unit
        else:
            if recurrent is not None:
                raise UnsupportedModelError(
                    f"recurrent layer '{self.neuron.name}' needs a Linear layer before it")
            scale = None
            accumulator_unit = np.full(self.shape, self.in_unit / divisor)
        shift = self._input_shift(accumulator_unit)
        unit = accumulator_unit / 2.0 ** shift
        qmax = (1 << (self.spec.weight_bits - 1)) - 1
        int_ops = []
        for layer in self.ops:
            int_ops.append(self._int_op(layer, scale, divisor, qmax))
        bias = np.zeros(self.shape, np.int64)
        if weighted and weighted[0].node.bias is not None:
            real_bias = self._per_neuron(weighted[0].node.bias, isinstance(weighted[0].node, ir.Conv2d))
            bias = _round(real_bias / unit)
        int_recurrent, recurrent_shift = None, 0
        if recurrent is not None:
            int_recurrent = np.clip(_round(recurrent / scale[:, None]), -qmax, qmax).astype(
                _int_dtype(self.spec.weight_bits))
            recurrent_shift = shift + _power_of_two_ratio(out_unit, self.in_unit, self.neuron.name)
        layer = IntLayer(self.neuron.name, self.kind, tuple(self.shape), int_ops, unit, shift, bias,
                         self.spec.state_bits, out_unit, self._out_bits(unit),
                         recurrent=int_recurrent, recurrent_shift=recurrent_shift)
        self._neuron_constants(layer, unit)
        return layer

    def _per_neuron(self, per_channel: np.ndarray, conv: bool) -> np.ndarray:
        values = np.asarray(per_channel, dtype=np.float64)
        if conv:
            values = values.reshape(-1, *([1] * (len(self.shape) - 1)))
        return np.broadcast_to(values, self.shape).copy()

    def _out_unit(self) -> float:
        if self.kind in ("SoftSNU", "SRC"):
            return 2.0 ** -self.spec.activation_bits
        return 1.0  # spikes; LI replaces this with its state unit

    def _out_bits(self, unit: np.ndarray) -> int:
        if self.kind in ("SoftSNU", "SRC"):
            return self.spec.activation_bits
        if self.kind == "LI":
            return self.spec.state_bits
        if self.kind == "IAF" and self.neuron.node.spike == "multi":
            threshold = np.broadcast_to(self.neuron.node.threshold, self.shape) / unit
            return max(1, math.ceil(math.log2((1 << (self.spec.state_bits - 1)) / threshold.min() + 1)))
        return 1

    def _input_shift(self, accumulator_unit: np.ndarray) -> int:
        """Largest e <= max_input_shift keeping headroom * range / (A / 2^e) inside state_bits.

        e < 0 when the accumulator is wider than the state: it then enters rounded (>> -e).
        """
        node = self.neuron.node
        reach = np.broadcast_to(self.state_max, self.shape).astype(np.float64)
        for name in ("threshold", "bias"):
            if isinstance(getattr(node, name, None), np.ndarray) and not isinstance(node, ir.SRC):
                reach = np.maximum(reach, np.abs(np.broadcast_to(getattr(node, name), self.shape)))
        largest = float((reach / accumulator_unit).max(initial=0.0)) * self.spec.headroom
        limit = (1 << (self.spec.state_bits - 1)) - 1
        if largest <= 0:
            return self.spec.max_input_shift
        return int(min(self.spec.max_input_shift, math.floor(math.log2(limit / largest))))

    def _int_op(self, layer: ir.Layer, scale: np.ndarray | None, divisor: int, qmax: int) -> IntOp:
        node = layer.node
        dtype = _int_dtype(self.spec.weight_bits)
        if isinstance(node, ir.Affine):
            weight = np.clip(_round(node.weight / divisor / scale[:, None]), -qmax, qmax)
            return IntOp("affine", weight.astype(dtype))
        if isinstance(node, ir.Conv2d):
            weight = np.clip(_round(node.weight / divisor / scale[:, None, None, None]), -qmax, qmax)
            return IntOp("conv2d", weight.astype(dtype), node.stride, node.padding, node.dilation,
                         node.groups)
        if isinstance(node, ir.AvgPool2d | ir.SumPool2d):
            return IntOp("sumpool2d", None, node.stride, node.padding, kernel_size=node.kernel_size)
        return IntOp("flatten")

    def _neuron_constants(self, layer: IntLayer, unit: np.ndarray) -> None:
        node, shape = self.neuron.node, self.shape

        def per_neuron(value: np.ndarray) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=np.float64), shape)

        def q12(value: np.ndarray) -> np.ndarray:
            return _round(per_neuron(value) * (1 << DECAY_BITS))

        if isinstance(node, ir.IAF | ir.LIF | ir.CubaLIF):
            layer.arrays["threshold"] = np.maximum(1, _round(per_neuron(node.threshold) / unit))
            if self.spec.state_bits < STRICT_MIN_STATE_BITS and (
                    not isinstance(node, ir.IAF) or node.strict):
                raise UnsupportedModelError(
                    f"layer '{self.neuron.name}': {self.kind} fires when its state exceeds a "
                    f"threshold of at least 1, which a {self.spec.state_bits}-bit state never "
                    f"does; use at least {STRICT_MIN_STATE_BITS} state bits")
        if isinstance(node, ir.CubaLIF):
            layer.arrays["alpha"] = q12(np.clip(node.alpha, 0.0, 1.0))
            layer.arrays["beta"] = q12(np.clip(node.beta, 0.0, 1.0))
        if isinstance(node, ir.IAF | ir.LIF):
            layer.consts["reset"] = node.reset
        if isinstance(node, ir.IAF):
            layer.consts["spike"] = node.spike
            layer.consts["strict"] = int(node.strict)
            if node.min_v is not None:
                layer.arrays["min_v"] = _round(per_neuron(node.min_v) / unit)
        elif isinstance(node, ir.LIF):
            layer.arrays["beta"] = q12(np.clip(node.beta, 0.0, 1.0))
            layer.consts["reset_delay"] = int(node.reset_delay)
        elif isinstance(node, ir.SNU):
            layer.arrays["decay"] = q12(node.decay)
            layer.arrays["out_bias"] = _round(per_neuron(node.bias) / unit)
            if node.soft:
                layer.tables["sigmoid"] = build_table(
                    lambda z: 1.0 / (1.0 + np.exp(-z)), -12.0, 12.0, self.spec.table_size,
                    float(unit.flat[0]), layer.out_unit)
        elif isinstance(node, ir.SRC):
            frac = SRC_FRACTION_BITS
            layer.consts.update({
                "frac": frac, "alpha": quantize_multiplier(node.alpha, DECAY_BITS),
                "r": quantize_multiplier(node.r, frac), "rs": quantize_multiplier(node.rs, frac),
                "z": quantize_multiplier(node.z, frac), "zs_hyp": quantize_multiplier(node.zs_hyp, frac),
                "zs_dep": quantize_multiplier(node.zs_dep, frac)})
            layer.arrays["cell_bias"] = _round(np.minimum(per_neuron(node.bias), node.bias_max)
                                               * (1 << frac))
            rho = node.rho
            layer.tables["bound"] = build_table(lambda i: rho * np.tanh(i / rho), -4 * rho, 4 * rho,
                                                self.spec.table_size, float(unit.flat[0]), 2.0 ** -frac)
            layer.tables["tanh"] = build_table(np.tanh, -8.0, 8.0, self.spec.table_size,
                                               2.0 ** -frac, 2.0 ** -frac)
        elif isinstance(node, ir.LI):
            layer.arrays["alpha"] = q12(node.alpha)
            layer.out_unit = float(unit.flat[0])


def _input_format(calibration: Calibration, spec: QuantSpec) -> tuple[float, int]:
    """(unit, bits) of the program input: integers as they are, real values in activation_bits."""
    top = calibration.input_max
    if calibration.input_is_integer:
        return 1.0, max(2, math.ceil(math.log2(top + 1)) + 1)
    exponent = math.ceil(math.log2(top)) if top > 0 else 0
    return 2.0 ** (exponent - (spec.activation_bits - 1)), spec.activation_bits


def quantize(network: ir.Network, calibration: Calibration, spec: QuantSpec,
             target: str = "sim") -> Program:
    """Lower `network` to an integer Program using `calibration` ranges and `spec` formats."""
    input_unit, input_bits = _input_format(calibration, spec)
    in_unit = input_unit
    layers = []
    for ops, neuron in neuron_stages(network):
        layer = _StageQuantizer(network, ops, neuron, in_unit, spec, calibration).quantize()
        layers.append(layer)
        in_unit = layer.out_unit
    return Program(target, network.input_shape, input_unit, input_bits, layers,
                   {"quant": asdict(spec)})
