"""Stateless integer nodes: Dense, Conv2d, SumPool2d, Flatten and Requantize.

Dense, Conv2d and SumPool2d are computed with float BLAS where their bounds prove it exact: an
integer dot product is exact in floating point while every partial sum stays below 2^24 (float32)
or 2^53 (float64), since all such integers are representable. The bound used is the largest sum
of |W| over an output times the bound on |x| the input's format guarantees; int8 x int8 products
with 31-bit sums use torch's int8 GEMM (first, on a CPU with int8 dot-product instructions);
beyond 2^53 the op runs in int64. torch is imported
where it is used, so that loading a Program (or refusing a model) does not pay for it.
"""

from __future__ import annotations

import enum
import functools
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from neurodeploy.program.formats import shift_round
from neurodeploy.program.node import ProgramNode, SynapseCount, check_integer

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53
MAX_WEIGHT_BITS = 16


def exact_float(bound: float) -> type | None:
    """The narrowest float type holding every integer up to `bound` exactly, or None."""
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    return None


class Product(enum.Enum):
    """How a Dense forms its exact integer product (`Dense.product`)."""

    INT8 = "int8 GEMM, int32 sums"
    FLOAT32 = "float32 GEMM"
    FLOAT64 = "float64 GEMM"
    INT64 = "int64"


@functools.cache
def int8_dot_product_cpu() -> bool:
    """Whether this CPU has int8 dot-product instructions (x86 VNNI), with which torch's int8
    GEMM runs about 4x faster than float32 SGEMM (3.7x measured on an AVX-512 VNNI EPYC; without
    them it is about 20x slower)."""
    from llvmlite import binding
    features = binding.get_host_cpu_features()
    return any(features.get(name, False) for name in ("avx512vnni", "avxvnni"))


def _fits_int8(x: np.ndarray, x_bound: float) -> bool:
    if x.dtype == np.int8 or x_bound <= 127:
        return True
    return x.size > 0 and bool(x.max() <= 127 and x.min() >= -128)


def _accumulate_only(x: np.ndarray, bound: float) -> bool:
    return bound <= 1 or bool(x.max(initial=0) <= 1 and x.min(initial=0) >= -1)


def _check_weight(weight: np.ndarray, dims: int) -> None:
    limit = (1 << (MAX_WEIGHT_BITS - 1)) - 1
    check_integer("weight", weight, lo=-limit - 1, hi=limit)
    if weight.ndim != dims or 0 in weight.shape:
        raise ValueError(f"array 'weight' has shape {weight.shape}; it needs {dims} non-empty "
                         "dimensions")


@dataclass(eq=False)
class Dense(ProgramNode):
    """y[..., o] = sum_i W[o, i] x[..., i] (integer W of shape (out, in); exact)."""

    weight: np.ndarray
    kind = "dense"
    weighted = True

    @cached_property
    def _row_l1(self) -> float:
        rows = np.abs(self.weight.astype(np.float64)).sum(axis=1)
        return float(rows.max(initial=0.0))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(self.weight.shape[0]),)

    def output_bound(self, input_bound: float) -> float:
        return self._row_l1 * input_bound

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_weight(self.weight, 2)
        if tuple(input_shape) != (self.weight.shape[1],):
            raise ValueError(f"array 'weight' takes {self.weight.shape[1]} inputs, the node "
                             f"receives {input_shape}")

    @cached_property
    def _float32_weight(self) -> np.ndarray:
        return np.ascontiguousarray(self.weight.T.astype(np.float32))

    def product(self, x: np.ndarray, bound: float) -> Product:
        """float32 BLAS where exact (sum < 2^24), else int8 GEMM (int8 W and x, int32 sum),
        float64, int64; int8 GEMM first on a CPU with int8 dot products.

        Without them float32 comes first: every CPU BLAS has a fast SGEMM, while torch's int8
        GEMM is about 20x slower than SGEMM on an AVX2 AMD EPYC."""
        total = self.output_bound(bound)
        dtype = exact_float(total)
        int8_first = int8_dot_product_cpu()
        if dtype is np.float32 and not int8_first:
            return Product.FLOAT32
        if (self.weight.dtype == np.int8 and total < (1 << 31) and self.weight.shape[1] > 1
                and _fits_int8(x, bound)):  # torch 2.13's int8 GEMM is wrong with one input
            return Product.INT8
        if dtype is None:
            return Product.INT64
        return Product.FLOAT32 if dtype is np.float32 else Product.FLOAT64

    def apply(self, x: np.ndarray, bound: float) -> np.ndarray:
        """The product, exact, computed as `product` says."""
        weight = self.weight
        product = self.product(x, bound)
        rows = x.reshape(-1, x.shape[-1])
        if product is Product.FLOAT32:  # one 2-D product: numpy's stacked 3-D matmul is ~5x slower
            result = rows.astype(np.float32, copy=False) @ self._float32_weight
        elif product is Product.INT8:
            import torch
            rows = np.ascontiguousarray(rows).astype(np.int8, copy=False)
            result = torch._int_mm(torch.from_numpy(rows), torch.from_numpy(weight).T).numpy()
        elif product is Product.INT64:
            result = rows.astype(np.int64) @ weight.T.astype(np.int64)
        else:
            result = rows.astype(np.float64, copy=False) @ weight.T.astype(np.float64)
        return result.reshape(*x.shape[:-1], weight.shape[0])

    def apply_events(self, x: np.ndarray) -> np.ndarray:
        """The same product, event-driven: per step and sample, only the rows of non-zero
        inputs are accumulated (in int64)."""
        columns = np.ascontiguousarray(self.weight.T.astype(np.int64))
        flat = x.reshape(-1, x.shape[-1])
        out = np.zeros((flat.shape[0], self.weight.shape[0]), np.int64)
        for row in range(flat.shape[0]):
            active = np.flatnonzero(flat[row])
            if active.size:
                out[row] = flat[row, active].astype(np.int64) @ columns[active]
        return out.reshape(*x.shape[:-1], self.weight.shape[0])

    def synapse_count(self, x: np.ndarray, bound: float) -> SynapseCount:
        return self.synapses(int(np.count_nonzero(x)), x.shape[0] * x.shape[1],
                             _accumulate_only(x, bound))

    def synapses(self, nonzero: int, steps_samples: int, accumulate_only: bool) -> SynapseCount:
        """The count from what is known of the input: its non-zero values over all steps and
        samples, how many steps x samples, and whether every value is in {-1, 0, 1}."""
        return SynapseCount(float(nonzero) * float(self.weight.shape[0]),
                            steps_samples * float(self.weight.size), accumulate_only)

    def describe(self) -> dict:
        return {"kind": self.kind, "weight_dtype": str(self.weight.dtype)}


def _conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pairs_valid(*pairs: tuple[int, ...], positive: tuple[bool, ...]) -> None:
    for pair, must_be_positive in zip(pairs, positive, strict=True):
        if len(pair) != 2 or any(int(v) < (1 if must_be_positive else 0) for v in pair):
            raise ValueError(f"{pair} is not a valid (height, width) pair")


@dataclass(eq=False)
class Conv2d(ProgramNode):
    """y[o] = sum_i W[o, i] * x[i]: torch's 2-D cross-correlation with integer W, no bias."""

    weight: np.ndarray
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    kind = "conv2d"
    weighted = True

    @cached_property
    def _row_l1(self) -> float:
        per_output = np.abs(self.weight.reshape(self.weight.shape[0], -1).astype(np.float64))
        return float(per_output.sum(axis=1).max(initial=0.0))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        kh, kw = self.weight.shape[2:]
        return (int(self.weight.shape[0]),
                _conv_out(input_shape[1], kh, self.stride[0], self.padding[0], self.dilation[0]),
                _conv_out(input_shape[2], kw, self.stride[1], self.padding[1], self.dilation[1]))

    def output_bound(self, input_bound: float) -> float:
        return self._row_l1 * input_bound

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _check_weight(self.weight, 4)
        _pairs_valid(self.stride, self.padding, self.dilation, positive=(True, False, True))
        if self.groups < 1 or self.weight.shape[0] % self.groups:
            raise ValueError(f"groups {self.groups} does not divide {self.weight.shape[0]} "
                             "output channels")
        if len(input_shape) != 3 or input_shape[0] != self.weight.shape[1] * self.groups:
            raise ValueError(f"array 'weight' takes {self.weight.shape[1] * self.groups} channels, "
                             f"the node receives {input_shape}")
        if min(self.output_shape(input_shape)[1:]) < 1:
            raise ValueError(f"the kernel does not fit the input {input_shape}")

    def apply(self, x: np.ndarray, bound: float) -> np.ndarray:
        dtype = exact_float(self.output_bound(bound))
        if dtype is None:
            raise OverflowError("conv2d accumulator may exceed 2^53; use fewer weight bits")
        steps, batch = x.shape[:2]
        import torch
        import torch.nn.functional as F
        flat = torch.from_numpy(np.ascontiguousarray(x.reshape(steps * batch, *x.shape[2:]), dtype))
        y = F.conv2d(flat, torch.from_numpy(self.weight.astype(dtype)), None, self.stride,
                     self.padding, self.dilation, self.groups).numpy()
        return y.reshape(steps, batch, *y.shape[1:])

    def _fan_out(self, input_shape: tuple[int, ...]) -> np.ndarray:
        """Per input position, the number of output connections it feeds: the output channels
        of its group times the (output, tap) pairs that read it, row by row and column by
        column (separable)."""
        channels, height, width = input_shape
        out_height, out_width = self.output_shape(input_shape)[1:]

        def reads(size: int, outputs: int, taps: int, stride: int, padding: int,
                  dilation: int) -> np.ndarray:
            count = np.zeros(size, np.float64)
            for tap in range(taps):
                positions = np.arange(outputs) * stride - padding + tap * dilation
                np.add.at(count, positions[(positions >= 0) & (positions < size)], 1.0)
            return count

        kernel_h, kernel_w = self.weight.shape[2:]
        rows = reads(height, out_height, kernel_h, self.stride[0], self.padding[0],
                     self.dilation[0])
        columns = reads(width, out_width, kernel_w, self.stride[1], self.padding[1],
                        self.dilation[1])
        per_group = self.weight.shape[0] // self.groups
        return np.broadcast_to(per_group * np.outer(rows, columns), (channels, height, width))

    def synapse_count(self, x: np.ndarray, bound: float) -> SynapseCount:
        return self.synapses((x != 0).sum(axis=(0, 1)), x.shape[0] * x.shape[1],
                             _accumulate_only(x, bound))

    def synapses(self, active: np.ndarray, steps_samples: int, accumulate_only: bool
                 ) -> SynapseCount:
        """The count from what is known of the input: per input position `(C, H, W)`, its
        non-zero values over all steps and samples; how many steps x samples; whether every
        value is in {-1, 0, 1}."""
        fan = self._fan_out(tuple(active.shape))
        return SynapseCount(float((active.astype(np.float64) * fan).sum()),
                            steps_samples * float(fan.sum()), accumulate_only)

    def describe(self) -> dict:
        return {"kind": self.kind, "weight_dtype": str(self.weight.dtype),
                "stride": list(self.stride), "padding": list(self.padding)}


@dataclass(eq=False)
class SumPool2d(ProgramNode):
    """y = sum of x over each kernel window (zero padding). An average pool's 1/k^2 is folded
    into the scales of the layer that consumes it."""

    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)
    kind = "sumpool2d"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = input_shape
        return (c, _conv_out(h, self.kernel_size[0], self.stride[0], self.padding[0]),
                _conv_out(w, self.kernel_size[1], self.stride[1], self.padding[1]))

    def output_bound(self, input_bound: float) -> float:
        return input_bound * self.kernel_size[0] * self.kernel_size[1]

    def validate(self, input_shape: tuple[int, ...]) -> None:
        _pairs_valid(self.kernel_size, self.stride, self.padding, positive=(True, True, False))
        if len(input_shape) != 3:
            raise ValueError(f"a 2-D pool takes (C, H, W), the node receives {input_shape}")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError("padding must be at most half the kernel size")
        if min(self.output_shape(input_shape)[1:]) < 1:
            raise ValueError(f"the kernel does not fit the input {input_shape}")

    def apply(self, x: np.ndarray, bound: float) -> np.ndarray:
        dtype = exact_float(self.output_bound(bound))
        if dtype is None:
            raise OverflowError("sum pool may exceed 2^53")
        steps, batch = x.shape[:2]
        import torch
        import torch.nn.functional as F
        flat = torch.from_numpy(np.ascontiguousarray(x.reshape(steps * batch, *x.shape[2:]), dtype))
        y = F.avg_pool2d(flat, self.kernel_size, self.stride, self.padding,
                         divisor_override=1).numpy()
        return y.reshape(steps, batch, *y.shape[1:])

    def describe(self) -> dict:
        return {"kind": self.kind, "kernel_size": list(self.kernel_size)}


@dataclass(eq=False)
class Flatten(ProgramNode):
    """y = x reshaped to one feature dimension (row-major)."""

    kind = "flatten"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(input_shape),)

    def apply(self, x: np.ndarray, bound: float) -> np.ndarray:
        return x.reshape(*x.shape[:2], -1)

    def describe(self) -> dict:
        return {"kind": self.kind}


@dataclass(eq=False)
class Requantize(ProgramNode):
    """Accumulator -> state units: y = x << shift (shift >= 0) or round_half_up(x / 2^-shift)
    (shift < 0), plus an integer bias per neuron. Exact: no saturation is needed, the result
    keeps int64 precision and its bound is known."""

    shift: int
    bias: np.ndarray
    kind = "requantize"

    @cached_property
    def _bias_max(self) -> float:
        return float(np.abs(self.bias).max(initial=0))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(self.bias.shape)

    def output_bound(self, input_bound: float) -> float:
        return input_bound * 2.0 ** self.shift + self._bias_max + (0.5 if self.shift < 0 else 0)

    def validate(self, input_shape: tuple[int, ...]) -> None:
        if not -62 <= self.shift <= 30:
            raise ValueError(f"shift {self.shift} is outside -62..30")
        check_integer("bias", self.bias, lo=-(1 << 40), hi=1 << 40)
        if math.prod(input_shape) != self.bias.size:
            raise ValueError(f"array 'bias' has {self.bias.size} values for an input of shape "
                             f"{input_shape}")

    def apply(self, x: np.ndarray, bound: float) -> np.ndarray:
        if tuple(x.shape[2:]) != tuple(self.bias.shape):
            x = x.reshape(*x.shape[:2], *self.bias.shape)
        total = self.output_bound(bound)
        # int32 only where the bounds prove every value fits: |x| <= bound and
        # |(x << shift) + bias| <= total, both < 2^31 (numpy converts float -> int32 fast)
        dtype = np.int32 if total < (1 << 31) and bound < (1 << 31) else np.int64
        inp = x.astype(dtype)
        if self.shift > 0:
            inp <<= self.shift  # int32 only when |x| 2^shift <= total < 2^31
        elif self.shift < 0:
            inp = shift_round(inp, -self.shift).astype(dtype)  # formed in int64
        inp += self.bias.astype(dtype)  # int32 only when |bias| <= total < 2^31
        return inp

    def describe(self) -> dict:
        return {"kind": self.kind, "shift": self.shift, "rounding": "half up",
                "overflow": "none (int64, bounded)"}
