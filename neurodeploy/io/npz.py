"""Deterministic, validated .npz files.

Writing: the same arrays always give the same bytes (sorted names, fixed zip timestamps).
Reading: every member's header is checked before anything is allocated: a numeric dtype (no
objects, so no pickles), a shape whose size the limit allows, a name without path tricks;
a truncated or corrupt archive (a member that fails to decompress or its CRC) is a one-line
InvalidFileError naming the file.
"""

from __future__ import annotations

import io
import lzma
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from neurodeploy.errors import InvalidFileError, NeurodeployError, describe_os_error

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


#: what zipfile raises for a member whose compressed bytes or CRC are damaged (bz2 raises an
#: OSError without errno)
_DAMAGED = (zlib.error, lzma.LZMAError, zipfile.BadZipFile)


def _read_member(archive: zipfile.ZipFile, member: str, path: Path, max_elements: int,
                 dtype_error: type[NeurodeployError]) -> np.ndarray:
    try:
        return _read_array(archive, member, path, max_elements, dtype_error)
    except (*_DAMAGED, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno is not None:  # the disk, not the bytes
            raise
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise InvalidFileError(f"{path}: array '{member.removesuffix('.npy')}' is damaged "
                               f"({reason}); write the file again with numpy.savez") from None


def _read_array(archive: zipfile.ZipFile, member: str, path: Path, max_elements: int,
                dtype_error: type[NeurodeployError]) -> np.ndarray:
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
            raise dtype_error(f"{path}: array '{name}' has dtype {dtype}; only numbers are "
                              "accepted (write it with numpy.savez from numeric arrays)")
        count = math.prod(shape)
        if count > max_elements:
            raise InvalidFileError(f"{path}: array '{name}' claims {count:,} elements, more than "
                                   f"the {max_elements:,} allowed")
        array = np.empty(count, dtype=dtype)
        got = handle.readinto(memoryview(array).cast("B")) if array.nbytes else 0
        extra = handle.read(1)
    if got != array.nbytes or extra:
        raise InvalidFileError(f"{path}: array '{name}' is truncated or padded: its header claims "
                               f"{array.nbytes} bytes, the file holds {got}; write it again")
    return array.reshape(shape, order="F" if fortran else "C")


def read_npz(path: str | Path, max_elements: int = MAX_ELEMENTS,
             names: tuple[str, ...] | None = None,
             dtype_error: type[NeurodeployError] = InvalidFileError) -> dict[str, np.ndarray]:
    """The arrays of an .npz file (only `names`, when given), checked as the module docstring
    says; an array of non-numbers raises `dtype_error`."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            arrays = {}
            for member in archive.namelist():
                if not member.endswith(".npy") or member.startswith(("/", "\\")) or ".." in member:
                    raise InvalidFileError(f"{path}: member '{member[:80]}' is not an array")
                name = member.removesuffix(".npy")
                if names is None or name in names:
                    arrays[name] = _read_member(archive, member, path, max_elements,
                                                dtype_error)
            return arrays
    except NeurodeployError:
        raise
    except OSError as exc:
        raise InvalidFileError(describe_os_error(exc, path)) from None
    except zipfile.BadZipFile:
        raise InvalidFileError(f"{path}: not a .npz archive; write it with numpy.savez") from None
    except (ValueError, EOFError, zipfile.LargeZipFile,
            NotImplementedError, RuntimeError, KeyError) as exc:
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise InvalidFileError(f"{path}: not a readable .npz file ({reason}); write it with "
                               "numpy.savez") from None
