"""Agreement metrics of two runs: SQNR of real values, spike agreement of spike counts."""

from __future__ import annotations

import math

import numpy as np


def sqnr_db(reference: np.ndarray, approximation: np.ndarray) -> float:
    """10 log10(sum ref^2 / sum (ref - approx)^2); inf when identical."""
    noise = float(np.sum((np.asarray(reference, np.float64) - approximation) ** 2))
    signal = float(np.sum(np.asarray(reference, np.float64) ** 2))
    if noise == 0:
        return math.inf
    return 10 * math.log10(signal / noise) if signal > 0 else -math.inf


def spike_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """2 sum min(a, b) / (sum a + sum b) of non-negative spike counts; 1 when both are silent."""
    a, b = np.abs(np.asarray(a, np.float64)), np.abs(np.asarray(b, np.float64))
    total = float(a.sum() + b.sum())
    return 1.0 if total == 0 else 2 * float(np.minimum(a, b).sum()) / total
