"""Compiled whole-sequence neuron kernels (numba): `neurodeploy.program.kernels`, fused.

Each kernel runs T steps of N neurons for B samples in one pass, reading the accumulator of the
weighted node that feeds the neuron and applying its `Requantize` on the fly:

    inp[t, b, n] = (acc << shift  if shift >= 0  else  (acc + 2^(-shift-1)) >> -shift) + bias[n]

then exactly the update of the reference kernel of the same name (every sum, product and shift
in int64; saturation to [lo, hi] after each update, counted), writing the output and, per step
and sample, the number of non-zero outputs and their sum (the engine's events and spike counts).
`acc` may be any integer or integer-valued float array (BLAS output); a float holds an integer
exactly (the engine only forms it where its bound proves so), and int64(acc) is that integer.

Work is split into `jobs = B * blocks` independent (sample, neuron block) pieces run in parallel
(`prange`), so both cores work at B = 1 too. States `(B, N)` int64 are updated in place; per-job
counts land in `(T, B, blocks)` arrays and per-job saturations in `(jobs,)`, summed by the caller.
Tests: `tests/test_compiled.py` compares every kernel with the reference kernels bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange

Q12_HALF = 1 << 11  # mul_frac rounding term for DECAY_BITS = 12
#: work (values x steps) below which a kernel runs on the calling thread alone: waking the
#: thread pool costs 20 us on a quiet machine and 10-25 ms on a loaded one (streaming steps)
PARALLEL_WORK = 1 << 16


@contextmanager
def threads_for(work: int) -> Iterator[None]:
    """Run the enclosed kernel calls serially when `work` is too small to pay for threads."""
    if work >= PARALLEL_WORK:
        yield
        return
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(previous)


@njit(inline="always")
def _requantize(acc, shift: int, bias: int) -> int:
    """Requantize.apply on one value: acc << shift, or shift_round(acc, -shift); plus bias."""
    x = np.int64(acc)
    if shift > 0:
        x = x << shift
    elif shift < 0:
        x = (x + (np.int64(1) << (-shift - 1))) >> (-shift)
    return x + bias


@njit(inline="always")
def _mul_q12(x: int, multiplier: int) -> int:
    """mul_frac(x, multiplier, 12) = (x * multiplier + 2^11) >> 12."""
    return (x * multiplier + Q12_HALF) >> 12


@njit(inline="always")
def _saturate(x: int, lo: int, hi: int) -> tuple[int, int]:
    """(x saturated to [lo, hi], 1 where that clipped it else 0)."""
    if x > hi:
        return hi, 1
    if x < lo:
        return lo, 1
    return x, 0


@njit(inline="always")
def _span(job: int, blocks: int, n: int) -> tuple[int, int, int, int]:
    """(sample, block, first neuron, end) of a job."""
    size = (n + blocks - 1) // blocks
    block = job % blocks
    start = block * size
    return job // blocks, block, start, min(n, start + size)


@njit(parallel=True, cache=True)
def iaf_run(acc, shift, bias, threshold, min_v, has_min, lo, hi, multi, subtract, strict,
            v, out, events, sums, saturated, blocks):
    """IAF: v = sat(v + inp); n = v // theta (multi) or [v >= theta] ([v > theta] strict) where
    fired; v -= n theta (subtract) or v = 0 where fired; v = max(v, min_v)."""
    steps, _, n = acc.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        clipped = 0
        for t in range(steps):
            count, total = 0, 0
            for k in range(start, stop):
                value = v[b, k] + _requantize(acc[t, b, k], shift, bias[k])
                value, hit = _saturate(value, lo, hi)
                clipped += hit
                theta = threshold[k]
                spikes = 0
                if (value > theta) if strict else (value >= theta):
                    spikes = value // theta if multi else 1
                    value = value - spikes * theta if subtract else 0
                if has_min and value < min_v[k]:
                    value = min_v[k]
                v[b, k] = value
                out[t, b, k] = spikes
                if spikes != 0:
                    count, total = count + 1, total + spikes
            events[t, b, block], sums[t, b, block] = count, total
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def lif_run(acc, shift, bias, beta, threshold, lo, hi, subtract, reset_delay,
            m, out, events, sums, saturated, blocks):
    """LIF: f = [m > theta]; m = sat(beta m + inp - f theta) (subtract) or sat(beta (m (1 - f))
    + inp) (zero); s = [m > theta]; without reset delay m = sat(m - (s - f) theta) or
    sat(m (1 - (s - f)))."""
    steps, _, n = acc.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        clipped = 0
        for t in range(steps):
            count = 0
            for k in range(start, stop):
                theta, value = threshold[k], m[b, k]
                before = 1 if value > theta else 0
                inp = _requantize(acc[t, b, k], shift, bias[k])
                if subtract:
                    value = _mul_q12(value, beta[k]) + inp - before * theta
                else:
                    value = _mul_q12(value * (1 - before), beta[k]) + inp
                value, hit = _saturate(value, lo, hi)
                clipped += hit
                spike = 1 if value > theta else 0
                if not reset_delay:
                    undone = spike - before
                    value = value - undone * theta if subtract else value * (1 - undone)
                    value, hit = _saturate(value, lo, hi)
                    clipped += hit
                m[b, k] = value
                out[t, b, k] = spike
                count += spike
            events[t, b, block], sums[t, b, block] = count, count
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def cuba_lif_run(acc, shift, bias, alpha, beta, threshold, lo, hi, subtract, reset_delay,
                 i, v, out, events, sums, saturated, blocks):
    """CubaLIF: f = [v > theta]; i = sat(alpha i + inp); v = sat(beta v + i - f theta) or
    sat((beta v + i)(1 - f)); s = [v > theta]; without reset delay the reset of s - f at once."""
    steps, _, n = acc.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        clipped = 0
        for t in range(steps):
            count = 0
            for k in range(start, stop):
                theta, value = threshold[k], v[b, k]
                before = 1 if value > theta else 0
                current = _mul_q12(i[b, k], alpha[k]) + _requantize(acc[t, b, k], shift, bias[k])
                current, hit = _saturate(current, lo, hi)
                clipped += hit
                value = _mul_q12(value, beta[k]) + current
                value = value - before * theta if subtract else value * (1 - before)
                value, hit = _saturate(value, lo, hi)
                clipped += hit
                spike = 1 if value > theta else 0
                if not reset_delay:
                    undone = spike - before
                    value = value - undone * theta if subtract else value * (1 - undone)
                    value, hit = _saturate(value, lo, hi)
                    clipped += hit
                i[b, k], v[b, k] = current, value
                out[t, b, k] = spike
                count += spike
            events[t, b, block], sums[t, b, block] = count, count
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def li_run(acc, shift, bias, alpha, lo, hi, v, out, events, sums, saturated, blocks):
    """LI: v = sat(alpha v + inp); the output is v (its sum is the caller's: it is graded)."""
    steps, _, n = acc.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        clipped = 0
        for t in range(steps):
            count = 0
            for k in range(start, stop):
                value = _mul_q12(v[b, k], alpha[k]) + _requantize(acc[t, b, k], shift, bias[k])
                value, hit = _saturate(value, lo, hi)
                clipped += hit
                v[b, k] = value
                out[t, b, k] = value
                if value != 0:
                    count += 1
            events[t, b, block], sums[t, b, block] = count, 0
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def quantize_run(x, scale, half_even, limit, out, saturated):
    """InputFormat.quantize on a flat array: q = floor(x / scale + 1/2) (rint(x / scale) with
    `half_even`), in float64 as the reference forms it; clipped to [-limit, limit - 1] (counted
    per job into `saturated`); written as float32 (exact: |q| <= 2^23)."""
    jobs = saturated.size
    size = (x.size + jobs - 1) // jobs
    for job in prange(jobs):
        clipped = 0
        for k in range(job * size, min(x.size, (job + 1) * size)):
            scaled = np.float64(x[k]) / scale
            value = np.rint(scaled) if half_even else np.floor(scaled + 0.5)
            if value > limit - 1:
                value, clipped = limit - 1.0, clipped + 1
            elif value < -limit:
                value, clipped = -limit * 1.0, clipped + 1
            out[k] = value
        saturated[job] = clipped
