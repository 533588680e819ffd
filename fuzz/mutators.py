"""Mutations of valid files, per file kind, that stay meaningful when formats change.

Every mutator edits one file (or directory) in place and returns a `Mutation` describing what it
did. Structural mutators parse the file with its own library (json, numpy, h5py, onnx, the
pickle opcodes of a torch zip) and change what they find there, at random places, rather than
known keys: a redesigned format is mutated just as well. Only valid corpus files are parsed
here, so mutating never runs hostile input through a parser.

`mutate_path` picks a mutator by file type; `mutate_directory` mutates an artifact directory.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import pickletools
import random
import re
import shutil
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NONFINITE = (math.nan, math.inf, -math.inf)
HOSTILE_FLOATS = (*NONFINITE, 0.0, -0.0, -1.0, 0.5, 1e30, -1e30, 3.4e38, 1e308, 5e-324, 2.0**31,
                  2.0**63)
HOSTILE_INTS = (0, -1, 1, 2, 255, 256, 2**15, 2**31 - 1, 2**31, -(2**31), 2**32, 2**53 + 1,
                2**63 - 1, -(2**63), 10**6, 10**9, 16000)
JSON_ONLY_INTS = (2**64, -(2**64), 10**30)
LONG_STRING = "A" * 100_000
NIR_TYPES = ("Affine", "Linear", "Conv2d", "Conv1d", "LIF", "CubaLIF", "IF", "LI", "I", "Input",
             "Output", "Flatten", "SumPool2d", "AvgPool2d", "Threshold", "Scale", "Delay", "NIRGraph",
             "Mystery", "")


@dataclass(frozen=True)
class Mutation:
    """What a mutation did: a description, whether it injected NaN or inf on purpose, whether it
    changed or deleted a file that existed before (rather than only adding one), and whether it
    damaged the file below its format (`raw`): such a file is no longer parsed here, so later
    mutations of it are byte-level only."""

    description: str
    nonfinite: bool = False
    touched_existing: bool = True
    raw: bool = False

    def then(self, other: Mutation) -> Mutation:
        """Two mutations applied in turn."""
        return Mutation(f"{self.description}; {other.description}", self.nonfinite or other.nonfinite,
                        self.touched_existing or other.touched_existing, self.raw or other.raw)


def _hostile_float(rng: random.Random) -> float:
    return rng.choice(HOSTILE_FLOATS)


def _is_nonfinite(value: object) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


# ----------------------------------------------------------------------------- bytes and text

def mutate_bytes(path: Path, rng: random.Random) -> Mutation:
    """Generic byte-level damage: flips, truncation, insertion, spans set to 0x00/0xff."""
    data = bytearray(path.read_bytes())
    size = len(data)
    op = rng.choice(["flip", "flip", "flip-head", "flip-tail", "truncate", "truncate", "insert",
                     "fill", "append", "duplicate", "empty"])
    if size == 0 or op == "empty":
        path.write_bytes(b"")
        return Mutation("bytes: emptied the file", raw=True)
    if op.startswith("flip"):
        lo, hi = {"flip": (0, size), "flip-head": (0, min(size, 512)),
                  "flip-tail": (max(0, size - 128), size)}[op]
        where = sorted(rng.randrange(lo, hi) for _ in range(rng.choice([1, 1, 2, 4, 16])))
        for i in where:
            data[i] ^= rng.randrange(1, 256)
        path.write_bytes(bytes(data))
        return Mutation(f"bytes: {op} at {where[:6]}{'...' if len(where) > 6 else ''}", raw=True)
    if op == "truncate":
        keep = rng.choice([0, 1, rng.randrange(size), size - 1, size // 2])
        path.write_bytes(bytes(data[:keep]))
        return Mutation(f"bytes: truncated {size} -> {keep}", raw=True)
    if op == "insert":
        at, junk = rng.randrange(size), rng.randbytes(rng.choice([1, 7, 64]))
        path.write_bytes(bytes(data[:at]) + junk + bytes(data[at:]))
        return Mutation(f"bytes: inserted {len(junk)} random bytes at {at}", raw=True)
    if op == "fill":
        at, length, value = rng.randrange(size), rng.choice([4, 16, 256]), rng.choice([0, 0xFF])
        data[at:at + length] = bytes([value]) * len(data[at:at + length])
        path.write_bytes(bytes(data))
        return Mutation(f"bytes: {length} bytes at {at} set to {value:#x}", raw=True)
    if op == "append":
        path.write_bytes(bytes(data) + rng.randbytes(rng.choice([1, 100, 4096])))
        return Mutation("bytes: appended random bytes", raw=True)
    at = rng.randrange(size)
    chunk = bytes(data[at:at + rng.choice([8, 64, 1024])])
    path.write_bytes(bytes(data[:at]) + chunk + bytes(data[at:]))
    return Mutation(f"bytes: duplicated {len(chunk)} bytes at {at}", raw=True)


_NUMBER = re.compile(rb"-?(?:0x)?[0-9a-fA-F]+(?:\.[0-9]+)?")


def mutate_text(path: Path, rng: random.Random) -> Mutation:
    """Line and token edits of a text file (Verilog, $readmemh memories, Markdown, JSON text)."""
    lines = path.read_bytes().splitlines(keepends=True)
    if not lines:
        path.write_bytes(b"garbage\n")
        return Mutation("text: wrote one garbage line into an empty file", raw=True)
    op = rng.choice(["delete", "duplicate", "swap", "number", "number", "insert", "cut", "nonhex"])
    i = rng.randrange(len(lines))
    if op == "delete":
        count = rng.choice([1, 1, 3, len(lines)])
        del lines[i:i + count]
        what = f"deleted {count} line(s) from {i + 1}"
    elif op == "duplicate":
        lines.insert(i, lines[i])
        what = f"duplicated line {i + 1}"
    elif op == "swap":
        j = rng.randrange(len(lines))
        lines[i], lines[j] = lines[j], lines[i]
        what = f"swapped lines {i + 1} and {j + 1}"
    elif op in ("number", "nonhex"):
        candidates = [(k, m) for k, line in enumerate(lines) for m in _NUMBER.finditer(line)]
        if not candidates:
            return mutate_bytes(path, rng)
        k, match = rng.choice(candidates)
        replacement = (rng.choice([b"zz", b"x", b"G1", b"-", b" "]) if op == "nonhex" else
                       rng.choice([b"0", b"-1", b"ffffffffffffffffffffffff", b"7fffffff", b"80000000",
                                   b"99999999999999999999", b"1e999", b"nan", b"-0"]))
        line = lines[k]
        lines[k] = line[:match.start()] + replacement + line[match.end():]
        what = f"line {k + 1}: {match.group().decode()[:20]} -> {replacement.decode()}"
    elif op == "insert":
        junk = rng.choice([b"garbage\n", b"module evil; endmodule\n", b"$finish;\n", b"@0 ffff\n",
                           b"ffffffffffffffff\n", b"\x00\xff\xfe\n", LONG_STRING.encode() + b"\n"])
        lines.insert(i, junk)
        what = f"inserted {junk[:20]!r} at line {i + 1}"
    else:
        lines = lines[:i]
        what = f"cut after line {i}"
    path.write_bytes(b"".join(lines))
    return Mutation(f"text: {what}", raw=True)


# ----------------------------------------------------------------------------- JSON

def _json_nodes(value: Any, at: tuple = ()) -> list[tuple]:
    """Every path into a parsed JSON document (the root is the empty path)."""
    paths = [at]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += _json_nodes(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += _json_nodes(item, (*at, index))
    return paths


def _json_get(doc: Any, at: tuple) -> Any:
    for step in at:
        doc = doc[step]
    return doc


def _hostile_json_value(rng: random.Random, current: Any) -> Any:
    pool: list[Callable[[], Any]] = [
        lambda: rng.choice(HOSTILE_FLOATS), lambda: rng.choice(HOSTILE_INTS + JSON_ONLY_INTS),
        lambda: rng.choice(["", "x", "nan", "1e999", "../../etc", LONG_STRING, "Infinity"]),
        lambda: None, lambda: rng.choice([True, False]), lambda: [], lambda: {},
        lambda: [current], lambda: {"value": current},
    ]
    if isinstance(current, bool):
        pool.append(lambda: not current)
    elif isinstance(current, int):
        pool += [lambda: current + 1, lambda: current - 1, lambda: -current, lambda: current * 1000,
                 lambda: current + 0.5, lambda: str(current)]
    elif isinstance(current, float):
        pool += [lambda: -current, lambda: current * 1e6, lambda: int(current) if math.isfinite(
            current) else 0, lambda: str(current)]
    elif isinstance(current, str):
        pool += [lambda: current.upper(), lambda: current + "_", lambda: current[:-1],
                 lambda: current * 50]
    return rng.choice(pool)()


def mutate_json(path: Path, rng: random.Random) -> Mutation:
    """Structural JSON edits at a random depth: replace (incl. type swaps and hostile numbers),
    delete, add or rename keys, change list lengths."""
    try:
        doc = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError):
        return mutate_bytes(path, rng)
    if rng.random() < 0.08:  # overflow literal: Python's json reads 1e999 as inf
        text, count = re.subn(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?", "1e999", path.read_text(),
                              count=1)
        if count:
            path.write_text(text)
            return Mutation("json: first float literal -> 1e999", nonfinite=True)
    nodes = _json_nodes(doc)
    by_depth: dict[int, list[tuple]] = {}
    for at in nodes:
        by_depth.setdefault(len(at), []).append(at)
    at = rng.choice(by_depth[rng.choice(sorted(by_depth))])
    target = _json_get(doc, at)
    ops = ["replace", "replace", "delete"]
    if isinstance(target, dict):
        ops += ["add-key", "rename-key", "to-list"] if target else ["add-key"]
    if isinstance(target, list):
        ops += ["drop-item", "dup-item", "empty-list", "append-item", "to-dict"] if target else [
            "append-item"]
    op = rng.choice(ops)
    if not at and op in ("replace", "delete"):
        op = "replace"
    where = "/".join(map(str, at)) or "(root)"
    nonfinite = False
    if op == "replace":
        new = _hostile_json_value(rng, target)
        nonfinite = _is_nonfinite(new)
        doc = _json_set(doc, at, new)
        what = f"{where} = {_short(new)}"
    elif op == "delete":
        del _json_get(doc, at[:-1])[at[-1]]
        what = f"deleted {where}"
    elif op == "add-key":
        keys = [a[-1] for a in nodes if a and isinstance(a[-1], str)]
        key = rng.choice([*keys, "extra", "", "__proto__"])
        value = _hostile_json_value(rng, None)
        nonfinite = _is_nonfinite(value)
        target[key] = value
        what = f"{where}[{key!r}] = {_short(value)}"
    elif op == "rename-key":
        key = rng.choice(list(target))
        target[rng.choice([key + "_", key.upper(), ""])] = target.pop(key)
        what = f"renamed {where}/{key}"
    elif op == "drop-item":
        del target[rng.randrange(len(target))]
        what = f"{where}: dropped an item ({len(target)} left)"
    elif op == "dup-item":
        target.append(target[rng.randrange(len(target))])
        what = f"{where}: duplicated an item"
    elif op == "empty-list":
        target.clear()
        what = f"{where}: emptied the list"
    elif op == "append-item":
        value = _hostile_json_value(rng, target[0] if target else None)
        nonfinite = _is_nonfinite(value)
        target.append(value)
        what = f"{where}: appended {_short(value)}"
    elif op == "to-list":
        doc = _json_set(doc, at, list(target.values()))
        what = f"{where}: dict -> list"
    else:
        doc = _json_set(doc, at, {str(i): v for i, v in enumerate(target)})
        what = f"{where}: list -> dict"
    path.write_text(json.dumps(doc, indent=1))
    return Mutation(f"json: {what}", nonfinite=nonfinite)


def _json_set(doc: Any, at: tuple, value: Any) -> Any:
    """Put `value` at path `at`; returns the (possibly new) root."""
    if not at:
        return value
    _json_get(doc, at[:-1])[at[-1]] = value
    return doc


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:30]}...({len(text)} chars)"


# ----------------------------------------------------------------------------- numpy arrays

def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in data.files}


def _array_edit(array: np.ndarray, rng: random.Random) -> tuple[np.ndarray, str, bool]:
    """A hostile edit of one array: dtype, non-finite or huge values, shape, truncation, empty."""
    nprng = np.random.default_rng(rng.getrandbits(64))
    op = rng.choice(["dtype", "nonfinite", "nonfinite", "huge", "negative", "shape", "transpose",
                     "truncate", "empty", "scalar", "grow", "strings", "object", "fraction"])
    if op == "dtype":
        dtype = rng.choice(["float16", "float64", "int8", "int16", "int32", "int64", "uint8", "uint64",
                            "bool", "complex64", ">f4", ">i8"])
        return array.astype(dtype), f"dtype {array.dtype} -> {dtype}", False
    if op == "nonfinite":
        out = array.astype(np.float32 if array.dtype.itemsize <= 4 else np.float64).copy()
        if out.size == 0:
            return np.array([math.nan], np.float32), "empty array -> [nan]", True
        value = rng.choice(NONFINITE)
        flat = out.reshape(-1)
        if rng.random() < 0.3:
            flat[:] = value
            return out, f"all values -> {value}", True
        where = nprng.integers(0, flat.size, rng.choice([1, 3]))
        flat[where] = value
        return out, f"{len(where)} value(s) -> {value}", True
    if op in ("huge", "negative", "fraction"):
        out = array.copy()
        if out.size == 0 or out.dtype.kind not in "biufc":
            return array.astype(np.float64) * 1e30, "values * 1e30", False
        if op == "huge":
            value = (np.iinfo(out.dtype).max if out.dtype.kind in "iu" else
                     rng.choice([1e30, -1e30, 3.4e38, 65504.0]))
        else:
            value = -1 if op == "negative" else 0.5
            out = out.astype(np.float64) if op == "fraction" else out
        flat = out.reshape(-1)
        with np.errstate(all="ignore"):
            flat[nprng.integers(0, flat.size, rng.choice([1, flat.size]))] = value
        return out, f"some values -> {value}", False
    if op == "shape":
        shapes = [(-1,), (1, *array.shape), (*array.shape, 1), array.shape[::-1]]
        if array.size and array.ndim >= 2:
            shapes.append((array.shape[0] * array.shape[1], *array.shape[2:]))
        shape = rng.choice(shapes)
        try:
            return array.reshape(shape), f"shape {array.shape} -> reshaped {shape}", False
        except ValueError:
            return array.reshape(-1), f"shape {array.shape} -> flat", False
    if op == "transpose":
        if array.ndim < 2:
            return array.reshape(1, -1), f"shape {array.shape} -> (1, n)", False
        axes = list(range(array.ndim))
        i, j = rng.sample(axes, 2)
        axes[i], axes[j] = axes[j], axes[i]
        return array.transpose(axes).copy(), f"axes {i} and {j} swapped", False
    if op == "truncate":
        flat = array.reshape(-1)
        keep = rng.randrange(max(flat.size, 1))
        return flat[:keep].copy(), f"truncated to {keep} of {flat.size} values", False
    if op == "empty":
        axis = rng.randrange(array.ndim) if array.ndim else 0
        return (np.take(array, [], axis=axis) if array.ndim else np.zeros(0, array.dtype),
                f"emptied along axis {axis}", False)
    if op == "scalar":
        return (array.reshape(-1)[:1].reshape(()) if array.size else np.zeros(())), "0-d scalar", False
    if op == "grow":
        axis = rng.randrange(array.ndim) if array.ndim else 0
        reps = rng.choice([2, 3, 50])
        grown = np.repeat(array, reps, axis=axis) if array.ndim else np.full(reps, array)
        return grown, f"repeated x{reps} along axis {axis}", False
    if op == "strings":
        return array.astype(str), f"dtype {array.dtype} -> str", False
    out = np.empty(array.shape, dtype=object)
    out[...] = array.tolist() if array.ndim else array.item()
    return out, "object dtype (pickled)", False


def _npy_header_edit(path: Path, rng: random.Random) -> Mutation:
    """Rewrite the header dict of one .npy member of an .npz (shape, dtype, order) in place."""
    with zipfile.ZipFile(path) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    npys = [i for i, (info, _) in enumerate(members) if info.filename.endswith(".npy")]
    if not npys:
        return mutate_bytes(path, rng)
    index = rng.choice(npys)
    info, raw = members[index]
    major = raw[6]
    size_bytes = 2 if major == 1 else 4
    start = 8 + size_bytes
    length = int.from_bytes(raw[8:start], "little")
    header = raw[start:start + length].decode("latin1")
    edits = [
        (r"'shape': \([^)]*\)", rng.choice(["'shape': (4000000000, 4000000000)", "'shape': (-1,)",
                                            "'shape': (0,)", "'shape': (99999999999,)",
                                            "'shape': ()", "'shape': (3, 1000000)"])),
        (r"'descr': '[^']*'", rng.choice(["'descr': '|O'", "'descr': '<f8'", "'descr': '>f4'",
                                          "'descr': '<U9'", "'descr': 'garbage'", "'descr': '<c16'",
                                          "'descr': '<V1000000000'"])),
        (r"'fortran_order': \w+", "'fortran_order': True"),
    ]
    pattern, replacement = rng.choice(edits)
    new = re.sub(pattern, replacement, header, count=1).rstrip()
    new += " " * (-(start + len(new) + 1) % 64) + "\n"
    raw = raw[:8] + len(new).to_bytes(size_bytes, "little") + new.encode("latin1") + raw[
        start + length:]
    members[index] = (info, raw)
    _rewrite_zip(path, members)
    return Mutation(f"npz: {info.filename} header {replacement}", raw=True)


def _rewrite_zip(path: Path, members: list[tuple[zipfile.ZipInfo, bytes]]) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for info, raw in members:
            zf.writestr(info.filename, raw)
    path.write_bytes(buffer.getvalue())


def mutate_npz(path: Path, rng: random.Random) -> Mutation:
    """Per-array edits (dtype incl. NaN/inf, object/pickled arrays, shape, truncation, huge values,
    empty arrays), extra/missing/renamed arrays, npy header edits, zip damage."""
    arrays = _read_arrays(path)
    op = rng.choice(["array", "array", "array", "array", "extra", "missing", "rename", "labels",
                     "header", "compressed", "zip-bytes"])
    if op == "header":
        return _npy_header_edit(path, rng)
    if op == "zip-bytes":
        return Mutation("npz: " + mutate_bytes(path, rng).description, raw=True)
    names = sorted(arrays)
    nonfinite = False
    if op == "array" and names:
        name = rng.choice(names)
        arrays[name], what, nonfinite = _array_edit(arrays[name], rng)
        what = f"{name}: {what}"
    elif op == "labels" and "y" in arrays:
        y = arrays["y"]
        choice = rng.choice(["one-hot", "negative", "out-of-range", "float", "nan", "fewer"])
        if choice == "one-hot":
            arrays["y"] = np.eye(max(int(y.max()) + 1, 2), dtype=np.float32)[y]
        elif choice == "negative":
            arrays["y"] = -1 - y
        elif choice == "out-of-range":
            arrays["y"] = y + 1000
        elif choice in ("float", "nan"):
            arrays["y"] = y + (0.5 if choice == "float" else math.nan)
            nonfinite = choice == "nan"
        else:
            arrays["y"] = y[:-1]
        what = f"y: {choice} labels"
    elif op == "missing" and names:
        name = rng.choice(names)
        del arrays[name]
        what = f"deleted array {name}"
    elif op == "rename" and names:
        name = rng.choice(names)
        new_name = rng.choice([name.upper(), name + "_", "data"])
        arrays[new_name] = arrays.pop(name)
        what = f"renamed array {name} -> {new_name}"
    elif op == "compressed":
        np.savez_compressed(path, **arrays)
        return Mutation("npz: rewritten with savez_compressed (valid)")
    else:
        name = rng.choice(["z", "x_extra", "y" if "y" not in arrays else "w", "arr_0"])
        source = arrays[rng.choice(names)] if names else np.zeros(3)
        arrays[name], what, nonfinite = _array_edit(source, rng)
        what = f"added array {name} ({what})"
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return Mutation(f"npz: {what}", nonfinite=nonfinite)


# ----------------------------------------------------------------------------- HDF5 (NIR, netx)

def _hdf5_value_edit(value: Any, strings: list[bytes], rng: random.Random
                     ) -> tuple[Any, str, bool]:
    """A hostile replacement for one HDF5 dataset's value."""
    array = np.asarray(value)
    if array.dtype.kind in "OSU":
        choice = rng.choice(["string", "string", "number", "empty", "long", "shape"])
        if choice == "string":
            new = rng.choice([*strings, *(t.encode() for t in NIR_TYPES)]) if strings else b"Mystery"
            if array.ndim:
                out = array.astype(object).copy()
                out.reshape(-1)[rng.randrange(out.size)] = new
                return out.astype(bytes), f"an element -> {new[:20]!r}", False
            return np.bytes_(new), f"-> {new[:20]!r}", False
        if choice == "number":
            number = rng.choice([0, 1, -1, 3.5, math.nan])
            return np.asarray(number), f"string -> number {number}", _is_nonfinite(number)
        if choice == "long":
            return np.bytes_(LONG_STRING.encode()), "-> a 100 kB string", False
        if choice == "shape" and array.ndim:
            return array.reshape(-1)[:max(array.size - 1, 0)].astype(bytes), "dropped an element", False
        return np.bytes_(b""), "-> empty string", False
    if array.dtype.kind not in "biufc":
        return np.asarray(0), "-> 0", False
    edit, what, nonfinite = _array_edit(array, rng)
    if edit.dtype == object:  # h5py cannot store pickled objects; use strings instead
        return np.asarray(b"1.0"), "number -> string b'1.0'", False
    return edit, what, nonfinite


def mutate_hdf5(path: Path, rng: random.Random) -> Mutation:
    """Edits through h5py: delete or replace datasets and groups, change dtypes, shapes and values
    (NaN/inf, huge, strings where numbers are expected), swap datasets, add and rename members."""
    import h5py

    with h5py.File(path, "r+") as f:
        datasets: list[str] = []
        groups: list[str] = []
        f.visititems(lambda name, obj: (datasets if isinstance(obj, h5py.Dataset) else groups
                                        ).append(name))
        strings = sorted({bytes(v) for name in datasets for v in np.asarray(f[name][()]).reshape(-1)
                          if isinstance(v, bytes | np.bytes_)} | {n.rsplit("/", 1)[-1].encode()
                                                                  for n in groups})
        op = rng.choice(["value", "value", "value", "value", "delete", "delete-group", "swap",
                         "rename", "add"])
        if op == "delete-group" and groups:
            name = rng.choice(groups)
            if name in f:
                del f[name]
            return Mutation(f"hdf5: deleted group {name}")
        if op == "swap" and len(datasets) > 1:
            a, b = rng.sample(datasets, 2)
            va, vb = f[a][()], f[b][()]
            del f[a], f[b]
            f[a], f[b] = vb, va
            return Mutation(f"hdf5: swapped {a} and {b}")
        if op == "rename" and datasets:
            name = rng.choice(datasets)
            f.move(name, name + rng.choice(["_", "X"]))
            return Mutation(f"hdf5: renamed {name}")
        if op == "add":
            parent = rng.choice(["", *groups])
            key = f"{parent}/{rng.choice(['extra', '99', 'type', 'weight', 'zz'])}".lstrip("/")
            if key in f:
                key += "_new"
            if rng.random() < 0.5:
                f.create_group(key)
                return Mutation(f"hdf5: added group {key}")
            value = rng.choice([np.float32(math.nan), np.arange(3), np.bytes_(b"LIF")])
            f[key] = value
            return Mutation(f"hdf5: added dataset {key} = {value!r}",
                            nonfinite=isinstance(value, np.floating))
        if not datasets:
            return mutate_bytes(path, rng)
        name = rng.choice(datasets)
        if op == "delete":
            del f[name]
            return Mutation(f"hdf5: deleted dataset {name}")
        value, what, nonfinite = _hdf5_value_edit(f[name][()], strings, rng)
        del f[name]
        try:
            f[name] = value
        except (TypeError, ValueError):
            f[name] = np.asarray(value).astype(bytes) if np.asarray(value).dtype.kind == "U" else 0
            what += " (stored as bytes)"
        return Mutation(f"hdf5: {name}: {what}", nonfinite=nonfinite)


# ----------------------------------------------------------------------------- ONNX

ONNX_OPS = ("Gemm", "Relu", "MatMul", "Add", "Conv", "Flatten", "Reshape", "AveragePool",
            "BatchNormalization", "Sigmoid", "Identity", "Softmax", "MaxPool", "Mul", "Loop", "Mystery")


def mutate_onnx(path: Path, rng: random.Random) -> Mutation:
    """Edits through the onnx API: nodes (op type, deletion, duplication, inputs), attributes,
    initializers (values incl. NaN/inf, dims, data types), graph inputs, opset and IR versions."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    nodes, inits = list(graph.node), list(graph.initializer)
    op = rng.choice(["op-type", "delete-node", "dup-node", "node-input", "attribute", "attribute",
                     "init-values", "init-values", "init-dims", "init-dtype", "init-delete",
                     "graph-input", "opset", "ir-version"])
    nonfinite = False
    if op == "op-type" and nodes:
        node = rng.choice(nodes)
        old, node.op_type = node.op_type, rng.choice(ONNX_OPS)
        what = f"node {node.name}: {old} -> {node.op_type}"
    elif op == "delete-node" and nodes:
        node = rng.choice(nodes)
        graph.node.remove(node)
        what = f"deleted node {node.name} ({node.op_type})"
    elif op == "dup-node" and nodes:
        node = rng.choice(nodes)
        graph.node.insert(rng.randrange(len(nodes) + 1), node)
        what = f"duplicated node {node.name}"
    elif op == "node-input" and nodes:
        node = rng.choice(nodes)
        if len(node.input) > 1 and rng.random() < 0.5:
            node.input[0], node.input[1] = node.input[1], node.input[0]
            what = f"node {node.name}: swapped inputs"
        elif node.input:
            node.input[rng.randrange(len(node.input))] = rng.choice(["missing", node.output[0]])
            what = f"node {node.name}: rewired an input"
        else:
            node.input.append("x")
            what = f"node {node.name}: added an input"
    elif op == "attribute" and any(n.attribute for n in nodes):
        node = rng.choice([n for n in nodes if n.attribute])
        attribute = rng.choice(list(node.attribute))
        choice = rng.choice(["value", "value", "delete", "add"])
        if choice == "delete":
            node.attribute.remove(attribute)
            what = f"node {node.name}: deleted attribute {attribute.name}"
        elif choice == "add":
            node.attribute.append(helper.make_attribute(rng.choice(["axis", "group", "pads", "alpha"]),
                                                        rng.choice([0, -1, 7, [0, 0, 9, 9]])))
            what = f"node {node.name}: added an attribute"
        else:
            if attribute.type == onnx.AttributeProto.FLOAT:
                attribute.f = _hostile_float(rng)
                nonfinite = not math.isfinite(attribute.f)
                value = attribute.f
            elif attribute.type == onnx.AttributeProto.INT:
                attribute.i = value = rng.choice([0, -1, 2, 7, 2**31 - 1, -(2**62)])
            elif attribute.type == onnx.AttributeProto.INTS:
                value = rng.choice([[], [0], [0, 0], [-1, -1, -1, -1], [2**31 - 1] * 4,
                                    [*attribute.ints, 1]])
                del attribute.ints[:]
                attribute.ints.extend(value)
            else:
                value = "(unchanged type)"
            what = f"node {node.name}: {attribute.name} = {value}"
    elif op.startswith("init") and inits:
        init = rng.choice(inits)
        if op == "init-values":
            array = numpy_helper.to_array(init)
            edit, change, nonfinite = _array_edit(array, rng)
            if edit.dtype.kind not in "biuf":
                edit = array * 1e30
            init.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(edit), init.name))
            what = f"initializer {init.name}: {change}"
        elif op == "init-dims":
            dims = rng.choice([[], [0], [1], [10**9], [-1], [*init.dims, 1], list(init.dims[::-1])])
            del init.dims[:]
            init.dims.extend(dims)
            what = f"initializer {init.name}: dims -> {dims} (data unchanged)"
        elif op == "init-dtype":
            init.data_type = rng.choice([TensorProto.INT64, TensorProto.DOUBLE, TensorProto.STRING,
                                         TensorProto.FLOAT16, TensorProto.UINT8, 999])
            what = f"initializer {init.name}: data_type -> {init.data_type} (data unchanged)"
        else:
            graph.initializer.remove(init)
            what = f"deleted initializer {init.name}"
    elif op == "graph-input" and graph.input:
        value_info = graph.input[0]
        dims = value_info.type.tensor_type.shape.dim
        if dims and rng.random() < 0.7:
            dim = dims[rng.randrange(len(dims))]
            dim.dim_value = rng.choice([0, 1, 3, 10**9])
            what = f"graph input: a dim -> {dim.dim_value}"
        else:
            value_info.type.tensor_type.elem_type = rng.choice([TensorProto.INT8, TensorProto.STRING,
                                                               TensorProto.DOUBLE])
            what = f"graph input: elem_type -> {value_info.type.tensor_type.elem_type}"
    elif op == "opset" and model.opset_import:
        model.opset_import[0].version = rng.choice([1, 7, 11, 99, 10**6])
        what = f"opset -> {model.opset_import[0].version}"
    else:
        model.ir_version = rng.choice([1, 3, 99])
        what = f"ir_version -> {model.ir_version}"
    path.write_bytes(model.SerializeToString())
    return Mutation(f"onnx: {what}", nonfinite=nonfinite)


# ----------------------------------------------------------------------------- torch zip + pickle

def _encode_int(value: int) -> bytes:
    if 0 <= value < 256:
        return pickle.BININT1 + bytes([value])
    if 0 <= value < 65536:
        return pickle.BININT2 + struct.pack("<H", value)
    if -(2**31) <= value < 2**31:
        return pickle.BININT + struct.pack("<i", value)
    encoded = pickle.encode_long(value)
    return pickle.LONG1 + bytes([len(encoded)]) + encoded


def _encode_str(value: str) -> bytes:
    raw = value.encode("utf-8", "surrogatepass")
    return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


GLOBALS = ("torch.nn.modules.linear Linear", "torch.nn.modules.rnn GRU", "neurodeploy.nn.iaf IAF",
           "neurodeploy.nn.lif LIF", "neurodeploy.nn.src SRC", "neurodeploy.nn.snu SNU",
           "torch.nn.modules.container Sequential", "torch.nn.modules.conv Conv2d",
           "torch.nn.modules.linear Bilinear", "builtins eval", "posix system",
           "collections OrderedDict", "torch._utils _rebuild_parameter", "torch FloatStorage",
           "torch DoubleStorage", "torch LongStorage", "torch HalfStorage", "nowhere Nothing")


def _mutate_pickle(raw: bytes, rng: random.Random) -> tuple[bytes, str, bool]:
    """Edit one opcode of a pickle stream: its argument (ints, strings, floats, globals),
    or delete, duplicate or swap opcodes; the rest of the stream is kept byte for byte."""
    ops = list(pickletools.genops(raw))
    spans = [(op, arg, pos, ops[i + 1][2] if i + 1 < len(ops) else len(raw))
             for i, (op, arg, pos) in enumerate(ops)]
    kinds = {"int": [s for s in spans if s[0].name in ("BININT", "BININT1", "BININT2", "LONG1")],
             "str": [s for s in spans if s[0].name in ("BINUNICODE", "SHORT_BINUNICODE")],
             "float": [s for s in spans if s[0].name == "BINFLOAT"],
             "global": [s for s in spans if s[0].name == "GLOBAL"]}
    choice = rng.choice(["int", "int", "int", "str", "float", "global", "delete", "duplicate",
                         "swap"])
    nonfinite = False
    if choice in kinds and kinds[choice]:
        op, arg, start, end = rng.choice(kinds[choice])
        if choice == "int":
            value = rng.choice([*HOSTILE_INTS, arg + 1, arg - 1, -arg, arg * 1000])
            new, what = _encode_int(value), f"int {arg} -> {value}"
        elif choice == "str":
            value = rng.choice([arg + "_", arg.upper(), "", "99", "weight", "bias", "_parameters",
                                "cuda", "storage", LONG_STRING[:5000]])
            new, what = _encode_str(value), f"string {arg[:20]!r} -> {value[:20]!r}"
        elif choice == "float":
            value = _hostile_float(rng)
            nonfinite = not math.isfinite(value)
            new, what = pickle.BINFLOAT + struct.pack(">d", value), f"float {arg} -> {value}"
        else:
            module, name = rng.choice(GLOBALS).split()
            new, what = f"c{module}\n{name}\n".encode(), f"global {arg} -> {module}.{name}"
        return raw[:start] + new + raw[end:], what, nonfinite
    body = [s for s in spans if s[0].name not in ("PROTO", "STOP")]
    op, arg, start, end = rng.choice(body)
    if choice == "swap":
        index = spans.index((op, arg, start, end))
        if index + 1 < len(spans) - 1:
            _, _, s2, e2 = spans[index + 1]
            return (raw[:start] + raw[s2:e2] + raw[start:end] + raw[e2:],
                    f"swapped opcodes {op.name} and {spans[index + 1][0].name} at {start}", False)
    if choice == "duplicate":
        return raw[:end] + raw[start:end] + raw[end:], f"duplicated opcode {op.name} at {start}", False
    return raw[:start] + raw[end:], f"deleted opcode {op.name} at {start}", False


def mutate_torch(path: Path, rng: random.Random) -> Mutation:
    """A torch zip: pickle opcode edits of data.pkl, or tensor storage edits (NaN/inf, huge
    values, wrong sizes), or a record deleted."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = [(info, zf.read(info)) for info in zf.infolist()]
    except zipfile.BadZipFile:
        return mutate_bytes(path, rng)
    pickles = [i for i, (info, _) in enumerate(members) if info.filename.endswith("data.pkl")]
    storages = [i for i, (info, _) in enumerate(members) if "/data/" in info.filename]
    op = rng.choice(["pickle", "pickle", "pickle", "storage", "storage", "storage-size", "record"])
    nonfinite = False
    if op == "pickle" and pickles:
        index = pickles[0]
        raw, what, nonfinite = _mutate_pickle(members[index][1], rng)
    elif op.startswith("storage") and storages:
        index = rng.choice(storages)
        raw = members[index][1]
        if op == "storage-size":
            raw = rng.choice([raw[:len(raw) // 2], raw + raw, b""])
            what = f"storage resized to {len(raw)} bytes"
        elif len(raw) % 4 == 0 and raw:
            values = np.frombuffer(raw, np.float32).copy()
            value = rng.choice([*NONFINITE, 1e30, -1e30, 0.0, -1.0])
            count = rng.choice([1, values.size])
            values[np.random.default_rng(rng.getrandbits(32)).integers(0, values.size, count)] = value
            raw, nonfinite = values.tobytes(), _is_nonfinite(value)
            what = f"{count} float32 value(s) of the storage -> {value}"
        else:
            raw, what = raw[::-1], "storage bytes reversed"
        what = f"{members[index][0].filename}: {what}"
    else:
        index = rng.randrange(len(members))
        what = f"deleted record {members.pop(index)[0].filename}"
        _rewrite_zip(path, members)
        return Mutation(f"pt: {what}")
    members[index] = (members[index][0], raw)
    _rewrite_zip(path, members)
    return Mutation(f"pt: {what}", nonfinite=nonfinite)


# ----------------------------------------------------------------------------- dispatch

STRUCTURAL: dict[str, Callable[[Path, random.Random], Mutation]] = {
    ".json": mutate_json, ".npz": mutate_npz, ".nir": mutate_hdf5, ".net": mutate_hdf5,
    ".h5": mutate_hdf5, ".onnx": mutate_onnx, ".pt": mutate_torch, ".pth": mutate_torch,
    ".v": mutate_text, ".mem": mutate_text, ".md": mutate_text, ".txt": mutate_text,
}


def mutate_path(path: Path, rng: random.Random, structural: float = 0.75) -> Mutation:
    """Mutate one file: a structural mutation for its type with probability `structural`,
    otherwise byte-level damage. A failing structural mutator falls back to bytes."""
    mutator = STRUCTURAL.get(path.suffix.lower())
    if mutator is not None and rng.random() < structural:
        state = rng.getstate()
        try:
            return mutator(path, rng)
        except Exception as exc:  # a mutator's own limit (e.g. h5py refusing a value)
            rng.setstate(state)
            return Mutation(f"({type(exc).__name__} in {mutator.__name__}) ").then(
                mutate_bytes(path, rng))
    return mutate_bytes(path, rng)


def mutate_directory(directory: Path, rng: random.Random, donors: list[Path]) -> Mutation:
    """Mutate an artifact directory: one file (any kind, the manifest included), delete a file or
    a subdirectory, add a file, or replace a file by the same-named file of another directory."""
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    op = rng.choice(["file"] * 6 + ["delete", "delete-dir", "add", "splice", "file-to-dir"])
    if op == "file" or not files:
        target = rng.choice(files)
        inner = mutate_path(target, rng)
        return Mutation(f"{target.relative_to(directory)}: {inner.description}", inner.nonfinite,
                        inner.touched_existing, inner.raw)
    if op == "delete":
        target = rng.choice(files)
        target.unlink()
        return Mutation(f"dir: deleted {target.relative_to(directory)}")
    if op == "delete-dir":
        subdirs = sorted(p for p in directory.rglob("*") if p.is_dir())
        if subdirs:
            target = rng.choice(subdirs)
            shutil.rmtree(target)
            return Mutation(f"dir: deleted {target.relative_to(directory)}/")
        target = rng.choice(files)
        target.unlink()
        return Mutation(f"dir: deleted {target.relative_to(directory)}")
    if op == "add":
        parent = rng.choice([directory, *sorted(p for p in directory.rglob("*") if p.is_dir())])
        source = rng.choice(files)
        name = rng.choice(["extra.bin", "program.json.bak", "zz.mem", "evil.v", source.name + "~"])
        (parent / name).write_bytes(rng.choice([source.read_bytes(), rng.randbytes(64), b""]))
        return Mutation(f"dir: added {(parent / name).relative_to(directory)}",
                        touched_existing=(parent / name) in files)
    if op == "file-to-dir":
        target = rng.choice(files)
        target.unlink()
        target.mkdir()
        return Mutation(f"dir: replaced {target.relative_to(directory)} by a directory")
    spliceable = [(f, d / f.relative_to(directory)) for d in donors for f in files
                  if (d / f.relative_to(directory)).is_file()
                  and (d / f.relative_to(directory)).read_bytes() != f.read_bytes()]
    if not spliceable:
        return mutate_directory(directory, rng, [])
    target, donor = rng.choice(spliceable)
    shutil.copyfile(donor, target)
    return Mutation(f"dir: {target.relative_to(directory)} replaced by {donor.parent.name}'s")
