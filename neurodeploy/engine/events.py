"""Event-driven synaptic accumulation: only the weight rows of non-zero inputs are read.

    y[r, o] = sum_{i : x[r, i] != 0} x[r, i] W[o, i]        (r: one step of one sample)

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

import numpy as np
from numba import njit, prange

from neurodeploy.engine.compiled import accumulate_events, threads_for
from neurodeploy.program.synapses import Dense, Product

#: per product a Dense would otherwise use, the largest fraction of non-zero inputs at which the
#: event path is chosen automatically: the measured crossover on 2 cores, IAF 784-512-512-10,
#: 64 x 100 rows (benchmarks/bench_events.py): about 5 % against an int8 VNNI GEMM, 15 %
#: against float32 SGEMM; the float64 and int64 products are slower still
EVENT_ACTIVITY = {Product.INT8: 0.15, Product.FLOAT32: 0.3, Product.FLOAT64: 0.4,
                  Product.INT64: 0.5}
_COLUMNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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


def event_threshold(node: Dense, x: np.ndarray, bound: float) -> float:
    """The activity of `x` below which accumulating its events beats `node.apply`."""
    return EVENT_ACTIVITY[node.product(x, bound)]


def columns(node: Dense) -> np.ndarray:
    """W^T, C-contiguous, in the narrowest integer dtype holding W (kept while `node` lives)."""
    if node not in _COLUMNS:
        weight = node.weight
        dtype = next(d for d in (np.int8, np.int16, np.int32, np.int64)
                     if weight.size == 0 or (np.iinfo(d).min <= weight.min()
                                             and weight.max() <= np.iinfo(d).max))
        _COLUMNS[node] = np.ascontiguousarray(weight.T.astype(dtype))
    return _COLUMNS[node]


def accumulator_dtype(node: Dense, bound: float) -> type:
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
