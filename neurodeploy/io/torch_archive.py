"""Static inspection of a `torch.save` archive before torch unpickles it.

torch's weights-only unpickler refuses every global outside its allowlist, but it calls the
allowlisted ones with whatever arguments the pickle gives: a 1.4 KB file can ask for
`nn.Linear(16000, 16000)` four times and allocate 7 GB before anything fails. `summarize_pickle`
walks the pickle's opcodes without executing any of them and records every call and every
storage it would make, so the loader can refuse a file that claims more than it holds.
"""

from __future__ import annotations

import math
import pickletools
import warnings
from _compat_pickle import IMPORT_MAPPING, NAME_MAPPING
from dataclasses import dataclass, field
from pathlib import Path

from neurodeploy.errors import InvalidFileError, UnsupportedModelError, describe_os_error


class MalformedPickleError(ValueError):
    """The pickle is truncated, inconsistent, or uses an opcode torch's weights-only reader lacks."""


@dataclass(frozen=True)
class Global:
    """A class or function the pickle names, as `module.qualname`."""

    name: str


@dataclass(frozen=True)
class Call:
    """A REDUCE (`func(*args)`) or NEWOBJ (`cls.__new__(cls, *args)`) the pickle asks for."""

    opcode: str
    callee: object
    args: object

    def describe(self) -> str:
        callee = self.callee.name if isinstance(self.callee, Global) else "an object"
        return f"{callee}{_render(self.args)}"


@dataclass(frozen=True)
class StorageClaim:
    """A persistent id `('storage', type, key, location, numel)`: `numel` elements of `type`
    read from the archive's record `data/<key>`."""

    storage_type: object
    key: object
    numel: object


@dataclass
class PickleSummary:
    """Everything a pickle would construct, in order; nothing of it has been executed."""

    globals: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    storages: list[StorageClaim] = field(default_factory=list)
    nonfinite_floats: int = 0  # NaN or infinity among the layers' settings (eps, momentum, ...)


class _Container:
    """A list, dict or set under construction; its items are irrelevant to the checks."""

    def __repr__(self) -> str:
        return "..."


_NO_ARGUMENT_OPS = {
    "NONE": None, "NEWFALSE": False, "NEWTRUE": True, "EMPTY_TUPLE": (),
}
_LITERAL_OPS = {"BININT", "BININT1", "BININT2", "LONG1", "BINFLOAT", "BINUNICODE",
                "SHORT_BINSTRING"}


def _render(value: object, depth: int = 0) -> str:
    if isinstance(value, tuple):
        if depth > 2:
            return "(...)"
        inner = ", ".join(_render(item, depth + 1) for item in value[:6])
        return f"({inner}{', ...' if len(value) > 6 else ''}{',' if len(value) == 1 else ''})"
    if isinstance(value, Global):
        return value.name
    if isinstance(value, Call):
        return f"{_render(value.callee)}(...)"
    if isinstance(value, str | bytes):
        return repr(value[:20])
    return repr(value) if isinstance(value, int | float | bool | None) else "..."


def _global_name(argument: str) -> str:
    module, name = argument.split(" ", 1)
    if (module, name) in NAME_MAPPING:  # protocol-2 pickles use Python 2 names, as torch maps them
        module, name = NAME_MAPPING[(module, name)]
    elif module in IMPORT_MAPPING:
        module = IMPORT_MAPPING[module]
    return f"{module}.{name}"


def summarize_pickle(data: bytes) -> PickleSummary:
    """Walk the opcodes of `data` symbolically (never importing or calling anything).

    Only the opcodes torch's weights-only unpickler accepts are understood; anything else, a
    stack underflow or a dangling memo reference raises MalformedPickleError.
    """
    summary = PickleSummary()
    stack: list[object] = []
    marks: list[list[object]] = []
    memo: dict[int, object] = {}

    def pop_mark() -> list[object]:
        nonlocal stack
        items, stack = stack, marks.pop()
        return items

    try:
        for opcode, argument, position in pickletools.genops(data):
            name = opcode.name
            if name in _LITERAL_OPS:
                if isinstance(argument, float) and not math.isfinite(argument):
                    summary.nonfinite_floats += 1
                stack.append(argument)
            elif name in _NO_ARGUMENT_OPS:
                stack.append(_NO_ARGUMENT_OPS[name])
            elif name in ("EMPTY_LIST", "EMPTY_DICT", "EMPTY_SET"):
                stack.append(_Container())
            elif name == "GLOBAL":
                qualified = _global_name(argument)
                summary.globals.add(qualified)
                stack.append(Global(qualified))
            elif name in ("REDUCE", "NEWOBJ"):
                args = stack.pop()
                callee = stack.pop()
                call = Call(name, callee, args)
                summary.calls.append(call)
                stack.append(call)
            elif name in ("BUILD", "APPEND", "SETITEM"):  # pop the state or items; keep the target
                count = 2 if name == "SETITEM" else 1
                if len(stack) <= count:
                    raise IndexError(f"{name} without a target")
                del stack[-count:]
            elif name in ("APPENDS", "SETITEMS"):
                pop_mark()
                if not stack:
                    raise IndexError(f"{name} without a target")
            elif name == "MARK":
                marks.append(stack)
                stack = []
            elif name == "TUPLE":
                items = pop_mark()  # rebinds `stack` to the enclosing level
                stack.append(tuple(items))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                size = int(name[-1])
                if len(stack) < size:
                    raise IndexError("tuple of missing items")
                stack[-size:] = [tuple(stack[-size:])]
            elif name == "BINPERSID":
                pid = stack.pop()
                if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
                    raise MalformedPickleError(f"persistent id {_render(pid)} is not a storage")
                claim = StorageClaim(pid[1], pid[2], pid[4])
                summary.storages.append(claim)
                stack.append(claim)
            elif name in ("BINGET", "LONG_BINGET"):
                stack.append(memo[argument])
            elif name in ("BINPUT", "LONG_BINPUT"):
                memo[argument] = stack[-1]
            elif name == "PROTO":
                continue
            elif name == "STOP":
                if len(stack) != 1 or marks:
                    raise MalformedPickleError("the stack is inconsistent at STOP")
                return summary
            else:
                raise MalformedPickleError(f"opcode {name} at byte {position}, which torch's "
                                           "weights-only reader does not accept")
    except IndexError:
        raise MalformedPickleError("an opcode lacks its operands") from None
    except KeyError as exc:
        raise MalformedPickleError(f"it reads memo entry {exc} that was never stored") from None
    except MalformedPickleError:
        raise
    except ValueError as exc:  # pickletools: truncated data, bad string, no STOP
        raise MalformedPickleError(str(exc).splitlines()[0][:120]) from None
    raise MalformedPickleError("no STOP")


ZIP_MAGIC = b"PK\x03\x04"  # what torch.load checks to tell an archive from the legacy format
MAX_PICKLE_BYTES = 1 << 26  # a model's structure takes kilobytes; its weights live in storages


@dataclass
class TorchArchive:
    """The pickle of a `torch.save` archive, summarized, and the sizes of its records."""

    path: Path
    pickle: PickleSummary
    record_sizes: dict[str, int]
    file_size: int


def read_torch_archive(path: Path) -> TorchArchive:
    """Summarize `path`'s pickle, read with torch's own archive reader (so the bytes checked are
    the bytes torch.load would unpickle); refuses legacy, TorchScript and malformed files."""
    import torch

    fix = "save the model with torch.save(model)"
    try:
        with open(path, "rb") as stream:
            head = stream.read(len(ZIP_MAGIC))
        file_size = path.stat().st_size
    except OSError as exc:
        raise InvalidFileError(describe_os_error(exc, path)) from None
    if head != ZIP_MAGIC:
        kind = ("is in torch's legacy (pre-1.6) format, which neurodeploy does not read; load it "
                "where it was made and" if head[:1] == b"\x80" else
                "is not a torch archive (no zip header);")
        raise InvalidFileError(f"{path}: {kind} {fix}")
    try:
        reader = torch._C.PyTorchFileReader(str(path))
        names = reader.get_all_records()
        if "constants.pkl" in names:
            raise UnsupportedModelError(f"{path}: is a TorchScript archive (torch.jit.save), "
                                        f"which neurodeploy does not read; {fix}")
        if "data.pkl" not in names:
            raise InvalidFileError(f"{path}: the archive has no data.pkl; {fix}")
        if reader.get_record_size("data.pkl") > MAX_PICKLE_BYTES:
            raise InvalidFileError(f"{path}: its pickle takes {reader.get_record_size('data.pkl')} "
                                   f"bytes, more than a model's structure needs; {fix}")
        record_sizes = {name: reader.get_record_size(name) for name in names}
        data = reader.get_record("data.pkl")
    except (RuntimeError, UnicodeDecodeError) as exc:  # miniz: truncated or corrupt archive
        raise InvalidFileError(f"{path}: not a readable torch archive "
                               f"({str(exc).splitlines()[0][:100]}); {fix}") from None
    try:
        summary = summarize_pickle(data)
    except MalformedPickleError as exc:
        raise InvalidFileError(f"{path}: its pickle is malformed ({exc}); {fix}") from None
    return TorchArchive(path, summary, record_sizes, file_size)


TENSOR_REBUILDERS = frozenset({
    "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
})
# Calls whose results are bounded by the pickle's own bytes (containers of pickled items, names).
VALUE_CALLS = frozenset({
    "collections.OrderedDict", "builtins.set", "torch.device", "torch.Size", "_codecs.encode",
    "builtins.complex",
})


def check_claims(archive: TorchArchive, module_classes: frozenset[str]) -> None:
    """Refuse a pickle that would allocate more than the archive holds.

    A `torch.save(model)` file creates each module with NEWOBJ on an empty tuple and sets its
    state with BUILD; tensors are views of storages that are records of the archive. So every
    NEWOBJ must have no arguments, REDUCE may only rebuild tensors or build small containers
    (never a class in `module_classes`), every storage record must exist with the claimed size,
    and every tensor must fit in its storage.
    """
    if archive.pickle.nonfinite_floats:
        raise InvalidFileError(f"{archive.path}: {archive.pickle.nonfinite_floats} of its layers' "
                               "settings are NaN or infinity; save the model again")
    for call in archive.pickle.calls:
        if _is_foreign(call, module_classes):
            raise InvalidFileError(f"{archive.path}: its pickle calls {call.describe()}, which a "
                                   "model saved with torch.save(model) never does; save it again")
        reason = _call_problem(call, module_classes)
        if reason:
            _refuse(archive.path, reason)
    claimed: dict[str, int] = {}
    for claim in archive.pickle.storages:
        key, nbytes = _storage_claim(archive, claim)
        claimed[key] = max(nbytes, claimed.get(key, 0))
    if sum(archive.record_sizes[f"data/{key}"] for key in claimed) > archive.file_size:
        _refuse(archive.path, "its storage records are larger than the file: compressed records, "
                              "which torch.save never writes")


def _refuse(path: Path, reason: str) -> None:
    raise InvalidFileError(f"{path}: the file claims more parameters than it holds ({reason}); "
                           "save the model with torch.save(model)")


def _is_foreign(call: Call, module_classes: frozenset[str]) -> bool:
    """A call that no torch.save(model) pickle makes: of an object the pickle built, or a REDUCE
    of a global that is neither a tensor rebuilder, a small value, nor a layer (refused below)."""
    if not isinstance(call.callee, Global):
        return True
    return call.opcode == "REDUCE" and call.callee.name not in (
        module_classes | TENSOR_REBUILDERS | VALUE_CALLS)


def _call_problem(call: Call, module_classes: frozenset[str]) -> str | None:
    """Why a call to an allowed global would build more than the file holds, or None."""
    name = call.callee.name
    if call.opcode == "NEWOBJ":
        if call.args == ():
            return None
        return f"it builds {call.describe()} from arguments instead of stored state"
    if name in module_classes:
        return f"it builds {call.describe()} from arguments instead of stored weights"
    return _tensor_problem(call) if name in TENSOR_REBUILDERS else None


def _tensor_problem(call: Call) -> str | None:
    """A tensor view (offset, size, stride) must lie inside its storage."""
    if call.callee.name not in ("torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2"):
        return None  # a parameter wraps a tensor checked on its own
    args = call.args
    if not (isinstance(args, tuple) and len(args) >= 4 and isinstance(args[0], StorageClaim)
            and _is_count(args[1]) and _are_counts(args[2]) and _are_counts(args[3])
            and len(args[2]) == len(args[3]) and _is_count(args[0].numel)):
        return f"it rebuilds a tensor from {call.describe()}, which is not a stored tensor"
    storage, offset, size, stride = args[:4]
    extent = 0 if 0 in size else offset + 1 + sum((n - 1) * s for n, s in zip(size, stride,
                                                                                strict=True))
    if extent > storage.numel:
        return (f"a tensor of size {tuple(size)} needs {extent} values of storage "
                f"{storage.key!r}, which holds {storage.numel}")
    return None


def _storage_claim(archive: TorchArchive, claim: StorageClaim) -> tuple[str, int]:
    """The record key and byte size of a storage claim, refused unless the record holds it."""
    itemsize = _itemsize(claim.storage_type)
    if itemsize is None or not isinstance(claim.key, str) or not _is_count(claim.numel):
        _refuse(archive.path, f"a storage ({_render(claim.storage_type)}, {_render(claim.key)}, "
                              f"{_render(claim.numel)}) that is not a stored array")
    nbytes = claim.numel * itemsize
    held = archive.record_sizes.get(f"data/{claim.key}")
    if held is None or held < nbytes:
        holds = "is missing" if held is None else f"holds {held} bytes"
        _refuse(archive.path, f"storage {claim.key!r} claims {claim.numel} values of "
                              f"{itemsize} bytes; its record {holds}")
    return claim.key, nbytes


def _itemsize(storage_type: object) -> int | None:
    """Bytes per element of a storage class named `torch.<Kind>Storage`, else None."""
    import torch

    if not isinstance(storage_type, Global) or not storage_type.name.startswith("torch."):
        return None
    attribute = storage_type.name.removeprefix("torch.")
    if not attribute.endswith("Storage") or not attribute.isidentifier():
        return None
    if attribute == "UntypedStorage":
        return 1
    with warnings.catch_warnings():  # the legacy storage classes warn that they are deprecated
        warnings.simplefilter("ignore", UserWarning)
        dtype = getattr(getattr(torch, attribute, None), "dtype", None)
    return dtype.itemsize if isinstance(dtype, torch.dtype) else None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _are_counts(values: object) -> bool:
    return isinstance(values, tuple) and all(_is_count(v) for v in values)
