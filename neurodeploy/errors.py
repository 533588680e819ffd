"""The one exception family of neurodeploy: every message says what was wrong and how to fix it."""

import errno


class NeurodeployError(Exception):
    """Base of all errors neurodeploy raises on purpose (bad input, unsupported models, limits)."""


class UnsupportedModelError(NeurodeployError):
    """The model uses a layer, class or construct neurodeploy cannot represent."""


class InvalidFileError(NeurodeployError):
    """A model or data file is unreadable, truncated or inconsistent."""


class ShapeError(NeurodeployError):
    """Input data does not have the shape the network expects."""


class OutputError(NeurodeployError):
    """An output cannot go where asked: the place holds files neurodeploy did not write, contains
    an input, or is not writable."""


class InvalidDataError(NeurodeployError):
    """Input data or labels break a rule: dtype, finiteness, value range, layout, class ids."""


class ClusterError(NeurodeployError):
    """Work cannot go where asked: Ray is not installed, or its cluster cannot be reached."""


class NeurodeployWarning(UserWarning):
    """Something the user should know and can settle with a flag or a fix (named in the message)."""


_OS_FIXES = {
    errno.ENOENT: "check the path",
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.EISDIR: "give a file, not a directory",
    errno.ENOTDIR: "a parent of the path is not a directory",
    errno.ENOSPC: "free some disk space or write elsewhere",
    errno.EDQUOT: "free some disk space or write elsewhere",
    errno.EROFS: "write elsewhere",
    errno.ENAMETOOLONG: "use a shorter path",
    errno.EFBIG: "write elsewhere",
}


def describe_os_error(exc: OSError, path: object = None) -> str:
    """One line `<file>: <problem>; <fix>` for an operating-system error on a file."""
    name = path if path is not None else exc.filename
    problem = (exc.strerror or str(exc) or type(exc).__name__).rstrip(".").lower()
    fix = _OS_FIXES.get(exc.errno, "check the file")
    return f"{name}: {problem}; {fix}" if name is not None else f"{problem}; {fix}"
