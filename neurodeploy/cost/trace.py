"""The event trace of a golden run, per neuron node: what each neuron received and sent, per step.

For a neuron node fed by weighted nodes W (Dense, Conv2d) the synaptic events neuron n receives
at step t of sample b are

    syn[t, b, n] = sum over W of |{i in receptive field of n : x_W[t, b, i] != 0}|

(Dense: every non-zero input; Conv2d: the non-zero inputs under the kernel, a convolution of the
event map with a kernel of ones). Summed over neurons this is the NeuroBench effective synaptic
operation count the golden engine reports. `fired` marks non-zero outputs (spikes, or graded
values, which travel as packets too); `active` marks neurons with a non-zero state or output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodeploy.engine.result import SimulationResult
from neurodeploy.ir.graph import INPUT
from neurodeploy.program.graph import Program
from neurodeploy.program.synapses import Conv2d, Dense


@dataclass(frozen=True)
class Source:
    """A neuron node (or INPUT) whose events reach a node, and the steps they are delayed."""

    name: str
    delay: int


@dataclass(frozen=True)
class NodeTrace:
    """One neuron node over `(T, B, N)`: synaptic events received, outputs sent, active state."""

    name: str
    synops: np.ndarray
    fired: np.ndarray
    active: np.ndarray
    sources: tuple[Source, ...]


def _sources(program: Program, name: str) -> tuple[Source, ...]:
    """Neuron nodes (and INPUT) feeding `name` through stateless nodes, with summed delays."""
    found, stack = set(), [(e.source, e.delay) for e in program.inputs_of(name)]
    while stack:
        source, delay = stack.pop()
        if source == INPUT or program.nodes[source].stateful:
            found.add(Source(source, delay))
        else:
            stack += [(e.source, delay + e.delay) for e in program.inputs_of(source)]
    return tuple(sorted(found, key=lambda s: (s.name, s.delay)))


def _value(values: dict[str, np.ndarray], source: str, delay: int) -> np.ndarray:
    value = values[source]
    if not delay:
        return value
    return np.concatenate([np.zeros_like(value[:delay]), value[:-delay]])


def _received(node: Dense | Conv2d, x: np.ndarray) -> np.ndarray:
    """Per output neuron, the non-zero inputs in its receptive field, `(T, B, N)`."""
    events = (x != 0)
    steps, batch = x.shape[:2]
    if isinstance(node, Dense):
        count = events.reshape(steps, batch, -1).sum(axis=2, keepdims=True)
        return np.broadcast_to(count, (steps, batch, node.weight.shape[0])).astype(np.float64)
    import torch

    ones = torch.ones(node.weight.shape, dtype=torch.float32)
    flat = torch.as_tensor(events.reshape(steps * batch, *x.shape[2:]), dtype=torch.float32)
    out = torch.nn.functional.conv2d(flat, ones, stride=node.stride, padding=node.padding,
                                     dilation=node.dilation, groups=node.groups)
    return out.reshape(steps, batch, -1).numpy().astype(np.float64)


def event_trace(program: Program, result: SimulationResult, x: np.ndarray, samples: int
                ) -> dict[str, NodeTrace]:
    """Per neuron node, the trace of the first `samples` samples of a golden run of `program`
    on real input `x` made with `record_outputs=True` (states, when recorded, mark activity)."""
    values = {name: v[:, :samples] for name, v in result.node_outputs.items()}
    quantized = program.input.quantize(x[:, :samples])
    steps = result.output.shape[0]
    pad = steps - quantized.shape[0]
    values[INPUT] = np.concatenate([quantized, np.zeros((pad, *quantized.shape[1:]),
                                                        quantized.dtype)]) if pad else quantized
    traces = {}
    for name in program.stateful_nodes:
        out = values[name].reshape(steps, values[name].shape[1], -1)
        synops = np.zeros(out.shape)
        for feeder in program.feeders(name):
            node = program.nodes[feeder]
            if isinstance(node, Dense | Conv2d):
                inp = sum(_value(values, e.source, e.delay) for e in program.inputs_of(feeder))
                synops += _received(node, np.asarray(inp)).reshape(out.shape)
        fired = out != 0
        active = fired.copy()
        for state in result.states.get(name, {}).values():
            active |= state[:, :samples].reshape(out.shape) != 0
        traces[name] = NodeTrace(name, synops, fired, active, _sources(program, name))
    return traces
