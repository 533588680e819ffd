"""Event-driven synaptic accumulation: only the weight rows of non-zero inputs are read.

    y[r, o] = sum_{i : x[r, i] != 0} x[r, i] W[o, i]        (r: one step of one sample)

Compiled (numba), parallel over rows, accumulated in int32 where the Dense node's bound proves
every partial sum fits (|y| <= max_o sum_i |W[o, i]| * bound(x) < 2^31), else in int64: equal to
`Dense.apply` (and to its reference `Dense.apply_events`) bit for bit. The cost is the number of
events times the fan-out instead of every connection, so it wins where inputs are sparse; the
engine picks it per node from the measured activity (`EVENT_ACTIVITY`).
"""

from __future__ import annotations

import weakref

import numpy as np
from numba import njit, prange

from neurodeploy.engine.compiled import threads_for
from neurodeploy.program.synapses import Dense

#: largest fraction of non-zero inputs at which the event path is chosen automatically
#: (measured crossover against float32 SGEMM on 2 cores: 22-28 % at 64 x 100 rows of 512 and
#: 784 inputs; benchmarks/bench_events.py)
EVENT_ACTIVITY = 0.2
_COLUMNS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@njit(parallel=True, cache=True)
def _accumulate(x, columns, out):
    """out[r] = sum over the non-zero x[r, i] of x[r, i] * columns[i] (columns = W^T)."""
    rows, inputs = x.shape
    for r in prange(rows):
        for i in range(inputs):
            value = x[r, i]
            if value != 0:
                scale = np.int64(value)
                for o in range(columns.shape[1]):
                    out[r, o] += scale * columns[i, o]


def dense_events(node: Dense, x: np.ndarray, bound: float) -> np.ndarray:
    """`node.apply(x, bound)` by accumulating the events of `x` `(T, B, inputs)` only."""
    if node not in _COLUMNS:
        _COLUMNS[node] = np.ascontiguousarray(node.weight.T.astype(np.int32))
    dtype = np.int32 if node.output_bound(bound) < (1 << 31) else np.int64
    rows = np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
    if rows.dtype == np.bool_:
        rows = rows.view(np.int8)
    out = np.zeros((rows.shape[0], node.weight.shape[0]), dtype)
    with threads_for(rows.size):
        _accumulate(rows, _COLUMNS[node], out)
    return out.reshape(*x.shape[:-1], node.weight.shape[0])


def activity(x: np.ndarray) -> float:
    """Fraction of non-zero values."""
    return np.count_nonzero(x) / max(x.size, 1)
