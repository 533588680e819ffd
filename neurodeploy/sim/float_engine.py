"""The float reference engine: runs a Network in discrete time, equal to the torch model.

Each neuron layer is evaluated by the `neurodeploy.nn` module that states its update equation,
rebuilt from the Network's parameters, so the reference and the trained model share one definition.
"""

from __future__ import annotations

import numpy as np
import torch

from neurodeploy import ir
from neurodeploy.frontend.to_torch import module_from_node
from neurodeploy.nn.base import NeuronLayer
from neurodeploy.nn.sequential import apply_per_step
from neurodeploy.sim.result import SimulationResult


def simulate_network(
    network: ir.Network, x: np.ndarray, record_states: bool = False, record_layers: bool = False
) -> SimulationResult:
    """Run `network` on time-major input `x` of shape `(T, B, *network.input_shape)`."""
    current = torch.as_tensor(np.asarray(x, dtype=np.float32))
    events, spikes, states, layer_outputs, graded = {}, {}, {}, {}, set()
    with torch.no_grad():
        for layer in network.layers:
            module = module_from_node(layer.node)
            if isinstance(module, NeuronLayer):
                current, recorded = module.run(current, record=record_states)
                if module.graded:
                    graded.add(layer.name)
                flat = current.flatten(start_dim=2)
                events[layer.name] = (flat != 0).sum(dim=2).numpy().astype(np.int64)
                spikes[layer.name] = flat.sum(dim=2).numpy()
                if record_states:
                    states[layer.name] = {k: v.numpy() for k, v in recorded.items()}
            else:
                current = apply_per_step(module, current)
            if record_layers:
                layer_outputs[layer.name] = current.numpy()
    output = current.flatten(start_dim=2).numpy()
    return SimulationResult(output, events, spikes, states, layer_outputs,
                            graded_layers=frozenset(graded))
