"""Piecewise-linear lookup tables for nonlinearities, evaluated with integers only.

A table samples f on the grid x_j = lo + j * step (j = 0..N) and stores round(f(x_j) / out_unit).
An integer input q (real value q * in_unit) is mapped to a grid position with a multiplier and a
shift, then the two neighbouring entries are interpolated:

    pos  = clamp(((q * M) >> S) + offset, 0, N * 2^fb - 1)     # position in steps / 2^fb (floor)
    j, f = pos >> fb, pos & (2^fb - 1)
    out  = T[j] + ((T[j+1] - T[j]) * f + 2^(fb-1)) >> fb       # rounded half up

with M = round(in_unit / step * 2^(fb+S)) and offset = round(-lo / step * 2^fb). Inputs beyond the
grid saturate at its ends.

Exact for every int64 q (the product q * M would not fit 64 bits): q is first clipped to the
range [q_lo, q_hi] beyond which the position saturates anyway (pos is non-decreasing in q), and
where even the clipped product could leave int64, floor(q M / 2^S) is formed from two 31-bit
halves of q (see `Table._scaled`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from neurodeploy.program.formats import shift_round

FRACTION_BITS = 8


@dataclass(eq=False)
class Table:
    """An integer piecewise-linear table; see the module docstring for the arithmetic."""

    values: np.ndarray  # int64, N + 1 entries
    multiplier: int
    shift: int
    offset: int
    frac_bits: int = FRACTION_BITS
    _input_range: tuple[int, int] = field(init=False, repr=False)
    _direct: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        """Check the formats the arithmetic is exact for; derive the clip range of q.

        pos(q) >= P = N 2^fb - 1  <=>  q >= q_hi = ceil((P - offset) 2^S / M), and
        pos(q) <= 0               <=>  q <= q_lo = ceil((1 - offset) 2^S / M) - 1,
        so clipping q to [q_lo, q_hi] leaves the clamped position unchanged.
        """
        values = self.values
        scalars = (self.multiplier, self.shift, self.offset, self.frac_bits)
        if not all(isinstance(x, int | np.integer) and not isinstance(x, bool) for x in scalars):
            raise ValueError(f"table multiplier, shift, offset and frac_bits must be integers, "
                             f"got {scalars}")
        self.multiplier, self.shift, self.offset, self.frac_bits = map(int, scalars)
        problems = [name for name, ok in (
            ("multiplier (1..2^31)", 1 <= self.multiplier <= 1 << 31),
            ("shift (0..62)", 0 <= self.shift <= 62),
            ("frac_bits (0..16)", 0 <= self.frac_bits <= 16),
            ("offset (|offset| <= 2^40)", abs(self.offset) <= 1 << 40),
            ("values (1-D integers, 2..2^24 + 1 entries, |value| < 2^31)",
             values.ndim == 1 and np.issubdtype(values.dtype, np.integer)
             and 2 <= values.shape[0] <= (1 << 24) + 1 and int(np.abs(values).max()) < 1 << 31),
        ) if not ok]
        if problems:
            raise ValueError(f"table outside the exact integer formats: {', '.join(problems)}")
        m, s, top = self.multiplier, self.shift, (self.size << self.frac_bits) - 1
        q_hi = -((self.offset - top) * (1 << s) // m)  # ceil division with Python ints
        q_lo = -((self.offset - 1) * (1 << s) // m) - 1
        low, high = -(1 << 63), (1 << 63) - 1
        self._input_range = (max(low, min(high, q_lo)), max(low, min(high, q_hi)))
        self._direct = max(abs(q_lo), abs(q_hi)) * m < 1 << 63

    @property
    def size(self) -> int:
        return int(self.values.shape[0] - 1)

    def _scaled(self, q: np.ndarray) -> np.ndarray:
        """floor(q M / 2^S) for q inside the clip range, exactly.

        Direct when |q| M < 2^63 over the whole range. Otherwise q = a 2^31 + b (0 <= b < 2^31):
        -2^32 <= a < 2^32 and M <= 2^31 give -2^63 <= a M <= 2^63 - 2^31 and b M < 2^62, so
        floor(q M / 2^S) = (a M + (b M >> 31)) >> (S - 31) for S >= 31 (floor of a floor), or
        (a M << (31 - S)) + (b M >> S) for S < 31, which fits since the result is within the
        clipped positions (|.| < 2^42) and b M >> S < 2^62.
        """
        if self._direct:
            return (q * self.multiplier) >> self.shift
        high = (q >> 31) * self.multiplier
        low = (q & ((1 << 31) - 1)) * self.multiplier
        if self.shift >= 31:
            return (high + (low >> 31)) >> (self.shift - 31)
        return (high << (31 - self.shift)) + (low >> self.shift)

    def __call__(self, q: np.ndarray) -> np.ndarray:
        fb = self.frac_bits
        q = np.clip(np.asarray(q, dtype=np.int64), *self._input_range)
        pos = np.clip(self._scaled(q) + self.offset, 0, (self.size << fb) - 1)
        j, f = pos >> fb, pos & ((1 << fb) - 1)
        low = self.values[j]
        return low + shift_round((self.values[j + 1] - low) * f, fb)


def build_table(function: Callable[[np.ndarray], np.ndarray], lo: float, hi: float, size: int,
                in_unit: float, out_unit: float) -> Table:
    """Sample `function` on [lo, hi] at size + 1 points for integer inputs of real unit `in_unit`."""
    step = (hi - lo) / size
    grid = lo + step * np.arange(size + 1, dtype=np.float64)
    values = np.round(function(grid) / out_unit).astype(np.int64)
    ratio = in_unit / step * (1 << FRACTION_BITS)
    shift = 0
    while shift < 48 and ratio * (1 << (shift + 1)) < (1 << 31):
        shift += 1
    multiplier = int(np.round(ratio * (1 << shift)))
    if multiplier == 0:
        raise ValueError("table input unit is too fine for a 31-bit multiplier")
    if multiplier > 1 << 31:
        raise ValueError("table input unit is too coarse for a 31-bit multiplier")
    offset = int(np.round(-lo / step * (1 << FRACTION_BITS)))
    return Table(values, multiplier, shift, offset)
