"""Deterministic, validated .npz files.

Writing: the same arrays always give the same bytes (sorted names, fixed zip timestamps).
Reading: every member's header is checked before anything is allocated: a numeric dtype (no
objects, so no pickles), a shape whose size the limit allows, a name without path tricks;
a truncated or corrupt archive is a one-line InvalidFileError naming the file.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path

import numpy as np

from neurodeploy.errors import InvalidFileError

_EPOCH = (1980, 1, 1, 0, 0, 0)
#: the largest array a file may hold (elements); bounds memory before allocation
MAX_ELEMENTS = 1 << 29


def write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` (sorted by name) as a deflated .npz with fixed timestamps."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[name]),
                                      allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


def _read_member(archive: zipfile.ZipFile, member: str, path: Path, max_elements: int
                 ) -> np.ndarray:
    with archive.open(member) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"unknown .npy version {version}")
        name = member.removesuffix(".npy")
        if dtype.hasobject or dtype.kind not in "biuf":
            raise InvalidFileError(f"{path}: array '{name}' has dtype {dtype}; only numbers are "
                                   "accepted (write it with numpy.savez from numeric arrays)")
        count = math.prod(shape)
        if count > max_elements:
            raise InvalidFileError(f"{path}: array '{name}' claims {count:,} elements, more than "
                                   f"the {max_elements:,} allowed")
        data = handle.read(count * dtype.itemsize + 1)
    if len(data) != count * dtype.itemsize:
        raise InvalidFileError(f"{path}: array '{name}' holds {len(data)} bytes, its header says "
                               f"{count * dtype.itemsize}; the file is damaged, write it again")
    array = np.frombuffer(data, dtype=dtype)
    return array.reshape(shape, order="F" if fortran else "C").copy()


def read_npz(path: str | Path, max_elements: int = MAX_ELEMENTS) -> dict[str, np.ndarray]:
    """Every array of an .npz file, checked as the module docstring says."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for member in archive.namelist():
                if not member.endswith(".npy") or member.startswith(("/", "\\")) or ".." in member:
                    raise InvalidFileError(f"{path}: member '{member[:80]}' is not an array")
                arrays[member.removesuffix(".npy")] = _read_member(archive, member, path,
                                                                   max_elements)
            return arrays
    except InvalidFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile,
            NotImplementedError, RuntimeError, KeyError) as exc:
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise InvalidFileError(f"{path}: not a readable .npz file ({reason}); write it with "
                               "numpy.savez") from None
