"""Writing a Loihi Program as a netx HDF5 file (`model.net`); `netx_read` reads it back.

Layout (what lava-dl's `netx.hdf5.Network` reads; ../shared/specs/loihi.md):
/layer/0: type b'input', shape, and a neuron group when the program input feeds compartments
directly (graded input into their a_in); then per weighted layer /layer/i: type b'dense' or
b'conv', shape (torch order), weight in the units of vThMant and bias (integer-valued), bias
(mantissa, exponent 6; one per channel on conv layers when it is uniform over each channel, else
per neuron in netx's (W, H, C) order), neuron/{type b'CUBA', iDecay = du + 1, vDecay = dv,
vThMant}; conv layers add stride, padding, dilation, groups; a flatten between conv and dense is
a b'flatten' layer.
Two datasets netx ignores carry what our reader needs beyond the chip: neuron/readout (a
compartment whose voltage is the output) and neuron/outputScale (real value of one voltage unit).
HDF5 attributes, which netx never reads, keep the Program's node names: `node` on every layer
group (the neuron node, or the flatten node), `synapse` on dense and conv layers (the weighted
node).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from neurodeploy.errors import UnsupportedModelError
from neurodeploy.ir.graph import INPUT
from neurodeploy.program.graph import Program
from neurodeploy.program.synapses import Conv2d, Dense, Flatten
from neurodeploy.targets.loihi.nodes import Cuba


def _type(group: h5py.Group, name: str) -> None:
    group.create_dataset("type", data=np.array([name.encode()], dtype="S10"))


def _first(values: np.ndarray) -> np.int64:
    return np.int64(np.asarray(values).reshape(-1)[0])


def input_neurons(program: Program) -> str | None:
    """The Cuba node the program input feeds directly (netx's input layer with neurons), or
    None when the input spikes go into synapses."""
    for edge in program.edges:
        if edge.source == INPUT and isinstance(program.nodes[edge.target], Cuba):
            return edge.target
    return None


def _stages(program: Program) -> list[tuple[list[str], str]]:
    """(synaptic nodes, the Cuba node they feed) in order: a Loihi Program is a chain."""
    stages, pending = [], []
    for name in program.order:
        if isinstance(program.nodes[name], Cuba):
            if not pending and name != input_neurons(program):
                raise UnsupportedModelError(f"node '{name}' receives no synapses; netx layers "
                                            "are synapses then compartments")
            stages.append((pending, name))
            pending = []
        else:
            pending.append(name)
    return stages


def _bias_layout(bias: np.ndarray, op: Dense | Conv2d) -> np.ndarray:
    """A conv layer's bias per channel when it is uniform over each channel, else per neuron in
    netx's (W, H, C) order (the two conv biases lava-dl builds); a dense layer's per neuron."""
    if not isinstance(op, Conv2d):
        return bias.reshape(-1)
    per_channel = bias.reshape(bias.shape[0], -1)
    if np.all(per_channel == per_channel[:, :1]):
        return per_channel[:, 0]
    return bias.transpose(2, 1, 0)


def _neuron(entry: h5py.Group, cuba: Cuba) -> None:
    neuron = entry.create_group("neuron", track_order=True)
    _type(neuron, "CUBA")
    neuron.create_dataset("iDecay", data=_first(cuba.du) + 1)
    neuron.create_dataset("vDecay", data=_first(cuba.dv))
    neuron.create_dataset("vThMant", data=_first(cuba.vth))
    neuron.create_dataset("readout", data=np.int64(cuba.readout))
    neuron.create_dataset("outputScale", data=np.float64(cuba.output_scale))


def _input_layer(layers: h5py.Group, program: Program) -> None:
    entry = layers.create_group("0", track_order=True)
    _type(entry, "input")
    entry.create_dataset("shape", data=np.array(program.input.shape, np.int64))
    name = input_neurons(program)
    if name is not None:
        cuba: Cuba = program.nodes[name]
        if np.any(cuba.bias):
            raise UnsupportedModelError(f"node '{name}': netx's input neurons have no bias")
        entry.attrs["node"] = name
        _neuron(entry, cuba)


def write_netx(program: Program, path: str | Path) -> None:
    """Write `program` (target loihi) as a netx HDF5 file."""
    with h5py.File(path, "w", track_order=True) as f:
        layers = f.create_group("layer", track_order=True)
        _input_layer(layers, program)
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
                _neuron(entry, cuba)
