"""Akida 2.0-style layers as Program nodes: one frame in, one frame out (time collapsed).

Per output channel f (../shared/specs/akida.md), with integer input x and weights W:

    acc = saturate(sum(x * W), 28 bits)          # only the final sum saturates
    acc = acc + bias                             # bias = m << s, m 8-bit signed
    acc = maxpool(acc)                           # pool == MAX: before the activation
    acc = clip(acc, 0, max_value)                # relu (max_value already shifted)
    acc = sum of acc over k x k windows / whole  # pool == AVERAGE / GLOBAL: after it, 1/k^2 in M
    out = acc                                    # not scaled: a raw int32 output
    out = saturate(acc * M, 32 bits)             # scaled: M unsigned 8-bit
    out = round_half_up(out / 2^e) (e > 0), out << -e (e <= 0)
    out = saturate(out, output bits)             # unsigned below 8 bits, int8 at 8

`validate` proves what the emitted ONNX relies on: every sum of |x W| + |bias| (and every
pooled sum) stays within 2^24, so float32 Gemm/Conv are exact and the 28-bit buffer never
saturates; acc * M stays within int32. Within those bounds the 28- and 32-bit saturations
never act, the output saturation is the final Clip of the ONNX graph, and onnxruntime's float
graph (`neurodeploy.targets.akida.onnx_model`) computes the same integers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

import numpy as np

from neurodeploy.program.node import ProgramNode, SynapseCount, Tally, check_integer
from neurodeploy.program.synapses import Conv2d, Dense
from neurodeploy.targets.akida.spec import WEIGHT_RANGES, activation_range

BUFFER_BITS = 28
#: float32 holds every integer up to 2^24: the bound on every sum the ONNX graph forms
FLOAT32_EXACT = 1 << 24
INT32_MAX = (1 << 31) - 1
SHIFT_RANGE = (-31, 32)


class Pool(StrEnum):
    """Pooling fused into a convolutional layer."""

    NONE = "none"
    MAX = "max"  # k x k maximum, before the activation
    AVERAGE = "average"  # k x k sum after the activation; 1/k^2 folded into the output scale
    GLOBAL = "global"  # sum over the whole map after the activation; 1/(H W) folded likewise


def scale_out(acc: np.ndarray, scale: np.ndarray, shift: np.ndarray, low: int, high: int,
              tally: Tally) -> np.ndarray:
    """saturate(round_half_up(saturate(acc * M, 32) / 2^e), [low, high]) per channel
    (axis 1), in int64; saturated values are counted in `tally`."""
    shape = (1, -1) + (1,) * (acc.ndim - 2)
    product = tally.saturate(acc * scale.reshape(shape), -INT32_MAX - 1, INT32_MAX)
    e = shift.reshape(shape)
    right = np.maximum(e, 0)
    rounded = (product + np.where(right > 0, np.left_shift(1, np.maximum(right - 1, 0)), 0)) \
        >> right
    out = np.left_shift(rounded, np.maximum(-e, 0))
    return tally.saturate(out, low, high)


@dataclass(eq=False)
class AkidaLayer(ProgramNode):
    """The arithmetic shared by the dense and convolutional layers (module docstring).

    `output_unit` is the real value of one output integer (per channel, or one value), so the
    layer's output reads as spike counts or currents of the float network.
    """

    weight: np.ndarray
    bias: np.ndarray  # (F,) already shifted
    max_value: np.ndarray  # (F,) ReLU clip (already shifted); ignored without relu
    scale: np.ndarray  # (F,) M
    shift: np.ndarray  # (F,) e
    output_unit: np.ndarray  # (F,) or (1,)
    relu: bool
    scaled: bool
    input_bits: int
    weight_bits: int
    output_bits: int
    stateful = True  # one step per frame (a Program of this target sees one step)
    graded = True
    weighted = True

    @property
    def channels(self) -> int:
        return int(self.weight.shape[0])

    @property
    def output_scale(self) -> np.ndarray:
        return self.output_unit.astype(np.float64)

    @property
    def input_limit(self) -> int:
        low, high = activation_range(self.input_bits)
        return max(-low, high)

    @cached_property
    def row_l1(self) -> np.ndarray:
        """sum |W| per output channel."""
        return np.abs(self.weight.reshape(self.channels, -1).astype(np.int64)).sum(axis=1)

    def accumulator_bound(self) -> np.ndarray:
        """Per channel, the largest |sum(x W) + bias| any input of the input format gives."""
        return self.row_l1 * self.input_limit + np.abs(self.bias.astype(np.int64))

    def pooled_factor(self, input_shape: tuple[int, ...]) -> int:
        """How many activations a pooled sum adds (1 without a sum pool)."""
        return 1

    def output_range(self) -> tuple[int, int]:
        if not self.scaled:
            return -INT32_MAX - 1, INT32_MAX
        return activation_range(self.output_bits)

    def output_bound(self, input_bound: float) -> float:
        low, high = self.output_range()
        return float(max(-low, high))

    def validate(self, input_shape: tuple[int, ...]) -> None:
        low, high = WEIGHT_RANGES.get(self.weight_bits, (None, None))
        if low is None:
            raise ValueError(f"weight bits {self.weight_bits} must be one of "
                             f"{sorted(WEIGHT_RANGES)}")
        check_integer("weight", self.weight, lo=low, hi=high)
        activation_range(self.input_bits)
        activation_range(self.output_bits)
        channels = (self.channels,)
        check_integer("bias", self.bias, channels, -(1 << 24), 1 << 24)
        check_integer("max_value", self.max_value, channels, 0, INT32_MAX)
        check_integer("scale", self.scale, channels, 0, 255)
        check_integer("shift", self.shift, channels, *SHIFT_RANGE)
        unit = np.asarray(self.output_unit)
        if unit.dtype != np.float32 or unit.shape not in (channels, (1,)) or not (
                np.all(np.isfinite(unit)) and np.all(unit > 0)):
            raise ValueError("array 'output_unit' must be positive float32, one value per "
                             "channel or one")
        self._check_bounds(input_shape)

    def _check_bounds(self, input_shape: tuple[int, ...]) -> None:
        """The bounds of the module docstring, per channel."""
        acc = self.accumulator_bound()
        if acc.max(initial=0) > FLOAT32_EXACT:
            raise ValueError(f"sum |x W| + |bias| reaches {int(acc.max())}, beyond 2^24 (the exact "
                             "range of the ONNX form); use fewer input or weight bits")
        reach = np.minimum(acc, self.max_value) if self.relu else acc
        pooled = reach * self.pooled_factor(input_shape)
        if pooled.max(initial=0) > FLOAT32_EXACT:
            raise ValueError(f"a pooled sum reaches {int(pooled.max())}, beyond 2^24")
        if self.scaled:
            if (pooled * self.scale).max(initial=0) > INT32_MAX:
                raise ValueError("acc * M can leave int32; lower the scale or the range")
            if self.output_bits < 8 and not self.relu:
                raise ValueError(f"a {self.output_bits}-bit unsigned output needs a ReLU")

    # ------------------------------------------------------------------ arithmetic

    def accumulate(self, x: np.ndarray, bound: float) -> np.ndarray:
        """sum(x * W) per output (exact), `(B, F, ...)` int64."""
        raise NotImplementedError

    def pool_before(self, acc: np.ndarray) -> np.ndarray:
        return acc

    def pool_after(self, acc: np.ndarray) -> np.ndarray:
        return acc

    def step(self, state: tuple, inp: np.ndarray, tally: Tally) -> tuple[np.ndarray, tuple]:
        acc = self.accumulate(inp.astype(np.int64), float(self.input_limit))
        shape = (1, -1) + (1,) * (acc.ndim - 2)
        limit = 1 << (BUFFER_BITS - 1)
        acc = tally.saturate(acc, -limit, limit - 1) + self.bias.astype(np.int64).reshape(shape)
        acc = self.pool_before(acc)
        if self.relu:  # the activation range: values above max_value are saturations
            ceiling = self.max_value.astype(np.int64).reshape(shape)
            tally.saturated += int(np.count_nonzero(acc > ceiling))
            acc = np.clip(acc, 0, ceiling)
        acc = self.pool_after(acc)
        low, high = self.output_range()
        if not self.scaled:
            return tally.saturate(acc, low, high), state
        return scale_out(acc, self.scale.astype(np.int64), self.shift.astype(np.int64), low, high,
                         tally), state

    def describe(self) -> dict:
        return {"kind": self.kind, "relu": self.relu, "scaled": self.scaled,
                "input_bits": self.input_bits, "weight_bits": self.weight_bits,
                "output_bits": self.output_bits if self.scaled else 32,
                "shift_range": [int(self.shift.min()), int(self.shift.max())],
                "scale_range": [int(self.scale.min()), int(self.scale.max())]}


@dataclass(eq=False)
class AkidaDense(AkidaLayer):
    """A fully connected layer (Dense1D); a (C, H, W) input is flattened C-major."""

    kind = "akida_dense"

    @cached_property
    def _dense(self) -> Dense:
        return Dense(self.weight.reshape(self.channels, -1))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.channels,)

    def validate(self, input_shape: tuple[int, ...]) -> None:
        if self.weight.ndim != 2 or math.prod(input_shape) != self.weight.shape[1]:
            raise ValueError(f"array 'weight' of shape {self.weight.shape} does not take an input "
                             f"of shape {input_shape}")
        super().validate(input_shape)

    def accumulate(self, x: np.ndarray, bound: float) -> np.ndarray:
        flat = x.reshape(1, x.shape[0], -1)
        return self._dense.apply(flat, bound)[0].astype(np.int64)

    def synapse_count(self, x: np.ndarray, bound: float) -> SynapseCount:
        return self._dense.synapse_count(x.reshape(*x.shape[:2], -1), bound)


@dataclass(eq=False)
class AkidaConv(AkidaLayer):
    """A 2-D convolution (Conv2D) with fused pooling (`Pool`); padding is symmetric zeros."""

    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    pool: Pool = Pool.NONE
    pool_size: tuple[int, int] = (1, 1)
    kind = "akida_conv"

    @cached_property
    def _conv(self) -> Conv2d:
        return Conv2d(self.weight, tuple(self.stride), tuple(self.padding))

    def _conv_shape(self, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
        return self._conv.output_shape(input_shape)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        channels, height, width = self._conv_shape(input_shape)
        if self.pool is Pool.GLOBAL:
            return (channels, 1, 1)
        if self.pool is Pool.NONE:
            return (channels, height, width)
        kh, kw = self.pool_size
        return (channels, height // kh, width // kw)

    def pooled_factor(self, input_shape: tuple[int, ...]) -> int:
        if self.pool is Pool.AVERAGE:
            return self.pool_size[0] * self.pool_size[1]
        if self.pool is Pool.GLOBAL:
            _, height, width = self._conv_shape(input_shape)
            return height * width
        return 1

    def validate(self, input_shape: tuple[int, ...]) -> None:
        if self.weight.ndim != 4:
            raise ValueError(f"array 'weight' has shape {self.weight.shape}; a convolution needs "
                             "(F, C, kh, kw)")
        self._conv.validate(input_shape)
        if np.asarray(self.output_unit).shape != (1,):
            raise ValueError("a convolution's 'output_unit' is one value for all channels")
        if self.pool in (Pool.MAX, Pool.AVERAGE):
            _, height, width = self._conv_shape(input_shape)
            if min(self.pool_size) < 1 or height < self.pool_size[0] or width < self.pool_size[1]:
                raise ValueError(f"pool size {self.pool_size} does not fit the {height}x{width} map")
        super().validate(input_shape)

    def accumulate(self, x: np.ndarray, bound: float) -> np.ndarray:
        return self._conv.apply(x[None], bound)[0].astype(np.int64)

    def _windows(self, acc: np.ndarray, reduce: str) -> np.ndarray:
        """k x k windows with stride k (a partial window at the edge is dropped)."""
        kh, kw = self.pool_size
        batch, channels, height, width = acc.shape
        cut = acc[:, :, :height // kh * kh, :width // kw * kw]
        blocks = cut.reshape(batch, channels, height // kh, kh, width // kw, kw)
        return blocks.max(axis=(3, 5)) if reduce == "max" else blocks.sum(axis=(3, 5))

    def pool_before(self, acc: np.ndarray) -> np.ndarray:
        return self._windows(acc, "max") if self.pool is Pool.MAX else acc

    def pool_after(self, acc: np.ndarray) -> np.ndarray:
        if self.pool is Pool.AVERAGE:
            return self._windows(acc, "sum")
        if self.pool is Pool.GLOBAL:
            return acc.sum(axis=(2, 3), keepdims=True)
        return acc

    def synapse_count(self, x: np.ndarray, bound: float) -> SynapseCount:
        return self._conv.synapse_count(x, bound)

    def describe(self) -> dict:
        return {**super().describe(), "stride": list(self.stride), "padding": list(self.padding),
                "pool": str(self.pool), "pool_size": list(self.pool_size)}


def fan_in(layer: AkidaLayer) -> int:
    """Inputs per output neuron."""
    return int(np.prod(layer.weight.shape[1:]))
