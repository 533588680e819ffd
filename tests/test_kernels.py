"""Every integer kernel against a plain Python-int reference, over its whole declared domain.

Domain: state widths 2..32, inputs anywhere in int32 (int32 or int64 arrays, as the engine passes
them), thresholds 1..2^31 - 1, Q0.12 decays and gates 0..4096, biases anywhere in int32 and
beyond, tables over all of int64. Each kernel has a hypothesis test (shrinks a failure to a
small case) and a vectorised property test: CASES edge-heavy cases from a seeded numpy RNG, run
through the kernel in one call per (width, mode, dtype) group and compared case by case with
the reference, asserting 0 mismatches. The engine test at the end runs a whole IAF network
quantized through the API at 30..32 state bits against a Python-int re-implementation.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from conftest import model_path
from hypothesis import given, settings
from hypothesis import strategies as st
from int_cases import INT32_MAX, INT32_MIN, as_dtype, edge_integers, groups, mismatches, round_half_up, sat

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.engine.golden import simulate_program
from neurodeploy.errors import NeurodeployError
from neurodeploy.program import kernels
from neurodeploy.program.formats import mul_frac, saturate, shift_round
from neurodeploy.program.synapses import Dense, Requantize
from neurodeploy.program.tables import Table, build_table

CASES = 100_000
WIDTHS = tuple(range(2, 33))
# (state and parameter dtype, input dtype): int32 zeros at the first step, then int64 states
# with int32 inputs, and int64 throughout when the engine's input bound passes 2^31
DTYPES = ((np.int32, np.int32), (np.int64, np.int32), (np.int64, np.int64))
KERNEL_SETTINGS = settings(max_examples=100, deadline=None)

widths = st.one_of(st.sampled_from([2, 3, 31, 32]), st.integers(2, 32))
q12 = st.one_of(st.sampled_from([0, 1, 2048, 4095, 4096]), st.integers(0, 4096))
dtypes = st.sampled_from(DTYPES)


def state_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def limits(bits: int) -> list[int]:
    """int32 values at which saturation and thresholds bite for a `bits`-bit state."""
    half = 1 << (bits - 1)
    return [x for x in (half, half - 1, -half, -half + 1, 2 * half, -2 * half, half // 2)
            if INT32_MIN <= x <= INT32_MAX]


def edgy(lo: int, hi: int, bits: int = 2) -> st.SearchStrategy[int]:
    """Integers in [lo, hi], a third of them at the ends, near 0 or at a `bits`-bit limit."""
    edges = sorted({x for x in (lo, lo + 1, hi - 1, hi, 0, 1, -1, *limits(bits)) if lo <= x <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(lo, hi))


def states(bits: int) -> st.SearchStrategy[int]:
    return edgy(*state_range(bits), bits)


def int32s(bits: int = 2) -> st.SearchStrategy[int]:
    return edgy(INT32_MIN, INT32_MAX, bits)


def thresholds(bits: int) -> st.SearchStrategy[int]:
    return edgy(1, INT32_MAX, bits)


def arr(values, dtype=np.int64) -> np.ndarray:
    return as_dtype(np.atleast_1d(np.asarray(values, dtype=np.int64)), dtype)


def first(*arrays: np.ndarray) -> tuple[int, ...]:
    return tuple(int(np.asarray(a).reshape(-1)[0]) for a in arrays)


# ----------------------------------------------------------------- Python-int references

def ref_round_shift(x: int, shift: int) -> int:
    """x / 2^shift rounded half up, with exact rational arithmetic."""
    return math.floor(Fraction(x, 1 << shift) + Fraction(1, 2)) if shift > 0 else x * (1 << -shift)


def ref_table(table: Table, q: int) -> int:
    fb, values = table.frac_bits, TABLE_VALUES.get(id(table)) or table.values.tolist()
    pos = (q * table.multiplier >> table.shift) + table.offset  # Python >> floors like numpy
    pos = max(0, min((table.size << fb) - 1, pos))
    j, f = pos >> fb, pos & ((1 << fb) - 1)
    return values[j] + round_half_up((values[j + 1] - values[j]) * f, fb)


def ref_iaf(v, inp, theta, floor, bits, spike, reset, strict):
    v = sat(v + inp, bits)
    if spike == "multi":
        n = v // theta if v > 0 else 0
    else:
        n = int(v > theta) if strict else int(v >= theta)
    v = v - n * theta if reset == "subtract" else (0 if n else v)
    return (v if floor is None else max(v, floor)), n


def ref_lif(m, inp, beta, theta, bits, reset, delay):
    r = int(m > theta)
    if reset == "subtract":
        m = round_half_up(m * beta, 12) + inp - r * theta
    else:
        m = round_half_up(m * (1 - r) * beta, 12) + inp
    m = sat(m, bits)
    s = int(m > theta)
    if not delay:
        m = sat(m - (s - r) * theta if reset == "subtract" else m - (s - r) * m, bits)
    return m, s


def ref_cuba_lif(i, v, inp, alpha, beta, theta, bits, reset="zero", delay=False):
    r = int(v > theta)
    i = sat(round_half_up(i * alpha, 12) + inp, bits)
    v = round_half_up(v * beta, 12) + i
    v = sat(v - r * theta if reset == "subtract" else v * (1 - r), bits)
    s = int(v > theta)
    if not delay:
        v = sat(v - (s - r) * theta if reset == "subtract" else v * (1 - (s - r)), bits)
    return i, v, s


def ref_li(v, inp, alpha, bits):
    return (sat(round_half_up(v * alpha, 12) + inp, bits),)


def ref_snu(s, y, inp, decay, out_bias, bits, soft, out_bits, table):
    decayed = round_half_up(s * decay, 12)
    gated = round_half_up(decayed * ((1 << out_bits) - y), out_bits) if soft else decayed * (1 - y)
    s = sat(max(inp + gated, 0), bits)
    if soft:
        return s, min(max(ref_table(table, s + out_bias), 0), (1 << out_bits) - 1)
    return s, int(s + out_bias > 0)


def ref_src(i, h, hs, inp, cell_bias, bits, out_bits, consts, bound, tanh):
    alpha, r, rs, z, zs_hyp, zs_dep = consts
    one = 1 << 12
    i = sat(round_half_up(i * alpha, 12) + inp, bits)
    x = ref_table(bound, i)
    zs = zs_dep if 2 * h > one else zs_hyp
    t = ref_table(tanh, x + round_half_up(r * h + rs * hs, 12) + cell_bias)
    h_new = t if z == 0 else round_half_up(z * h + (one - z) * t, 12)
    hs = round_half_up(zs * hs + (one - zs) * h, 12)
    return i, h_new, hs, min(round_half_up(max(h_new, 0), 12 - out_bits), (1 << out_bits) - 1)


def src_consts(alpha, r, rs, z, zs_hyp, zs_dep) -> dict:
    return {"frac": 12, "alpha": alpha, "r": r, "rs": rs, "z": z, "zs_hyp": zs_hyp,
            "zs_dep": zs_dep}


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def bounded(z):
    return 3 * np.tanh(z / 3)


# tables as the quantizer builds them, from coarse state units (direct product) to units so
# fine that q * M leaves int64 (the split product), plus a hand-made one with shift < 31 whose
# clipped product still leaves int64 (the other branch of the split)
SIGMOID = build_table(sigmoid, -12.0, 12.0, 1024, 3.7e-4, 2.0 ** -8)
TANH = build_table(np.tanh, -8.0, 8.0, 1024, 2.0 ** -12, 2.0 ** -12)
BOUND = build_table(bounded, -12.0, 12.0, 1024, 1.3e-3, 2.0 ** -12)
FINE_BOUND = build_table(bounded, -12.0, 12.0, 1024, 2.0 ** -30, 2.0 ** -12)
SIGMOIDS = {(bits, unit): build_table(sigmoid, -12.0, 12.0, 1024, unit, 2.0 ** -bits)
            for bits in (2, 8, 12) for unit in (3.7e-4, 2.0 ** -30)}
WIDE_OFFSET = Table(np.arange(1025, dtype=np.int64) * 3 - 1500, 1 << 31, 25, 1 << 40)
COARSE = build_table(np.tanh, -8.0, 8.0, 1024, 1000.0, 2.0 ** -12)
TABLES = (SIGMOID, TANH, BOUND, FINE_BOUND, WIDE_OFFSET, COARSE, *SIGMOIDS.values())
TABLE_VALUES = {id(table): table.values.tolist() for table in TABLES}  # Python ints, read fast


def test_tables_cover_every_product_path():
    paths = {(t._direct, None if t._direct else t.shift >= 31) for t in TABLES}
    assert paths == {(True, None), (False, True), (False, False)}


# ----------------------------------------------------------------- hypothesis tests

@KERNEL_SETTINGS
@given(edgy(-(1 << 63), (1 << 63) - 1 - (1 << 61)), st.integers(-20, 62))
def test_shift_round(x, shift):
    x = x if shift >= 0 else x >> -shift  # |x << -shift| < 2^63
    assert int(shift_round(np.array([x], np.int64), shift)[0]) == ref_round_shift(x, shift)
    assert round_half_up(x, shift) == ref_round_shift(x, shift)  # the vectorised tests' helper
    if INT32_MIN <= x <= INT32_MAX and shift >= 0:
        assert int(shift_round(np.array([x], np.int32), shift)[0]) == ref_round_shift(x, shift)


@KERNEL_SETTINGS
@given(int32s(), edgy(0, 1 << 30), st.integers(0, 30), st.sampled_from([np.int32, np.int64]))
def test_mul_frac(x, m, frac, dtype):
    assert int(mul_frac(arr(x, dtype), m, frac)[0]) == ref_round_shift(x * m, frac)


@KERNEL_SETTINGS
@given(edgy(-(1 << 63), (1 << 63) - 1), st.integers(2, 63))
def test_saturate(x, bits):
    assert int(saturate(np.array([x], np.int64), bits)[0]) == sat(x, bits)
    if INT32_MIN <= x <= INT32_MAX and bits <= 32:
        assert int(saturate(np.array([x], np.int32), bits)[0]) == sat(x, bits)


@KERNEL_SETTINGS
@given(st.data())
def test_iaf_step(data):
    bits = data.draw(widths)
    (state_dtype, input_dtype) = data.draw(dtypes)
    v, floor = data.draw(states(bits)), data.draw(st.one_of(st.none(), states(bits)))
    inp, theta = data.draw(int32s(bits)), data.draw(thresholds(bits))
    spike = data.draw(st.sampled_from(["multi", "single", "strict"]))
    reset = data.draw(st.sampled_from(["subtract", "zero"]))
    got = kernels.iaf_step(arr(v, state_dtype), arr(inp, input_dtype), arr(theta, state_dtype),
                           "single" if spike == "strict" else spike, reset,
                           None if floor is None else arr(floor, state_dtype), bits,
                           strict=spike == "strict")
    assert first(*got) == ref_iaf(v, inp, theta, floor, bits, spike, reset, spike == "strict")


@KERNEL_SETTINGS
@given(st.data())
def test_lif_step(data):
    bits = data.draw(widths)
    state_dtype, input_dtype = data.draw(dtypes)
    m, inp, beta = data.draw(states(bits)), data.draw(int32s(bits)), data.draw(q12)
    theta = data.draw(thresholds(bits))
    reset, delay = data.draw(st.sampled_from(["subtract", "zero"])), data.draw(st.booleans())
    got = kernels.lif_step(arr(m, state_dtype), arr(inp, input_dtype), arr(beta, state_dtype),
                           arr(theta, state_dtype), reset, bits, delay)
    assert first(*got) == ref_lif(m, inp, beta, theta, bits, reset, delay)


@KERNEL_SETTINGS
@given(edgy(-(1 << 63), (1 << 63) - 1, 32),
       st.sampled_from(sorted(TABLES, key=lambda t: (t.multiplier, t.shift, t.offset))))
def test_tables_match_reference(q, table):
    assert int(table(np.array([q], np.int64))[0]) == ref_table(table, q)
    if INT32_MIN <= q <= INT32_MAX:
        assert int(table(np.array([q], np.int32))[0]) == ref_table(table, q)


@settings(max_examples=100, deadline=None)
@given(st.integers(-(1 << 23), 1 << 23))
def test_tables_approximate_their_function(q):
    for table, function, in_unit, out_unit, lo, hi in (
            (SIGMOID, lambda z: 1 / (1 + math.exp(-z)), 3.7e-4, 2.0 ** -8, -12.0, 12.0),
            (TANH, math.tanh, 2.0 ** -12, 2.0 ** -12, -8.0, 8.0)):
        got = int(table(np.array([q], np.int64))[0])
        assert abs(got * out_unit - function(max(lo, min(hi, q * in_unit)))) <= 2 * out_unit + 1e-3


@KERNEL_SETTINGS
@given(st.data())
def test_snu_step(data):
    bits = data.draw(widths)
    state_dtype, input_dtype = data.draw(dtypes)
    soft = data.draw(st.booleans())
    out_bits, unit = data.draw(st.sampled_from(sorted(SIGMOIDS))) if soft else (1, None)
    table = SIGMOIDS[out_bits, unit] if soft else None
    s = data.draw(edgy(0, (1 << (bits - 1)) - 1, bits))
    y = data.draw(st.integers(0, (1 << out_bits) - 1 if soft else 1))
    inp, decay, out_bias = data.draw(int32s(bits)), data.draw(q12), data.draw(int32s(bits))
    got = kernels.snu_step(arr(s, state_dtype), arr(y, state_dtype), arr(inp, input_dtype),
                           arr(decay), arr(out_bias), bits, soft, out_bits, table)
    assert first(*got) == ref_snu(s, y, inp, decay, out_bias, bits, soft, out_bits, table)


@KERNEL_SETTINGS
@given(st.data())
def test_src_step(data):
    bits = data.draw(widths)
    state_dtype, input_dtype = data.draw(dtypes)
    i, inp = data.draw(states(bits)), data.draw(int32s(bits))
    h, hs = data.draw(edgy(-(1 << 16), 1 << 16)), data.draw(edgy(-(1 << 16), 1 << 16))
    bias = data.draw(edgy(-(1 << 40), 1 << 40))
    consts = (data.draw(q12), data.draw(int32s()), data.draw(int32s()),
              data.draw(st.one_of(st.just(0), q12)), data.draw(q12), data.draw(q12))
    out_bits = data.draw(st.integers(1, 12))
    bound = data.draw(st.sampled_from([BOUND, FINE_BOUND]))
    got = kernels.src_step(arr(i, state_dtype), arr(h, state_dtype), arr(hs, state_dtype),
                           arr(inp, input_dtype), arr(bias), src_consts(*consts), bound, TANH,
                           bits, out_bits)
    assert first(*got) == ref_src(i, h, hs, inp, bias, bits, out_bits, consts, bound, TANH)


@KERNEL_SETTINGS
@given(st.data())
def test_li_step(data):
    bits = data.draw(widths)
    state_dtype, input_dtype = data.draw(dtypes)
    v, inp, alpha = data.draw(states(bits)), data.draw(int32s(bits)), data.draw(q12)
    got = kernels.li_step(arr(v, state_dtype), arr(inp, input_dtype), arr(alpha, state_dtype), bits)
    assert first(got) == ref_li(v, inp, alpha, bits)


@KERNEL_SETTINGS
@given(st.data())
def test_cuba_lif_step(data):
    bits = data.draw(widths)
    state_dtype, input_dtype = data.draw(dtypes)
    i, v, inp = data.draw(states(bits)), data.draw(states(bits)), data.draw(int32s(bits))
    alpha, beta, theta = data.draw(q12), data.draw(q12), data.draw(thresholds(bits))
    reset, delay = data.draw(st.sampled_from(["zero", "subtract"])), data.draw(st.booleans())
    got = kernels.cuba_lif_step(arr(i, state_dtype), arr(v, state_dtype), arr(inp, input_dtype),
                                arr(alpha, state_dtype), arr(beta, state_dtype),
                                arr(theta, state_dtype), bits, reset, delay)
    assert first(*got) == ref_cuba_lif(i, v, inp, alpha, beta, theta, bits, reset, delay)


# ----------------------------------------------------------------- 100,000 cases per kernel

def assert_exact(got: list, cases: list, reference) -> None:
    checked, bad, examples = mismatches(got, cases, reference)
    assert checked == CASES
    assert bad == 0, f"{bad} of {checked} cases differ; (case, kernel, reference): {examples}"


def columns(*arrays) -> list[tuple]:
    """Per-case tuples of Python ints (None where an array is None)."""
    lists = [a.tolist() if isinstance(a, np.ndarray) else [a] * len(arrays[0]) for a in arrays]
    return list(zip(*lists, strict=True))


def test_shift_round_mul_frac_saturate_on_100k_cases():
    rng = np.random.default_rng(1)
    for name, keys in (("shift_round", (range(-20, 63), (np.int32, np.int64))),
                       ("mul_frac", (range(0, 31), (np.int32, np.int64))),
                       ("saturate", (range(2, 64), (np.int32, np.int64)))):
        got, cases = [], []
        for (param, dtype), n in groups(rng, CASES, *keys):
            wide = dtype == np.int64
            if name == "shift_round":
                hi = (1 << 63) - 1 - (1 << max(param - 1, 0)) if param >= 0 else (1 << (63 + param)) - 1
                lo = -(1 << 63) if param >= 0 else -hi
                x = edge_integers(rng, lo, hi, n) if wide else edge_integers(rng, INT32_MIN,
                                                                             INT32_MAX, n)
                got.append((shift_round(as_dtype(x, dtype), param),))
                cases.append(columns(x, param))
            elif name == "mul_frac":
                x = edge_integers(rng, INT32_MIN, INT32_MAX, n)
                m = edge_integers(rng, 0, 1 << 30, n, anchors=[4096, 4095, 2048])
                got.append((mul_frac(as_dtype(x, dtype), m, param),))
                cases.append(columns(x * 0 + param, x, m))  # (frac, x, m)
            else:
                bits = param if wide else min(param, 32)
                x = edge_integers(rng, -(1 << 63), (1 << 63) - 1, n, limits(bits)) if wide else \
                    edge_integers(rng, INT32_MIN, INT32_MAX, n, limits(bits))
                got.append((saturate(as_dtype(x, dtype), bits),))
                cases.append(columns(x, bits))
        reference = {"shift_round": lambda x, s: (ref_round_shift(x, s),),
                     "mul_frac": lambda f, x, m: (round_half_up(x * m, f),),
                     "saturate": lambda x, bits: (sat(x, bits),)}[name]
        assert_exact(got, cases, reference)


def test_tables_on_100k_cases():
    rng = np.random.default_rng(2)
    got, cases = [], []
    for (index, dtype), n in groups(rng, CASES, range(len(TABLES)), (np.int32, np.int64)):
        table = TABLES[index]
        lo, hi = table._input_range
        anchors = [lo, hi, lo - 1, hi + 1, INT32_MIN, INT32_MAX]
        q = (edge_integers(rng, -(1 << 63), (1 << 63) - 1, n, anchors) if dtype == np.int64
             else edge_integers(rng, INT32_MIN, INT32_MAX, n, anchors))
        got.append((table(as_dtype(q, dtype)),))
        cases.append(columns(q * 0 + index, q))
    assert_exact(got, cases, lambda index, q: (ref_table(TABLES[index], q),))


def test_iaf_step_on_100k_cases():
    rng = np.random.default_rng(3)
    got, cases = [], []
    for (bits, spike, reset, floored, (sd, idt)), n in groups(
            rng, CASES, WIDTHS, ("multi", "single", "strict"), ("subtract", "zero"), (False, True),
            DTYPES):
        lo, hi = state_range(bits)
        v = edge_integers(rng, lo, hi, n, limits(bits))
        inp = edge_integers(rng, INT32_MIN, INT32_MAX, n, limits(bits))
        theta = edge_integers(rng, 1, INT32_MAX, n, limits(bits) + [2])
        floor = edge_integers(rng, lo, hi, n, limits(bits)) if floored else None
        strict = spike == "strict"
        got.append(kernels.iaf_step(as_dtype(v, sd), as_dtype(inp, idt), as_dtype(theta, sd),
                                    "single" if strict else spike, reset,
                                    None if floor is None else as_dtype(floor, sd), bits, strict))
        cases.append(columns(v, inp, theta, floor, bits, spike, reset, strict))
    assert_exact(got, cases, ref_iaf)


def test_lif_step_on_100k_cases():
    rng = np.random.default_rng(4)
    got, cases = [], []
    for (bits, reset, delay, (sd, idt)), n in groups(rng, CASES, WIDTHS, ("subtract", "zero"),
                                                      (True, False), DTYPES):
        lo, hi = state_range(bits)
        m = edge_integers(rng, lo, hi, n, limits(bits))
        inp = edge_integers(rng, INT32_MIN, INT32_MAX, n, limits(bits))
        beta = edge_integers(rng, 0, 4096, n, [4095, 2048])
        theta = edge_integers(rng, 1, INT32_MAX, n, limits(bits))
        got.append(kernels.lif_step(as_dtype(m, sd), as_dtype(inp, idt), as_dtype(beta, sd),
                                    as_dtype(theta, sd), reset, bits, delay))
        cases.append(columns(m, inp, beta, theta, bits, reset, delay))
    assert_exact(got, cases, ref_lif)


def test_cuba_lif_and_li_steps_on_100k_cases():
    rng = np.random.default_rng(5)
    for kind in ("cuba_lif", "li"):
        got, cases = [], []
        for (bits, (sd, idt), (reset, delay)), n in groups(
                rng, CASES, WIDTHS, DTYPES, [("zero", False), ("zero", True), ("subtract", False),
                                             ("subtract", True)]):
            lo, hi = state_range(bits)
            i = edge_integers(rng, lo, hi, n, limits(bits))
            v = edge_integers(rng, lo, hi, n, limits(bits))
            inp = edge_integers(rng, INT32_MIN, INT32_MAX, n, limits(bits))
            alpha = edge_integers(rng, 0, 4096, n, [4095, 2048])
            if kind == "li":
                got.append((kernels.li_step(as_dtype(v, sd), as_dtype(inp, idt),
                                            as_dtype(alpha, sd), bits),))
                cases.append(columns(v, inp, alpha, bits))
                continue
            beta = edge_integers(rng, 0, 4096, n, [4095, 2048])
            theta = edge_integers(rng, 1, INT32_MAX, n, limits(bits))
            got.append(kernels.cuba_lif_step(as_dtype(i, sd), as_dtype(v, sd), as_dtype(inp, idt),
                                             as_dtype(alpha, sd), as_dtype(beta, sd),
                                             as_dtype(theta, sd), bits, reset, delay))
            cases.append(columns(i, v, inp, alpha, beta, theta, bits, reset, delay))
        assert_exact(got, cases, ref_li if kind == "li" else ref_cuba_lif)


def test_snu_step_on_100k_cases():
    rng = np.random.default_rng(6)
    variants = [(False, 1, None)] + [(True, bits, unit) for bits, unit in SIGMOIDS]
    got, cases = [], []
    for (bits, (soft, out_bits, unit), (sd, idt)), n in groups(rng, CASES, WIDTHS, variants,
                                                                 DTYPES):
        table = SIGMOIDS[out_bits, unit] if soft else None
        s = edge_integers(rng, 0, state_range(bits)[1], n, limits(bits))
        y = edge_integers(rng, 0, (1 << out_bits) - 1 if soft else 1, n)
        inp = edge_integers(rng, INT32_MIN, INT32_MAX, n, limits(bits))
        decay = edge_integers(rng, 0, 4096, n, [4095, 2048])
        out_bias = edge_integers(rng, INT32_MIN, INT32_MAX, n, limits(bits))
        got.append(kernels.snu_step(as_dtype(s, sd), as_dtype(y, sd), as_dtype(inp, idt),
                                    as_dtype(decay, sd), as_dtype(out_bias, sd), bits, soft,
                                    out_bits, table))
        cases.append(columns(s, y, inp, decay, out_bias, bits, soft, out_bits, table))
    assert_exact(got, cases, ref_snu)


def test_src_step_on_100k_cases():
    rng = np.random.default_rng(7)
    got, cases = [], []
    for (bits, out_bits, bound, (sd, idt)), n in groups(rng, CASES, WIDTHS, (2, 8, 12),
                                                         (BOUND, FINE_BOUND), DTYPES):
        consts = tuple(int(c) for c in (edge_integers(rng, 0, 4096, 1)[0],
                                        *edge_integers(rng, INT32_MIN, INT32_MAX, 2, [8192, -28672]),
                                        *edge_integers(rng, 0, 4096, 3, [3686])))
        lo, hi = state_range(bits)
        i = edge_integers(rng, lo, hi, n, limits(bits))
        h = edge_integers(rng, -(1 << 16), 1 << 16, n, [4096, 2048, 2049])
        hs = edge_integers(rng, -(1 << 16), 1 << 16, n, [4096, 2048])
        inp = edge_integers(rng, INT32_MIN, INT32_MAX, n, limits(bits))
        bias = edge_integers(rng, -(1 << 40), 1 << 40, n, [-6 * 4096, -4 * 4096])
        got.append(kernels.src_step(as_dtype(i, sd), as_dtype(h, sd), as_dtype(hs, sd),
                                    as_dtype(inp, idt), bias, src_consts(*consts), bound, TANH,
                                    bits, out_bits))
        cases.append(columns(i, h, hs, inp, bias, bits, out_bits, consts, bound, TANH))
    assert_exact(got, cases, ref_src)


# ----------------------------------------------------------------- the engine, end to end

def reference_engine(program, x: np.ndarray) -> list[np.ndarray]:
    """Every neuron node's output of an Affine + IAF program, on Python ints (object arrays)."""
    current = program.quantize_input(x).astype(np.int64).astype(object)
    outputs = {}
    for name in program.stateful_nodes:
        (dense,) = program.feeders(name)
        acc = current @ program.nodes[dense].weight.astype(np.int64).astype(object).T
        requantize, neuron = program.nodes[f"{name}.in"], program.nodes[name]
        shift = requantize.shift
        inp = acc * (1 << shift) if shift >= 0 else (2 * acc + (1 << -shift)) // (1 << (1 - shift))
        inp = inp + requantize.bias.astype(object)
        theta = neuron.threshold.astype(object)
        v = np.zeros(inp.shape[1:], object)
        floor = neuron.min_v
        floors = [None] * v.size if floor is None else np.broadcast_to(floor, v.shape).ravel().tolist()
        out = np.zeros(inp.shape, object)
        for t in range(inp.shape[0]):
            pairs = [ref_iaf(vi, ii, th, fl, neuron.state.bits, neuron.spike, neuron.reset,
                             neuron.strict)
                     for vi, ii, th, fl in zip(v.flat, inp[t].flat,
                                               np.broadcast_to(theta, v.shape).flat, floors,
                                               strict=True)]
            v = np.array([p[0] for p in pairs], object).reshape(v.shape)
            out[t] = np.array([p[1] for p in pairs], object).reshape(v.shape)
        outputs[name] = out.astype(np.int64)
        current = out
    return outputs


@pytest.mark.parametrize("state_bits", [30, 31, 32])
def test_iaf_network_at_wide_states_matches_python_ints(state_bits):
    """Input drives that keep every layer input inside int32 but push v + inp past 2^31."""
    torch.manual_seed(state_bits)
    rng = np.random.default_rng(state_bits)
    sizes = (26, 24, 16, 10)
    layers: list[torch.nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        linear = torch.nn.Linear(n_in, n_out, bias=False)
        # one weight magnitude per layer: every row quantizes to +-127, so the accumulator of a
        # +-1 input pattern matching a row's signs reaches the bound the engine proves
        linear.weight.data = torch.sign(torch.randn(n_out, n_in)) * 0.05
        spike, reset = ("single", "subtract") if n_out != 10 else ("multi", "zero")
        layers += [linear, ndnn.IAF(threshold=0.001, spike=spike, reset=reset)]
    network = torch.nn.Sequential(*layers)
    weight = layers[0].weight.detach().numpy()
    calibration = np.zeros((4, 2, sizes[0]), np.float32)
    calibration[0, 0, :2] = 1.0, 0.5  # real inputs up to 1 (8-bit, -128..127), tiny states
    steps, batch = 12, 8
    x = np.sign(rng.standard_normal((steps, batch, sizes[0]))).astype(np.float32)
    x[:, 0] = np.sign(weight[0])  # drives neuron 0 up to its bound every step ...
    x[:, 1] = -np.sign(weight[0])  # ... and down to minus its bound
    program = nd.convert(network, target="sim", data=calibration, state_bits=state_bits,
                         max_input_shift=12)
    first = program.stateful_nodes[0]
    bound = program.input_bound(first)
    assert bound < 2 ** 31 < bound + 2 ** (state_bits - 1)  # int32 input, v + inp beyond int32
    result = simulate_program(program, x, record_outputs=True)
    expected = reference_engine(program, x)
    for name, want in expected.items():
        assert np.array_equal(result.node_outputs[name], want), name
    assert expected[first][:, 0].any()  # the reference neuron fires: the test drives real spikes


@pytest.mark.parametrize("shift, bias", [(14, 0), (14, -(1 << 25)), (15, 0), (0, INT32_MAX),
                                         (-3, 1 << 40), (16, 0)])
def test_layer_input_is_int32_only_where_its_bound_fits(shift, bias):
    """Inputs at the bound the engine proves: exact, and int32 only when that bound is < 2^31."""
    weight = np.full((4, 8), 127, np.int8)
    weight[1] = -127
    dense = Dense(weight)
    requantize = Requantize(shift, np.array([bias, -bias, 0, 1], np.int64))
    x = np.stack([np.full((3, 8), 127.0), np.full((3, 8), -127.0)], axis=1).astype(np.float32)
    got = requantize.apply(dense.apply(x, 127.0), dense.output_bound(127.0))
    acc = x.astype(np.int64) @ weight.astype(np.int64).T
    exact = [[[round_half_up(int(a), -shift) + int(b)
               for a, b in zip(row, requantize.bias, strict=True)] for row in batch]
             for batch in acc]
    assert got.tolist() == exact
    total = 127 * 8 * 127 * 2.0 ** shift + abs(bias)
    assert (got.dtype == np.int32) == (total < 2 ** 31)


def test_engine_refuses_inputs_beyond_its_exact_range(digits_test):
    program = nd.convert(nd.load(model_path("iaf")), target="sim", data=digits_test[0][:, :20])
    program.nodes["3.in"].shift = 60
    with pytest.raises(NeurodeployError, match="beyond the 2\\^60"):
        simulate_program(program, digits_test[0][:, :4])
