"""Integrate-and-fire neurons (sinabs semantics)."""

from __future__ import annotations

from typing import Literal

import torch

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register
from neurodeploy.nn.surrogate import step, step_at_zero


class _MultiSpike(torch.autograd.Function):
    """n = trunc(v / threshold) where v > 0, else 0; surrogate backward around the threshold."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(v, threshold)
        return (v > 0) * torch.div(v, threshold, rounding_mode="trunc")

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        v, threshold = ctx.saved_tensors
        surrogate = 1.0 / (1.0 + 5.0 * (v - threshold).abs()) ** 2
        return grad_output * surrogate / threshold, None


def multi_spike(v: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Number of spikes for membrane `v`: trunc(v / threshold) where v > 0."""
    return _MultiSpike.apply(v, threshold)


class IAF(NeuronLayer):
    """Integrate-and-fire neuron, as in sinabs (the spiking counterpart of ReLU).

    Update per step t (theta = threshold)::

        v_t = v_{t-1} + I_t
        n_t = trunc(v_t / theta) if v_t > 0 else 0     # spike="multi" (several spikes per step)
        n_t = 1 if v_t - theta >= 0 else 0             # spike="single" (at most one)
        n_t = 1 if v_t - theta > 0 else 0              # spike="single", strict=True (NIR's IF)
        v_t = v_t - n_t * theta                        # reset="subtract"
        v_t = v_t * (1 - min(n_t, 1))                  # reset="zero"
        v_t = relu(v_t - min_v) + min_v                # only when min_v is given (a floor)

    The output is n_t (a spike count). Thresholds are non-strict (>=), as in sinabs, unless
    `strict` (single spikes only).

    Args:
        threshold: firing threshold theta (scalar or per neuron).
        spike: "multi" (sinabs default and `from_model`) or "single".
        reset: "subtract" (default) or "zero".
        min_v: lower bound of the membrane (scalar or per neuron), or None for no bound
            (sinabs `from_model` uses -1, sinabs `from_nir` -threshold).
        strict: fire only when v exceeds the threshold (v > theta); needs spike="single".
        shape: neuron shape, needed only for per-neuron thresholds.
    """

    state_names = ("v",)
    strict = False  # class default keeps models pickled before the option existed loadable

    def __init__(
        self,
        threshold: float | torch.Tensor = 1.0,
        spike: Literal["multi", "single"] = "multi",
        reset: Literal["subtract", "zero"] = "subtract",
        min_v: float | torch.Tensor | None = None,
        strict: bool = False,
        shape: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        if spike not in ("multi", "single"):
            raise ValueError(f"spike must be 'multi' or 'single', got {spike!r}")
        if reset not in ("subtract", "zero"):
            raise ValueError(f"reset must be 'subtract' or 'zero', got {reset!r}")
        if strict and spike != "single":
            raise ValueError("strict thresholds need spike='single'")
        self.spike = spike
        self.reset = reset
        self.strict = bool(strict)
        register(self, "threshold", as_parameter_tensor(threshold, shape), learnable=False)
        if min_v is None:
            self.min_v = None
        else:
            register(self, "min_v", as_parameter_tensor(min_v, shape), learnable=False)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        (v,) = state
        v = v + inp
        if self.spike == "multi":
            n = multi_spike(v, self.threshold)
        elif self.strict:
            n = step(v - self.threshold)
        else:
            n = step_at_zero(v - self.threshold)
        if self.reset == "subtract":
            v = v - n * self.threshold
        else:
            v = v * (1 - torch.clamp(n, max=1))
        if self.min_v is not None:
            v = torch.relu(v - self.min_v) + self.min_v
        return n, (v,)

    def extra_repr(self) -> str:
        return f"spike={self.spike}, reset={self.reset}, strict={self.strict}"
