"""The one exception family of neurodeploy: every message says what was wrong and how to fix it."""


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
