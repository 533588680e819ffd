"""Current-based LIF neurons (NIR's CubaLIF at dt = 1; Loihi's CUBA compartment)."""

from __future__ import annotations

from typing import Literal

import torch

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register
from neurodeploy.nn.surrogate import step


class CubaLIF(NeuronLayer):
    """Leaky integrate-and-fire neuron with a leaky synaptic current.

    Update per step t (theta = threshold, H(x) = 1 where x > 0)::

        r_t = H(v_{t-1} - theta)                  # the previous step's spike (delayed reset)
        i_t = alpha * i_{t-1} + I_t               # synaptic current
        v_t = beta * v_{t-1} + i_t - r_t * theta  # reset="subtract"
        v_t = (beta * v_{t-1} + i_t) (1 - r_t)    # reset="zero" (the new membrane is cleared)
        s_t = H(v_t - theta)                      # strict threshold
        v_t = v_t - (s_t - r_t) * theta           # only if not reset_delay, "subtract"
        v_t = v_t - (s_t - r_t) * v_t             # only if not reset_delay, "zero"

    With the defaults (reset to zero in the spiking step) this is NIR's CubaLIF discretised with
    forward Euler at dt = 1 (alpha = 1 - 1/tau_syn, beta = 1 - 1/tau_mem, unit input gains) and
    the float form of Loihi's CUBA compartment; reset="subtract" with reset_delay is snnTorch's
    `Synaptic` (its default). The current i is never reset.

    Args:
        alpha: synaptic current decay (scalar or per neuron).
        beta: membrane decay (scalar or per neuron).
        threshold: firing threshold (scalar or per neuron).
        reset: "zero" (default) or "subtract".
        reset_delay: apply the reset one step after the spike (snnTorch) or at once (default).
        shape: neuron shape, needed only for per-neuron parameters.
    """

    state_names = ("i", "v")
    reset = "zero"  # class defaults keep models pickled before the options existed loadable
    reset_delay = False

    def __init__(self, alpha: float | torch.Tensor = 0.5, beta: float | torch.Tensor = 0.9,
                 threshold: float | torch.Tensor = 1.0, reset: Literal["zero", "subtract"] = "zero",
                 reset_delay: bool = False, shape: tuple[int, ...] | None = None):
        super().__init__()
        if reset not in ("subtract", "zero"):
            raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        self.reset = reset
        self.reset_delay = bool(reset_delay)
        register(self, "alpha", as_parameter_tensor(alpha, shape), learnable=False)
        register(self, "beta", as_parameter_tensor(beta, shape), learnable=False)
        register(self, "threshold", as_parameter_tensor(threshold, shape), learnable=False)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        i, v = state
        r = (v > self.threshold).to(inp.dtype)
        i = self.alpha * i + inp
        v = self.beta * v + i
        v = v - r * self.threshold if self.reset == "subtract" else v - r * v
        s = step(v - self.threshold)
        if not self.reset_delay:
            undone = s - r
            v = v - undone * self.threshold if self.reset == "subtract" else v - undone * v
        return s, (i, v)

    def extra_repr(self) -> str:
        return f"reset={self.reset}, reset_delay={self.reset_delay}"
