"""Fixed-point formats and the integer arithmetic primitives every node uses.

A Format is an integer type: its width, signedness, how values are rounded into it and what
happens beyond its range. The primitives below are the only places that round, saturate or
wrap; they are exact on int64 for |x| < 2^62 (products are formed in int64).

    round_half_up(r)       = floor(r + 1/2)                       (real -> integer)
    shift_round(x, s)      = floor((x + 2^(s-1)) / 2^s)  for s > 0; x * 2^-s for s <= 0
    shift_toward_zero(x,s) = sign(x) * (|x| >> s)
    saturate(x, bits)      = clip(x, -2^(bits-1), 2^(bits-1) - 1)
    wrap(x, bits)          = x reduced into [-2^(bits-1), 2^(bits-1)) (two's complement)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Rounding(StrEnum):
    """How a value with more precision than a format is brought into it."""

    HALF_UP = "half up"  # floor(x + 1/2): ties toward +inf
    TOWARD_ZERO = "toward zero"  # truncation of the magnitude
    FLOOR = "floor"  # arithmetic right shift
    HALF_EVEN = "half even"  # to nearest, ties to even (ONNX QuantizeLinear)


class Overflow(StrEnum):
    """What happens to a value beyond a format's range."""

    SATURATE = "saturate"
    WRAP = "wrap"


@dataclass(frozen=True)
class Format:
    """An integer format: `bits` wide, signed or not, with its rounding and overflow modes."""

    bits: int
    signed: bool = True
    rounding: Rounding = Rounding.HALF_UP
    overflow: Overflow = Overflow.SATURATE

    def __post_init__(self) -> None:
        object.__setattr__(self, "rounding", Rounding(self.rounding))
        object.__setattr__(self, "overflow", Overflow(self.overflow))
        if not 1 <= self.bits <= 62:
            raise ValueError(f"a format has 1..62 bits, got {self.bits}")

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def contains(self, values: np.ndarray) -> bool:
        """True when every value lies in the format's range."""
        values = np.asarray(values)
        return values.size == 0 or bool(values.min() >= self.lo and values.max() <= self.hi)

    def fit(self, x: np.ndarray) -> np.ndarray:
        """Bring integers into range by the format's overflow mode."""
        if self.overflow is Overflow.SATURATE:
            return np.clip(x, self.lo, self.hi)
        return wrap(x, self.bits) if self.signed else np.asarray(x) & ((1 << self.bits) - 1)

    def describe(self) -> str:
        return (f"{'int' if self.signed else 'uint'}{self.bits}, rounding {self.rounding}, "
                f"overflow {self.overflow}")


def round_half_up(x: np.ndarray | float) -> np.ndarray:
    """Real values to int64, rounding to nearest with ties toward +inf."""
    return np.floor(np.asarray(x, dtype=np.float64) + 0.5).astype(np.int64)


def shift_round(x: np.ndarray, shift: int) -> np.ndarray:
    """x / 2^shift rounded half up: (x + 2^(shift-1)) >> shift; a negative shift multiplies.

    Exact for |x| < 2^63 - 2^(shift-1) (left shifts: |x| < 2^(63+shift)); x is widened to
    int64 first, whatever its integer dtype.
    """
    x = np.asarray(x, dtype=np.int64)
    if shift > 0:
        return (x + (1 << (shift - 1))) >> shift
    if shift < 0:
        return x << (-shift)
    return x


def shift_toward_zero(x: np.ndarray, shift: int) -> np.ndarray:
    """sign(x) * (|x| >> shift): a right shift rounding toward zero (Loihi's decays)."""
    x = np.asarray(x, dtype=np.int64)
    return np.sign(x) * (np.abs(x) >> shift)


def mul_frac(x: np.ndarray, multiplier: np.ndarray | int, frac_bits: int) -> np.ndarray:
    """x * multiplier / 2^frac_bits rounded half up, formed in int64: a Q.frac multiply, exact
    for |x * multiplier| < 2^62 (any 32-bit x with |multiplier| <= 2^30)."""
    return shift_round(np.asarray(x, dtype=np.int64) * multiplier, frac_bits)


def saturate(x: np.ndarray, bits: int) -> np.ndarray:
    """Clip to the signed range of `bits`: [-2^(bits-1), 2^(bits-1) - 1], in the dtype of x (no
    arithmetic: exact for any integer x whose dtype holds `bits` bits)."""
    limit = 1 << (bits - 1)
    return np.minimum(np.maximum(x, -limit), limit - 1)


def wrap(x: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap into `bits`: ((x + 2^(bits-1)) mod 2^bits) - 2^(bits-1)."""
    half = 1 << (bits - 1)
    return ((np.asarray(x, dtype=np.int64) + half) & ((1 << bits) - 1)) - half


def quantize_multiplier(value: float, frac_bits: int) -> int:
    """round_half_up(value * 2^frac_bits): a Q.frac_bits factor (decays, gates, constants)."""
    return int(round_half_up(value * (1 << frac_bits)))


def int_dtype(bits: int) -> type:
    """The narrowest numpy integer type of a signed `bits`-wide value."""
    return np.int8 if bits <= 8 else np.int16 if bits <= 16 else np.int32 if bits <= 32 else np.int64


#: Q0.12 decay factors and gates (the `sim` target's neuron constants)
DECAY_BITS = 12
