"""Data files: `.npz` with `x` (time-major `(T, B, *features)` or static `(B, *features)`) and
optional integer labels `y` `(B,)`; static inputs are encoded into time steps here."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from neurodeploy.errors import InvalidFileError, ShapeError

DEFAULT_TIMESTEPS = 20
Encoding = Literal["rate", "latency", "direct"]


@dataclass(eq=False)
class Dataset:
    """Time-major input `x` `(T, B, *features)` as float32 and optional labels `y` `(B,)`."""

    x: np.ndarray
    y: np.ndarray | None = None


def encode(static: np.ndarray, timesteps: int, encoding: Encoding, seed: int = 0) -> np.ndarray:
    """Encode static values in [0, 1] into `(T, B, *features)`.

    rate: Bernoulli spikes with probability x per step (seeded, so reproducible);
    latency: one spike at step round((1 - x) * (T - 1)) for x > 0;
    direct: the value x repeated at every step (a constant current).
    """
    if timesteps < 1:
        raise ShapeError(f"--timesteps must be at least 1, got {timesteps}")
    values = np.clip(static.astype(np.float32), 0.0, 1.0)
    if encoding == "direct":
        return np.broadcast_to(values, (timesteps, *values.shape)).copy()
    if encoding == "rate":
        rng = np.random.default_rng(seed)
        return (rng.random((timesteps, *values.shape)) < values).astype(np.float32)
    if encoding == "latency":
        out = np.zeros((timesteps, *values.shape), np.float32)
        when = np.rint((1.0 - values) * (timesteps - 1)).astype(np.int64)
        np.put_along_axis(out, when[None], (values > 0)[None].astype(np.float32), axis=0)
        return out
    raise ShapeError(f"unknown encoding {encoding!r}: use rate, latency or direct")


def _read_xy(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """`x` and, if present, integer labels `y` `(B,)` of a data file; one-line errors."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InvalidFileError(f"{path}: not a readable .npz file ({str(exc)[:100]}); "
                               "write it with numpy.savez(path, x=..., y=...)") from None
    if "x" not in arrays:
        raise InvalidFileError(f"{path}: has no array 'x' (found {sorted(arrays)}); "
                               "store the input as x")
    y = arrays.get("y")
    return arrays["x"], None if y is None else np.asarray(y).astype(np.int64).reshape(-1)


def _check_labels(path: Path, y: np.ndarray | None, samples: int) -> None:
    if y is not None and y.shape[0] != samples:
        raise ShapeError(f"{path}: y has {y.shape[0]} labels for {samples} samples")


def load_data(
    path: str | Path,
    input_shape: tuple[int, ...],
    timesteps: int | None = None,
    encoding: Encoding = "rate",
) -> Dataset:
    """Read and check a data file against the network's per-step input shape.

    Time-major `x` is used as it is; static `x` is encoded into `timesteps` steps (default 20).
    """
    path = Path(path)
    x, y = _read_xy(path)
    features = tuple(input_shape)
    if x.ndim == len(features) + 2 and x.shape[2:] == features:
        timed = x.astype(np.float32)  # already time-major; --timesteps applies to static input
    elif x.ndim == len(features) + 1 and x.shape[1:] == features:
        timed = encode(x, timesteps or DEFAULT_TIMESTEPS, encoding)
    else:
        dims = ", ".join(map(str, features))
        raise ShapeError(f"{path}: x has shape {x.shape}, but the network takes {features} per "
                         f"step: give x as time-major (T, B, {dims}) or static (B, {dims})")
    _check_labels(path, y, timed.shape[1])
    return Dataset(timed, y)


def read_static(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Static data `x` `(B, *features)` (float32) and labels `y` if present, unencoded."""
    path = Path(path)
    x, y = _read_xy(path)
    _check_labels(path, y, x.shape[0])
    return x.astype(np.float32), y
