"""Shared fixtures: the shipped example models and test data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "examples" / "models"
DATA = ROOT / "examples" / "data" / "digits_test.npz"
KINDS = ("snu", "ssnu", "src", "iaf", "lif")
pytest_plugins = ("pytester",)  # tests/test_verify.py runs the example HIL file


@pytest.fixture(scope="session")
def digits_test() -> tuple[np.ndarray, np.ndarray]:
    """The shipped rate-coded test set: x (T, B, 64) float32, y (B,)."""
    with np.load(DATA) as data:
        return data["x"].astype(np.float32), data["y"]


def model_path(kind: str) -> Path:
    return MODELS / f"digits_{kind}.pt"
