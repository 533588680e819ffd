"""Program <-> artifact files: `program.json` (structure, scalars, formats) and `program.npz`
(arrays), byte-identical for the same Program, and validated field by field on the way in.

Each node is written from its dataclass fields: arrays to `program.npz` as `<node>/<field>`
(tables as `<node>/<field>/values`), everything else to `program.json` by its type (int, float,
bool, str, enums, formats, tuples of ints, tables' scalars). Loading checks every field's JSON
type and every array's dtype (numbers only, floats finite) before the node's own `validate`
checks shapes and ranges against its formats; any failure is one InvalidFileError line naming the
file, the node, the field and the rule.

Node kinds: the built-in ones below, plus any class registered in the `neurodeploy.nodes`
entry-point group (targets bring their own nodes that way).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from enum import Enum
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.artifacts import MANIFEST_NAME, OutputKind, write_manifest
from neurodeploy.errors import InvalidFileError, NeurodeployError, OutputError
from neurodeploy.io.npz import read_npz, write_npz
from neurodeploy.ir.graph import Edge
from neurodeploy.program import neurons, synapses
from neurodeploy.program.formats import Format, Rounding
from neurodeploy.program.graph import InputFormat, Program
from neurodeploy.program.node import ProgramNode
from neurodeploy.program.tables import Table

FORMAT_VERSION = 2
PROGRAM_JSON = "program.json"
PROGRAM_NPZ = "program.npz"
BUILTIN_NODES: tuple[type[ProgramNode], ...] = (
    synapses.Dense, synapses.Conv2d, synapses.SumPool2d, synapses.Flatten, synapses.Requantize,
    neurons.IAF, neurons.LIF, neurons.CubaLIF, neurons.SNU, neurons.SoftSNU, neurons.SRC,
    neurons.LI)
MAX_NODES = 10_000


def node_types() -> dict[str, type[ProgramNode]]:
    """Every node kind this installation can load: built-ins and the `neurodeploy.nodes` group."""
    kinds = {cls.kind: cls for cls in BUILTIN_NODES}
    for entry in entry_points(group="neurodeploy.nodes"):
        cls = entry.load()
        kinds.setdefault(cls.kind, cls)
    return kinds


# ----------------------------------------------------------------------------- writing


def _json_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Format):
        return {"bits": value.bits, "signed": value.signed, "rounding": value.rounding.value,
                "overflow": value.overflow.value}
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _encode_node(name: str, node: ProgramNode, arrays: dict[str, np.ndarray]) -> dict:
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        key = f"{name}/{f.name}"
        if isinstance(value, np.ndarray):
            arrays[key] = value
        elif isinstance(value, Table):
            arrays[f"{key}/values"] = value.values
            fields[f.name] = {"multiplier": value.multiplier, "shift": value.shift,
                              "offset": value.offset, "frac_bits": value.frac_bits}
        elif value is not None:
            fields[f.name] = _json_value(value)
    return {"name": name, "kind": node.kind, "fields": fields}


def _input_meta(input_format: InputFormat) -> dict:
    """program.json's input entry (window and rounding only where they differ from a plain
    per-step input, so older files read the same)."""
    meta = {"shape": list(input_format.shape), "scale": input_format.scale,
            "bits": input_format.bits}
    if input_format.window or input_format.rounding is not Rounding.HALF_UP:
        meta.update(window=input_format.window, rounding=input_format.rounding.value)
    return meta


def save_program(program: Program, directory: str | Path) -> None:
    """Write `program.json` and `program.npz` into `directory` (deterministic bytes)."""
    directory = Path(directory)
    arrays: dict[str, np.ndarray] = {}
    nodes = [_encode_node(name, program.nodes[name], arrays) for name in program.nodes]
    meta = {"format_version": FORMAT_VERSION, "target": program.target,
            "input": _input_meta(program.input),
            "nodes": nodes, "output": program.output,
            "edges": [[e.source, e.target, e.delay] for e in program.edges],
            "options": dict(program.options), "approximations": list(program.approximations)}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / PROGRAM_JSON).write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    write_npz(directory / PROGRAM_NPZ, arrays)


def save_program_directory(program: Program, directory: str | Path) -> None:
    """`Program.save`: the program files plus a manifest, in a directory that holds nothing else
    (it is created if missing; anything else in it is refused, never overwritten)."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"{directory}: exists and is not a directory; choose another path")
    ours = {PROGRAM_JSON, PROGRAM_NPZ, MANIFEST_NAME}
    foreign = sorted(p.name for p in directory.iterdir() if p.name not in ours) \
        if directory.is_dir() else []
    if foreign:
        raise OutputError(f"{directory}: holds {foreign[0]}, which neurodeploy did not write; save "
                          "the program into an empty or new directory")
    save_program(program, directory)
    write_manifest(directory, OutputKind.CONVERT)


# ----------------------------------------------------------------------------- reading


class _Bad(ValueError):
    """A field that does not have the type or value its node needs."""


def _expect(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise _Bad(f"{what} must be a number, got a boolean")
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _Bad(f"{what} must be {names}, got {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad(f"{what} must be finite")
    return value


def _decode_array(value: np.ndarray, what: str) -> np.ndarray:
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise _Bad(f"array {what} holds NaN or infinity")
    if value.dtype.kind == "b":
        raise _Bad(f"array {what} must hold numbers, not booleans")
    return value


def _decode_field(hint: Any, raw: Any, key: str, arrays: dict[str, np.ndarray], what: str) -> Any:
    """A field's value from its JSON (raw) or its array(s), checked against its type hint."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if hint is np.ndarray:
        if key not in arrays:
            if optional:
                return None
            raise _Bad(f"array {what} is missing from {PROGRAM_NPZ}")
        return _decode_array(arrays.pop(key), what)
    if hint is Table:
        values = arrays.pop(f"{key}/values", None)
        if values is None or not isinstance(raw, dict):
            raise _Bad(f"table {what} is missing or malformed")
        scalars = {k: _expect(raw.get(k), int, f"{what}.{k}")
                   for k in ("multiplier", "shift", "offset", "frac_bits")}
        return Table(_decode_array(values, what), **scalars)
    if raw is None:
        if optional:
            return None
        raise _Bad(f"field {what} is missing")
    if hint is Format:
        _expect(raw, dict, what)
        try:
            return Format(_expect(raw.get("bits"), int, f"{what}.bits"),
                          _expect(raw.get("signed"), bool, f"{what}.signed"),
                          _expect(raw.get("rounding"), str, f"{what}.rounding"),
                          _expect(raw.get("overflow"), str, f"{what}.overflow"))
        except ValueError as exc:
            raise _Bad(f"{what}: {exc}") from None
    if isinstance(hint, type) and issubclass(hint, Enum):
        try:
            return hint(_expect(raw, str, what))
        except ValueError:
            raise _Bad(f"{what} must be one of {[m.value for m in hint]}") from None
    if typing.get_origin(hint) is tuple:
        items = _expect(raw, list, what)
        if len(items) > 8:
            raise _Bad(f"{what} has {len(items)} entries")
        return tuple(_expect(v, int, what) for v in items)
    if hint is float:
        return float(_expect(raw, (int, float), what))
    if hint in (int, bool, str):
        return _expect(raw, hint, what)
    raise _Bad(f"{what} has an unsupported type {hint}")


def _decode_node(spec: Any, arrays: dict[str, np.ndarray], kinds: dict[str, type]
                 ) -> tuple[str, ProgramNode]:
    _expect(spec, dict, "a node entry")
    name = _expect(spec.get("name"), str, "a node's name")
    kind = _expect(spec.get("kind"), str, f"node '{name}' kind")
    if kind not in kinds:
        raise _Bad(f"node '{name}' has kind '{kind[:40]}', which this installation does not "
                   f"know (known: {', '.join(sorted(kinds))})")
    cls = kinds[kind]
    raw = _expect(spec.get("fields", {}), dict, f"node '{name}' fields")
    hints = typing.get_type_hints(cls)
    values = {f.name: _decode_field(hints[f.name], raw.get(f.name), f"{name}/{f.name}", arrays,
                                    f"'{name}/{f.name}'") for f in dataclasses.fields(cls)}
    unknown = set(raw) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise _Bad(f"node '{name}' has unknown fields {sorted(unknown)[:5]}")
    try:
        return name, cls(**values)
    except (ValueError, TypeError) as exc:
        raise _Bad(f"node '{name}': {exc}") from None


def _decode_program(meta: Any, arrays: dict[str, np.ndarray]) -> Program:
    _expect(meta, dict, PROGRAM_JSON)
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise _Bad(f"program format {version!r} is not {FORMAT_VERSION}; convert the model again")
    kinds = node_types()
    node_specs = _expect(meta.get("nodes"), list, "nodes")
    if not 0 < len(node_specs) <= MAX_NODES:
        raise _Bad(f"the program has {len(node_specs)} nodes (1..{MAX_NODES} allowed)")
    nodes = dict(_decode_node(spec, arrays, kinds) for spec in node_specs)
    if len(nodes) != len(node_specs):
        raise _Bad("node names are not unique")
    if arrays:
        raise _Bad(f"{PROGRAM_NPZ} holds arrays no node uses: {sorted(arrays)[:3]}")
    edges = []
    for item in _expect(meta.get("edges"), list, "edges"):
        if not (isinstance(item, list) and len(item) == 3):
            raise _Bad("each edge must be [source, target, delay]")
        edges.append(Edge(_expect(item[0], str, "edge source"), _expect(item[1], str, "edge target"),
                          _expect(item[2], int, "edge delay")))
    spec_in = _expect(meta.get("input"), dict, "input")
    shape = tuple(_expect(d, int, "input.shape") for d in _expect(spec_in.get("shape"), list,
                                                                     "input.shape"))
    rounding = _expect(spec_in.get("rounding", Rounding.HALF_UP.value), str, "input.rounding")
    if rounding not in {r.value for r in Rounding}:
        raise _Bad(f"input.rounding {rounding!r} is not a rounding mode")
    input_format = InputFormat(shape, float(_expect(spec_in.get("scale"), (int, float),
                                                    "input.scale")),
                               _expect(spec_in.get("bits"), int, "input.bits"),
                               _expect(spec_in.get("window", False), bool, "input.window"),
                               Rounding(rounding))
    options = _expect(meta.get("options", {}), dict, "options")
    for key, value in options.items():
        if not isinstance(value, bool | int | float | str) or (isinstance(value, float)
                                                             and not math.isfinite(value)):
            raise _Bad(f"option '{key}' must be a finite number, a boolean or a string")
    notes = [_expect(n, str, "approximations") for n in _expect(meta.get("approximations", []),
                                                               list, "approximations")]
    return Program(_expect(meta.get("target"), str, "target"), input_format, nodes, tuple(edges),
                   _expect(meta.get("output"), str, "output"), options, tuple(notes))


def load_program(directory: str | Path) -> Program:
    """Read and validate a Program saved by `save_program`."""
    directory = Path(directory)
    if not (directory / PROGRAM_JSON).is_file():
        raise InvalidFileError(f"{directory}: no {PROGRAM_JSON}; not a neurodeploy program "
                               "directory (run `neurodeploy convert`)")
    try:
        meta = json.loads((directory / PROGRAM_JSON).read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise InvalidFileError(f"{directory / PROGRAM_JSON}: not readable JSON "
                               f"({str(exc).splitlines()[0][:80]}); convert the model again"
                               ) from None
    arrays = read_npz(directory / PROGRAM_NPZ)
    try:
        return _decode_program(meta, arrays)
    except NeurodeployError as exc:
        raise InvalidFileError(f"{directory}: {str(exc).splitlines()[0]}") from None
    except (_Bad, ValueError, TypeError, OverflowError) as exc:
        raise InvalidFileError(f"{directory}: invalid program ({str(exc).splitlines()[0][:200]}); "
                               "convert the model again") from None
