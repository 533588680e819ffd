"""Safe loading of `.pt` files: `weights_only=True` plus an allowlist of known layer classes.

A pickle can name any callable; torch's weights-only unpickler refuses every global that is not
allowlisted, so loading a `.pt` never runs code from the file.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

from neurodeploy import nn as ndnn
from neurodeploy.errors import InvalidFileError, UnsupportedModelError

ALLOWED_CLASSES: tuple[type, ...] = (
    nn.Sequential, nn.Linear, nn.Conv2d, nn.AvgPool2d, nn.Flatten, nn.Identity, nn.Dropout, nn.ReLU,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.GRU, ndnn.GRU,
    ndnn.Sequential, ndnn.IAF, ndnn.CubaLIF, ndnn.LIF, ndnn.SNU, ndnn.SoftSNU, ndnn.SRC, ndnn.LI,
    set,
)

_UNSUPPORTED_GLOBAL = re.compile(r"unsupported (?:global: )?GLOBAL ([\w.]+)", re.IGNORECASE)


def load_torch_file(path: Path) -> nn.Module:
    """Load a whole model saved with `torch.save(model)`, refusing any class outside the allowlist."""
    try:
        with torch.serialization.safe_globals(list(ALLOWED_CLASSES)):
            obj = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
        message = str(exc)
        match = _UNSUPPORTED_GLOBAL.search(message)
        if match:
            raise UnsupportedModelError(
                f"{path}: refuses to load class {match.group(1)}, which is not an allowed layer "
                "(the file may run code); save models built from torch.nn and neurodeploy.nn "
                "layers with torch.save(model)") from None
        first_line = message.strip().splitlines()[0] if message.strip() else type(exc).__name__
        raise InvalidFileError(
            f"{path}: not a readable torch file ({first_line[:160]}); "
            "save the model with torch.save(model)") from None
    if isinstance(obj, dict):
        raise UnsupportedModelError(
            f"{path} holds a state_dict, which has no architecture; save the whole model "
            "with torch.save(model)")
    if not isinstance(obj, nn.Module):
        raise UnsupportedModelError(
            f"{path} holds a {type(obj).__name__}, not a model; save it with torch.save(model)")
    return obj
