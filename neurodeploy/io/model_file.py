"""Safe loading of `.pt` files: `weights_only=True` plus an allowlist of known layer classes.

A pickle can name any callable; torch's weights-only unpickler refuses every global that is not
allowlisted, so loading a `.pt` never runs code from the file. Before torch reads it, the
archive is inspected (`torch_archive`) so that a file cannot make the allowlisted classes
allocate more than it holds; after it, every layer must have the members its class always has,
each name once (an attribute never shadows a parameter, buffer or submodule), tensors in its
parameter and buffer tables, and, for torch's Linear, Conv2d and BatchNorm, floating-point tensors
of the shapes its own configuration gives them.
Classes of known ML libraries outside the allowlist are "not supported"; any other global is
refused as a possible code payload.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
from torch import nn

from neurodeploy import nn as ndnn
from neurodeploy.errors import InvalidFileError, NeurodeployError, UnsupportedModelError
from neurodeploy.io.architecture import Architecture
from neurodeploy.io.torch_archive import check_claims, read_torch_archive

ALLOWED_CLASSES: tuple[type, ...] = (
    nn.Sequential, nn.Linear, nn.Conv2d, nn.AvgPool2d, nn.Flatten, nn.Identity, nn.Dropout, nn.ReLU,
    nn.BatchNorm1d, nn.BatchNorm2d, nn.GRU, ndnn.GRU, ndnn.PerStep,
    ndnn.Sequential, ndnn.IAF, ndnn.CubaLIF, ndnn.LIF, ndnn.SNU, ndnn.SoftSNU, ndnn.SRC, ndnn.LI,
    set,
)
# Libraries whose classes are layers we may not support yet, as opposed to a pickle payload.
ML_LIBRARIES = ("torch", "snntorch", "sinabs", "norse", "lava")


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


MODULE_CLASSES = frozenset(_qualified(c) for c in ALLOWED_CLASSES if issubclass(c, nn.Module))


# Constructor arguments for a reference instance of each allowlisted layer that needs some.
_REFERENCE_ARGS: dict[type, tuple] = {
    nn.Linear: (1, 1), nn.Conv2d: (1, 1, 1), nn.AvgPool2d: (1,), nn.BatchNorm1d: (1,),
    nn.BatchNorm2d: (1,), nn.GRU: (1, 1), ndnn.GRU: (1, 1), ndnn.SNU: (1,), ndnn.SoftSNU: (1,),
    ndnn.SRC: (1,), ndnn.PerStep: (nn.Identity(),),
}


def _member_names(module: nn.Module) -> set[str]:
    """Names of a module's attributes, parameters, buffers and submodules, read from its
    __dict__ only (a damaged pickle may lack the dictionaries nn.Module's lookups need)."""
    members = vars(module)
    names = set(members)
    for table in ("_parameters", "_buffers", "_modules"):
        if isinstance(members.get(table), dict):
            names |= set(members[table])
    return names


@functools.cache
def _reference(cls: type) -> nn.Module:
    return cls(*_REFERENCE_ARGS.get(cls, ()))


def _required_members(module: nn.Module) -> set[str]:
    """The attributes, parameters, buffers and submodules every instance of its class has; an
    RNN's parameters depend on its configuration and are the ones it names itself."""
    reference = _reference(type(module))
    required = _member_names(reference)
    if isinstance(module, nn.RNNBase):
        required -= set(reference._parameters)
        required |= set(getattr(module, "_flat_weights_names", ()))
    return required


_RESAVE = "the file is damaged or was not written by torch.save(model): save the model again"


def _check_tables(path: Path, module: nn.Module, where: str) -> None:
    """Each name once, and tensors (or None) in the parameter and buffer tables: nn.Module's
    own setattr keeps both, so a file breaking them was damaged or made by hand."""
    members = vars(module)
    for table, kind in (("_parameters", nn.Parameter), ("_buffers", torch.Tensor)):
        if not isinstance(members.get(table), dict):
            raise InvalidFileError(f"{path}: {where} has no {table[1:]} table; {_RESAVE}")
        for key, value in members[table].items():
            if value is not None and not isinstance(value, kind):
                raise InvalidFileError(f"{path}: {where} holds a {type(value).__name__} as "
                                       f"{table[1:-1]} {key!r}, not a tensor; {_RESAVE}")
    for table in ("_parameters", "_buffers", "_modules"):
        shadowed = sorted(str(key) for key in members.get(table) or {} if key in members)
        if shadowed:
            raise InvalidFileError(f"{path}: {where} holds {shadowed[0]!r} twice, as an attribute "
                                   f"and in {table}; {_RESAVE}")


def _configured_shapes(module: nn.Module) -> tuple[str, dict[str, tuple | None]] | None:
    """(its configuration, the shape it gives each tensor, None where it gives none) for torch's
    Linear, Conv2d and BatchNorm, whose configuration code reads besides the tensors."""
    if isinstance(module, nn.Linear):
        out, inp = module.out_features, module.in_features
        return f"out_features {out!r}, in_features {inp!r}", {"weight": (out, inp), "bias": (out,)}
    if isinstance(module, nn.Conv2d):
        out, inp, groups, kernel = (module.out_channels, module.in_channels, module.groups,
                                    module.kernel_size)
        valid = (isinstance(groups, int) and groups > 0 and isinstance(inp, int)
                 and isinstance(kernel, tuple))
        return (f"out_channels {out!r}, in_channels {inp!r}, groups {groups!r}, kernel_size "
                f"{kernel!r}", {"weight": (out, inp // groups, *kernel) if valid else None,
                                "bias": (out,)})
    if isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        count = (module.num_features,)
        return (f"num_features {module.num_features!r}",
                dict.fromkeys(("weight", "bias", "running_mean", "running_var"), count))
    return None


def _check_shapes(path: Path, module: nn.Module, where: str) -> None:
    """Floating-point tensors of the shapes the layer's configuration gives them."""
    configured = _configured_shapes(module)
    if configured is None:
        return
    config, shapes = configured
    tensors = {**vars(module)["_parameters"], **vars(module)["_buffers"]}
    layer = f"{path}: {where}"
    for key, shape in shapes.items():
        tensor = tensors.get(key)
        if tensor is None:  # an optional tensor (bias=False, affine=False) left out
            continue
        if shape is None or tuple(tensor.shape) != shape:
            need = "integers and a positive groups" if shape is None else str(shape)
            raise InvalidFileError(f"{layer}: {key} has shape {tuple(tensor.shape)}, but "
                                   f"{config} need {need}; {_RESAVE}")
        if not tensor.is_floating_point():
            raise InvalidFileError(f"{layer}: {key} holds {tensor.dtype}, not floating-point "
                                   f"numbers; {_RESAVE}")


def check_structure(path: Path, module: nn.Module, name: str = "") -> None:
    """Refuse a loaded model whose layers lack members their class always has, hold a name
    twice, hold non-tensors as tensors or tensors of shapes their configuration contradicts (a
    damaged or hand-made pickle), before any code reads them."""
    where = f"layer {name!r}" if name else "the model"
    if type(module) in ALLOWED_CLASSES:  # only allowlisted classes can have been unpickled
        missing = {member for member in _required_members(module) - _member_names(module)
                   if not hasattr(type(module), member)}  # a class default covers older files
        if missing:
            raise InvalidFileError(
                f"{path}: {where} ({type(module).__name__}) lacks {', '.join(sorted(missing)[:4])};"
                f" {_RESAVE}")
        label = f"{where} ({type(module).__name__})"
        _check_tables(path, module, label)
        _check_shapes(path, module, label)
    children = vars(module).get("_modules")
    if not isinstance(children, dict):
        raise InvalidFileError(f"{path}: {where} has no table of layers; save the model again "
                               "with torch.save(model)")
    for child_name, child in children.items():
        if (not isinstance(child_name, str) or not child_name or "." in child_name
                or hasattr(type(module), child_name)):  # what torch's add_module refuses
            raise InvalidFileError(f"{path}: {where} names a layer {child_name!r}, a name torch "
                                   f"refuses (empty, dotted or a member of its class); {_RESAVE}")
        if not isinstance(child, nn.Module):
            raise InvalidFileError(f"{path}: {where} holds a {type(child).__name__} among its "
                                   "layers; save the model again with torch.save(model)")
        check_structure(path, child, f"{name}.{child_name}" if name else str(child_name))


def supported_layers() -> str:
    """The allowlisted layers, grouped by package, for error messages."""
    groups: dict[str, list[str]] = {}
    for cls in ALLOWED_CLASSES:
        if issubclass(cls, nn.Module):
            package = "neurodeploy.nn" if cls.__module__.startswith("neurodeploy") else "torch.nn"
            groups.setdefault(package, []).append(cls.__name__)
    return "; ".join(f"{package} {', '.join(names)}" for package, names in groups.items())


def is_library_class(name: str) -> bool:
    """True when `name` looks like a class (CapWords) of a known ML library, not a function."""
    root, _, rest = name.partition(".")
    last = name.rpartition(".")[2]
    return root in ML_LIBRARIES and bool(rest) and last.isidentifier() and last[:1].isupper()


def refuse_unknown_globals(path: Path, unknown: list[str]) -> None:
    """Refuse globals outside the allowlist: a security alarm for anything that is not a class
    of a known ML library (it could run code), "not supported" for layers we lack."""
    if not unknown:
        return
    payloads = sorted(name for name in unknown if not is_library_class(name))
    if payloads:
        raise UnsupportedModelError(
            f"{path}: refuses to load {payloads[0]}, which is not an allowed layer: the file may "
            "run code; save models built from torch.nn and neurodeploy.nn layers with "
            "torch.save(model)")
    raise UnsupportedModelError(
        f"{path}: not supported: {', '.join(sorted(unknown))}; supported layers: "
        f"{supported_layers()}; or export the model to NIR with its library and give the .nir")


def load_torch_file(path: Path, architecture: Architecture | None = None) -> nn.Module:
    """Load a whole model saved with `torch.save(model)`, refusing any class outside the allowlist
    and any file that claims more parameters than it holds; or, given the `architecture`, the
    weights saved with `torch.save(model.state_dict())` into a fresh instance of it."""
    archive = read_torch_archive(path)
    with torch.serialization.safe_globals(list(ALLOWED_CLASSES)):
        try:
            unknown = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            if architecture is not None and unknown:
                raise UnsupportedModelError(
                    f"{path} holds pickled classes ({', '.join(sorted(unknown)[:2])}); with --arch "
                    "give the weights only: torch.save(model.state_dict(), path)")
            refuse_unknown_globals(path, unknown)
            check_claims(archive, MODULE_CLASSES)
            obj = torch.load(path, weights_only=True, map_location="cpu")
        except NeurodeployError:
            raise
        except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ...
            message = str(exc).strip()
            first_line = message.splitlines()[0] if message else type(exc).__name__
            raise InvalidFileError(
                f"{path}: not a readable torch file ({first_line[:160]}); "
                "save the model with torch.save(model)") from None
    if architecture is not None:
        return architecture.with_weights(path, obj)
    if isinstance(obj, dict):
        raise UnsupportedModelError(
            f"{path} holds a state_dict, which has no architecture; name its class with --arch "
            "module:Class (and --arch-args), or save the whole model with torch.save(model)")
    if not isinstance(obj, nn.Module):
        raise UnsupportedModelError(
            f"{path} holds a {type(obj).__name__}, not a model; save it with torch.save(model)")
    check_structure(path, obj)
    return obj
