"""A model's architecture named by the user (`--arch module:Class`), for `.pt` files of weights.

PyTorch's recommended way to save a model is its `state_dict`: tensors without the class that
arranges them. The class lives in the user's own code, so the user names it — `package.module:Class`
(imported with the working directory on the path) or `path/to/file.py:Class` — with the keyword
(JSON object) or positional (JSON array) arguments of its constructor. Importing that code runs it,
as `python -c "import module"` would: that is the user's choice, made by naming it. The weights
file itself is still read with `weights_only=True`, so it never runs code.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from neurodeploy.errors import InvalidFileError, UnsupportedModelError

if TYPE_CHECKING:
    from torch import nn

# Keys under which training scripts commonly nest the state_dict in a checkpoint dictionary.
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net")


@dataclass(frozen=True)
class Architecture:
    """`Class(*args, **kwargs)` of `module`; `module` is a dotted name or a `.py` path. Built from
    a `template` instance instead (a copy of it) when the caller has one."""

    module: str
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    template: nn.Module | None = None

    @classmethod
    def of_instance(cls, module: nn.Module) -> Architecture:
        return cls(type(module).__module__, type(module).__qualname__, template=module)

    @classmethod
    def parse(cls, spec: str, arguments: str | None = None) -> Architecture:
        """From `module:Class` and an optional JSON object (keywords) or array (positional)."""
        module, colon, name = spec.rpartition(":")
        if not colon or not module or not name.isidentifier():
            raise UnsupportedModelError(f"--arch {spec!r}: give the class as module:Class or "
                                        "path/to/file.py:Class")
        args, kwargs = (), {}
        if arguments is not None:
            try:
                decoded = json.loads(arguments)
            except ValueError as exc:
                raise UnsupportedModelError(f"--arch-args: not JSON ({exc}); give an object of "
                                            "keyword arguments, e.g. '{\"hidden\": 64}'") from None
            if isinstance(decoded, dict):
                kwargs = decoded
            elif isinstance(decoded, list):
                args = tuple(decoded)
            else:
                raise UnsupportedModelError("--arch-args: give a JSON object of keyword arguments "
                                            "or an array of positional ones")
        return cls(module, name, args, kwargs)

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.name}"

    def _import(self) -> object:
        try:
            if self.module.endswith(".py"):
                path = Path(self.module)
                if not path.is_file():
                    raise UnsupportedModelError(f"--arch {self.spec}: no such file {path}")
                loader = importlib.util.spec_from_file_location(path.stem, path)
                module = importlib.util.module_from_spec(loader)
                loader.loader.exec_module(module)
                return module
            sys.path.insert(0, str(Path.cwd()))
            try:
                return importlib.import_module(self.module)
            finally:
                sys.path.remove(str(Path.cwd()))
        except UnsupportedModelError:
            raise
        except ModuleNotFoundError as exc:
            raise UnsupportedModelError(
                f"--arch {self.spec}: no module named {exc.name!r}; run from the directory that "
                "holds it or give path/to/file.py:Class") from None
        except Exception as exc:  # the user's module may raise anything while it is imported
            raise UnsupportedModelError(f"--arch {self.spec}: importing {self.module} failed: "
                                        f"{type(exc).__name__}: {_first_line(exc)}") from None

    def build(self) -> nn.Module:
        """A fresh instance of the class, in eval mode."""
        import copy

        from torch import nn

        if self.template is not None:
            return copy.deepcopy(self.template).eval()
        cls = getattr(self._import(), self.name, None)
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            raise UnsupportedModelError(f"--arch {self.spec}: {self.module} has no nn.Module "
                                        f"subclass named {self.name}")
        try:
            module = cls(*self.args, **self.kwargs)
        except Exception as exc:  # the user's constructor may raise anything
            raise UnsupportedModelError(
                f"--arch {self.spec}: {self.name}(...) failed: {type(exc).__name__}: "
                f"{_first_line(exc)}; give the constructor's arguments with --arch-args") from None
        return module.eval()

    def with_weights(self, path: Path, weights: object) -> nn.Module:
        """An instance holding `weights` (a state_dict, or a checkpoint that nests one), which
        must match the class's parameters and buffers exactly."""
        state = _state_dict_of(path, weights)
        module = self.build()
        expected = module.state_dict()
        missing = sorted(set(expected) - set(state))
        unexpected = sorted(set(state) - set(expected))
        if missing or unexpected:
            parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + (
                [f"unexpected {', '.join(unexpected[:3])}"] if unexpected else [])
            raise InvalidFileError(f"{path}: its weights do not fit {self.spec} ({'; '.join(parts)})"
                                   "; give the class and --arch-args the model was trained with")
        for key, tensor in expected.items():
            if tuple(state[key].shape) != tuple(tensor.shape):
                raise InvalidFileError(
                    f"{path}: '{key}' is {tuple(state[key].shape)} in the file but "
                    f"{tuple(tensor.shape)} in {self.spec}; give the --arch-args the model was "
                    "trained with")
        module.load_state_dict(state, strict=True)
        return module.eval()


def _state_dict_of(path: Path, weights: object) -> dict:
    """The tensors of a state_dict, looking one level into a checkpoint dictionary, with a
    `module.` prefix (nn.DataParallel) removed."""
    import torch
    from torch import nn

    if isinstance(weights, nn.Module):
        raise UnsupportedModelError(f"{path} holds a whole model; with --arch give its weights: "
                                    "torch.save(model.state_dict(), path)")
    if not isinstance(weights, dict):
        raise InvalidFileError(f"{path} holds a {type(weights).__name__}, not weights; save them "
                               "with torch.save(model.state_dict(), path)")
    if not any(isinstance(v, torch.Tensor) for v in weights.values()):
        nested = [weights[k] for k in CHECKPOINT_KEYS if isinstance(weights.get(k), dict)]
        if not nested:
            raise InvalidFileError(f"{path}: no tensors found (nor under {', '.join(CHECKPOINT_KEYS)})"
                                   "; save the weights with torch.save(model.state_dict(), path)")
        weights = nested[0]
    tensors = {str(k): v for k, v in weights.items() if isinstance(v, torch.Tensor)}
    if len(tensors) != len(weights):
        odd = next(str(k) for k, v in weights.items() if not isinstance(v, torch.Tensor))
        raise InvalidFileError(f"{path}: entry '{odd}' is not a tensor; save the weights with "
                               "torch.save(model.state_dict(), path)")
    if tensors and all(k.startswith("module.") for k in tensors):
        tensors = {k.removeprefix("module."): v for k, v in tensors.items()}
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise InvalidFileError(f"{path}: '{key}' holds NaN or infinity; save the weights of a "
                                   "trained model")
    return tensors


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:140] if text else type(exc).__name__
