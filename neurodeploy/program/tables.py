"""Piecewise-linear lookup tables for nonlinearities, evaluated with integers only.

A table samples f on the grid x_j = lo + j * step (j = 0..N) and stores round(f(x_j) / out_unit).
An integer input q (real value q * in_unit) is mapped to a grid position with a multiplier and a
shift, then the two neighbouring entries are interpolated:

    pos  = clamp(((q * M) >> S) + offset, 0, N * 2^fb - 1)     # position in steps / 2^fb (floor)
    j, f = pos >> fb, pos & (2^fb - 1)
    out  = T[j] + ((T[j+1] - T[j]) * f + 2^(fb-1)) >> fb       # rounded half up

with M = round(in_unit / step * 2^(fb+S)) and offset = round(-lo / step * 2^fb). Inputs beyond the
grid saturate at its ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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

    @property
    def size(self) -> int:
        return int(self.values.shape[0] - 1)

    def validate(self) -> None:
        """ValueError unless the table's integers are consistent and inside their formats."""
        values = np.asarray(self.values)
        if values.dtype.kind not in "iu" or values.ndim != 1 or not 2 <= values.size <= 1 << 16:
            raise ValueError("values must be 2..65,536 integers")
        if values.size and np.abs(values.astype(np.float64)).max() >= 1 << 40:
            raise ValueError("values exceed 2^40")
        if not 1 <= self.frac_bits <= 16 or not 0 <= self.shift <= 62:
            raise ValueError("frac_bits must be 1..16 and shift 0..62")
        if not 0 < self.multiplier < 1 << 31 or abs(self.offset) >= 1 << 40:
            raise ValueError("multiplier must be 1..2^31-1 and |offset| < 2^40")

    def __call__(self, q: np.ndarray) -> np.ndarray:
        fb = self.frac_bits
        pos = ((np.asarray(q, dtype=np.int64) * self.multiplier) >> self.shift) + self.offset
        pos = np.clip(pos, 0, (self.size << fb) - 1)
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
    offset = int(np.round(-lo / step * (1 << FRACTION_BITS)))
    return Table(values, multiplier, shift, offset)
