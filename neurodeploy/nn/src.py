"""Spiking Recurrent Cell (De Geeter, Ernst, Drion 2023)."""

from __future__ import annotations

import torch

from neurodeploy.nn.base import NeuronLayer, as_parameter_tensor, register


def relu_with_identity_gradient(h: torch.Tensor) -> torch.Tensor:
    """relu(h) in the forward pass (exactly), identity in the backward pass (the paper's bypass)."""
    return h + (torch.relu(h) - h).detach()


class SRC(NeuronLayer):
    """Spiking Recurrent Cell: a GRU-derived neuron whose spikes are graded and last several steps.

    Update per step t (W_s s_in[t] arrives from the preceding layer; H(x) = 1 where x > 0)::

        i[t]  = alpha * i[t-1] + W_s s_in[t]                      # leaky synaptic integrator
        x[t]  = rho * tanh(i[t] / rho)                            # bounded input
        zs    = zs_hyp + (zs_dep - zs_hyp) * H(h[t-1] - 0.5)      # reads h[t-1] (see below)
        b     = min(b_h, bias_max)                                # trained bias, bounded above
        h[t]  = z * h[t-1] + (1 - z) * tanh(x[t] + r * h[t-1] + rs * hs[t-1] + b)
        hs[t] = zs * hs[t-1] + (1 - zs) * h[t-1]                  # slow state lags h
        s_out[t] = relu(h[t])

    The paper writes H(h[t] - 0.5) but defines zs before h[t] exists; neurodeploy reads h[t-1].
    Training tricks of the paper: the gradient bypasses the output ReLU and the recurrent states
    h, hs are detached, so only i carries gradients through time. Forward values are unaffected.

    Args:
        features: number of neurons.
        alpha: synaptic decay (0.9; 0.99 for latency-coded input).
        rho, r, rs, z, zs_hyp, zs_dep: the cell's fixed constants (paper values by default).
        bias_init: initial b_h (-6); bias_max: upper bound on b_h (-4).
        learn_bias: train b_h (paper: yes).
    """

    state_names = ("i", "h", "hs")
    graded = True

    def __init__(
        self,
        features: int,
        alpha: float = 0.9,
        rho: float = 3.0,
        r: float = 2.0,
        rs: float = -7.0,
        z: float = 0.0,
        zs_hyp: float = 0.9,
        zs_dep: float = 0.0,
        bias_init: float = -6.0,
        bias_max: float = -4.0,
        learn_bias: bool = True,
    ) -> None:
        super().__init__()
        self.features = int(features)
        self.alpha = float(alpha)
        self.rho = float(rho)
        self.r = float(r)
        self.rs = float(rs)
        self.z = float(z)
        self.zs_hyp = float(zs_hyp)
        self.zs_dep = float(zs_dep)
        self.bias_max = float(bias_max)
        shape = (self.features,)
        register(self, "bias", as_parameter_tensor(bias_init, shape), learnable=learn_bias)

    def step(self, inp: torch.Tensor, state: tuple[torch.Tensor, ...]):
        i, h, hs = state
        h_prev, hs_prev = h.detach(), hs.detach()
        i = self.alpha * i + inp
        bounded = self.rho * torch.tanh(i / self.rho)
        zs = self.zs_hyp + (self.zs_dep - self.zs_hyp) * (h_prev > 0.5).to(inp.dtype)
        b = torch.clamp(self.bias, max=self.bias_max)
        h = self.z * h_prev + (1 - self.z) * torch.tanh(
            bounded + self.r * h_prev + self.rs * hs_prev + b
        )
        hs = zs * hs_prev + (1 - zs) * h_prev
        return relu_with_identity_gradient(h), (i, h, hs)

    def extra_repr(self) -> str:
        return f"features={self.features}, alpha={self.alpha}"
