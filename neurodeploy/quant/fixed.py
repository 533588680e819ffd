"""Integer arithmetic primitives with named rounding and overflow.

Inputs may be any numpy integer dtype (or Python ints); results are int64 and exact whenever the
exact result and the intermediate x + 2^(shift-1) (or x * multiplier, x << -shift) stay inside
|.| < 2^63: int32 inputs are widened before any add, multiply or shift.
"""

from __future__ import annotations

import numpy as np


def shift_round(x: np.ndarray, shift: int) -> np.ndarray:
    """x / 2^shift rounded half up (toward +inf on ties): (x + 2^(shift-1)) >> shift.

    A negative shift multiplies by 2^-shift exactly; shift 0 is the identity. Exact for
    |x| < 2^63 - 2^(shift-1) (left shifts: |x| < 2^(63+shift)); int32 x is widened first.
    """
    x = np.asarray(x, dtype=np.int64)
    if shift > 0:
        return (x + (1 << (shift - 1))) >> shift
    if shift < 0:
        return x << (-shift)
    return x


def mul_frac(x: np.ndarray, multiplier: np.ndarray | int, frac_bits: int) -> np.ndarray:
    """x * multiplier / 2^frac_bits, rounded half up: a fixed-point multiply by a Q.frac factor.

    The product is formed in int64, whatever the dtype of x (int32 states would overflow): exact
    for |x * multiplier| < 2^62, e.g. any 32-bit x with |multiplier| <= 2^30.
    """
    return shift_round(np.asarray(x, dtype=np.int64) * multiplier, frac_bits)


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clip to the signed range of `bits`: [-2^(bits-1), 2^(bits-1) - 1], in the dtype of x.

    No arithmetic: exact for any integer x whose dtype holds `bits` bits (bits <= 32 for int32).
    """
    limit = 1 << (bits - 1)
    return np.minimum(np.maximum(x, -limit), limit - 1)


def quantize_multiplier(value: float, bits: int = 12) -> int:
    """round(value * 2^bits): a Q0.bits fixed-point factor (decays, gates)."""
    return int(np.round(value * (1 << bits)))
