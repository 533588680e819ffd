"""Program -> an integer-valued NIR graph, with every node's formats and constants in metadata.

Stateless nodes become their NIR counterparts holding the integer weights (Linear, Conv2d,
SumPool2d, Flatten; a Requantize is a Scale by 2^shift with its bias and rounding in metadata);
neuron nodes become the NIR neuron node closest to them (`nir_kind`: IF, LIF, CubaLIF or LI) with
their thresholds in integer state units and, in `metadata["neurodeploy"]`, everything their
arithmetic uses: every field (arrays, formats with rounding and overflow, tables) and
`describe()`. Any NIR reader opens it; the program files remain the exact source for the golden
model. A node with no NIR form (the fpga microcode) makes the whole graph inexpressible.
"""

from __future__ import annotations

import dataclasses
from enum import Enum
from pathlib import Path

import nir
import numpy as np

from neurodeploy.ir.graph import INPUT
from neurodeploy.program.formats import Format
from neurodeploy.program.graph import Program
from neurodeploy.program.node import ProgramNode
from neurodeploy.program.synapses import Conv2d, Dense, Flatten, Requantize, SumPool2d
from neurodeploy.program.tables import Table

OUTPUT = "output"


def _metadata(node: ProgramNode) -> dict:
    fields: dict = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Format):
            fields[f.name] = value.describe()
        elif isinstance(value, Table):
            fields[f.name] = {"values": value.values, "multiplier": value.multiplier,
                              "shift": value.shift, "offset": value.offset,
                              "frac_bits": value.frac_bits}
        elif isinstance(value, Enum):
            fields[f.name] = value.value
        elif value is not None:
            fields[f.name] = value
    return {"neurodeploy": {**node.describe(), "fields": fields}}


def _stateless(node: ProgramNode, input_shape: tuple[int, ...]) -> nir.NIRNode:
    if isinstance(node, Dense):
        return nir.Linear(weight=node.weight.astype(np.float32))
    if isinstance(node, Conv2d):
        return nir.Conv2d(input_shape=tuple(input_shape[1:]),
                          weight=node.weight.astype(np.float32), stride=node.stride,
                          padding=node.padding, dilation=node.dilation, groups=node.groups,
                          bias=np.zeros(node.weight.shape[0], np.float32))
    if isinstance(node, SumPool2d):
        return nir.SumPool2d(kernel_size=np.array(node.kernel_size), stride=np.array(node.stride),
                             padding=np.array(node.padding))
    if isinstance(node, Flatten):
        return nir.Flatten(input_type={"input": np.array(input_shape)}, start_dim=0, end_dim=-1)
    if isinstance(node, Requantize):
        return nir.Scale(scale=np.full(node.bias.shape, 2.0 ** node.shift, np.float32))
    raise NotImplementedError(type(node).__name__)


def _neuron(node: ProgramNode, shape: tuple[int, ...]) -> nir.NIRNode:
    ones, zeros = np.ones(shape, np.float32), np.zeros(shape, np.float32)
    threshold = getattr(node, "threshold", getattr(node, "vth", None))
    threshold = zeros if threshold is None else np.asarray(threshold, np.float32)
    kind = getattr(node, "nir_kind", None)
    if kind == "IF":
        return nir.IF(r=ones, v_threshold=threshold, v_reset=zeros)
    if kind == "LIF":
        return nir.LIF(tau=ones, r=ones, v_leak=zeros, v_threshold=threshold, v_reset=zeros)
    if kind == "CubaLIF":
        return nir.CubaLIF(tau_syn=ones, tau_mem=ones, r=ones, v_leak=zeros,
                           v_threshold=threshold, v_reset=zeros, w_in=ones)
    if kind == "LI":
        return nir.LI(tau=ones, r=ones, v_leak=zeros)
    raise NotImplementedError(type(node).__name__)


def program_to_nir(program: Program) -> nir.NIRGraph:
    """The integer-valued NIR graph of a Program; NotImplementedError if a node has no form."""
    nodes = {INPUT: nir.Input(input_type={"input": np.array(program.input.shape)})}
    for name in program.order:
        node = program.nodes[name]
        input_shape = program.input_shape_of(name)
        converted = (_neuron(node, program.shapes[name]) if node.stateful
                     else _stateless(node, input_shape))
        converted.metadata = _metadata(node)
        nodes[name] = converted
    nodes[OUTPUT] = nir.Output(output_type={"output": np.array(program.shapes[program.output])})
    edges = [(e.source, e.target) for e in program.edges] + [(program.output, OUTPUT)]
    delayed = [[e.source, e.target] for e in program.edges if e.delay]
    metadata = {"producer": "neurodeploy", "target": program.target, "integer": 1,
                "input_scale": program.input.scale, "input_bits": program.input.bits,
                "delayed_edges": np.array(delayed, dtype="S") if delayed else np.zeros((0, 2), "S1")}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write_program_nir(program: Program, path: str | Path) -> bool:
    """Write program.nir; False (nothing written) when a node has no NIR form."""
    try:
        graph = program_to_nir(program)
    except NotImplementedError:
        return False
    nir.write(str(path), graph)
    return True
