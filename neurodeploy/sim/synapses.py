"""Exact integer synaptic ops, computed with float BLAS where the bound proves it exact.

An integer dot product is exact in floating point while every partial sum stays below 2^24
(float32) or 2^53 (float64): all such integers are representable, so no rounding ever happens.
The bound used is max over outputs of sum |W[o, :]| times max |x|, measured on the actual operands;
beyond 2^53 the op falls back to int64 arithmetic.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from neurodeploy.quant.program import IntOp

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53


def exact_dtype(weight: np.ndarray, x: np.ndarray) -> np.dtype | None:
    """float32 or float64 if W x is exact in it for this x, else None (use int64)."""
    per_output = np.abs(weight.reshape(weight.shape[0], -1)).sum(axis=1, dtype=np.float64)
    bound = float(per_output.max(initial=0.0)) * float(np.abs(x).max(initial=0))
    if bound < FLOAT32_EXACT:
        return np.dtype(np.float32)
    if bound < FLOAT64_EXACT:
        return np.dtype(np.float64)
    return None


def affine(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """acc[..., o] = sum_i W[o, i] x[..., i], exactly, as int64."""
    dtype = exact_dtype(weight, x)
    if dtype is None:
        return np.einsum("oi,...i->...o", weight.astype(np.int64), x.astype(np.int64))
    result = x.astype(dtype) @ weight.T.astype(dtype)
    return result.astype(np.int64)


def affine_events(weight: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Event-driven affine: per step and sample, accumulate only the rows of non-zero inputs."""
    columns = np.ascontiguousarray(weight.T.astype(np.int64))
    flat = x.reshape(-1, x.shape[-1])
    out = np.zeros((flat.shape[0], weight.shape[0]), np.int64)
    for row in range(flat.shape[0]):
        active = np.flatnonzero(flat[row])
        if active.size:
            out[row] = flat[row, active] @ columns[active]
    return out.reshape(*x.shape[:-1], weight.shape[0])


def _conv_like(op: IntOp, x: np.ndarray) -> np.ndarray:
    steps, batch = x.shape[:2]
    flat = x.reshape(steps * batch, *x.shape[2:])
    if op.kind == "sumpool2d":
        dtype = np.float32 if np.abs(flat).max(initial=0) * np.prod(op.kernel_size) < FLOAT32_EXACT \
            else np.float64
        y = F.avg_pool2d(torch.from_numpy(flat.astype(dtype)), op.kernel_size, op.stride,
                         op.padding, divisor_override=1)
    else:
        dtype = exact_dtype(op.weight, flat)
        if dtype is None:
            raise OverflowError("conv2d accumulator exceeds 2^53; use fewer weight bits")
        y = F.conv2d(torch.from_numpy(flat.astype(dtype)), torch.from_numpy(op.weight.astype(dtype)),
                     None, op.stride, op.padding, op.dilation, op.groups)
    y = y.numpy().astype(np.int64)
    return y.reshape(steps, batch, *y.shape[1:])


def run_op(op: IntOp, x: np.ndarray, event_driven: bool = False) -> np.ndarray:
    """Apply one integer synaptic op to `(T, B, *shape)` integers."""
    if op.kind == "affine":
        return affine_events(op.weight, x) if event_driven else affine(op.weight, x)
    if op.kind in ("conv2d", "sumpool2d"):
        return _conv_like(op, x)
    if op.kind == "flatten":
        return x.reshape(*x.shape[:2], -1)
    raise ValueError(f"unknown integer op {op.kind!r}")
