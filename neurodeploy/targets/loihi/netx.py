"""netx HDF5 files (`model.net`): write a Loihi Program, and rebuild a Program from the file alone.

Layout (what lava-dl's `netx.hdf5.Network` reads; ../shared/specs/loihi.md):
/layer/0: type b'input', shape; then per weighted layer /layer/i: type b'dense' or b'conv',
shape (torch order), weight in the units of vThMant and bias (integer-valued), bias (mantissa,
exponent 6; one per channel on conv layers, the only conv bias lava-dl builds),
neuron/{type b'CUBA', iDecay = du + 1, vDecay = dv, vThMant}; conv layers add stride, padding,
dilation, groups; a flatten between conv and dense is a b'flatten' layer.
Two datasets netx ignores carry what our reader needs beyond the chip: neuron/readout (a
compartment whose voltage is the output) and neuron/outputScale (real value of one voltage unit).
HDF5 attributes, which netx never reads, keep the Program's node names: `node` on every layer
group (the neuron node, or the flatten node), `synapse` on dense and conv layers (the weighted
node). Files without them (lava-dl's own) get names from the layer numbers.

Reading validates every dataset before use: types, shapes against each other, integer-valued
finite weights within 16 bits (never wrapped), decays, thresholds and biases within their fields.
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np

from neurodeploy.errors import InvalidFileError
from neurodeploy.ir.graph import INPUT, Edge
from neurodeploy.program.graph import MAX_NODE_SIZE, InputFormat, Program
from neurodeploy.program.node import ProgramNode
from neurodeploy.program.synapses import Conv2d, Dense, Flatten
from neurodeploy.targets.loihi.nodes import Cuba
from neurodeploy.targets.loihi.spec import LoihiSpec

MAX_LAYERS = 1000
MAX_NAME = 100
WEIGHT_LIMIT = 1 << 15


def _type(group: h5py.Group, name: str) -> None:
    group.create_dataset("type", data=np.array([name.encode()], dtype="S10"))


def _first(values: np.ndarray) -> np.int64:
    return np.int64(np.asarray(values).reshape(-1)[0])


def _stages(program: Program) -> list[tuple[list[str], str]]:
    """(synaptic nodes, the Cuba node they feed) in order: a Loihi Program is a chain."""
    stages, pending = [], []
    for name in program.order:
        if isinstance(program.nodes[name], Cuba):
            stages.append((pending, name))
            pending = []
        else:
            pending.append(name)
    return stages


def _bias_layout(bias: np.ndarray, op: ProgramNode) -> np.ndarray:
    """A conv layer's bias per channel when it is uniform over each channel (lava-dl refuses
    per-neuron conv biases), else per neuron."""
    per_channel = bias.reshape(bias.shape[0], -1)
    if isinstance(op, Conv2d) and np.all(per_channel == per_channel[:, :1]):
        return per_channel[:, 0]
    return bias.reshape(-1)


def write_netx(program: Program, path: str | Path) -> None:
    """Write `program` (target loihi) as a netx HDF5 file."""
    with h5py.File(path, "w", track_order=True) as f:
        layers = f.create_group("layer", track_order=True)
        entry = layers.create_group("0")
        _type(entry, "input")
        entry.create_dataset("shape", data=np.array(program.input.shape, np.int64))
        index = 0
        for synapses, name in _stages(program):
            cuba: Cuba = program.nodes[name]
            for op_name in synapses:
                op = program.nodes[op_name]
                index += 1
                entry = layers.create_group(str(index), track_order=True)
                entry.attrs["node"] = op_name if isinstance(op, Flatten) else name
                if isinstance(op, Flatten):
                    _type(entry, "flatten")
                    entry.create_dataset("shape", data=np.array(program.shapes[op_name], np.int64))
                    continue
                entry.attrs["synapse"] = op_name
                _type(entry, "dense" if isinstance(op, Dense) else "conv")
                entry.create_dataset("shape", data=np.array(program.shapes[name], np.int64))
                entry.create_dataset("weight", data=op.weight.astype(np.float64))
                bias = cuba.bias >> cuba.bias_exponent
                if np.any(bias):
                    entry.create_dataset("bias", data=_bias_layout(bias, op).astype(np.float64))
                if isinstance(op, Conv2d):
                    for field in ("stride", "padding", "dilation"):
                        entry.create_dataset(field, data=np.array(getattr(op, field), np.int64))
                    entry.create_dataset("groups", data=np.int64(op.groups))
                neuron = entry.create_group("neuron", track_order=True)
                _type(neuron, "CUBA")
                neuron.create_dataset("iDecay", data=_first(cuba.du) + 1)
                neuron.create_dataset("vDecay", data=_first(cuba.dv))
                neuron.create_dataset("vThMant", data=_first(cuba.vth))
                neuron.create_dataset("readout", data=np.int64(cuba.readout))
                neuron.create_dataset("outputScale", data=np.float64(cuba.output_scale))


# ----------------------------------------------------------------------------- reading


class _Bad(ValueError):
    """A dataset that does not hold what netx needs."""


def _text(group: h5py.Group, name: str, where: str) -> str:
    if name not in group or not isinstance(group[name], h5py.Dataset):
        raise _Bad(f"{where}: dataset '{name}' is missing")
    value = group[name][()]
    value = np.asarray(value).reshape(-1)
    if value.size != 1 or not isinstance(value[0], bytes | str):
        raise _Bad(f"{where}/{name} must be one string")
    return value[0].decode(errors="replace") if isinstance(value[0], bytes) else str(value[0])


def _numbers(group: h5py.Group, name: str, where: str, size_limit: int = MAX_NODE_SIZE
             ) -> np.ndarray:
    if name not in group or not isinstance(group[name], h5py.Dataset):
        raise _Bad(f"{where}: dataset '{name}' is missing")
    dataset = group[name]
    if dataset.dtype.kind not in "iuf" or dataset.size > size_limit:
        raise _Bad(f"{where}/{name} must hold at most {size_limit:,} numbers")
    values = np.asarray(dataset[()], dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise _Bad(f"{where}/{name} holds NaN or infinity")
    return values


def _integers(group: h5py.Group, name: str, where: str, lo: float, hi: float,
              size_limit: int = MAX_NODE_SIZE) -> np.ndarray:
    values = _numbers(group, name, where, size_limit)
    if np.any(values != np.round(values)):
        raise _Bad(f"{where}/{name} must hold integers")
    if values.size and (values.min() < lo or values.max() > hi):
        raise _Bad(f"{where}/{name} holds {values.min():.0f}..{values.max():.0f}, outside "
                   f"{lo:.0f}..{hi:.0f}")
    return values.astype(np.int64)


def _scalar(group: h5py.Group, name: str, where: str, lo: int, hi: int) -> int:
    values = _integers(group, name, where, lo, hi, size_limit=1 << 26)
    if values.size == 0 or np.any(values != values.reshape(-1)[0]):
        raise _Bad(f"{where}/{name} must be one value (netx stores one per layer)")
    return int(values.reshape(-1)[0])


def _shape(group: h5py.Group, where: str) -> tuple[int, ...]:
    shape = tuple(int(d) for d in _integers(group, "shape", where, 1, MAX_NODE_SIZE, 8).reshape(-1))
    if not 1 <= len(shape) <= 3 or math.prod(shape) > MAX_NODE_SIZE:
        raise _Bad(f"{where}/shape {shape} is not a neuron shape")
    return shape


def _name(group: h5py.Group, key: str, where: str, default: str) -> str:
    """The node name in attribute `key` of a layer group, or `default` when there is none."""
    if key not in group.attrs:
        return default
    value = group.attrs[key]
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if not (isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.isprintable()):
        raise _Bad(f"{where}: attribute '{key}' must be a node name (1 to {MAX_NAME} printable "
                   "characters)")
    return value


def _weighted_layer(group: h5py.Group, kind: str, where: str) -> ProgramNode:
    weight = _integers(group, "weight", where, -WEIGHT_LIMIT, WEIGHT_LIMIT - 1)
    dtype = np.int8 if weight.size == 0 or np.abs(weight).max() <= 127 else np.int16
    if kind == "dense":
        if weight.ndim != 2:
            raise _Bad(f"{where}/weight must be (out, in), got {weight.shape}")
        return Dense(weight.astype(dtype))
    if weight.ndim != 4:
        raise _Bad(f"{where}/weight must be (out, in, kH, kW), got {weight.shape}")
    pairs = [tuple(int(v) for v in _integers(group, field, where, 0, 1 << 12, 2).reshape(-1))
             for field in ("stride", "padding", "dilation")]
    if any(len(p) != 2 for p in pairs):
        raise _Bad(f"{where}: stride, padding and dilation need two values each")
    return Conv2d(weight.astype(dtype), *pairs, _scalar(group, "groups", where, 1, 1 << 16))


def _neuron(group: h5py.Group, shape: tuple[int, ...], where: str, spec: LoihiSpec) -> Cuba:
    if "neuron" not in group or not isinstance(group["neuron"], h5py.Group):
        raise _Bad(f"{where}: group 'neuron' is missing")
    neuron = group["neuron"]
    where = f"{where}/neuron"
    if (kind := _text(neuron, "type", where)) != "CUBA":
        raise _Bad(f"{where}: neuron type '{kind[:20]}' is not supported (CUBA only)")
    size = math.prod(shape)
    bias = np.zeros(shape, np.int64)
    if "bias" in group:
        limit = 1 << (spec.bias_mantissa_bits - 1)
        values = _integers(group, "bias", where.rsplit("/", 1)[0], -limit, limit - 1)
        if len(shape) == 3 and values.size == shape[0]:  # per channel (lava-dl's conv bias)
            values = np.repeat(values.reshape(-1), size // shape[0])
        if values.size != size:
            raise _Bad(f"{where}: bias has {values.size} values for {size} neurons")
        bias = values.reshape(shape)
    readout = _scalar(neuron, "readout", where, 0, 1) if "readout" in neuron else 0
    scale = 1.0
    if "outputScale" in neuron:
        values = _numbers(neuron, "outputScale", where, 1).reshape(-1)
        if values.size != 1:
            raise _Bad(f"{where}/outputScale must be one number")
        scale = float(values[0])
        if not scale > 0:
            raise _Bad(f"{where}/outputScale must be positive")
    full = lambda value: np.full(shape, value, np.int64)  # noqa: E731
    return Cuba(full(_scalar(neuron, "iDecay", where, 1, 4096) - 1),
                full(_scalar(neuron, "vDecay", where, 0, 4096)),
                bias << spec.bias_exponent,
                full(_scalar(neuron, "vThMant", where, 0, (1 << spec.threshold_mantissa_bits) - 1)),
                bool(readout), spec.bias_exponent, np.full(shape, scale if readout else 1.0))


def _read(f: h5py.File, spec: LoihiSpec) -> Program:
    if "layer" not in f or not isinstance(f["layer"], h5py.Group):
        raise _Bad("no 'layer' group")
    keys = list(f["layer"])
    if not keys or len(keys) > MAX_LAYERS or not all(k.isdigit() for k in keys):
        raise _Bad(f"layers must be groups named 0..N (at most {MAX_LAYERS})")
    groups = [f["layer"][key] for key in sorted(keys, key=int)]
    if _text(groups[0], "type", "layer/0") != "input":
        raise _Bad("layer 0 is not an input layer")
    input_shape = _shape(groups[0], "layer/0")
    nodes: dict[str, ProgramNode] = {}
    edges: list[Edge] = []
    previous, number = INPUT, 0
    for number, group in enumerate(groups[1:], start=1):
        where = f"layer/{number}"
        kind = _text(group, "type", where)
        name = _name(group, "node", where, str(number))
        if name in nodes:
            raise _Bad(f"{where}: node name '{name}' is used twice")
        if kind == "flatten":
            nodes[name] = Flatten()
            edges.append(Edge(previous, name))
        elif kind in ("dense", "conv"):
            shape = _shape(group, where)
            synapse = _name(group, "synapse", where, f"{number}.synapse")
            if synapse in nodes or synapse == name:
                raise _Bad(f"{where}: node name '{synapse}' is used twice")
            nodes[synapse] = _weighted_layer(group, kind, where)
            nodes[name] = _neuron(group, shape, where, spec)
            edges += [Edge(previous, synapse), Edge(synapse, name, 1)]
        else:
            raise _Bad(f"{where}: layer type '{kind[:20]}' is not supported (input, dense, conv, "
                       "flatten)")
        previous = name
    if not any(isinstance(n, Cuba) for n in nodes.values()) or not isinstance(
            nodes[previous], Cuba):
        raise _Bad("the file must end with a dense or conv layer")
    return Program("loihi", InputFormat(input_shape, 1.0, 2), nodes, tuple(edges), previous,
                   {"weight_bits": 8})


def read_netx(path: str | Path, spec: LoihiSpec | None = None) -> Program:
    """Rebuild the Loihi Program of a netx file (from the file alone), validated."""
    spec = spec or LoihiSpec()
    try:
        with h5py.File(path, "r") as f:
            return _read(f, spec)
    except _Bad as exc:
        raise InvalidFileError(f"{path}: {exc}; write the file with lava-dl or neurodeploy "
                               "convert --target loihi") from None
    except ValueError as exc:  # shapes that do not fit together, found by the Program
        raise InvalidFileError(f"{path}: inconsistent netx layers ({str(exc)[:160]})") from None
    except (OSError, KeyError, TypeError, RuntimeError) as exc:
        raise InvalidFileError(f"{path}: not a readable netx file "
                               f"({str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__})"
                               "; convert again") from None
