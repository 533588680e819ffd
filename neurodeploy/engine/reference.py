"""The float reference engine: runs a Network in discrete time, equal to the torch model.

Every node runs as the `neurodeploy.nn` module that states its update equation, inside a
`neurodeploy.nn.graph.GraphNetwork`, so the reference and the trained model share one definition.
A network whose delayed edges make its output lag the input (e.g. a netx file's one-step
synapses) gets that many zero steps after the input, as the golden model does for a Program.
"""

from __future__ import annotations

import numpy as np
import torch

from neurodeploy import ir
from neurodeploy.engine.result import SimulationResult
from neurodeploy.ir.graph import latencies
from neurodeploy.nn.graph import GraphNetwork


def simulate_network(network: ir.Network, x: np.ndarray, record_states: bool = False,
                     record_outputs: bool = False) -> SimulationResult:
    """Run `network` on time-major input `x` of shape `(T, B, *network.input_shape)`."""
    lags = latencies(network.order, network.edges)
    lag = lags.get(network.output, 0)
    if lag:
        x = np.concatenate([x, np.zeros((lag, *np.shape(x)[1:]), np.float32)])
    model = GraphNetwork(network)
    with torch.no_grad():
        run = model.run(torch.as_tensor(np.asarray(x, dtype=np.float32)), record_states)
    events, spikes, graded = {}, {}, set()
    for layer in network.neuron_layers:
        flat = run.node_outputs[layer.name].flatten(start_dim=2)
        events[layer.name] = (flat != 0).sum(dim=2).numpy().astype(np.int64)
        spikes[layer.name] = flat.sum(dim=2).numpy()
        if getattr(layer.node, "graded", False):
            graded.add(layer.name)
    states = {name: {k: v.numpy() for k, v in recorded.items()}
              for name, recorded in run.states.items()}
    outputs = ({name: value.numpy() for name, value in run.node_outputs.items()}
               if record_outputs else {})
    return SimulationResult(run.output.flatten(start_dim=2).numpy(), events, spikes, states,
                            outputs, graded=frozenset(graded), latency=lag,
                            node_latency={name: steps for name, steps in lags.items() if steps})
