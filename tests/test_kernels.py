"""Every integer kernel against a plain Python-int reference, on hypothesis-generated values."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from neurodeploy.program import kernels
from neurodeploy.program.formats import mul_frac, saturate, shift_round
from neurodeploy.program.tables import build_table

BITS = 24
LIMIT = 1 << (BITS - 1)
states = st.integers(-LIMIT, LIMIT - 1)
inputs = st.integers(-(1 << 20), 1 << 20)
q12 = st.integers(0, 4096)
thresholds = st.integers(1, 1 << 18)
settings.register_profile("kernels", max_examples=300, deadline=None)
settings.load_profile("kernels")


def ref_round_shift(x: int, shift: int) -> int:
    """x / 2^shift rounded half up, with exact rational arithmetic."""
    return math.floor(Fraction(x, 1 << shift) + Fraction(1, 2)) if shift > 0 else x * (1 << -shift)


def ref_sat(x: int, bits: int = BITS) -> int:
    return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, x))


def arr(*values: int) -> np.ndarray:
    """int32, as the engine passes states and inputs (values here fit 32 bits)."""
    return np.array(values, dtype=np.int32)


@given(st.integers(-(1 << 40), 1 << 40), st.integers(-8, 20))
def test_shift_round(x, shift):
    assert int(shift_round(np.array([x], np.int64), shift)[0]) == ref_round_shift(x, shift)


@given(st.integers(-(1 << 30), 1 << 30), q12)
def test_mul_frac(x, m):
    assert int(mul_frac(arr(x), m, 12)[0]) == ref_round_shift(x * m, 12)


@given(st.integers(-(1 << 40), 1 << 40), st.integers(2, 32))
def test_saturate(x, bits):
    assert int(saturate(np.array([x], np.int64), bits)[0]) == ref_sat(x, bits)


@given(states, inputs, thresholds, st.sampled_from(["multi", "single", "strict"]),
       st.sampled_from(["subtract", "zero"]), st.one_of(st.none(), st.integers(-(1 << 20), 0)))
def test_iaf_step(v, inp, theta, spike, reset, floor):
    got_v, got_n = kernels.iaf_step(arr(v), arr(inp), arr(theta), "single" if spike == "strict"
                                    else spike, reset, None if floor is None else arr(floor), BITS,
                                    strict=spike == "strict")
    v = ref_sat(v + inp)
    if spike == "multi":
        n = v // theta if v > 0 else 0
    elif spike == "strict":
        n = 1 if v > theta else 0
    else:
        n = 1 if v >= theta else 0
    v = v - n * theta if reset == "subtract" else (0 if n else v)
    if floor is not None:
        v = max(v, floor)
    assert (int(got_v[0]), int(got_n[0])) == (v, n)


@given(states, inputs, q12, thresholds, st.sampled_from(["subtract", "zero"]), st.booleans())
def test_lif_step(m, inp, beta, theta, reset, delay):
    got_m, got_s = kernels.lif_step(arr(m), arr(inp), arr(beta), arr(theta), reset, BITS, delay)
    r = 1 if m > theta else 0
    if reset == "subtract":
        m = ref_round_shift(m * beta, 12) + inp - r * theta
    else:
        m = ref_round_shift(m * (1 - r) * beta, 12) + inp
    m = ref_sat(m)
    s = 1 if m > theta else 0
    if not delay:
        m = ref_sat(m - (s - r) * theta if reset == "subtract" else m - (s - r) * m)
    assert (int(got_m[0]), int(got_s[0])) == (m, s)


def _reference_table(table, q: int) -> int:
    fb = table.frac_bits
    pos = (q * table.multiplier >> table.shift) + table.offset  # Python >> floors like numpy
    pos = max(0, min((table.size << fb) - 1, pos))
    j, f = pos >> fb, pos & ((1 << fb) - 1)
    low, high = int(table.values[j]), int(table.values[j + 1])
    return low + ref_round_shift((high - low) * f, fb)


SIGMOID = build_table(lambda z: 1 / (1 + np.exp(-z)), -12.0, 12.0, 1024, 3.7e-4, 2.0 ** -8)
TANH = build_table(np.tanh, -8.0, 8.0, 1024, 2.0 ** -12, 2.0 ** -12)
BOUND = build_table(lambda i: 3 * np.tanh(i / 3), -12.0, 12.0, 1024, 1.3e-3, 2.0 ** -12)


@given(st.integers(-(1 << 23), 1 << 23))
def test_tables_match_reference_and_approximate_their_function(q):
    for table, function, in_unit, out_unit in ((SIGMOID, lambda z: 1 / (1 + math.exp(-z)), 3.7e-4,
                                                2.0 ** -8),
                                               (TANH, math.tanh, 2.0 ** -12, 2.0 ** -12)):
        got = int(table(arr(q))[0])
        assert got == _reference_table(table, q)
        x = max(-12.0, min(12.0, q * in_unit)) if table is SIGMOID else max(-8.0, min(8.0, q * in_unit))
        assert abs(got * out_unit - function(x)) <= 2 * out_unit + 1e-3


@given(states, st.integers(0, 1), inputs, q12, st.integers(-(1 << 18), 1 << 18), st.booleans(),
       st.integers(0, 255))
def test_snu_step(s, y_hard, inp, decay, out_bias, soft, y_soft):
    y = y_soft if soft else y_hard
    got_s, got_y = kernels.snu_step(arr(max(s, 0)), arr(y), arr(inp), arr(decay), arr(out_bias),
                                    BITS, soft, 8, SIGMOID if soft else None)
    s = max(s, 0)
    decayed = ref_round_shift(s * decay, 12)
    gated = ref_round_shift(decayed * (256 - y), 8) if soft else decayed * (1 - y)
    s = ref_sat(max(inp + gated, 0))
    y = min(_reference_table(SIGMOID, s + out_bias), 255) if soft else int(s + out_bias > 0)
    assert (int(got_s[0]), int(got_y[0])) == (s, y)


@given(states, st.integers(-4096, 4096), st.integers(-4096, 4096), inputs,
       st.integers(-10 * 4096, -4 * 4096), st.sampled_from([0, 1024]))
def test_src_step(i, h, hs, inp, bias, z):
    consts = {"frac": 12, "alpha": 3686, "r": 8192, "rs": -28672, "z": z, "zs_hyp": 3686,
              "zs_dep": 0}
    got = kernels.src_step(arr(i), arr(h), arr(hs), arr(inp), arr(bias), consts, BOUND, TANH, BITS, 8)
    i = ref_sat(ref_round_shift(i * 3686, 12) + inp)
    x = _reference_table(BOUND, i)
    zs = 0 if h > 2048 else 3686
    t = _reference_table(TANH, x + ref_round_shift(8192 * h - 28672 * hs, 12) + bias)
    h_new = t if z == 0 else ref_round_shift(z * h + (4096 - z) * t, 12)
    hs = ref_round_shift(zs * hs + (4096 - zs) * h, 12)
    out = min(ref_round_shift(max(h_new, 0), 4), 255)
    assert tuple(int(a[0]) for a in got) == (i, h_new, hs, out)


@given(states, inputs, q12)
def test_li_step(v, inp, alpha):
    got = kernels.li_step(arr(v), arr(inp), arr(alpha), BITS)
    assert int(got[0]) == ref_sat(ref_round_shift(v * alpha, 12) + inp)


@given(states, states, inputs, q12, q12, thresholds)
def test_cuba_lif_step(i, v, inp, alpha, beta, theta):
    got = kernels.cuba_lif_step(arr(i), arr(v), arr(inp), arr(alpha), arr(beta), arr(theta), BITS)
    i = ref_sat(ref_round_shift(i * alpha, 12) + inp)
    v = ref_sat(ref_round_shift(v * beta, 12) + i)
    s = 1 if v > theta else 0
    assert tuple(int(g[0]) for g in got) == (i, 0 if s else v, s)
