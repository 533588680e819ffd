"""Placement of a Program's neuron nodes on the `sim` core array.

Each core holds up to `neurons_per_core` neurons and `synapse_memory_bytes` of weights; a node is
split over as many cores as its neurons and the weights of its incoming synapses need (a
convolution's kernel is shared by all its neurons, so each core stores it once). Nodes take
consecutive cores; more cores than the chip has is an error naming the node.
"""

from __future__ import annotations

import math

import numpy as np

from neurodeploy.program.graph import Program
from neurodeploy.program.synapses import Conv2d, Dense
from neurodeploy.targets.base import NodePlacement, Placement, ResourceLimitError, Usage
from neurodeploy.targets.sim.spec import CoreArraySpec


def _weight_bytes(program: Program, name: str, weight_bits: int) -> tuple[int, int, bool]:
    """(fan-in per neuron, weight bytes per neuron or per shared kernel, shared?)."""
    fan_in, per_neuron, shared = 0, 0, False
    for feeder in program.feeders(name):
        node = program.nodes[feeder]
        if isinstance(node, Dense):
            fan_in += node.weight.shape[1]
            per_neuron += math.ceil(node.weight.shape[1] * weight_bits / 8)
        elif isinstance(node, Conv2d):
            fan_in += int(np.prod(node.weight.shape[1:]))
            per_neuron += math.ceil(node.weight.size * weight_bits / 8)
            shared = True
    return fan_in, per_neuron, shared


def place(program: Program, spec: CoreArraySpec, weight_bits: int) -> Placement:
    """Place every neuron node on cores; ResourceLimitError names the node and the limit."""
    placed, next_core = [], 0
    for name in program.stateful_nodes:
        size = program.size(name)
        fan_in, weight_bytes, shared = _weight_bytes(program, name, weight_bits)
        if shared:
            if weight_bytes > spec.synapse_memory_bytes:
                raise ResourceLimitError(
                    f"layer '{name}': its kernel needs {weight_bytes} bytes, more than the "
                    f"{spec.synapse_memory_bytes} bytes of synapse memory per core")
            per_core = spec.neurons_per_core
        else:
            by_memory = spec.synapse_memory_bytes // weight_bytes if weight_bytes else size
            if by_memory == 0:
                raise ResourceLimitError(
                    f"layer '{name}': one neuron's {fan_in} inputs at {weight_bits} bits need "
                    f"{weight_bytes} bytes, more than the {spec.synapse_memory_bytes} bytes of "
                    "synapse memory per core; use fewer weight bits or a smaller fan-in")
            per_core = min(spec.neurons_per_core, by_memory)
        count = math.ceil(size / per_core)
        if next_core + count > spec.cores:
            raise ResourceLimitError(
                f"layer '{name}' needs cores {next_core}..{next_core + count - 1}, but the "
                f"'{spec.name}' target has {spec.cores} cores; use a smaller network")
        per_core = math.ceil(size / count)
        used_bytes = weight_bytes if shared else weight_bytes * per_core
        placed.append(NodePlacement(
            name, size, tuple(range(next_core, next_core + count)), per_core,
            (Usage("neurons", per_core, spec.neurons_per_core),
             Usage("synapse_bytes", used_bytes, spec.synapse_memory_bytes))))
        next_core += count
    return Placement(tuple(placed), spec.cores)
