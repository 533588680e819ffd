"""Edge-heavy random integers and plain Python-int helpers for the kernel property tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import product

import numpy as np

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def edge_integers(rng: np.random.Generator, lo: int, hi: int, n: int,
                  anchors: Iterable[int] = ()) -> np.ndarray:
    """n int64 values in [lo, hi] (both within int64), weighted towards the edges.

    40 % lie within 3 of an anchor (lo, hi, 0, +-1 and the given anchors), 30 % have a uniformly
    drawn bit length (so every scale from 1 to max(|lo|, |hi|) is hit), 30 % are uniform.
    """
    lo, hi = int(lo), int(hi)
    points = sorted({min(hi, max(lo, int(a))) for a in (lo, hi, 0, 1, -1, *anchors)})
    kind = rng.choice(3, size=n, p=[0.4, 0.3, 0.3])
    values = rng.integers(lo, hi, size=n, endpoint=True)
    near = np.flatnonzero(kind == 0)
    chosen = rng.integers(0, len(points), near.size)
    offsets = rng.integers(-3, 4, near.size)
    values[near] = [min(hi, max(lo, points[c] + d)) for c, d in zip(chosen.tolist(),
                                                                     offsets.tolist(), strict=True)]
    scaled = np.flatnonzero(kind == 1)
    top = max(abs(lo), abs(hi), 1)
    length = rng.integers(1, min(63, top.bit_length()) + 1, scaled.size)
    low = np.left_shift(np.int64(1), length - 1)
    magnitude = rng.integers(low, low - 1 + low, endpoint=True)  # [2^(k-1), 2^k - 1]
    signed = np.where(rng.random(scaled.size) < 0.5, -magnitude, magnitude)
    values[scaled] = np.clip(signed, lo, hi)
    return values.astype(np.int64)


def split(rng: np.random.Generator, n: int, keys: Sequence) -> list[tuple]:
    """Share n cases among `keys` at random (every key gets some): [(key, count), ...]."""
    counts = rng.multinomial(n - len(keys), np.full(len(keys), 1.0 / len(keys))) + 1
    return list(zip(keys, counts.tolist(), strict=True))


def groups(rng: np.random.Generator, n: int, *choices: Sequence) -> list[tuple]:
    """Every combination of `choices` (e.g. widths x modes x dtypes) with its share of n cases."""
    return split(rng, n, list(product(*choices)))


def as_dtype(values: np.ndarray, dtype: type) -> np.ndarray:
    """values as `dtype`, refusing to wrap (the engine passes int32 only for values that fit)."""
    converted = values.astype(dtype)
    assert np.array_equal(converted.astype(np.int64), values)
    return converted


def round_half_up(x: int, shift: int) -> int:
    """x / 2^shift rounded half up, on Python ints: floor((2x + 2^shift) / 2^(shift+1))."""
    return (2 * x + (1 << shift)) // (1 << (shift + 1)) if shift > 0 else x * (1 << -shift)


def sat(x: int, bits: int) -> int:
    return max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, x))


def mismatches(got: Iterable[Sequence[np.ndarray]], cases: Iterable[tuple],
               reference: Callable[..., tuple]) -> tuple[int, int, list]:
    """Compare kernel outputs (one tuple of arrays per group) with the reference on every case.

    Returns (cases checked, mismatches, the first few mismatching cases with both results).
    """
    checked, bad, examples = 0, 0, []
    for outputs, group_cases in zip(got, cases, strict=True):
        rows = zip(*(np.asarray(o).tolist() for o in outputs), strict=True)
        for row, case in zip(rows, group_cases, strict=True):
            checked += 1
            expected = reference(*case)
            if tuple(row) != tuple(expected):
                bad += 1
                if len(examples) < 5:
                    examples.append((case, tuple(row), tuple(expected)))
    return checked, bad, examples
