"""Integer arithmetic primitives with named rounding and overflow.

All values are numpy int64 arrays (or Python ints); every function is exact for |x| < 2^62.
"""

from __future__ import annotations

import numpy as np


def shift_round(x: np.ndarray, shift: int) -> np.ndarray:
    """x / 2^shift rounded half up (toward +inf on ties): (x + 2^(shift-1)) >> shift.

    A negative shift multiplies by 2^-shift exactly; shift 0 is the identity.
    """
    if shift > 0:
        return (x + (1 << (shift - 1))) >> shift
    if shift < 0:
        return x << (-shift)
    return x


def mul_frac(x: np.ndarray, multiplier: np.ndarray | int, frac_bits: int) -> np.ndarray:
    """x * multiplier / 2^frac_bits, rounded half up: a fixed-point multiply by a Q.frac factor.

    The product is formed in int64, whatever the dtype of x (int32 states would overflow).
    """
    return shift_round(np.asarray(x, dtype=np.int64) * multiplier, frac_bits)


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clip to the signed range of `bits`: [-2^(bits-1), 2^(bits-1) - 1]."""
    limit = 1 << (bits - 1)
    return np.minimum(np.maximum(x, -limit), limit - 1)


def quantize_multiplier(value: float, bits: int = 12) -> int:
    """round(value * 2^bits): a Q0.bits fixed-point factor (decays, gates)."""
    return int(np.round(value * (1 << bits)))
