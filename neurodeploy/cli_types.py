"""click parameter types for values no built-in type checks (light: no numpy, no torch)."""

from __future__ import annotations

import math

import click


class FiniteFloatRange(click.FloatRange):
    """A FloatRange that also refuses nan and +-inf (FloatRange lets nan through every bound)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


class BitWidths(click.ParamType):
    """A comma-separated list of distinct integer bit widths, each within [low, high]."""

    name = "widths"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def get_metavar(self, param, ctx) -> str:
        return "N[,N...]"

    def convert(self, value, param, ctx) -> tuple[int, ...]:
        if isinstance(value, tuple):
            return value
        parts = [part.strip() for part in str(value).split(",")]
        if not any(parts):
            self.fail(f"give at least one width, e.g. 4,8 (got {value!r}).", param, ctx)
        widths: list[int] = []
        for part in parts:
            try:
                width = int(part)
            except ValueError:
                self.fail(f"{part!r} in {value!r} is not an integer; give e.g. 2,4,8.", param, ctx)
            if not self.low <= width <= self.high:
                self.fail(f"{width} is not in the range {self.low}<=x<={self.high}.", param, ctx)
            if width in widths:
                self.fail(f"{width} is given twice in {value!r}.", param, ctx)
            widths.append(width)
        return tuple(widths)
