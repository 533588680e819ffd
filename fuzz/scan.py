"""Where files of every kind neurodeploy reads or writes hold non-finite values (NaN, inf).

`nonfinite_locations` maps every location in a file (an npz array, an HDF5 dataset, a JSON
value, an ONNX initializer or attribute, a torch storage) to its count of non-finite values,
zeros included, so a mutated input can be compared with its seed location by location: NaN in
an array the seed has counts, NaN in an array the mutation added (and nobody reads) does not.
Run these only in a disposable, resource-limited process: a mutated file may claim a huge shape.
"""

from __future__ import annotations

import json
import math
import pickletools
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

ALLOWED_JSON_INFINITY = ("sqnr",)  # SQNR of an exact match is +inf dB by definition
TORCH_STORAGES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                  "HalfStorage": np.float16}


def _count(array: Any) -> int:
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def _json_locations(value: Any, key: str = "") -> dict[str, int]:
    """Every leaf path of a JSON document -> 1 if it is a non-finite number, else 0; +inf under
    keys named in ALLOWED_JSON_INFINITY counts 0."""
    if isinstance(value, dict):
        return {p: n for k, v in value.items() for p, n in _json_locations(v, f"{key}/{k}").items()}
    if isinstance(value, list):
        return {p: n for i, v in enumerate(value) for p, n in _json_locations(v, f"{key}/{i}").items()}
    bad = isinstance(value, float) and not math.isfinite(value)
    name = key.rsplit("/", 1)[-1].lower()
    if bad and value == math.inf and any(a in name for a in ALLOWED_JSON_INFINITY):
        bad = False
    return {key or "/": int(bad)}


def _torch_locations(path: Path) -> dict[str, int]:
    """Torch storages (typed by the persistent ids in data.pkl) and the pickle's own floats."""
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pickle_name = next((n for n in names if n.endswith("data.pkl")), None)
        if pickle_name is None:
            return {}
        raw = zf.read(pickle_name)
        types: dict[str, type] = {}
        memo: dict[int, Any] = {}
        last: Any = None
        floats = 0
        for op, arg, _ in pickletools.genops(raw):
            if op.name == "GLOBAL":
                last = ("global", str(arg).rsplit(" ", 1)[-1])
            elif op.name in ("BINPUT", "LONG_BINPUT"):
                memo[arg] = last
            elif op.name in ("BINGET", "LONG_BINGET"):
                last = memo.get(arg)
            elif op.name in ("BINUNICODE", "SHORT_BINUNICODE"):
                if isinstance(last, tuple) and last[1] in TORCH_STORAGES:
                    types[arg] = TORCH_STORAGES[last[1]]
                last = arg
            else:
                floats += int(op.name == "BINFLOAT" and not math.isfinite(arg))
                last = None
        prefix = pickle_name[: -len("data.pkl")] + "data/"
        found = {"pickle floats": floats}
        for key, dtype in types.items():
            if prefix + key in names:
                data = zf.read(prefix + key)
                usable = len(data) - len(data) % np.dtype(dtype).itemsize
                found[f"storage {key}"] = _count(np.frombuffer(data[:usable], dtype))
        return found


def _hdf5_locations(path: Path) -> dict[str, int]:
    import h5py

    found: dict[str, int] = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, _count(obj[()]) if obj.dtype.kind
                                                         in "fc" else 0)
                     if isinstance(obj, h5py.Dataset) else None)
    return found


def _onnx_locations(path: Path) -> dict[str, int]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    found = {f"initializer {t.name}": _count(numpy_helper.to_array(t))
             for t in model.graph.initializer}
    for i, node in enumerate(model.graph.node):
        for attribute in node.attribute:
            found[f"node {i} {attribute.name}"] = _count(np.asarray([attribute.f, *attribute.floats],
                                                                    np.float64))
    return found


def file_locations(path: Path) -> dict[str, int]:
    """Every location of one file and its count of non-finite values (see the module doc)."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            return _json_locations(json.loads(path.read_text()))
        except (ValueError, UnicodeDecodeError, RecursionError):
            return {}
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            return {name: _count(data[name]) for name in data.files}
    reader = {".nir": _hdf5_locations, ".net": _hdf5_locations, ".h5": _hdf5_locations,
              ".onnx": _onnx_locations, ".pt": _torch_locations, ".pth": _torch_locations}.get(suffix)
    return reader(path) if reader is not None else {}


def nonfinite_locations(path: Path) -> dict[str, int]:
    """`file_locations` of a file, or of every file in a directory ("relative/path: location");
    files that cannot be read contribute nothing."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    found: dict[str, int] = {}
    for file in files:
        name = file.relative_to(path).as_posix() if path.is_dir() else file.name
        try:
            found.update({f"{name}: {where}": n for where, n in file_locations(file).items()})
        except Exception:  # an unreadable mutated file holds no values we can count
            continue
    return found


def grown_nonfinite(mutated: Path, original: Path) -> list[str]:
    """Locations of `original` that hold more non-finite values in `mutated`."""
    before, after = nonfinite_locations(original), nonfinite_locations(mutated)
    return [f"{where} ({n})" for where, n in after.items() if where in before and n > before[where]]


def nonfinite_outputs(directory: Path, skip: set[str]) -> list[str]:
    """Non-finite values in every file under `directory` except the relative paths in `skip`."""
    found: list[str] = []
    for file in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = file.relative_to(directory).as_posix()
        if name in skip:
            continue
        try:
            found += [f"{name}: {where} ({n})" for where, n in file_locations(file).items() if n]
        except Exception:  # neurodeploy wrote a file that the format's own reader cannot read
            found.append(f"{name}: unreadable output")
    return found
