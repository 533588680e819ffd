"""Leaky integrate-and-fire neurons (snnTorch `Leaky` semantics)."""

from __future__ import annotations

from typing import Literal

import torch

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register
from neurodeploy.nn.surrogate import step


class LIF(NeuronLayer):
    """Leaky integrate-and-fire neuron, as snnTorch's `Leaky`.

    Update per step t (theta = threshold, H(x) = 1 where x > 0)::

        r_t   = H(m_{t-1} - theta)                      # reset decided on the previous step
        m_t   = beta * m_{t-1} + I_t - r_t * theta      # reset="subtract" (default)
        m_t   = beta * (1 - r_t) * m_{t-1} + I_t        # reset="zero"
        s_t   = H(m_t - theta)                          # strict threshold
        m_t   = m_t - (s_t - r_t) * theta               # only if not reset_delay, "subtract"
        m_t   = m_t - (s_t - r_t) * m_t                 # only if not reset_delay, "zero"

    The output is s_t in {0, 1}. With `reset_delay` (snnTorch's default) the reset of a spike
    at t acts at t + 1; without it the membrane is reset in the step that fires, as NIR's LIF.

    Args:
        beta: membrane decay factor in [0, 1] (scalar or per neuron).
        threshold: firing threshold theta (scalar or per neuron).
        reset: "subtract" (snnTorch default) or "zero".
        reset_delay: apply the reset one step after the spike (snnTorch default) or at once.
        learn_beta: train beta (it is then clamped to [0, 1] in the update).
        shape: neuron shape, needed for per-neuron (learned) beta.
    """

    state_names = ("m",)
    reset_delay = True  # class default keeps models pickled before the option existed loadable

    def __init__(
        self,
        beta: float | torch.Tensor = 0.9,
        threshold: float | torch.Tensor = 1.0,
        reset: Literal["subtract", "zero"] = "subtract",
        reset_delay: bool = True,
        learn_beta: bool = False,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if reset not in ("subtract", "zero"):
            raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        self.reset = reset
        self.reset_delay = bool(reset_delay)
        register(self, "beta", as_parameter_tensor(beta, shape), learnable=learn_beta)
        register(self, "threshold", as_parameter_tensor(threshold, shape), learnable=False)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        (m,) = state
        beta = self.beta.clamp(0.0, 1.0)
        r = (m > self.threshold).to(inp.dtype)
        if self.reset == "subtract":
            m = beta * m + inp - r * self.threshold
        else:
            m = beta * ((1 - r) * m) + inp
        s = step(m - self.threshold)
        if not self.reset_delay:
            undone = s - r
            m = m - undone * self.threshold if self.reset == "subtract" else m - undone * m
        return s, (m,)

    def extra_repr(self) -> str:
        return f"reset={self.reset}, reset_delay={self.reset_delay}"
