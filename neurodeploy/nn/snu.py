"""Spiking Neural Units (Wozniak et al., Nature Machine Intelligence 2020)."""

from __future__ import annotations

import torch
from torch import nn

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register
from neurodeploy.nn.surrogate import step


class SNU(NeuronLayer):
    """Spiking Neural Unit: a LIF neuron written as a recurrent ANN unit.

    Update per step t (W x_t arrives from the preceding layer; H(x) = 1 where x > 0)::

        s_t = relu(W x_t + R y_{t-1} + l * s_{t-1} * (1 - y_{t-1}))   # membrane; R only if recurrent
        y_t = H(s_t + b)                                             # SNU: spike, threshold -b
        y_t = sigmoid(s_t + b)                                       # SoftSNU: graded output

    The reset is the gate (1 - y_{t-1}); the ReLU floors the membrane at zero.

    Args:
        features: number of neurons (or neuron shape for convolutional layers).
        decay: membrane decay l(tau) = 1 - dt/tau, scalar or per neuron (paper: 0.8).
        learn_decay: train a per-neuron decay.
        threshold: initial threshold; the trained bias is b = -threshold.
        learn_bias: train b (paper: yes).
        recurrent: add the recurrent weight R (features must be an int).
    """

    state_names = ("s", "y")
    soft = False

    def __init__(
        self,
        features: int | tuple[int, ...],
        decay: float | torch.Tensor = 0.8,
        learn_decay: bool = False,
        threshold: float = 1.0,
        learn_bias: bool = True,
        recurrent: bool = False,
    ) -> None:
        super().__init__()
        shape = (features,) if isinstance(features, int) else tuple(features)
        self.shape = shape
        register(self, "decay", as_parameter_tensor(decay, shape), learnable=learn_decay)
        register(self, "bias", as_parameter_tensor(-float(threshold), shape), learnable=learn_bias)
        if recurrent:
            if len(shape) != 1:
                raise ValueError("recurrent SNU layers need a 1-D feature count")
            self.recurrent = nn.Linear(shape[0], shape[0], bias=False)
            nn.init.orthogonal_(self.recurrent.weight, gain=0.1)
        else:
            self.recurrent = None

    @property
    def graded(self) -> bool:  # type: ignore[override]
        return self.soft

    def _output(self, pre: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(pre) if self.soft else step(pre)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        s, y = state
        drive = inp + self.decay * s * (1 - y)
        if self.recurrent is not None:
            drive = drive + self.recurrent(y)
        s = torch.relu(drive)
        y = self._output(s + self.bias)
        return y, (s, y)

    def extra_repr(self) -> str:
        return f"shape={self.shape}"


class SoftSNU(SNU):
    """Soft SNU (sSNU): the SNU with a sigmoid output, graded in (0, 1); see `SNU` for the update.

    Its reset is proportional: the state is scaled by (1 - y). On hardware its output needs
    graded (multi-bit) spikes.
    """

    soft = True
