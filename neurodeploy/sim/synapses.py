"""Exact integer synaptic ops, computed with float BLAS where the formats prove it exact.

An integer dot product is exact in floating point while every partial sum stays below 2^24
(float32) or 2^53 (float64): all such integers are representable, so no rounding ever happens.
The bound used is max over outputs of sum |W[o, :]| times the bound on |x| that the input's
format guarantees; beyond 2^53 the op runs in int64.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neurodeploy.quant.program import IntOp

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53


def output_bound(op: IntOp, x_bound: float) -> float:
    """Largest |output| of `op` for inputs with |x| <= x_bound."""
    if op.kind == "sumpool2d":
        return x_bound * op.kernel_size[0] * op.kernel_size[1]
    if op.weight is None:
        return x_bound
    per_output = np.abs(op.weight.reshape(op.weight.shape[0], -1)).sum(axis=1, dtype=np.float64)
    return float(per_output.max(initial=0.0)) * x_bound


def exact_float(bound: float) -> type | None:
    """The narrowest float type holding every integer up to `bound` exactly, or None."""
    if bound < FLOAT32_EXACT:
        return np.float32
    if bound < FLOAT64_EXACT:
        return np.float64
    return None


def _fits_int8(x: np.ndarray, x_bound: float) -> bool:
    if x.dtype == np.int8 or x_bound <= 127:
        return True
    return x.size > 0 and bool(x.max() <= 127 and x.min() >= -128)


def affine(weight: np.ndarray, x: np.ndarray, x_bound: float) -> np.ndarray:
    """acc[..., o] = sum_i W[o, i] x[..., i], exactly.

    int8 x int8 -> int32 GEMM (torch._int_mm) when weights and inputs fit 8 bits and the output
    bound fits 31 bits; else float32/float64 BLAS when the bound proves it exact; else int64.
    """
    bound = output_bound(IntOp("affine", weight), x_bound)
    if (weight.dtype == np.int8 and bound < (1 << 31) and hasattr(torch, "_int_mm")
            and _fits_int8(x, x_bound)):
        rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1])).astype(np.int8, copy=False)
        result = torch._int_mm(torch.from_numpy(rows), torch.from_numpy(weight).T).numpy()
        return result.reshape(*x.shape[:-1], weight.shape[0])
    dtype = exact_float(bound)
    if dtype is None:
        return np.einsum("oi,...i->...o", weight.astype(np.int64), x.astype(np.int64))
    return x.astype(dtype, copy=False) @ weight.T.astype(dtype)


def affine_events(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Event-driven affine: per step and sample, accumulate only the rows of non-zero inputs."""
    columns = np.ascontiguousarray(weight.T.astype(np.int64))
    flat = x.reshape(-1, x.shape[-1])
    out = np.zeros((flat.shape[0], weight.shape[0]), np.int64)
    for row in range(flat.shape[0]):
        active = np.flatnonzero(flat[row])
        if active.size:
            out[row] = flat[row, active].astype(np.int64) @ columns[active]
    return out.reshape(*x.shape[:-1], weight.shape[0])


def _conv_like(op: IntOp, x: np.ndarray, x_bound: float) -> np.ndarray:
    steps, batch = x.shape[:2]
    dtype = exact_float(output_bound(op, x_bound))
    if dtype is None:
        raise OverflowError("conv2d accumulator may exceed 2^53; use fewer weight bits")
    flat = torch.from_numpy(np.ascontiguousarray(x.reshape(steps * batch, *x.shape[2:]), dtype))
    if op.kind == "sumpool2d":
        y = F.avg_pool2d(flat, op.kernel_size, op.stride, op.padding, divisor_override=1)
    else:
        y = F.conv2d(flat, torch.from_numpy(op.weight.astype(dtype)), None, op.stride, op.padding,
                     op.dilation, op.groups)
    y = y.numpy()
    return y.reshape(steps, batch, *y.shape[1:])


def run_op(op: IntOp, x: np.ndarray, x_bound: float, event_driven: bool = False) -> np.ndarray:
    """Apply one integer synaptic op to `(T, B, *shape)` integer values (any numeric dtype)."""
    if op.kind == "affine":
        return affine_events(op.weight, x) if event_driven else affine(op.weight, x, x_bound)
    if op.kind in ("conv2d", "sumpool2d"):
        return _conv_like(op, x, x_bound)
    if op.kind == "flatten":
        return x.reshape(*x.shape[:2], -1)
    raise ValueError(f"unknown integer op {op.kind!r}")
