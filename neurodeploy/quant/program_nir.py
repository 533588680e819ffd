"""Program -> an integer-valued NIR graph, with every fixed-point format in node metadata.

Synaptic ops become Linear / Conv2d / SumPool2d / Flatten nodes holding the integer weights;
each neuron layer becomes the NIR neuron node closest to it (IF for IAF, LIF for LIF and SNU,
LI for the graded kinds) whose fields hold integers in state units, plus
`metadata["neurodeploy"]` with the kind, state unit, input shift, constants and tables.
Any NIR reader opens it; `Program.load` remains the exact source for the integer engine.
"""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np

from neurodeploy.quant.program import IntLayer, IntOp, Program


def _op_node(op: IntOp, input_shape: tuple[int, ...]) -> nir.NIRNode:
    if op.kind == "affine":
        return nir.Linear(weight=op.weight.astype(np.float32))
    if op.kind == "conv2d":
        return nir.Conv2d(input_shape=tuple(input_shape[1:]), weight=op.weight.astype(np.float32),
                          stride=op.stride, padding=op.padding, dilation=op.dilation,
                          groups=op.groups, bias=np.zeros(op.weight.shape[0], np.float32))
    if op.kind == "sumpool2d":
        return nir.SumPool2d(kernel_size=np.array(op.kernel_size), stride=np.array(op.stride),
                             padding=np.array(op.padding))
    return nir.Flatten(input_type={"input": np.array(input_shape)}, start_dim=0, end_dim=-1)


def _neuron_node(layer: IntLayer) -> nir.NIRNode:
    shape = layer.shape
    ones, zeros = np.ones(shape, np.float32), np.zeros(shape, np.float32)
    metadata = {"kind": layer.kind, "state_unit": np.asarray(layer.unit, np.float64),
                "input_shift": layer.input_shift, "bias": layer.bias, "state_bits": layer.state_bits,
                "out_unit": layer.out_unit, "out_bits": layer.out_bits,
                "rounding": "half up", "overflow": "saturate",
                "consts": {k: v for k, v in layer.consts.items()},
                "arrays": dict(layer.arrays),
                "tables": {k: t.values for k, t in layer.tables.items()}}
    if layer.recurrent is not None:
        metadata["recurrent"] = layer.recurrent
        metadata["recurrent_shift"] = layer.recurrent_shift
    gain = np.full(shape, float(1 << layer.input_shift), np.float32)
    threshold = layer.arrays.get("threshold")
    if layer.kind == "IAF":
        node = nir.IF(r=gain, v_threshold=threshold.astype(np.float32), v_reset=zeros)
    elif layer.kind in ("LIF", "SNU"):
        factor = layer.arrays.get("beta", layer.arrays.get("decay")).astype(np.float64) / 4096
        tau = (1.0 / np.maximum(1.0 - factor, 1e-12)).astype(np.float32)
        vth = threshold if threshold is not None else -layer.arrays["out_bias"]
        node = nir.LIF(tau=tau, r=tau * gain, v_leak=zeros, v_threshold=vth.astype(np.float32),
                       v_reset=zeros)
    else:
        node = nir.LI(tau=ones, r=gain, v_leak=zeros)
    node.metadata = {"neurodeploy": metadata}
    return node


def program_to_nir(program: Program) -> nir.NIRGraph:
    """The integer-valued NIR graph of a Program."""
    nodes = {"input": nir.Input(input_type={"input": np.array(program.input_shape)})}
    edges, previous, shape = [], "input", tuple(program.input_shape)
    for layer in program.layers:
        for index, op in enumerate(layer.ops):
            name = f"{layer.name}.op{index}"
            nodes[name] = _op_node(op, shape)
            edges.append((previous, name))
            previous = name
            if op.kind == "flatten":
                shape = (int(np.prod(shape)),)
            elif op.kind == "affine":
                shape = (op.weight.shape[0],)
        nodes[layer.name] = _neuron_node(layer)
        edges.append((previous, layer.name))
        previous, shape = layer.name, tuple(layer.shape)
    nodes["output"] = nir.Output(output_type={"output": np.array(shape)})
    edges.append((previous, "output"))
    metadata = {"producer": "neurodeploy", "target": program.target, "integer": 1,
                "input_unit": program.input_unit, "input_bits": program.input_bits}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write_program_nir(program: Program, path: str | Path) -> None:
    nir.write(str(path), program_to_nir(program))
