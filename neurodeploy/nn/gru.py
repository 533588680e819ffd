"""A GRU layer in the time-major neuron-layer interface (torch.nn.GRU semantics)."""

from __future__ import annotations

import torch
from torch import nn

from neurodeploy.nn.base import NeuronLayer


class GRU(NeuronLayer):
    """Gated recurrent unit, one layer, exactly `torch.nn.GRU` (reset-after form)::

        r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
        z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
        n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
        h_t = (1 - z_t) * n_t + z_t * h_{t-1}

    Input `(T, B, input_size)`, output the hidden states `(T, B, hidden_size)`, h_0 = 0.
    """

    state_names = ("h",)
    graded = True

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = nn.GRU(input_size, hidden_size)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        (h,) = state
        out, _ = self.cell(inp[None], h[None])
        return out[0], (out[0],)

    def initial_state(self, like: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (like.new_zeros(*like.shape[:-1], self.cell.hidden_size),)

    def run(self, x: torch.Tensor, record: bool = True):
        """The whole sequence in one `nn.GRU` call (what torch computes for the trained model)."""
        self._check_time_major(x, "GRU")
        out, _ = self.cell(x)
        return out, {"h": out} if record else {}
