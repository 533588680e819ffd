"""Integer neuron kernels: one time step of each neuron type.

Each kernel is the integer form of the update stated in the docstring of the `neurodeploy.nn`
layer of the same name. Widths, rounding and overflow are explicit:
- states saturate to `state_bits` (signed, 2..32) after every update;
- decays and gates are Q0.12 multipliers applied with `mul_frac` (rounded half up);
- graded outputs are unsigned `out_bits` integers (saturated);
- `inp` is the layer input already in state units (accumulator << input_shift, plus bias).

Every kernel is exact, equal to the same equations on unbounded Python ints, over its declared
domain: states within `state_bits`, `inp` anywhere in int32 (int32 or int64 arrays, as the
engine passes them; exact up to |inp| < 2^61), thresholds 1..2^31 - 1, Q0.12 decays 0..4096.
Arrays of any integer dtype are accepted: every sum, product and shift is formed in int64, where
the bounds written next to it prove it cannot overflow. Outputs are int64.
Given a `tally`, every saturation of a state and every clip of a graded output is counted in
it (the engine reports them per node). Tests compare every kernel with a plain Python-int
reference (tests/test_kernels.py).
"""

from __future__ import annotations

import numpy as np

from neurodeploy.program.formats import DECAY_BITS, mul_frac, saturate, shift_round
from neurodeploy.program.node import Tally
from neurodeploy.program.tables import Table


def _sat(x: np.ndarray, bits: int, tally: Tally | None) -> np.ndarray:
    """saturate(x, bits), counting the saturated elements into `tally` when one is given."""
    if tally is None:
        return saturate(x, bits)
    limit = 1 << (bits - 1)
    return tally.saturate(x, -limit, limit - 1)


def _clip(x: np.ndarray, lo: int, hi: int, tally: Tally | None) -> np.ndarray:
    """clip(x, lo, hi) of a graded output, counted like a saturation."""
    return np.clip(x, lo, hi) if tally is None else tally.saturate(x, lo, hi)


def iaf_step(v: np.ndarray, inp: np.ndarray, threshold: np.ndarray, spike: str, reset: str,
             min_v: np.ndarray | None, state_bits: int, strict: bool = False,
             tally: Tally | None = None) -> tuple[np.ndarray, np.ndarray]:
    """IAF (`neurodeploy.nn.IAF`): v += inp; n spikes; reset; floor. Returns (v, n).

    multi: n = v // threshold where v > 0 (equivalently where v >= threshold, as threshold >= 1);
    single: n = [v >= threshold] ([v > threshold] if strict). Exact for any int64 threshold >= 1
    and min_v: |v| <= 2^31 and |inp| < 2^61 keep v + inp inside int64, and n * threshold <= v.
    """
    v = _sat(np.add(v, inp, dtype=np.int64), state_bits, tally)
    fired = v > threshold if strict else v >= threshold
    n = fired.astype(np.int64)
    if spike == "multi":
        several = (v >> 1) >= threshold  # v >= 2 threshold, without forming 2 threshold
        if several.any():
            n[several] = v[several] // np.broadcast_to(threshold, v.shape)[several]
    if reset == "subtract":
        v -= n * threshold
    else:
        v[fired] = 0
    if min_v is not None:
        np.maximum(v, min_v, out=v)
    return v, n


def lif_step(m: np.ndarray, inp: np.ndarray, beta: np.ndarray, threshold: np.ndarray, reset: str,
             state_bits: int, reset_delay: bool = True, tally: Tally | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """LIF (`neurodeploy.nn.LIF`): reset from the previous step, decay, integrate, fire (>);
    without reset delay, the reset of this step's spike is applied at once (then saturated).

    int64 from `mul_frac` on: |m beta| <= 2^31 * 2^12, plus |inp| < 2^61 and threshold < 2^31.
    """
    fired_before = (m > threshold).astype(np.int64)
    if reset == "subtract":
        m = mul_frac(m, beta, DECAY_BITS) + inp - fired_before * threshold
    else:
        m = mul_frac(m * (1 - fired_before), beta, DECAY_BITS) + inp
    m = _sat(m, state_bits, tally)
    spikes = (m > threshold).astype(np.int64)
    if not reset_delay:
        undone = spikes - fired_before
        m = _sat(m - undone * threshold if reset == "subtract" else m * (1 - undone),
                 state_bits, tally)
    return m, spikes


def cuba_lif_step(i: np.ndarray, v: np.ndarray, inp: np.ndarray, alpha: np.ndarray,
                  beta: np.ndarray, threshold: np.ndarray, state_bits: int,
                  reset: str = "zero", reset_delay: bool = False, tally: Tally | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CubaLIF (`neurodeploy.nn.CubaLIF`): the current decays and integrates; the membrane decays,
    integrates the current and resets (from the previous step's spike with `reset_delay`: by
    subtraction, or cleared), is saturated, fires (>); without reset delay the reset of this
    step's spike is applied at once (then saturated). Returns (i, v, spikes).

    int64 from `mul_frac` on: |i alpha|, |v beta| <= 2^31 * 2^12, plus |inp| < 2^61 and
    threshold < 2^31.
    """
    fired_before = (v > threshold).astype(np.int64)
    i = _sat(mul_frac(i, alpha, DECAY_BITS) + inp, state_bits, tally)
    v = mul_frac(v, beta, DECAY_BITS) + i
    v = v - fired_before * threshold if reset == "subtract" else v * (1 - fired_before)
    v = _sat(v, state_bits, tally)
    spikes = (v > threshold).astype(np.int64)
    if not reset_delay:
        undone = spikes - fired_before
        v = _sat(v - undone * threshold if reset == "subtract" else v * (1 - undone),
                 state_bits, tally)
    return i, v, spikes


def snu_step(s: np.ndarray, y: np.ndarray, inp: np.ndarray, decay: np.ndarray,
             out_bias: np.ndarray, state_bits: int, soft: bool, out_bits: int,
             sigmoid: Table | None, tally: Tally | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """SNU / SoftSNU (`neurodeploy.nn.SNU`): gated decay, ReLU floor, step or sigmoid table.

    `inp` includes the recurrent term R y_{t-1}. For SoftSNU, y is an `out_bits` fraction and the
    gate (1 - y) is applied as (2^out_bits - y) / 2^out_bits, rounded half up.
    int64 from `mul_frac` on: |decayed| <= 2^31 (decay <= 4096), times a gate <= 2^16; the
    sigmoid table is exact for every int64 argument s + out_bias (|out_bias| < 2^62).
    """
    decayed = mul_frac(s, decay, DECAY_BITS)
    if soft:
        gated = shift_round(decayed * ((1 << out_bits) - y), out_bits)
    else:
        gated = decayed * (1 - y)
    s = _sat(np.maximum(inp + gated, 0), state_bits, tally)
    if soft:
        y = _clip(sigmoid(s + out_bias), 0, (1 << out_bits) - 1, tally)
    else:
        y = (s + out_bias > 0).astype(np.int64)
    return s, y


def src_step(i: np.ndarray, h: np.ndarray, hs: np.ndarray, inp: np.ndarray, cell_bias: np.ndarray,
             consts: dict, bound: Table, tanh: Table, state_bits: int, out_bits: int,
             tally: Tally | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """SRC (`neurodeploy.nn.SRC`) with h, hs, x and the tanh argument in Q.F (F = consts['frac']).

    i (state units) decays by alpha; x = bound(i) (table of rho*tanh(i/rho)); zs reads h[t-1];
    h = z*h + (1-z)*tanh(x + r*h + rs*hs + b); hs lags h; the output is relu(h) in out_bits.
    Returns (i, h, hs, out). Exact for |inp| < 2^61, h and hs in Q.F with F <= 16 (tanh table
    outputs, |h| <= 2^16) and constants |r|, |rs|, |z|, |zs| <= 2^31: every product < 2^48,
    formed in int64 (h, hs are widened: the engine starts them as int32 zeros).
    """
    h, hs = np.asarray(h, dtype=np.int64), np.asarray(hs, dtype=np.int64)
    frac = consts["frac"]
    one = 1 << frac
    i = _sat(mul_frac(i, consts["alpha"], DECAY_BITS) + inp, state_bits, tally)
    x = bound(i)
    zs = np.where(h > (one >> 1), consts["zs_dep"], consts["zs_hyp"])
    argument = x + shift_round(consts["r"] * h + consts["rs"] * hs, frac) + cell_bias
    t = tanh(argument)
    z = consts["z"]
    h_new = t if z == 0 else shift_round(z * h + (one - z) * t, frac)
    hs = shift_round(zs * hs + (one - zs) * h, frac)
    out = _clip(shift_round(np.maximum(h_new, 0), frac - out_bits), 0, (1 << out_bits) - 1,
                tally)
    return i, h_new, hs, out


def li_step(v: np.ndarray, inp: np.ndarray, alpha: np.ndarray, state_bits: int,
            tally: Tally | None = None) -> np.ndarray:
    """LI readout (`neurodeploy.nn.LI`): v = alpha v + inp, saturated. The output is v."""
    return _sat(mul_frac(v, alpha, DECAY_BITS) + inp, state_bits, tally)
