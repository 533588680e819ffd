"""Leaky integrate-and-fire neurons (snnTorch `Leaky` semantics)."""

from __future__ import annotations

from typing import Literal

import torch

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register, stack_records
from neurodeploy.nn.surrogate import step


class LIF(NeuronLayer):
    """Leaky integrate-and-fire neuron, as snnTorch's `Leaky` with its default reset delay.

    Update per step t (theta = threshold, H(x) = 1 where x > 0)::

        r_t   = H(m_{t-1} - theta)                      # reset decided on the previous step
        m_t   = beta * m_{t-1} + I_t - r_t * theta      # reset="subtract" (default)
        m_t   = beta * (1 - r_t) * m_{t-1} + I_t        # reset="zero"
        s_t   = H(m_t - theta)                          # strict threshold

    The output is s_t in {0, 1}.

    Args:
        beta: membrane decay factor in [0, 1] (scalar or per neuron).
        threshold: firing threshold theta (scalar or per neuron).
        reset: "subtract" (snnTorch default) or "zero".
        learn_beta: train beta (it is then clamped to [0, 1] in the update).
        shape: neuron shape, needed for per-neuron (learned) beta.
    """

    state_names = ("m",)

    def __init__(
        self,
        beta: float | torch.Tensor = 0.9,
        threshold: float | torch.Tensor = 1.0,
        reset: Literal["subtract", "zero"] = "subtract",
        learn_beta: bool = False,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if reset not in ("subtract", "zero"):
            raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        self.reset = reset
        register(self, "beta", as_parameter_tensor(beta, shape), learnable=learn_beta)
        register(self, "threshold", as_parameter_tensor(threshold, shape), learnable=False)

    def run(self, x: torch.Tensor, record: bool = True):
        self._check_time_major(x, "LIF")
        beta = self.beta.clamp(0.0, 1.0)
        m = torch.zeros_like(x[0])
        outputs, records = [], {"m": []}
        for inp in x:
            r = (m > self.threshold).to(x.dtype)
            if self.reset == "subtract":
                m = beta * m + inp - r * self.threshold
            else:
                m = beta * ((1 - r) * m) + inp
            s = step(m - self.threshold)
            outputs.append(s)
            if record:
                records["m"].append(m)
        return torch.stack(outputs), stack_records(records) if record else {}

    def extra_repr(self) -> str:
        return f"reset={self.reset}"
