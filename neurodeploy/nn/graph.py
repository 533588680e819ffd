"""A torch module that runs a Network graph: the float reference for any graph shape.

Each node is the `neurodeploy.nn` module of its IR node (see `neurodeploy.nn.from_ir`). Nodes run
in the Network's schedule: a node outside any recurrent loop over all time steps at once (exactly
as the trained layer's `forward`), the nodes of a recurrent loop together, one step at a time.
A node's input is the sum of its incoming edges in their stored order; a delayed edge contributes
its source's value of the previous step. Before the first step every node is at rest: a neuron
outputs zero, a stateless node its value on its sources' rest values (a Linear its bias), so a
delayed edge delivers that rest value at the first step, as a recurrent torch layer that applies
its Linear to a zero initial state does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from neurodeploy import ir
from neurodeploy.nn.base import NeuronLayer
from neurodeploy.nn.from_ir import module_from_node
from neurodeploy.nn.sequential import Sequential, apply_per_step


@dataclass
class GraphRun:
    """What one run of a GraphNetwork produced: the output and, when asked, more."""

    output: torch.Tensor
    node_outputs: dict[str, torch.Tensor]
    states: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def _shift(value: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """`value` `(T, B, ...)` one step later: step t holds value[t-1], step 0 the rest value."""
    return torch.cat([rest.expand_as(value[:1]), value[:-1]])


class GraphNetwork(nn.Module):
    """The float network of an `ir.Network` as a torch module (time-major in and out)."""

    def __init__(self, network: ir.Network) -> None:
        super().__init__()
        self.network = network
        self.layers = nn.ModuleDict({_key(name): module_from_node(node)
                                     for name, node in network.nodes.items()})
        self.groups = network.schedule()
        self._rest: dict[str, torch.Tensor] = {}

    def rest(self, name: str) -> torch.Tensor:
        """The node's output before the first step, `(1, 1, *shape)` (see the module docstring)."""
        if name not in self._rest:
            if name == ir.INPUT or isinstance(self.module(name), NeuronLayer):
                shape = self.network.output_shape_of(name) if name != ir.INPUT \
                    else self.network.input_shape
                self._rest[name] = torch.zeros(1, 1, *shape)
            else:
                inp = sum(self.rest(edge.source) for edge in self.network.inputs_of(name))
                with torch.no_grad():
                    self._rest[name] = apply_per_step(self.module(name), inp)
        return self._rest[name]

    def module(self, name: str) -> nn.Module:
        return self.layers[_key(name)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x).output

    def _input_sequence(self, name: str, values: dict[str, torch.Tensor]) -> torch.Tensor:
        total = None
        for edge in self.network.inputs_of(name):
            value = values[edge.source]
            value = _shift(value, self.rest(edge.source)) if edge.delay else value
            total = value if total is None else total + value
        return total

    def run(self, x: torch.Tensor, record_states: bool = False) -> GraphRun:
        """Run on `x` `(T, B, *input_shape)`; every node's output `(T, B, *shape)` is kept."""
        values: dict[str, torch.Tensor] = {ir.INPUT: x}
        states: dict[str, dict[str, torch.Tensor]] = {}
        for group in self.groups:
            if group.stepwise:
                self._run_stepwise(group.names, values, states, record_states)
                continue
            name = group.names[0]
            module = self.module(name)
            inp = self._input_sequence(name, values)
            if isinstance(module, NeuronLayer):
                values[name], recorded = module.run(inp, record=record_states)
                if record_states:
                    states[name] = recorded
            else:
                values[name] = apply_per_step(module, inp)
        del values[ir.INPUT]
        return GraphRun(values[self.network.output], values, states)

    def _run_stepwise(self, names: tuple[str, ...], values: dict[str, torch.Tensor],
                      states: dict[str, dict[str, torch.Tensor]], record: bool) -> None:
        """Advance the nodes of a recurrent group together, one step at a time."""
        steps = values[ir.INPUT].shape[0]
        outputs: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        carried: dict[str, tuple[torch.Tensor, ...]] = {}
        records: dict[str, list[tuple[torch.Tensor, ...]]] = {name: [] for name in names}
        for t in range(steps):
            for name in names:
                inp = None
                for edge in self.network.inputs_of(name):
                    if edge.delay and t == 0:
                        source = self.rest(edge.source)[0].expand(
                            values[ir.INPUT].shape[1], *self.rest(edge.source).shape[2:])
                    elif edge.delay:
                        source = (outputs[edge.source][t - 1] if edge.source in outputs
                                  else values[edge.source][t - 1])
                    else:
                        source = (outputs[edge.source][t] if edge.source in outputs
                                  else values[edge.source][t])
                    inp = source if inp is None else inp + source
                module = self.module(name)
                if isinstance(module, NeuronLayer):
                    state = carried.get(name) or module.initial_state(inp)
                    out, carried[name] = module.step(inp, state)
                    if record:
                        records[name].append(carried[name])
                else:
                    out = apply_per_step(module, inp[None])[0]
                outputs[name].append(out)
        for name in names:
            values[name] = torch.stack(outputs[name])
            module = self.module(name)
            if record and isinstance(module, NeuronLayer):
                states[name] = {state: torch.stack([r[k] for r in records[name]])
                                for k, state in enumerate(module.state_names)}


def _key(name: str) -> str:
    """A distinct module key for each node name: torch forbids dots, empty names and names of
    a module's members, so `_` is escaped as `__` and `.` as `_d`, and a key that would be
    empty or a member gets the prefix `n_` (which no escaped name can begin with)."""
    key = name.replace("_", "__").replace(".", "_d")
    return key if key and not hasattr(nn.Sequential(), key) else f"n_{key}"


def torch_from_network(network: ir.Network) -> nn.Module:
    """A torch module equal to the Network (same outputs, bit for bit): a
    `neurodeploy.nn.Sequential` for a chain, a GraphNetwork otherwise."""
    if not network.is_chain:
        return GraphNetwork(network).eval()
    model = Sequential(input_shape=network.input_shape)
    for layer in network.layers:
        model.add_module(_key(layer.name), module_from_node(layer.node))
    return model.eval()
