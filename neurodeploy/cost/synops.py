"""Synaptic operations as NeuroBench counts them, from the actual integer activity.

effective: sum over steps of each non-zero input times its fan-out (ACs when every input is in
{-1, 0, 1}, MACs otherwise); dense: every connection every step. Biases are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from neurodeploy.quant.program import IntOp


@dataclass
class SynapseCount:
    """Totals over all steps and samples of one weighted op."""

    effective: float
    dense: float
    accumulate_only: bool


def _conv_fan_out(op: IntOp, input_shape: tuple[int, ...]) -> np.ndarray:
    """Per input position, the number of output connections it feeds."""
    out = F.conv2d(torch.zeros(1, *input_shape, dtype=torch.float64),
                   torch.zeros(op.weight.shape, dtype=torch.float64), None, op.stride, op.padding,
                   op.dilation, op.groups)
    ones = torch.ones_like(out)
    fan = F.conv_transpose2d(ones, torch.ones(op.weight.shape, dtype=torch.float64), None,
                             op.stride, op.padding, 0, op.groups, op.dilation)
    full = torch.zeros(1, *input_shape, dtype=torch.float64)
    h, w = min(fan.shape[2], input_shape[1]), min(fan.shape[3], input_shape[2])
    full[..., :h, :w] = fan[..., :h, :w]
    return full[0].numpy()


def count_weighted_op(op: IntOp, x: np.ndarray, x_bound: float) -> SynapseCount:
    """Count the synaptic ops of affine or conv2d `op` on integer input `(T, B, *shape)`.

    `x_bound` is the format's bound on |x|; inputs are ACs when it is 1 (spikes), or when the
    values present are all in {-1, 0, 1}.
    """
    steps_samples = x.shape[0] * x.shape[1]
    if op.kind == "affine":
        effective = float(np.count_nonzero(x)) * float(op.weight.shape[0])
        dense = steps_samples * float(op.weight.size)
    else:
        active = (x != 0).sum(axis=(0, 1)).astype(np.float64)  # per input position
        fan = _conv_fan_out(op, tuple(x.shape[2:]))
        effective = float((active * fan).sum())
        dense = steps_samples * float(fan.sum())
    accumulate_only = x_bound <= 1 or bool(x.max(initial=0) <= 1 and x.min(initial=0) >= -1)
    return SynapseCount(effective, dense, accumulate_only)
