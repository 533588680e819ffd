"""Time-major helpers shared by the engines and the targets' calibrations."""

from __future__ import annotations

import numpy as np


def delayed(x: np.ndarray) -> np.ndarray:
    """`x` `(T, ...)` one step later: step t holds x[t-1], step 0 holds zeros."""
    return np.concatenate([np.zeros_like(x[:1]), x[:-1]])
