"""Event-driven synaptic accumulation: only the weights of non-zero inputs are read.

    y[r, o] = sum_{i : x[r, i] != 0} x[r, i] W[o, i]        (r: one step of one sample)

and for a Conv2d the same sum scattered: each non-zero input x[r, c, y, x] adds x W[:, c, a, b]
to every output (i, j) it reaches, y + p_h - a d_h = i s_h and x + p_w - b d_w = j s_w
(`conv_events`, the weights arranged per input channel and tap so that the channels of an
output are one contiguous vector; the outputs are then written in torch's (O, H, W) order).

Compiled (numba), parallel over rows, accumulated in int32 where the Dense node's bound proves
every partial sum fits (|y| <= max_o sum_i |W[o, i]| * bound(x) < 2^31), else in int64: equal to
`Dense.apply` (and to its reference `Dense.apply_events`) bit for bit. The cost is the number of
events times the fan-out instead of every connection, so it wins where inputs are sparse; the
engine picks it per node from the measured activity (`event_threshold`). A Dense feeding a
compiled neuron accumulates inside the neuron's kernel instead (`neurodeploy.engine.compiled`).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from neurodeploy.engine.compiled import accumulate_events, threads_for
from neurodeploy.program.synapses import Conv2d, Dense, Product

#: per product a Dense would otherwise use, the largest fraction of non-zero inputs at which the
#: event path is chosen automatically: the measured crossover on 2 cores, IAF 784-512-512-10,
#: T = 100, batch 1 and 64 (benchmarks/bench_events.py): 15-25 % against an int8 VNNI GEMM,
#: 30-45 % against float32 SGEMM; the float64 and int64 products are slower still
EVENT_ACTIVITY = {Product.INT8: 0.15, Product.FLOAT32: 0.3, Product.FLOAT64: 0.4,
                  Product.INT64: 0.5}
#: the same for a Conv2d, against its float32 torch convolution (measured crossover 20-30 % on
#: 2 cores, 3x3 kernels of 2-16 input and 16-32 output channels; benchmarks/bench_conv.py)
CONV_EVENT_ACTIVITY = 0.2
_ARRANGED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # W per node, as read by events


@dataclass(frozen=True)
class ConvEvents:
    """What `conv_events` produced: the accumulator `(T, B, O, H_out, W_out)`; per input
    position `(C, H, W)`, its non-zero values over all steps and samples; and whether one of
    them is beyond {-1, 1}."""

    output: np.ndarray
    active: np.ndarray
    wide: bool


@dataclass(frozen=True)
class Activity:
    """What a kernel counted, for free, of the values it wrote: the non-zero ones, all of them,
    and whether a non-zero one is beyond {-1, 1}."""

    nonzero: int
    size: int
    wide: bool

    @property
    def fraction(self) -> float:
        return self.nonzero / max(self.size, 1)


def event_threshold(node: Dense | Conv2d, x: np.ndarray, bound: float) -> float:
    """The activity of `x` below which accumulating its events beats `node.apply`."""
    if isinstance(node, Conv2d):
        return CONV_EVENT_ACTIVITY
    return EVENT_ACTIVITY[node.product(x, bound)]


def columns(node: Dense) -> np.ndarray:
    """W^T, C-contiguous, in the narrowest integer dtype holding W (kept while `node` lives)."""
    if node not in _ARRANGED:
        weight = node.weight
        dtype = next(d for d in (np.int8, np.int16, np.int32, np.int64)
                     if weight.size == 0 or (np.iinfo(d).min <= weight.min()
                                             and weight.max() <= np.iinfo(d).max))
        _ARRANGED[node] = np.ascontiguousarray(weight.T.astype(dtype))
    return _ARRANGED[node]


def accumulator_dtype(node: Dense | Conv2d, bound: float) -> type:
    """int32 where every partial sum of `node`'s output fits, else int64."""
    return np.int32 if node.output_bound(bound) < (1 << 31) else np.int64


@njit(parallel=True, cache=True)
def _accumulate(x, columns, out):
    """out[r] = sum over the non-zero x[r, i] of x[r, i] * columns[i] (columns = W^T)."""
    for r in prange(x.shape[0]):
        accumulate_events(x[r], columns, 0, columns.shape[1], out[r],
                          np.empty(x.shape[1], np.int32))


def dense_events(node: Dense, x: np.ndarray, bound: float) -> np.ndarray:
    """`node.apply(x, bound)` by accumulating the events of `x` `(T, B, inputs)` only."""
    rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    if rows.dtype == np.bool_:
        rows = rows.view(np.int8)
    out = np.empty((rows.shape[0], node.weight.shape[0]), accumulator_dtype(node, bound))
    with threads_for(rows.size):
        _accumulate(rows, columns(node), out)
    return out.reshape(*x.shape[:-1], node.weight.shape[0])


def activity(x: np.ndarray) -> float:
    """Fraction of non-zero values."""
    return np.count_nonzero(x) / max(x.size, 1)


def _taps(node: Conv2d) -> np.ndarray:
    """W arranged `(C_in, KH, KW, O / groups)`: per input channel and tap, the weights of the
    output channels of its group (kept while `node` lives)."""
    if node not in _ARRANGED:
        out_channels, per_group_in = node.weight.shape[:2]
        per_group_out = out_channels // node.groups
        taps = [node.weight[(c // per_group_in) * per_group_out:
                            (c // per_group_in + 1) * per_group_out, c % per_group_in]
                for c in range(per_group_in * node.groups)]
        _ARRANGED[node] = np.ascontiguousarray(np.stack(taps).transpose(0, 2, 3, 1))
    return _ARRANGED[node]


@njit(parallel=True, cache=True)
def _scatter(x, taps, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups, zero, out,
             active, wide):
    """out[r] = the convolution of x[r], event by event (see the module docstring); per job,
    active[job] counts the non-zero inputs per position and wide[job] those beyond {-1, 1}."""
    rows, channels, height, width = x.shape
    _, kernel_h, kernel_w, per_group = taps.shape
    _, outputs, out_h, out_w = out.shape
    per_group_in = channels // groups
    jobs = active.shape[0]
    chunk = (rows + jobs - 1) // jobs
    for job in prange(jobs):
        acc = np.empty((out_h, out_w, outputs), zero.dtype)
        seen = active[job]
        for r in range(job * chunk, min(rows, (job + 1) * chunk)):
            acc[:] = 0
            for c in range(channels):
                first = (c // per_group_in) * per_group
                for y in range(height):
                    line = x[r, c, y]
                    for column in range(width):
                        value = line[column]
                        if value == 0:
                            continue
                        seen[c, y, column] += 1
                        wide[job] += value != 1 and value != -1
                        scale = zero.dtype.type(value)
                        for a in range(kernel_h):
                            i = y + pad_h - a * dil_h
                            if i < 0 or i % stride_h != 0 or i // stride_h >= out_h:
                                continue
                            for b in range(kernel_w):
                                j = column + pad_w - b * dil_w
                                if j < 0 or j % stride_w != 0 or j // stride_w >= out_w:
                                    continue
                                target = acc[i // stride_h, j // stride_w, first:first + per_group]
                                weights = taps[c, a, b]
                                for o in range(per_group):
                                    target[o] += scale * weights[o]
            result = out[r]
            for o in range(outputs):
                for i in range(out_h):
                    for j in range(out_w):
                        result[o, i, j] = acc[i, j, o]


def conv_events(node: Conv2d, x: np.ndarray, bound: float) -> ConvEvents:
    """`node.apply(x, bound)` (as int32 or int64) by scattering the events of `x`
    `(T, B, C, H, W)` only, with what it counted of them."""
    steps, batch = x.shape[:2]
    rows = np.ascontiguousarray(x).reshape(steps * batch, *x.shape[2:])
    if rows.dtype == np.bool_:
        rows = rows.view(np.int8)
    dtype = accumulator_dtype(node, bound)
    shape = node.output_shape(tuple(x.shape[2:]))
    out = np.empty((rows.shape[0], *shape), dtype)
    with threads_for(rows.size):
        jobs = 4 * numba.get_num_threads()
        active = np.zeros((jobs, *x.shape[2:]), np.int64)
        wide = np.zeros(jobs, np.int64)
        _scatter(rows, _taps(node), *node.stride, *node.padding, *node.dilation, node.groups,
                 np.zeros(1, dtype), out, active, wide)
    return ConvEvents(out.reshape(steps, batch, *shape), active.sum(axis=0), bool(wide.any()))
