"""Manifests: the sha256 of every file neurodeploy wrote into an output directory.

`neurodeploy-manifest.json` = {"neurodeploy": version, "kind": "convert" | "report" | "ann2snn",
"files": {posix path: sha256 hex}}, written last with sorted keys, so the same input still gives
byte-identical artifacts. `verify_manifest` refuses a directory whose files differ from it;
commands that read an artifact call it first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from neurodeploy.errors import InvalidFileError

MANIFEST_NAME = "neurodeploy-manifest.json"
STAGING_MARKER = ".neurodeploy-staging"  # marks a staging directory; never listed
_MANIFEST_MAX_BYTES = 16 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


class OutputKind(StrEnum):
    """The command that wrote an output; its name is the fix for a damaged one."""

    CONVERT = "convert"
    REPORT = "report"
    ANN2SNN = "ann2snn"


@dataclass(frozen=True)
class Manifest:
    """The files neurodeploy wrote into a directory: relative posix path -> sha256 hex digest."""

    version: str
    kind: OutputKind
    files: dict[str, str]


def write_json(path: Path, data: object) -> None:
    """Write `data` as JSON with sorted keys: the same data always gives the same bytes."""
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def walk_files(directory: Path, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(relative posix path, 'file' | 'dir' | 'other') of every entry, symlinks never followed."""
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            name = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                yield name, "dir"
                yield from walk_files(Path(entry.path), name + "/")
            else:
                yield name, "file" if entry.is_file(follow_symlinks=False) else "other"


def write_manifest(directory: Path, kind: OutputKind) -> Manifest:
    """List every regular file under `directory` with its sha256 in neurodeploy-manifest.json."""
    directory = Path(directory)
    files = [path for path, what in walk_files(directory)
             if what == "file" and path not in (MANIFEST_NAME, STAGING_MARKER)]
    return write_manifest_file(directory / MANIFEST_NAME, kind,
                                {path: sha256_file(directory / path) for path in files})


def write_manifest_file(path: Path, kind: OutputKind, files: dict[str, str]) -> Manifest:
    from neurodeploy import __version__

    manifest = Manifest(__version__, OutputKind(kind), dict(sorted(files.items())))
    write_json(path, {"neurodeploy": manifest.version, "kind": manifest.kind.value,
                      "files": manifest.files})
    return manifest


def _valid_relative_path(path: object) -> bool:
    if not isinstance(path, str) or not path or "\\" in path or "\0" in path:
        return False
    parts = PurePosixPath(path).parts
    return (PurePosixPath(path).as_posix() == path and not path.startswith("/")
            and all(part not in (".", "..") for part in parts))


def read_manifest(directory: Path, name: str = MANIFEST_NAME) -> Manifest:
    """The manifest in `directory`, its schema checked; InvalidFileError when absent or malformed."""
    path = Path(directory) / name
    fix = f"run `neurodeploy {OutputKind.CONVERT.value}` again with a new -o"
    try:
        if path.stat().st_size > _MANIFEST_MAX_BYTES:
            raise InvalidFileError(f"{path}: larger than {_MANIFEST_MAX_BYTES >> 20} MB; {fix}")
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        raise InvalidFileError(f"{directory}: no {name}, so neurodeploy cannot check its files; "
                               f"{fix}") from None
    except (OSError, ValueError, RecursionError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not valid JSON"
        raise InvalidFileError(f"{path}: unreadable ({reason}); {fix}") from None
    problem = None
    if not isinstance(data, dict) or set(data) != {"neurodeploy", "kind", "files"}:
        problem = "needs exactly the keys neurodeploy, kind, files"
    elif not isinstance(data["neurodeploy"], str):
        problem = "neurodeploy (the version) must be a string"
    elif data["kind"] not in [kind.value for kind in OutputKind]:
        problem = f"kind must be one of {', '.join(kind.value for kind in OutputKind)}"
    elif not isinstance(data["files"], dict):
        problem = "files must map relative paths to sha256 digests"
    else:
        for file, digest in data["files"].items():
            if not _valid_relative_path(file) or file == name:
                problem = f"files lists {file[:80]!r}, not a relative path inside the directory"
                break
            if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
                problem = f"files[{file[:80]!r}] is not a sha256 hex digest"
                break
    if problem is not None:
        raise InvalidFileError(f"{path}: malformed manifest ({problem}); {fix}")
    return Manifest(data["neurodeploy"], OutputKind(data["kind"]), dict(data["files"]))


def verify_manifest(directory: Path, required: Sequence[str] = ()) -> Manifest:
    """Check every file listed in `directory`'s manifest against its sha256.

    `required` names files the reader needs: each must be listed. Raises InvalidFileError naming
    the directory, the file that differs, is missing or is unlisted, and the fix.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InvalidFileError(f"{directory}: not a directory; give an OUT/ written by "
                               "`neurodeploy convert`")
    manifest = read_manifest(directory)
    fix = f"run `neurodeploy {manifest.kind.value}` again"
    for name in required:
        if name not in manifest.files:
            raise InvalidFileError(f"{directory}: {name} is not listed in {MANIFEST_NAME}; {fix}")
    for name, digest in manifest.files.items():
        path = directory / name
        if path.is_symlink() or not path.is_file():
            raise InvalidFileError(f"{directory}: {name} is missing (listed in {MANIFEST_NAME}); "
                                   f"{fix}")
        if digest_or_none(path) != digest:
            raise InvalidFileError(f"{directory}: {name} differs from the sha256 in "
                                   f"{MANIFEST_NAME} (damaged or edited); {fix}")
    for name, kind in walk_files(directory):
        if kind != "dir" and name not in manifest.files and name not in (MANIFEST_NAME,
                                                                          STAGING_MARKER):
            raise InvalidFileError(f"{directory}: {name} is not listed in {MANIFEST_NAME} (added "
                                   f"or the manifest edited); remove it or {fix}")
    return manifest


def verify_listed_file(path: Path) -> None:
    """A file inside a neurodeploy output directory (OUT/model.net) is trusted only when the
    whole of OUT matches its manifest, as if OUT itself were read.

    Files whose directory has no manifest, or whose manifest does not list them, pass unchecked.
    """
    path = Path(path)
    if not (path.parent / MANIFEST_NAME).is_file():
        return
    manifest = read_manifest(path.parent)
    if path.name not in manifest.files:
        return
    if digest_or_none(path) != manifest.files[path.name]:
        raise InvalidFileError(f"{path}: differs from the sha256 in {path.parent / MANIFEST_NAME}"
                               f" (damaged or edited); run `neurodeploy {manifest.kind.value}` "
                               "again")
    verify_manifest(path.parent)


def digest_or_none(path: Path) -> str | None:
    try:
        return sha256_file(path)
    except OSError:
        return None


def copy_verified(directory: Path, manifest: Manifest, names: Sequence[str],
                  destination: Path) -> None:
    """Copy the listed files `names` of `directory` under `destination`, checking the copies.

    The copies, not the originals, are compared with the manifest, so what is used afterwards is
    exactly what neurodeploy wrote.
    """
    fix = f"run `neurodeploy {manifest.kind.value}` again"
    for name in names:
        if name not in manifest.files:
            raise InvalidFileError(f"{directory}: {name} is not listed in {MANIFEST_NAME}; {fix}")
        copy = Path(destination) / name
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            copy.write_bytes((Path(directory) / name).read_bytes())
        except OSError:
            raise InvalidFileError(f"{directory}: {name} is unreadable; {fix}") from None
        if sha256_file(copy) != manifest.files[name]:
            raise InvalidFileError(f"{directory}: {name} differs from the sha256 in "
                                   f"{MANIFEST_NAME} (damaged or edited); {fix}")


# -- refusing targets -------------------------------------------------------------------------
