"""Sum pooling compiled (numba): `SumPool2d.apply` in one pass over the input, whatever its dtype.

    y[n, c, i, j] = sum over (a, b) in the window of x[n, c, i s_h - p_h + a, j s_w - p_w + b]

(zero padding). The node's own `apply` first converts its input to the float type that holds
every sum exactly, then pools it with torch; a spiking layer's int8 output is converted to a
float32 copy four times its size first. Here the sums are formed in int64 from any integer or
integer-valued float input and stored in the same exact dtype, so the result is equal bit for
bit (`tests/test_compiled.py`). Parallel over (sample, channel) planes.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from neurodeploy.engine.compiled import threads_for
from neurodeploy.program.synapses import SumPool2d, exact_float


@njit(parallel=True, cache=True)
def _sum_pool(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out):
    """Separable: per output row, the window's input rows summed into one line (int64), then
    each output the sum of its window's span of that line (2x faster than window by window)."""
    planes, height, width = x.shape
    _, rows, columns = out.shape
    for plane in prange(planes):
        source, target = x[plane], out[plane]
        line = np.zeros(width, np.int64)
        for i in range(rows):
            top = i * stride_h - pad_h
            line[:] = 0
            for a in range(max(0, -top), min(kernel_h, height - top)):
                row = source[top + a]
                for w in range(width):
                    line[w] += np.int64(row[w])
            for j in range(columns):
                left = j * stride_w - pad_w
                total = 0
                for b in range(max(0, -left), min(kernel_w, width - left)):
                    total += line[left + b]
                target[i, j] = total


def sum_pool(node: SumPool2d, x: np.ndarray, bound: float) -> np.ndarray:
    """`node.apply(x, bound)` for `x` `(T, B, C, H, W)`, compiled."""
    dtype = exact_float(node.output_bound(bound))
    if dtype is None:
        raise OverflowError("sum pool may exceed 2^53")
    steps, batch, channels = x.shape[:3]
    planes = np.ascontiguousarray(x).reshape(steps * batch * channels, *x.shape[3:])
    if planes.dtype == np.bool_:
        planes = planes.view(np.int8)
    shape = node.output_shape(tuple(x.shape[2:]))
    out = np.empty((planes.shape[0], *shape[1:]), dtype)
    with threads_for(planes.size):
        _sum_pool(planes, *node.kernel_size, *node.stride, *node.padding, out)
    return out.reshape(steps, batch, *shape)
