"""Compiled whole-sequence neuron kernels (numba): `neurodeploy.program.kernels`, fused.

Each kernel runs T steps of N neurons for B samples in one pass. At every step it first forms
the accumulator of the weighted node that feeds the neuron, in one of two ways:

- copied from `source[t, b]`, that node's output computed beforehand (e.g. by a GEMM), when
  `columns` is None;
- event-driven, when `columns` is given: the node is a Dense of weight columns `W^T` and
  `source` is its input; only the columns of non-zero inputs are read,
      acc[n] = sum over i with source[t, b, i] != 0 of source[t, b, i] * columns[i, n],
  in the dtype of `buffer` (int32 where the Dense's bound proves every partial sum fits, else
  int64), so the cost is events x fan-out instead of every connection;

then applies the `Requantize` feeding the neuron on the fly:

    inp[t, b, n] = (acc << shift  if shift >= 0  else  (acc + 2^(-shift-1)) >> -shift) + bias[n]

then exactly the update of the reference kernel of the same name (every sum, product and shift
in int64; saturation to [lo, hi] after each update, counted), writing the output and, per step
and sample, the number of non-zero outputs and their sum (the engine's events and spike counts).
`acc` may be any integer or integer-valued float array (BLAS output); a float holds an integer
exactly (the engine only forms it where its bound proves so), and int64(acc) is that integer.

Work is split into `jobs = B * blocks` independent (sample, neuron block) pieces run in parallel
(`prange`), so both cores work at B = 1 too. States `(B, N)` int64 are updated in place; per-job
counts land in `(T, B, blocks)` arrays and per-job saturations in `(jobs,)`, summed by the caller;
event-driven, `seen[job]` gets the job's non-zero inputs (counted by block 0 of each sample only)
and `wide[job]` 1 where one of them was beyond {-1, 1} (the synaptic-operation counts).
Tests: `tests/test_compiled.py` compares every kernel with the reference kernels bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numba
import numpy as np
from numba import njit, prange, types
from numba.extending import overload

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


@njit(inline="always")
def _add_column(acc, column, scale):
    """acc += scale * column (a loop LLVM vectorizes)."""
    for o in range(acc.size):
        acc[o] += scale * column[o]


@njit(inline="always")
def _add_four_columns(acc, c0, c1, c2, c3):
    """acc += c0 + c1 + c2 + c3: one pass over acc for four events (each in acc's dtype: their
    sum is exact, as every partial sum of the accumulator is)."""
    for o in range(acc.size):
        acc[o] += (acc.dtype.type(c0[o]) + acc.dtype.type(c1[o])) + (
            acc.dtype.type(c2[o]) + acc.dtype.type(c3[o]))


@njit(cache=True)
def accumulate_events(row, columns, start, stop, acc, indices):
    """acc = sum over the non-zero row[i] of row[i] * columns[i, start:stop]; returns (non-zero
    inputs, 1 if one of them is beyond {-1, 1} else 0). The non-zero positions are listed
    first (branch-free, in `indices`); the +1 events are then added four columns per pass.
    A function of its own, not inlined into the neuron kernels: inlined, it slows their neuron
    loops 2x."""
    found = 0
    for i in range(row.size):
        indices[found] = i
        found += row[i] != 0
    acc[:] = 0
    ones, wide = 0, 0
    for j in range(found):
        i = indices[j]
        value = row[i]
        if value == 1:
            indices[ones] = i
            ones += 1
        else:
            wide |= value != -1
            _add_column(acc, columns[i, start:stop], acc.dtype.type(value))
    group = 0
    while group + 4 <= ones:
        _add_four_columns(acc, columns[indices[group], start:stop],
                          columns[indices[group + 1], start:stop],
                          columns[indices[group + 2], start:stop],
                          columns[indices[group + 3], start:stop])
        group += 4
    for j in range(group, ones):
        _add_column(acc, columns[indices[j], start:stop], acc.dtype.type(1))
    return found, wide


def step_input(source, columns, t, b, start, stop, buffer, indices):
    """The accumulator of neurons start..stop at step t (see the module docstring), and the
    non-zero inputs it read and whether one was beyond {-1, 1}: a view of source[t, b] when
    `columns` is None, else gathered into `buffer` (`indices`: scratch, one per input).
    Compiled per mode (`_step_input`)."""
    raise NotImplementedError("compiled only")


@overload(step_input, inline="always")
def _step_input(source, columns, t, b, start, stop, buffer, indices):
    if isinstance(columns, types.NoneType):
        def copied(source, columns, t, b, start, stop, buffer, indices):
            return source[t, b, start:stop], 0, 0
        return copied

    def gathered(source, columns, t, b, start, stop, buffer, indices):
        seen, wide = accumulate_events(source[t, b], columns, start, stop, buffer, indices)
        return buffer, seen, wide
    return gathered


@njit(inline="always")
def _input(source, columns, t, b, block, start, stop, buffer, job, seen, wide):
    """`step_input` for a job, adding what it read to the job's `seen` and `wide` (block 0
    only: every block of a sample reads the same inputs). buffer[job] holds the job's
    accumulator, then its scratch indices."""
    size = stop - start
    acc, count, beyond = step_input(source, columns, t, b, start, stop, buffer[job, :size],
                                    buffer[job, size:])
    if block == 0:
        seen[job] += count
        wide[job] = max(wide[job], beyond)
    return acc


# Each kernel works on views of its job's neurons (index 0 upward, which LLVM proves never
# negative: indexing from `start` instead costs 6-8x in wraparound checks).

@njit(parallel=True, cache=True)
def iaf_run(source, columns, buffer, seen, wide, shift, bias, threshold, min_v, lo, hi, multi,
            subtract, strict, v, out, events, sums, saturated, blocks):
    """IAF: v = sat(v + inp); n = v // theta (multi) or [v >= theta] ([v > theta] strict) where
    fired; v -= n theta (subtract) or v = 0 where fired; v = max(v, min_v) (min_v = lo for a
    node without a floor: v >= lo already; taking the max always is 2x faster than a test).

    Branch-free, so that LLVM vectorizes it: `strict` is 0 or 1 ([v > theta] = [v >= theta +
    1]); v // theta is the float64 quotient truncated, then corrected by one either way where
    it is off (|v|, theta < 2^32: the float error is far below 1), 2x faster than a division."""
    steps, _, n = out.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        vj, biasj = v[b, start:stop], bias[start:stop]
        thresholdj, min_vj = threshold[start:stop], min_v[start:stop]
        clipped = 0
        for t in range(steps):
            acc = _input(source, columns, t, b, block, start, stop, buffer, job, seen, wide)
            outj = out[t, b, start:stop]
            count, total = 0, 0
            for k in range(vj.size):
                value = vj[k] + _requantize(acc[k], shift, biasj[k])
                clipped += (value > hi) + (value < lo)
                value = min(max(value, lo), hi)
                theta = thresholdj[k]
                fired = np.int64(value >= theta + strict)
                spikes = fired
                if multi:
                    quotient = np.int64(np.float64(value) / np.float64(theta))
                    quotient += ((quotient + 1) * theta <= value) - (quotient * theta > value)
                    spikes = fired * quotient
                if subtract:
                    value = value - spikes * theta
                else:
                    value = value * (1 - fired)
                value = max(value, min_vj[k])
                vj[k] = value
                outj[k] = spikes
                count += fired
                total += spikes
            events[t, b, block], sums[t, b, block] = count, total
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def lif_run(source, columns, buffer, seen, wide, shift, bias, beta, threshold, lo, hi,
            subtract, reset_delay, m, out, events, sums, saturated, blocks):
    """LIF: f = [m > theta]; m = sat(beta m + inp - f theta) (subtract) or sat(beta (m (1 - f))
    + inp) (zero); s = [m > theta]; without reset delay m = sat(m - (s - f) theta) or
    sat(m (1 - (s - f)))."""
    steps, _, n = out.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        mj, biasj = m[b, start:stop], bias[start:stop]
        betaj, thresholdj = beta[start:stop], threshold[start:stop]
        clipped = 0
        for t in range(steps):
            acc = _input(source, columns, t, b, block, start, stop, buffer, job, seen, wide)
            outj = out[t, b, start:stop]
            count = 0
            for k in range(mj.size):
                theta, value = thresholdj[k], mj[k]
                before = 1 if value > theta else 0
                inp = _requantize(acc[k], shift, biasj[k])
                if subtract:
                    value = _mul_q12(value, betaj[k]) + inp - before * theta
                else:
                    value = _mul_q12(value * (1 - before), betaj[k]) + inp
                value, hit = _saturate(value, lo, hi)
                clipped += hit
                spike = 1 if value > theta else 0
                if not reset_delay:
                    undone = spike - before
                    value = value - undone * theta if subtract else value * (1 - undone)
                    value, hit = _saturate(value, lo, hi)
                    clipped += hit
                mj[k] = value
                outj[k] = spike
                count += spike
            events[t, b, block], sums[t, b, block] = count, count
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def cuba_lif_run(source, columns, buffer, seen, wide, shift, bias, alpha, beta, threshold, lo,
                 hi, subtract, reset_delay, i, v, out, events, sums, saturated, blocks):
    """CubaLIF: f = [v > theta]; i = sat(alpha i + inp); v = sat(beta v + i - f theta) or
    sat((beta v + i)(1 - f)); s = [v > theta]; without reset delay the reset of s - f at once."""
    steps, _, n = out.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        ij, vj, biasj = i[b, start:stop], v[b, start:stop], bias[start:stop]
        alphaj, betaj, thresholdj = alpha[start:stop], beta[start:stop], threshold[start:stop]
        clipped = 0
        for t in range(steps):
            acc = _input(source, columns, t, b, block, start, stop, buffer, job, seen, wide)
            outj = out[t, b, start:stop]
            count = 0
            for k in range(vj.size):
                theta, value = thresholdj[k], vj[k]
                before = 1 if value > theta else 0
                current = _mul_q12(ij[k], alphaj[k]) + _requantize(acc[k], shift, biasj[k])
                current, hit = _saturate(current, lo, hi)
                clipped += hit
                value = _mul_q12(value, betaj[k]) + current
                value = value - before * theta if subtract else value * (1 - before)
                value, hit = _saturate(value, lo, hi)
                clipped += hit
                spike = 1 if value > theta else 0
                if not reset_delay:
                    undone = spike - before
                    value = value - undone * theta if subtract else value * (1 - undone)
                    value, hit = _saturate(value, lo, hi)
                    clipped += hit
                ij[k], vj[k] = current, value
                outj[k] = spike
                count += spike
            events[t, b, block], sums[t, b, block] = count, count
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def li_run(source, columns, buffer, seen, wide, shift, bias, alpha, lo, hi, v, out, events,
           sums, saturated, blocks):
    """LI: v = sat(alpha v + inp); the output is v (its sum is the caller's: it is graded)."""
    steps, _, n = out.shape
    for job in prange(saturated.size):
        b, block, start, stop = _span(job, blocks, n)
        vj, biasj, alphaj = v[b, start:stop], bias[start:stop], alpha[start:stop]
        clipped = 0
        for t in range(steps):
            acc = _input(source, columns, t, b, block, start, stop, buffer, job, seen, wide)
            outj = out[t, b, start:stop]
            count = 0
            for k in range(vj.size):
                value = _mul_q12(vj[k], alphaj[k]) + _requantize(acc[k], shift, biasj[k])
                value, hit = _saturate(value, lo, hi)
                clipped += hit
                vj[k] = value
                outj[k] = value
                if value != 0:
                    count += 1
            events[t, b, block], sums[t, b, block] = count, 0
        saturated[job] = clipped


@njit(parallel=True, cache=True)
def quantize_run(x, scale, half_even, limit, out, saturated, seen, wide):
    """InputFormat.quantize on a flat array: q = floor(x / scale + 1/2) (rint(x / scale) with
    `half_even`), in float64 as the reference forms it; clipped to [-limit, limit - 1] (counted
    per job into `saturated`); written in `out`'s dtype (float32 is exact: |q| <= 2^23). Per job,
    `seen` gets the non-zero values and `wide` those beyond {-1, 1}."""
    jobs = saturated.size
    size = (x.size + jobs - 1) // jobs
    top, bottom = limit - 1.0, -limit * 1.0
    for job in prange(jobs):
        xj, outj = x[job * size:(job + 1) * size], out[job * size:(job + 1) * size]
        clipped, nonzero, beyond = 0, 0, 0
        for k in range(xj.size):
            scaled = np.float64(xj[k]) / scale
            value = np.rint(scaled) if half_even else np.floor(scaled + 0.5)
            clipped += (value > top) + (value < bottom)
            value = min(max(value, bottom), top)
            nonzero += value != 0
            beyond += abs(value) > 1
            outj[k] = value
        saturated[job], seen[job], wide[job] = clipped, nonzero, beyond
