"""netx HDF5 files (`model.net`): write a Loihi Program, and rebuild a Program from the file alone.

Layout (what lava-dl's `netx.hdf5.Network` reads; ../shared/specs/loihi.md):
/layer/0: type b'input', shape; then per weighted layer /layer/i: type b'dense' or b'conv',
shape (torch order), weight in the units of vThMant and bias (integer-valued), bias (mantissa,
exponent 6), neuron/{type b'CUBA', iDecay = du + 1, vDecay = dv, vThMant}; conv layers add
stride, padding, dilation, groups; a flatten between conv and dense is a b'flatten' layer.
Two datasets netx ignores carry what our reader needs beyond the chip: neuron/readout (a
compartment whose voltage is the output) and neuron/outputScale (real value of one voltage unit).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from neurodeploy.errors import InvalidFileError
from neurodeploy.quant.program import IntLayer, IntOp, Program
from neurodeploy.targets.loihi.spec import LoihiSpec


def _type(group: h5py.Group, name: str) -> None:
    group.create_dataset("type", data=np.array([name.encode()], dtype="S10"))


def _scalar(group: h5py.Group, name: str, values: np.ndarray) -> None:
    flat = np.asarray(values).reshape(-1)
    group.create_dataset(name, data=np.int64(flat[0]))


def write_netx(program: Program, path: str | Path) -> None:
    """Write `program` (target loihi) as a netx HDF5 file."""
    with h5py.File(path, "w", track_order=True) as f:
        layers = f.create_group("layer", track_order=True)
        index = 0
        entry = layers.create_group(str(index))
        _type(entry, "input")
        entry.create_dataset("shape", data=np.array(program.input_shape, np.int64))
        shape = tuple(program.input_shape)
        for layer in program.layers:
            for op in layer.ops:
                index += 1
                entry = layers.create_group(str(index), track_order=True)
                if op.kind == "flatten":
                    shape = (int(np.prod(shape)),)
                    _type(entry, "flatten")
                    entry.create_dataset("shape", data=np.array(shape, np.int64))
                    continue
                _type(entry, "dense" if op.kind == "affine" else "conv")
                entry.create_dataset("shape", data=np.array(layer.shape, np.int64))
                entry.create_dataset("weight", data=op.weight.astype(np.float64))
                bias = layer.arrays["bias"] >> layer.consts["bias_exponent"]
                if np.any(bias):
                    entry.create_dataset("bias", data=bias.reshape(-1).astype(np.float64))
                if op.kind == "conv2d":
                    for name in ("stride", "padding", "dilation"):
                        entry.create_dataset(name, data=np.array(getattr(op, name), np.int64))
                    entry.create_dataset("groups", data=np.int64(op.groups))
                neuron = entry.create_group("neuron", track_order=True)
                _type(neuron, "CUBA")
                _scalar(neuron, "iDecay", layer.arrays["du"] + 1)
                _scalar(neuron, "vDecay", layer.arrays["dv"])
                _scalar(neuron, "vThMant", layer.arrays["vth"])
                neuron.create_dataset("readout", data=np.int64(layer.consts["readout"]))
                neuron.create_dataset("outputScale", data=np.float64(layer.out_unit))
                shape = tuple(layer.shape)


def _text(dataset: h5py.Dataset) -> str:
    value = dataset[()]
    value = value[0] if np.ndim(value) else value
    return value.decode() if isinstance(value, bytes) else str(value)


def read_netx(path: str | Path, spec: LoihiSpec | None = None) -> Program:
    """Rebuild the Loihi Program of a netx file written by `write_netx` (from the file alone)."""
    spec = spec or LoihiSpec()
    try:
        with h5py.File(path, "r") as f:
            groups = [f["layer"][key] for key in sorted(f["layer"], key=int)]
            if _text(groups[0]["type"]) != "input":
                raise InvalidFileError(f"{path}: layer 0 is not an input layer")
            input_shape = tuple(int(d) for d in groups[0]["shape"][()])
            layers, pending = [], []
            for number, group in enumerate(groups[1:], start=1):
                kind = _text(group["type"])
                if kind == "flatten":
                    pending.append(IntOp("flatten"))
                    continue
                shape = tuple(int(d) for d in group["shape"][()])
                weight = np.rint(group["weight"][()]).astype(np.int8)
                if kind == "dense":
                    op = IntOp("affine", weight)
                else:
                    op = IntOp("conv2d", weight, tuple(group["stride"][()]),
                               tuple(group["padding"][()]), tuple(group["dilation"][()]),
                               int(group["groups"][()]))
                neuron = group["neuron"]
                bias = np.zeros(shape, np.int64)
                if "bias" in group:
                    bias = np.rint(group["bias"][()]).astype(np.int64).reshape(shape)
                readout = int(neuron["readout"][()]) if "readout" in neuron else 0
                scale = float(neuron["outputScale"][()]) if "outputScale" in neuron else 1.0
                layer = IntLayer(str(number), "CUBA", shape, [*pending, op],
                                 np.full(shape, scale if readout else 1.0), 0,
                                 np.zeros(shape, np.int64), spec.state_bits,
                                 scale if readout else 1.0, spec.state_bits if readout else 1)
                layer.arrays.update({
                    "du": np.full(shape, int(neuron["iDecay"][()]) - 1, np.int64),
                    "dv": np.full(shape, int(neuron["vDecay"][()]), np.int64),
                    "bias": bias << spec.bias_exponent,
                    "vth": np.full(shape, int(neuron["vThMant"][()]), np.int64)})
                layer.consts.update({"synaptic_delay": 1, "readout": readout,
                                     "bias_exponent": spec.bias_exponent})
                layers.append(layer)
                pending = []
    except (OSError, KeyError) as exc:
        raise InvalidFileError(f"{path}: not a readable netx file ({exc}); convert again") from None
    settings = {"pipeline_delay": len(layers), "quant": {"weight_bits": 8, "activation_bits": 1,
                                                         "state_bits": spec.state_bits}}
    return Program("loihi", input_shape, 1.0, 2, layers, settings)
