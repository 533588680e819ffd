"""Reading netx HDF5 files (`model.net`) into a Loihi Program, as lava-dl's `netx.hdf5.Network`
builds them (lava-dl 0.6.0, read for its semantics; ../shared/specs/loihi.md).

- Layer 0 may be an `input` layer. With only `shape`, the input spikes go straight into layer 1's
  synapses. With a `neuron` group it is a layer of CUBA compartments whose input is the program
  input itself, added to their a_in in the step it arrives (no synapse, no delay): the input is
  then graded integers, a_in in mantissa units (16-bit: Lava's a_in port), as Lava's
  `in_layer.neuron.a_in`; with iDecay 4096 the same as setting their bias_mant. The layer's
  `weight` and `bias` (slayer's input transform, which netx stores and never applies) are ignored.
- Without an input layer, a dense layer 0 takes weight.shape[1] inputs; a conv layer 0 has no
  known input shape (netx refuses it too).
- Neuron types CUBA and LOIHI are the same compartment (du = iDecay - 1, dv = vDecay,
  vth = vThMant, bias exponent 6); refDelay, theta, scaleRho, tauRho and wgtExp do not change
  Lava's arithmetic. Graded spikes (messageBits > 0, gradedSpike), sigma-delta (SDNN) and
  resonate-and-fire (RF) neurons, synaptic delays and other layer types are refused by name.
- A layer without a `neuron` group gets netx's defaults: iDecay 0 (the current never decays),
  vDecay 4096 (the voltage is the current plus the bias), vThMant 1 << 17 (it never fires); the
  last such layer is read out by its voltage.
- Dense: the neuron count is the product of `shape`; a 1-D weight is (count, -1). Conv: a 5-D
  weight (out, in, kH, kW, 1) drops its last axis; weights are torch's (out, in, kH, kW)
  correlation kernels (netx flips them into Lava's convolution order). Bias: per neuron, one
  value for a whole dense layer, or per channel on a conv layer, or per neuron in netx's
  (W, H, C) order.
- Weights are integers read without wrapping: dense weights within what netx keeps exactly
  (-256..254 with mixed signs, 0..255 or -256..0), conv weights within 16 bits.
A spiking layer's membrane is read in mantissa units (v / 64, the units of vThMant). Two
datasets netx ignores carry what our writer adds: neuron/readout and neuron/outputScale;
HDF5 attributes `node` and `synapse` keep node names (else the layer numbers name them).
"""

from __future__ import annotations

import math
from pathlib import Path

import h5py
import numpy as np

from neurodeploy.errors import InvalidFileError, UnsupportedModelError
from neurodeploy.ir.graph import INPUT, Edge
from neurodeploy.program.graph import MAX_NODE_SIZE, InputFormat, Program
from neurodeploy.program.node import ProgramNode
from neurodeploy.program.synapses import Conv2d, Dense, Flatten
from neurodeploy.targets.loihi.nodes import Cuba
from neurodeploy.targets.loihi.spec import LoihiSpec

MAX_LAYERS = 1000
MAX_NAME = 100
CONV_WEIGHT_LIMIT = 1 << 15
GRADED_INPUT_BITS = 16  # Lava's compartment input a_in is 16-bit
NEVER_FIRES = 1 << 17  # netx's default vThMant: v saturates below 2^17 << 6
#: netx's neuron of a layer without a `neuron` group: (iDecay, vDecay, vThMant)
DEFAULT_NEURON = (0, 4096, NEVER_FIRES)
UNSUPPORTED_LAYERS = {"dense_rec": "recurrent dense", "dense_comp": "complex dense",
                      "pool": "pooling", "convT": "transposed conv", "unpool": "unpooling",
                      "average": "average", "concat": "concat"}
FIX = "neurodeploy reads CUBA/LOIHI spiking layers; run this network in Lava itself"


class _Bad(ValueError):
    """A dataset that does not hold what netx needs."""


class _Unsupported(ValueError):
    """A valid netx construct neurodeploy does not run."""


def _text(group: h5py.Group, name: str, where: str) -> str:
    if name not in group or not isinstance(group[name], h5py.Dataset):
        raise _Bad(f"{where}: dataset '{name}' is missing")
    value = np.asarray(group[name][()]).reshape(-1)
    if value.size != 1 or not isinstance(value[0], bytes | str):
        raise _Bad(f"{where}/{name} must be one string")
    return value[0].decode(errors="replace") if isinstance(value[0], bytes) else str(value[0])


def _numbers(group: h5py.Group, name: str, where: str, size_limit: int = MAX_NODE_SIZE
             ) -> np.ndarray:
    if name not in group or not isinstance(group[name], h5py.Dataset):
        raise _Bad(f"{where}: dataset '{name}' is missing")
    dataset = group[name]
    if dataset.dtype.kind not in "biuf" or dataset.size > size_limit:
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


def _dense(group: h5py.Group, size: int, where: str) -> Dense:
    weight = _integers(group, "weight", where, -256, 255)
    if weight.ndim == 1 and weight.size % size == 0:
        weight = weight.reshape(size, -1)  # netx's reshape of a 1-D weight
    if weight.ndim != 2 or weight.shape[0] != size or weight.shape[1] == 0:
        raise _Bad(f"{where}/weight has shape {weight.shape}, not ({size}, inputs) for the "
                   f"layer's {size} neurons")
    low, high = int(weight.min()), int(weight.max())
    if low < 0 < high and high > 254:
        raise _Bad(f"{where}/weight holds {low}..{high}: netx clips mixed-sign weights to "
                   "-256..254; rescale the layer")
    return Dense(weight.astype(np.int8 if max(-low, high) <= 127 else np.int16))


def _pair(group: h5py.Group, field: str, where: str) -> tuple[int, int]:
    values = _integers(group, field, where, 0, 1 << 12, 2).reshape(-1)
    if values.size == 1:
        values = np.repeat(values, 2)  # netx expands a scalar to both axes
    if values.size != 2:
        raise _Bad(f"{where}/{field} needs one or two values")
    return int(values[0]), int(values[1])


def _conv(group: h5py.Group, where: str) -> Conv2d:
    weight = _integers(group, "weight", where, -CONV_WEIGHT_LIMIT, CONV_WEIGHT_LIMIT - 1)
    if weight.ndim == 5 and weight.shape[4] == 1:
        weight = weight[..., 0]  # slayer's (out, in, kx, ky, 1)
    if weight.ndim != 4:
        raise _Bad(f"{where}/weight must be (out, in, kH, kW), got {weight.shape}")
    dtype = np.int8 if weight.size == 0 or np.abs(weight).max() <= 127 else np.int16
    return Conv2d(weight.astype(dtype), *(_pair(group, f, where)
                                           for f in ("stride", "padding", "dilation")),
                  _scalar(group, "groups", where, 1, 1 << 16))


def _bias(group: h5py.Group, shape: tuple[int, ...], where: str, spec: LoihiSpec) -> np.ndarray:
    """Bias mantissas (torch order): per neuron, one per dense layer, or per conv channel."""
    if "bias" not in group:
        return np.zeros(shape, np.int64)
    limit = 1 << (spec.bias_mantissa_bits - 1)
    values = _integers(group, "bias", where, -limit, limit - 1)
    size = math.prod(shape)
    if len(shape) == 1 and values.size in (1, size):
        return np.broadcast_to(values.reshape(-1), shape).copy()
    if len(shape) == 3 and values.shape == shape[::-1]:  # per neuron in netx's (W, H, C)
        return values.transpose(2, 1, 0).copy()
    if len(shape) == 3 and values.size == shape[0]:  # per channel
        return np.repeat(values.reshape(-1), size // shape[0]).reshape(shape)
    layouts = ("one per channel or one per neuron in netx's (W, H, C) order" if len(shape) == 3
               else "one value or one per neuron")
    raise _Bad(f"{where}/bias has shape {values.shape}, not {layouts} for the shape {shape}")


def _neuron_type(neuron: h5py.Group, where: str) -> None:
    """Refuse what is not a CUBA compartment with binary spikes, naming it."""
    kind = _text(neuron, "type", where)
    if kind == "SDNN":
        raise _Unsupported(f"{where}: sigma-delta (SDNN) layers are not supported; {FIX}")
    if "RF" in kind:
        raise _Unsupported(f"{where}: resonate-and-fire ({kind[:20]}) layers are not supported; "
                           f"{FIX}")
    if kind not in ("CUBA", "LOIHI"):
        raise _Unsupported(f"{where}: neuron type '{kind[:20]}' is not supported; {FIX}")
    graded = "messageBits" in neuron and _scalar(neuron, "messageBits", where, 0, 32) > 0
    if graded or ("gradedSpike" in neuron and _scalar(neuron, "gradedSpike", where, 0, 1)):
        raise _Unsupported(f"{where}: {kind} layers with graded spikes are not supported; {FIX}")


def _cuba(group: h5py.Group, shape: tuple[int, ...], where: str, spec: LoihiSpec, last: bool,
          bias: np.ndarray) -> Cuba:
    """The layer's compartments: its `neuron` group, or netx's defaults (read out when last)."""
    if "neuron" not in group:
        i_decay, v_decay, vth = DEFAULT_NEURON
        readout, scale = last, 1.0
    else:
        neuron = group["neuron"]
        if not isinstance(neuron, h5py.Group):
            raise _Bad(f"{where}/neuron must be a group")
        where = f"{where}/neuron"
        _neuron_type(neuron, where)
        i_decay = _scalar(neuron, "iDecay", where, 0, 4096)
        v_decay = _scalar(neuron, "vDecay", where, 0, 4096)
        vth = _scalar(neuron, "vThMant", where, 0, NEVER_FIRES)
        readout = bool(_scalar(neuron, "readout", where, 0, 1)) if "readout" in neuron else False
        scale = 1.0
        if "outputScale" in neuron:
            values = _numbers(neuron, "outputScale", where, 1).reshape(-1)
            if values.size != 1 or not values[0] > 0:
                raise _Bad(f"{where}/outputScale must be one positive number")
            scale = float(values[0])
    full = lambda value: np.full(shape, value, np.int64)  # noqa: E731
    return Cuba(full(i_decay - 1), full(v_decay), bias << spec.bias_exponent, full(vth),
                readout, spec.bias_exponent, np.full(shape, scale if readout else 1 / 64))


def _groups(f: h5py.File) -> list[h5py.Group]:
    if "layer" not in f or not isinstance(f["layer"], h5py.Group):
        raise _Bad("no 'layer' group")
    keys = list(f["layer"])
    if not keys or len(keys) > MAX_LAYERS or not all(k.isdigit() for k in keys):
        raise _Bad(f"layers must be groups named 0..N (at most {MAX_LAYERS})")
    groups = [f["layer"][key] for key in sorted(keys, key=int)]
    if not all(isinstance(g, h5py.Group) for g in groups):
        raise _Bad("every layer must be a group")
    return groups


def _input_layer(group: h5py.Group, spec: LoihiSpec, last: bool
                 ) -> tuple[tuple[int, ...], str | None, Cuba | None]:
    """(input shape, name and compartments of the input neurons, if it has any) of layer 0."""
    shape = _shape(group, "layer/0")
    if "neuron" not in group:
        return shape, None, None
    return shape, _name(group, "node", "layer/0", "0"), _cuba(
        group, shape, "layer/0", spec, last, np.zeros(shape, np.int64))


def _first_input(shape: tuple[int, ...] | None, op: Dense | Conv2d, where: str
                 ) -> tuple[int, ...]:
    """The input shape of a first weighted layer fed by the input spikes: a dense layer takes
    weight.shape[1] values (netx reads no more from an input layer's shape); a conv layer needs
    an input layer's shape."""
    if isinstance(op, Conv2d):
        if shape is None:
            raise _Bad(f"{where} is a conv layer and there is no input layer, so its input shape "
                       "is unknown (netx cannot infer it either); add an input layer with the "
                       "shape")
        return shape
    inputs = int(op.weight.shape[1])
    if shape is not None and math.prod(shape) != inputs:
        raise _Bad(f"layer/0/shape {shape} holds {math.prod(shape)} inputs, but {where}/weight "
                   f"takes {inputs}")
    return (inputs,)


def _read(f: h5py.File, spec: LoihiSpec) -> Program:
    groups = _groups(f)
    nodes: dict[str, ProgramNode] = {}
    edges: list[Edge] = []
    previous, input_shape, bits, first = INPUT, None, 2, 0
    if _text(groups[0], "type", "layer/0") == "input":
        input_shape, name, neurons = _input_layer(groups[0], spec, len(groups) == 1)
        if neurons is not None:
            nodes[name], previous, bits = neurons, name, GRADED_INPUT_BITS
            edges.append(Edge(INPUT, name))
        first = 1
    for number in range(first, len(groups)):
        group, where = groups[number], f"layer/{number}"
        kind = _text(group, "type", where)
        name = _name(group, "node", where, str(number))
        if name in nodes:
            raise _Bad(f"{where}: node name '{name}' is used twice")
        if kind == "input":
            raise _Bad(f"{where}: only layer 0 may be an input layer")
        if kind in UNSUPPORTED_LAYERS:
            raise _Unsupported(f"{where}: {UNSUPPORTED_LAYERS[kind]} layers are not supported; "
                               f"{FIX}")
        if kind == "flatten":
            nodes[name] = Flatten()
            edges.append(Edge(previous, name))
        elif kind in ("dense", "conv"):
            if "delay" in group:
                raise _Unsupported(f"{where}: synaptic delays ('delay') are not supported; {FIX}")
            shape = _shape(group, where)
            shape = (math.prod(shape),) if kind == "dense" else shape
            if kind == "conv" and len(shape) != 3:
                raise _Bad(f"{where}/shape {shape} is not a conv layer's (C, H, W)")
            synapse = _name(group, "synapse", where, f"{number}.synapse")
            if synapse in nodes or synapse == name:
                raise _Bad(f"{where}: node name '{synapse}' is used twice")
            op = _dense(group, shape[0], where) if kind == "dense" else _conv(group, where)
            if previous == INPUT:
                input_shape = _first_input(input_shape, op, where)
            nodes[synapse] = op
            nodes[name] = _cuba(group, shape, where, spec, number == len(groups) - 1,
                                _bias(group, shape, where, spec))
            edges += [Edge(previous, synapse), Edge(synapse, name, 1)]
        else:
            raise _Bad(f"{where}: layer type '{kind[:20]}' is not a netx layer type")
        previous = name
    if not isinstance(nodes.get(previous), Cuba):
        raise _Bad("the file must end with a dense or conv layer")
    return Program("loihi", InputFormat(input_shape, 1.0, bits), nodes, tuple(edges), previous,
                   {"weight_bits": 8})


def read_netx(path: str | Path, spec: LoihiSpec | None = None) -> Program:
    """Rebuild the Loihi Program of a netx file (from the file alone), validated."""
    spec = spec or LoihiSpec()
    try:
        with h5py.File(path, "r") as f:
            return _read(f, spec)
    except _Unsupported as exc:
        raise UnsupportedModelError(f"{path}: {exc}") from None
    except _Bad as exc:
        raise InvalidFileError(f"{path}: {exc}; write the file with lava-dl or neurodeploy "
                               "convert --target loihi") from None
    except ValueError as exc:  # shapes that do not fit together, found by the Program
        raise InvalidFileError(f"{path}: inconsistent netx layers ({str(exc)[:160]})") from None
    except (OSError, KeyError, TypeError, RuntimeError) as exc:
        raise InvalidFileError(f"{path}: not a readable netx file "
                               f"({str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__})"
                               "; convert again") from None
