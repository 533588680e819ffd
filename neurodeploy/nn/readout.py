"""Leaky-integrator readout (non-spiking output neurons)."""

from __future__ import annotations

import torch

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register


class LI(NeuronLayer):
    """Leaky integrator: a graded readout neuron, NIR's LI at dt = 1.

    Update per step t::

        v_t = alpha * v_{t-1} + I_t

    The output is v_t. SRC networks read out with alpha = 0.99 (the default).

    Args:
        alpha: decay factor (scalar or per neuron).
        shape: neuron shape, needed only for per-neuron alpha.
    """

    state_names = ("v",)
    graded = True

    def __init__(self, alpha: float | torch.Tensor = 0.99, shape: tuple[int, ...] | None = None):
        super().__init__()
        register(self, "alpha", as_parameter_tensor(alpha, shape), learnable=False)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        (v,) = state
        v = self.alpha * v + inp
        return v, (v,)


def src_readout_weights(n_in: int, n_classes: int, group: int = 10) -> torch.Tensor:
    """The SRC paper's fixed readout: +1 from each class's group of `group` neurons, -0.1 else."""
    if n_in < n_classes * group:
        raise ValueError(f"need at least {n_classes * group} inputs for {n_classes} groups")
    weight = torch.full((n_classes, n_in), -0.1)
    for c in range(n_classes):
        weight[c, c * group : (c + 1) * group] = 1.0
    return weight
