"""A Sequential container that runs per-sample layers with time folded into the batch."""

from __future__ import annotations

import torch
from torch import nn

from neurodeploy.nn.base import NeuronLayer


def apply_per_step(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a stateless layer to `(T, B, ...)` by folding time into the batch dimension."""
    if isinstance(layer, nn.Linear):
        return layer(x)  # Linear acts on the last dimension already
    steps, batch = x.shape[:2]
    y = layer(x.reshape(steps * batch, *x.shape[2:]))
    return y.reshape(steps, batch, *y.shape[1:])


class Sequential(nn.Sequential):
    """Time-major `nn.Sequential`: neuron layers see `(T, B, ...)`; Conv2d, pooling, Flatten and
    Linear see `(T*B, ...)`. Use it for convolutional networks; a plain `nn.Sequential` is enough
    for Linear-only networks, since Linear acts on the last dimension. `input_shape` (per step and
    sample, e.g. (C, H, W)) lets neurodeploy load a convolutional network without data.
    """

    def __init__(self, *layers: nn.Module, input_shape: tuple[int, ...] | None = None) -> None:
        super().__init__(*layers)
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x) if isinstance(layer, NeuronLayer) else apply_per_step(layer, x)
        return x


class PerStep(nn.Module):
    """Apply a per-sample layer (BatchNorm, Conv2d, pooling, Flatten) to time-major input
    `(T, B, ...)`, time folded into the batch: what a model written as an `nn.Module` subclass
    wraps such layers in, so that neurodeploy traces them as the layer itself."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return apply_per_step(self.layer, x)
