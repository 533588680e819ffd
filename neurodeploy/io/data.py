"""Data files: `.npz` with `x` (time-major `(T, B, *features)` or static `(B, *features)`) and
optional labels `y` `(B,)`; static inputs are encoded into time steps here.

Every rule is checked at the door and a broken one is a one-line error naming the file, the
array and the rule: sizes are bounded before anything is allocated, `x` is numeric and finite,
its layout matches the network's input shape, rate and latency values lie in [0, 1], and labels
are integer class ids.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from neurodeploy.errors import (
    InvalidDataError,
    InvalidFileError,
    NeurodeployWarning,
    ShapeError,
)
from neurodeploy.io.npz import read_npz

DEFAULT_TIMESTEPS = 20
MAX_ELEMENTS = 1 << 31  # the most values an array may hold when read or encoded (8 GiB float32)
MAX_CLASS_ID = (1 << 31) - 1
Encoding = Literal["rate", "latency", "direct"]
ENCODINGS: tuple[str, ...] = ("rate", "latency", "direct")


@dataclass(eq=False)
class Dataset:
    """Time-major input `x` `(T, B, *features)` as float32 and optional labels `y` `(B,)`."""

    x: np.ndarray
    y: np.ndarray | None = None


def encode(static: np.ndarray, timesteps: int, encoding: Encoding, seed: int = 0) -> np.ndarray:
    """Encode static values `(B, *features)` into `(T, B, *features)`.

    rate: Bernoulli spikes with probability x per step (seeded, so reproducible), x in [0, 1];
    latency: one spike at step round((1 - x) * (T - 1)) for x > 0, x in [0, 1];
    direct: the value x repeated at every step (a constant current), any finite x.
    Values outside [0, 1] for rate or latency are refused, never clipped.
    """
    values = _finite_float32(np.asarray(static), "static input")
    _check_encodable(values, timesteps, encoding, "static input")
    return _encode(values, timesteps, encoding, seed)


def load_data(
    path: str | Path,
    input_shape: tuple[int, ...],
    timesteps: int | None = None,
    encoding: Encoding = "rate",
    classes: int | None = None,
) -> Dataset:
    """Read and check a data file against the network's per-step input shape.

    Time-major `x` is used as it is; static `x` is encoded into `timesteps` steps (default 20).
    With labels, an `x` whose first axis matches the labels rather than its second is refused
    as batch-major; T == B is read as time-major with a warning. `classes` (the network's
    output size, when known) bounds the labels.
    """
    path = Path(path)
    x, y = _read_xy(path)
    where = f"{path}: x"
    values = _finite_float32(x, where)
    features = tuple(input_shape)
    dims = ", ".join(map(str, features))
    if x.ndim == len(features) + 2 and x.shape[2:] == features:
        _check_time_major(x.shape, None if y is None or y.ndim == 0 else len(y), where, dims)
        if timesteps is not None and timesteps != x.shape[0]:
            warnings.warn(f"{where} is time-major with T={x.shape[0]}; timesteps={timesteps} "
                          "applies only to static x and is ignored", NeurodeployWarning,
                          stacklevel=2)
        timed = values
    elif x.ndim == len(features) + 1 and x.shape[1:] == features:
        steps = DEFAULT_TIMESTEPS if timesteps is None else timesteps
        _check_encodable(values, steps, encoding, where)
        timed = _encode(values, steps, encoding, seed=0)
    else:
        raise ShapeError(f"{path}: x has shape {x.shape}, but the network takes {features} per "
                         f"step: give x as time-major (T, B, {dims}) or static (B, {dims})")
    labels = None if y is None else check_labels(y, timed.shape[1], classes, f"{path}: y")
    return Dataset(timed, labels)


def read_static(
    path: str | Path, encoding: Encoding | None = None, classes: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Static data `x` `(B, *features)` (float32) and labels `y` if present, unencoded.

    With `encoding` ("rate" or "latency"), values outside [0, 1] are refused here, at the door.
    """
    path = Path(path)
    x, y = _read_xy(path)
    where = f"{path}: x"
    values = _finite_float32(x, where)
    if x.ndim < 2:
        raise ShapeError(f"{where} has shape {x.shape}; static x is (B, *features): one row per "
                         "sample")
    if encoding is not None:
        _check_encodable(values, 1, encoding, where)
    labels = None if y is None else check_labels(y, x.shape[0], classes, f"{path}: y")
    return values, labels


def check_labels(y: np.ndarray, samples: int, classes: int | None = None,
                 where: str = "labels") -> np.ndarray:
    """Labels as int64 class ids `(samples,)`, or an error saying how to store them.

    Integer arrays, or float arrays whose values are all integral; >= 0; < `classes` if given.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[0] == samples and y.shape[1] > 1:
        raise InvalidDataError(f"{where} has shape {y.shape}: one-hot labels or scores; store "
                               "class ids instead: y.argmax(axis=1)")
    if y.ndim != 1:
        raise InvalidDataError(f"{where} has shape {y.shape}; labels are a 1-D array of "
                               f"{samples} class ids: store y.reshape(-1) if it holds one per "
                               "sample")
    if y.shape[0] != samples:
        raise ShapeError(f"{where} has {y.shape[0]} labels for {samples} samples")
    if y.dtype.kind not in "iuf":
        raise InvalidDataError(f"{where} has dtype {y.dtype}; labels are integer class ids: "
                               "store y.astype(int)")
    if y.dtype.kind == "f":
        finite = np.isfinite(y)
        if not finite.all():
            raise InvalidDataError(f"{where} has {int((~finite).sum())} NaN or inf labels; "
                                   "every sample needs a class id")
        if not (y == np.round(y)).all():
            example = y[y != np.round(y)][0]
            raise InvalidDataError(f"{where} has non-integer labels (e.g. {example}); labels are "
                                   "class ids 0, 1, 2, ...: store integers")
    if samples and y.min() < 0:
        raise InvalidDataError(f"{where} has negative labels (min {y.min()}); class ids start "
                               "at 0")
    if samples and y.max() > (MAX_CLASS_ID if classes is None else classes - 1):
        limit = (f"the network has {classes} outputs (class ids 0..{classes - 1})"
                 if classes is not None else "class ids must stay below 2^31")
        raise InvalidDataError(f"{where} has label {y.max()}, but {limit}")
    return y.astype(np.int64)


def _read_xy(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """`x` and `y` (if present) of a data file, their headers checked before they are read."""
    arrays = read_npz(path, names=("x", "y"), max_elements=MAX_ELEMENTS,
                      dtype_error=InvalidDataError)
    if "x" not in arrays:
        raise InvalidFileError(f"{path}: has no array 'x'; store the input as x (numpy.savez("
                               "path, x=..., y=...))")
    return arrays["x"], arrays.get("y")


def _finite_float32(x: np.ndarray, where: str) -> np.ndarray:
    """`x` as float32, refused unless it is a non-empty numeric array of finite values."""
    if x.dtype.kind not in "biuf":
        raise InvalidDataError(f"{where} has dtype {x.dtype}; give a numeric (bool, int or "
                               "float) array")
    if x.size == 0:
        raise InvalidDataError(f"{where} is empty (shape {x.shape}); give at least one sample "
                               "and one time step")
    with np.errstate(over="ignore"):
        values = x.astype(np.float32)
    finite = np.isfinite(values)
    if not finite.all():
        raise InvalidDataError(f"{where} has {int((~finite).sum())} non-finite values (NaN, inf, "
                               "or beyond float32's range); replace or drop them")
    return values


def _check_time_major(shape: tuple[int, ...], labels: int | None, where: str, dims: str) -> None:
    """Refuse batch-major `(B, T, ...)` that the labels give away; warn when T == B."""
    steps, batch = shape[:2]
    if labels is not None and steps == labels != batch:
        raise ShapeError(f"{where} has shape {shape}: its first axis matches the {labels} labels, "
                         f"so it is batch-major (B, T, ...); store it time-major (T, B, {dims}): "
                         "x.swapaxes(0, 1)")
    if steps == batch:
        warnings.warn(f"{where} has T == B == {steps}; read as time-major (T, B, {dims}); if it "
                      "is batch-major, store x.swapaxes(0, 1)", NeurodeployWarning, stacklevel=3)


def _check_encodable(values: np.ndarray, timesteps: int, encoding: str, where: str) -> None:
    """The encoding exists, T >= 1, T x B x features stays bounded, and rate/latency values are
    probabilities."""
    if encoding not in ENCODINGS:
        raise InvalidDataError(f"unknown encoding {encoding!r}: use rate, latency or direct")
    if timesteps < 1:
        raise ShapeError(f"timesteps must be at least 1, got {timesteps}")
    if timesteps * values.size > MAX_ELEMENTS:
        raise InvalidDataError(f"{where}: encoding {values.shape} into {timesteps} steps makes "
                               f"{timesteps * values.size} values, more than {MAX_ELEMENTS}; use "
                               "fewer samples or time steps")
    if encoding != "direct":
        low, high = float(values.min()), float(values.max())
        if low < 0.0 or high > 1.0:
            raise InvalidDataError(f"{where} has values in [{low:g}, {high:g}], but {encoding} "
                                   "encoding takes values in [0, 1]; scale x to [0, 1] or use "
                                   "--encoding direct")


def _encode(values: np.ndarray, timesteps: int, encoding: str, seed: int) -> np.ndarray:
    if encoding == "direct":
        return np.broadcast_to(values, (timesteps, *values.shape)).copy()
    if encoding == "rate":
        rng = np.random.default_rng(seed)
        return (rng.random((timesteps, *values.shape)) < values).astype(np.float32)
    out = np.zeros((timesteps, *values.shape), np.float32)
    when = np.rint((1.0 - values) * (timesteps - 1)).astype(np.int64)
    np.put_along_axis(out, when[None], (values > 0)[None].astype(np.float32), axis=0)
    return out
