"""The float Network of a Loihi Program read from a netx file: what `neurodeploy.load` gives.

Each layer keeps its node names and computes in the file's mantissa units: weights W, bias
mantissas b and thresholds vThMant as stored, current i = u / 64 and membrane v = v_int / 64.
A spiking layer becomes a CubaLIF (reset to zero, strict threshold) with

    alpha = 1 - (du + 1) / 4096    beta = 1 - dv / 4096    threshold = vth
    Affine / Conv2d bias = b (1 - alpha)

Loihi adds the bias to the voltage; the float bias enters the current, so it is the current
whose steady state is that bias (the loihi lowering's own convention, which maps it back to b):
exact when the current does not decay over steps (iDecay 4096, alpha = 0), else off by b alpha^t
at step t. A readout layer becomes an LI whose output is the voltage times the layer's output
unit: with iDecay 4096 alpha = beta exactly; with vDecay 4096 (netx's default neuron) v = u + b,
an LI on the current. An input layer with neurons becomes a CubaLIF fed by the input itself
(x = its a_in). Every synapse delivers one step late, as netx's (slayer trains with the same
shift), so each layer runs on the program's time axis and a bias starts at step 0 in both.
What is left differs from the integer model by rounding: decays round toward zero on Loihi,
the current wraps and the voltage saturates at 24 bits.
"""

from __future__ import annotations

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.program.graph import Program
from neurodeploy.program.synapses import Conv2d, Dense, Flatten
from neurodeploy.targets.loihi.nodes import DECAY_BITS, Cuba

ONE = float(1 << DECAY_BITS)


def _uniform(values: np.ndarray) -> float:
    return float(np.asarray(values).reshape(-1)[0])


def _neuron(cuba: Cuba, name: str) -> tuple[ir.nodes.Node, float, float]:
    """(float neuron, weight gain, bias gain) of a layer's compartments."""
    bias = cuba.bias >> cuba.bias_exponent
    alpha = 1.0 - (_uniform(cuba.du) + 1.0) / ONE
    beta = 1.0 - _uniform(cuba.dv) / ONE
    if cuba.readout:
        gain = 64.0 * cuba.output_scale
        if alpha == 0.0:
            return ir.LI(np.float32(beta)), gain, gain
        if beta != 0.0:
            raise UnsupportedModelError(f"layer '{name}': a readout whose current and voltage "
                                        "both decay over steps has no float counterpart")
        node, neuron_gain = ir.LI(np.float32(alpha)), gain
    else:
        if _uniform(cuba.vth) <= 0:
            raise UnsupportedModelError(f"layer '{name}': vThMant 0 has no float counterpart "
                                        "(float thresholds are positive)")
        node = ir.CubaLIF(np.float32(alpha), np.float32(beta), np.float32(_uniform(cuba.vth)))
        neuron_gain = 1.0
    if alpha == 1.0 and np.any(bias):
        raise UnsupportedModelError(f"layer '{name}': a bias on a current that never decays "
                                    "(iDecay 0) has no float counterpart")
    return node, neuron_gain, neuron_gain * (1.0 - alpha)


def _synapse(op: Dense | Conv2d, bias: np.ndarray, gain: float, name: str) -> ir.nodes.Node:
    weight = op.weight.astype(np.float32) * np.float32(gain)
    if isinstance(op, Dense):
        return ir.Affine(weight, bias.reshape(-1).astype(np.float32))
    per_channel = bias.reshape(bias.shape[0], -1)
    if np.any(per_channel != per_channel[:, :1]):
        raise UnsupportedModelError(f"layer '{name}': a per-neuron conv bias has no float "
                                    "counterpart (float conv biases are per channel)")
    return ir.Conv2d(weight, per_channel[:, 0].astype(np.float32), op.stride, op.padding,
                     op.dilation, op.groups)


def float_network(program: Program) -> ir.Network:
    """The float Network of a netx Program (see the module docstring), same node names."""
    nodes: dict[str, ir.nodes.Node] = {}
    edges: list[ir.Edge] = []
    pending: list[str] = []
    for name in program.order:
        node = program.nodes[name]
        if not isinstance(node, Cuba):
            pending.append(name)
            continue
        neuron, gain, bias_gain = _neuron(node, name)
        bias = (node.bias >> node.bias_exponent).astype(np.float64) * bias_gain
        if not pending and np.any(bias):
            raise UnsupportedModelError(f"layer '{name}': compartments fed by the input have no "
                                        "float bias")
        for step in pending:
            op = program.nodes[step]
            nodes[step] = (ir.Flatten() if isinstance(op, Flatten)
                           else _synapse(op, bias, gain, name))
        nodes[name] = neuron
        (source,) = [edge.source for edge in program.inputs_of(pending[0] if pending else name)]
        path = [source, *pending, name]
        edges += [ir.Edge(a, b, int(b == name and bool(pending)))
                  for a, b in zip(path[:-1], path[1:], strict=True)]
        pending = []
    return ir.Network(nodes, tuple(edges), program.input.shape, program.output)
