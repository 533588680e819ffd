"""Current-based LIF neurons (NIR's CubaLIF at dt = 1; Loihi's CUBA compartment)."""

from __future__ import annotations

import torch

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register
from neurodeploy.nn.surrogate import step


class CubaLIF(NeuronLayer):
    """Leaky integrate-and-fire neuron with a leaky synaptic current.

    Update per step t (theta = threshold, H(x) = 1 where x > 0)::

        i_t = alpha * i_{t-1} + I_t          # synaptic current
        v_t = beta * v_{t-1} + i_t           # membrane
        s_t = H(v_t - theta)                 # strict threshold
        v_t = 0 where s_t                    # reset to zero in the spiking step (i is kept)

    This is NIR's CubaLIF discretised with forward Euler at dt = 1 (alpha = 1 - 1/tau_syn,
    beta = 1 - 1/tau_mem, unit input gains) and the float form of Loihi's CUBA compartment.

    Args:
        alpha: synaptic current decay (scalar or per neuron).
        beta: membrane decay (scalar or per neuron).
        threshold: firing threshold (scalar or per neuron).
        shape: neuron shape, needed only for per-neuron parameters.
    """

    state_names = ("i", "v")

    def __init__(self, alpha: float | torch.Tensor = 0.5, beta: float | torch.Tensor = 0.9,
                 threshold: float | torch.Tensor = 1.0, shape: tuple[int, ...] | None = None):
        super().__init__()
        register(self, "alpha", as_parameter_tensor(alpha, shape), learnable=False)
        register(self, "beta", as_parameter_tensor(beta, shape), learnable=False)
        register(self, "threshold", as_parameter_tensor(threshold, shape), learnable=False)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        i, v = state
        i = self.alpha * i + inp
        v = self.beta * v + i
        s = step(v - self.threshold)
        v = v * (1 - s)
        return s, (i, v)
