"""What neurodeploy writes, and the rules that keep every other file safe.

Output directories (`convert` OUT/, `report` DIR/) end with a manifest
(`neurodeploy.artifacts.manifest`).

`-o` never deletes or overwrites what neurodeploy did not write:
- a directory target is refused when it is '', '.', the current directory or one of its
  ancestors, the filesystem root, the home directory, a symbolic link, an existing non-directory,
  an input or a directory containing one, or an existing non-empty directory that is not
  neurodeploy's. A directory is neurodeploy's when it carries a readable manifest and every file in
  it is listed there (a listed file whose digest differs is a damaged neurodeploy file: it is
  replaced, which is the fix `verify_manifest` names).
- a single-file target (`simulate -o Y.npz`) is replaced only when it is an .npz holding the
  `neurodeploy_version` array neurodeploy adds to every result; a file set (`ann2snn -o SNN`, its
  report files and `<stem>.neurodeploy-manifest.json` listing them) only file by file, when the
  existing set manifest records the file's current sha256.

Everything is built in a sibling staging directory `.<name>.nd-staging-<pid>-<random>` that
carries the marker file `.neurodeploy-staging` from its first instant, then swapped in: on Linux
by renameat2(RENAME_EXCHANGE), so a kill at any instant leaves the old or the new directory
complete at the target; elsewhere by renaming the old aside (`.<name>.nd-old-<pid>-<random>`),
the new in, then removing the old, and the next run puts an aside copy back when the target is
missing. The next run for the same target removes staging and aside directories of processes that
are gone, and only those it recognises as its own (marker, neurodeploy manifest, or empty).
Created directories and files follow the umask (0o777 / 0o666 & ~umask).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import secrets
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath

from neurodeploy.artifacts.manifest import (
    MANIFEST_NAME,
    STAGING_MARKER,
    Manifest,
    OutputKind,
    digest_or_none,
    read_manifest,
    sha256_file,
    walk_files,
    write_manifest,
    write_manifest_file,
)
from neurodeploy.errors import InvalidFileError, OutputError

NPZ_MARKER = "neurodeploy_version"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _refuse_unsafe_location(target: Path, inputs: Sequence[Path | None], what: str) -> Path:
    """Refuse what no output may replace; return the target's absolute, resolved path."""
    if str(target) in ("", "."):
        raise OutputError(f"-o {str(target)!r} is the current directory; give a new "
                          f"{what} name")
    if target.is_symlink():
        raise OutputError(f"-o {target} is a symbolic link; give the path it points to")
    real = target.resolve()
    if real == Path(real.anchor) or real == _home():
        raise OutputError(f"-o {target} is the filesystem root or the home directory; give a "
                          f"new {what} name")
    cwd = Path.cwd().resolve()
    if real == cwd or real in cwd.parents:
        raise OutputError(f"-o {target} is the current directory or contains it; give a new "
                          f"{what} name")
    for source in (source for source in inputs if source is not None):
        source_real = Path(source).resolve()
        if source_real == real:
            raise OutputError(f"-o {target} is the input {source}; choose another -o")
        if real in source_real.parents:
            raise OutputError(f"-o {target} contains the input {source}; choose another -o")
    return real


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError):
        return None


def _foreign_entry(directory: Path) -> str | None:
    """Why the existing directory is not neurodeploy's to replace, or None when it is."""
    entries = list(walk_files(directory))
    if not entries:
        return None
    try:
        manifest = read_manifest(directory)
    except InvalidFileError:
        return "exists and was not written by neurodeploy"
    listed = set(manifest.files) | {MANIFEST_NAME}
    folders = {parent.as_posix() for name in listed for parent in PurePosixPath(name).parents}
    for name, what in entries:
        if (what == "file" and name not in listed) or what == "other" or (
                what == "dir" and name not in folders):
            return f"holds {name}, which neurodeploy did not write"
    return None


def check_output_directory(target: Path, inputs: Sequence[Path | None] = ()) -> Path:
    """Refuse `target` (OutputError, one line) unless it may become neurodeploy's output.

    Returns the resolved target. See the module docstring for the rules.
    """
    target = Path(target)
    real = _refuse_unsafe_location(target, inputs, "directory")
    if real.exists() and not real.is_dir():
        raise OutputError(f"-o {target} is an existing file; -o takes a directory")
    if real.is_dir():
        reason = _foreign_entry(real)
        if reason is not None:
            raise OutputError(f"{target} {reason}; choose another -o or remove it yourself")
    return real


def _file_problem(target: Path, record: Manifest | None) -> str | None:
    """Why an existing file of a file set is not neurodeploy's to replace, or None."""
    if target.is_symlink():
        return "is a symbolic link"
    if target.is_dir():
        return "is a directory"
    if not target.exists():
        return None
    if record is None or record.files.get(target.name) != digest_or_none(target):
        return "exists and was not written by neurodeploy (or was changed since)"
    return None


def _set_manifest_name(primary: Path) -> str:
    return f"{primary.stem}.{MANIFEST_NAME}"


def _set_record(parent: Path, name: str) -> Manifest | None:
    """The set manifest `name` in `parent`; None when absent; OutputError when not ours."""
    path = parent / name
    if not path.exists() and not path.is_symlink():
        return None
    try:
        if path.is_symlink():
            raise InvalidFileError("a symbolic link")
        return read_manifest(parent, name)
    except InvalidFileError:
        raise OutputError(f"{path} exists and was not written by neurodeploy; choose "
                          "another -o or remove it yourself") from None


def _check_file_target(target: Path, inputs: Sequence[Path | None], record: Manifest | None) -> Path:
    real = _refuse_unsafe_location(target, inputs, "file")
    if not real.parent.is_dir():
        raise OutputError(f"-o {target}: the directory {target.parent} does not exist; "
                          "create it first")
    problem = _file_problem(real, record)
    if problem is not None:
        raise OutputError(f"-o {target} {problem}; choose another -o or remove it yourself")
    return real


def check_output_files(primary: Path, inputs: Sequence[Path | None] = ()) -> Path:
    """Refuse a file-set output whose main file `primary` may not be (re)written; resolved path."""
    primary = Path(primary)
    real = _refuse_unsafe_location(primary, inputs, "file")
    record = _set_record(real.parent, _set_manifest_name(real)) if real.parent.is_dir() else None
    return _check_file_target(primary, inputs, record)


def is_result_npz(path: Path) -> bool:
    """True for an .npz written by `simulate -o` (it holds the `neurodeploy_version` array)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return f"{NPZ_MARKER}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def check_output_npz(target: Path, inputs: Sequence[Path | None] = ()) -> Path:
    """Refuse `target` for `simulate -o` unless it is new or an earlier result; resolved path."""
    target = Path(target)
    real = _refuse_unsafe_location(target, inputs, "file")
    if not real.parent.is_dir():
        raise OutputError(f"-o {target}: the directory {target.parent} does not exist; "
                          "create it first")
    if real.is_dir():
        raise OutputError(f"-o {target} is a directory; -o takes an .npz file name")
    if real.exists() and not is_result_npz(real):
        raise OutputError(f"-o {target} exists and was not written by neurodeploy "
                          "simulate; choose another -o or remove it yourself")
    return real


# -- staging, swapping, cleaning up ------------------------------------------------------------

def _leftover_pattern(name: str) -> re.Pattern:
    return re.compile(rf"\.{re.escape(name[:100])}\.nd-(staging|old)-(\d+)-[0-9a-f]+")


def _sibling(target: Path, role: str) -> Path:
    return target.parent / f".{target.name[:100]}.nd-{role}-{os.getpid()}-{secrets.token_hex(4)}"


def _process_alive(pid: int) -> bool:
    """False only when no process `pid` runs (POSIX); elsewhere every other process may be alive
    (on Windows os.kill(pid, 0) would send CTRL_C_EVENT), so leftovers stay there."""
    if pid == os.getpid() or os.name != "posix":
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_ours(path: Path) -> bool:
    """A leftover neurodeploy may remove: it has the marker, or is a neurodeploy output, or empty."""
    if path.is_symlink() or not path.is_dir():
        return False
    return (path / STAGING_MARKER).is_file() or _foreign_entry(path) is None


def _remove_ours(path: Path) -> None:
    """Remove a directory of our own, keeping the marker until last so a kill leaves it marked."""
    marker = path / STAGING_MARKER
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_WRONLY, 0o666))
    except FileNotFoundError:
        return
    for root, folders, files in os.walk(path, topdown=False):
        for name in files:
            if not (root == str(path) and name == STAGING_MARKER):
                os.unlink(os.path.join(root, name))
        for name in folders:
            full = os.path.join(root, name)
            os.unlink(full) if os.path.islink(full) else os.rmdir(full)
    marker.unlink()
    path.rmdir()


def _recover(target: Path) -> None:
    """Restore an aside copy when `target` is missing; remove leftovers of processes now gone."""
    pattern = _leftover_pattern(target.name)
    leftovers = sorted(p for p in target.parent.iterdir() if pattern.fullmatch(p.name))
    for path in leftovers:
        role, pid = pattern.fullmatch(path.name).groups()
        if _process_alive(int(pid)) or not _is_ours(path):
            continue
        if role == "old" and not target.exists() and not target.is_symlink() and not (
                path / STAGING_MARKER).exists():
            os.rename(path, target)
        else:
            _remove_ours(path)


def _make_staging(target: Path) -> Path:
    while True:
        staging = _sibling(target, "staging")
        try:
            os.mkdir(staging, 0o777)
            break
        except FileExistsError:
            continue
    os.close(os.open(staging / STAGING_MARKER, os.O_CREAT | os.O_WRONLY, 0o666))
    return staging


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False where unsupported."""
    if sys.platform != "linux":
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                          ctypes.c_uint)
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second),
                 _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EXDEV):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _swap_in(staging: Path, target: Path) -> None:
    """Put the complete `staging` at `target`; the old target is removed afterwards."""
    if not target.exists():
        os.rename(staging, target)
    elif _exchange(staging, target):
        _remove_ours(staging)
    else:
        aside = _sibling(target, "old")
        os.rename(target, aside)
        try:
            os.rename(staging, target)
        except OSError:
            os.rename(aside, target)
            raise
        _remove_ours(aside)


def _unwritable(target: Path, exc: OSError) -> OutputError:
    where = f" ({exc.filename})" if exc.filename else ""
    return OutputError(f"cannot write {target}: {exc.strerror or exc}{where}")


@contextmanager
def _staging_beside(real: Path, shown: Path) -> Iterator[Path]:
    """A fresh marked staging directory next to `real`, after removing leftovers of dead runs.

    Removed on the way out whatever happens (a swapped-in one is no longer there); an OSError
    becomes a one-line OutputError about `shown`.
    """
    try:
        _recover(real)
        staging = _make_staging(real)
    except OSError as exc:
        raise _unwritable(shown, exc) from None
    try:
        yield staging
    except OSError as exc:
        raise _unwritable(shown, exc) from None
    finally:
        with suppress(OSError):  # what cannot be removed now, the next run removes
            _remove_ours(staging)


@contextmanager
def output_directory(target: Path, inputs: Sequence[Path | None] = (),
                     kind: OutputKind = OutputKind.CONVERT) -> Iterator[Path]:
    """Yield a staging directory that becomes `target` (with its manifest) if the block succeeds.

    `inputs` are the files the output is made from (never replaced, never inside the target).
    On failure the staging directory is removed and `target` is untouched.
    """
    real = check_output_directory(target, inputs)
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(Path(target), exc) from None
    with _staging_beside(real, Path(target)) as staging:
        check_output_directory(target, inputs)  # the leftovers' clean-up may have restored it
        yield staging
        write_manifest(staging, kind)
        check_output_directory(target, inputs)
        (staging / STAGING_MARKER).unlink()
        _swap_in(staging, real)


@contextmanager
def output_files(primary: Path, inputs: Sequence[Path | None] = (),
                 kind: OutputKind = OutputKind.ANN2SNN) -> Iterator[Path]:
    """Yield a staging directory whose files become siblings of `primary` if the block succeeds.

    The files are recorded in `<stem>.neurodeploy-manifest.json` next to them; an existing file
    is replaced only when that record holds its current sha256 (files of an earlier run that this
    one does not rewrite stay, and stay recorded). Each file is replaced atomically, the record
    last; a kill between two replacements leaves a set the next run refuses rather than guesses.
    """
    real = check_output_files(primary, inputs)
    record_name = _set_manifest_name(real)
    with _staging_beside(real, Path(primary)) as staging:
        yield staging
        names = [name for name, what in walk_files(staging)
                 if what == "file" and name not in (STAGING_MARKER, record_name)]
        record = _set_record(real.parent, record_name)
        for name in names:
            _check_file_target(real.parent / name, inputs, record)
        files = {} if record is None else {  # earlier files this run does not rewrite stay listed
            name: digest for name, digest in record.files.items()
            if "/" not in name and _file_problem(real.parent / name, record) is None}
        files.update({name: sha256_file(staging / name) for name in names})
        write_manifest_file(staging / record_name, kind, files)
        for name in [*names, record_name]:
            os.replace(staging / name, real.parent / name)


def write_result_npz(target: Path, arrays: dict, inputs: Sequence[Path | None] = ()) -> None:
    """Write a `simulate` result .npz atomically, with the `neurodeploy_version` marker array."""
    import numpy as np

    from neurodeploy import __version__
    from neurodeploy.io.npz import write_npz

    real = check_output_npz(target, inputs)
    with _staging_beside(real, Path(target)) as staging:
        write_npz(staging / real.name, {**arrays, NPZ_MARKER: np.array(__version__)})
        check_output_npz(target, inputs)
        os.replace(staging / real.name, real)
