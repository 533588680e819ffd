"""A single file neurodeploy writes and may later replace (a JUnit report): recognised as its
own by a marker in its first bytes, written atomically, never replacing a file without it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from neurodeploy.artifacts.outputs import _refuse_unsafe_location, _staging_beside
from neurodeploy.errors import OutputError

HEAD_BYTES = 512


def _ours(path: Path, marker: bytes) -> bool:
    try:
        with path.open("rb") as handle:
            return marker in handle.read(HEAD_BYTES)
    except OSError:
        return False


def write_owned_file(target: Path, data: bytes, marker: bytes, option: str,
                     inputs: Sequence[Path | None] = ()) -> None:
    """Write `data` (which holds `marker` in its first bytes) to `target` atomically; refuse
    an existing file without the marker, a directory, a missing parent or an input."""
    target = Path(target)
    if marker not in data[:HEAD_BYTES]:
        raise ValueError("the data must carry its marker")
    real = _refuse_unsafe_location(target, inputs, "file")
    if not real.parent.is_dir():
        raise OutputError(f"{option} {target}: the directory {target.parent} does not exist; "
                          "create it first")
    if real.is_dir():
        raise OutputError(f"{option} {target} is a directory; give a file name")
    if real.exists() and not _ours(real, marker):
        raise OutputError(f"{option} {target} exists and was not written by neurodeploy; "
                          "choose another name or remove it yourself")
    with _staging_beside(real, target) as staging:
        (staging / real.name).write_bytes(data)
        os.replace(staging / real.name, real)
