"""Timing helpers shared by the benchmarks: interleaved runs and ratios with their spread.

On a shared machine the load changes between runs; timing the contenders one after another
inside every round and taking the ratio per round cancels most of it. A ratio is reported as the
median over rounds with its range [min-max].
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def rounds(functions: dict[str, Callable[[], object]], runs: int, warmup: int = 1
           ) -> dict[str, list[float]]:
    """Wall times of every function, `runs` rounds, each round calling each function once."""
    for _ in range(warmup):
        for function in functions.values():
            function()
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(runs):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return times


def ratio(times: dict[str, list[float]], numerator: str, denominator: str) -> tuple[float, ...]:
    """(median, min, max) over rounds of times[numerator] / times[denominator]."""
    per_round = [a / b for a, b in zip(times[numerator], times[denominator], strict=True)]
    return statistics.median(per_round), min(per_round), max(per_round)


def show_times(times: dict[str, list[float]]) -> None:
    for name, values in times.items():
        print(f"  {name:<34} {statistics.median(values) * 1e3:9.2f} ms (median)")


def show_ratio(label: str, times: dict[str, list[float]], numerator: str, denominator: str,
               goal: str = "") -> None:
    median, lo, hi = ratio(times, numerator, denominator)
    print(f"ratio {label:<40} {median:6.2f}  [{lo:.2f}-{hi:.2f}]  {goal}")
