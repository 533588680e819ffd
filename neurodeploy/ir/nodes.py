"""The nodes of a neurodeploy Network: small dataclasses, one per layer kind.

Synaptic nodes carry their arithmetic here. Neuron nodes carry parameters only; their discrete-time
update is stated once, in the docstring of the `neurodeploy.nn` layer each one names, and every
engine cites that place.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class Reset(StrEnum):
    """What a spike does to the membrane: subtract the threshold, or set it to zero."""

    SUBTRACT = "subtract"
    ZERO = "zero"


class Spikes(StrEnum):
    """At most one spike per step, or as many as the membrane holds thresholds."""

    SINGLE = "single"
    MULTI = "multi"


def _conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


@dataclass(eq=False)
class Affine:
    """y = W x + b, with W of shape (out, in) and an optional bias b (out,)."""

    weight: np.ndarray
    bias: np.ndarray | None = None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if input_shape != (self.weight.shape[1],):
            raise ValueError(f"Affine expects input ({self.weight.shape[1]},), got {input_shape}")
        return (self.weight.shape[0],)


@dataclass(eq=False)
class Conv2d:
    """y[o] = sum_i W[o, i] * x[i] (2-D cross-correlation, torch's Conv2d) + b[o]."""

    weight: np.ndarray
    bias: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(input_shape) != 3 or input_shape[0] != self.weight.shape[1] * self.groups:
            raise ValueError(f"Conv2d expects input (C={self.weight.shape[1] * self.groups}, H, W)"
                             f", got {input_shape}")
        kh, kw = self.weight.shape[2:]
        return (
            self.weight.shape[0],
            _conv_out(input_shape[1], kh, self.stride[0], self.padding[0], self.dilation[0]),
            _conv_out(input_shape[2], kw, self.stride[1], self.padding[1], self.dilation[1]),
        )


@dataclass(eq=False)
class AvgPool2d:
    """y = mean of x over each kernel window (no padding counted beyond torch's default)."""

    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        c, h, w = input_shape
        return (
            c,
            _conv_out(h, self.kernel_size[0], self.stride[0], self.padding[0]),
            _conv_out(w, self.kernel_size[1], self.stride[1], self.padding[1]),
        )


@dataclass(eq=False)
class SumPool2d:
    """y = sum of x over each kernel window (sinabs's SumPool2d; NIR SumPool2d)."""

    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return AvgPool2d.output_shape(self, input_shape)  # type: ignore[arg-type]


@dataclass(eq=False)
class BatchNorm:
    """y[c] = (x[c] - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c] over the channel axis
    (the first per-sample axis): torch's BatchNorm1d / BatchNorm2d in eval mode."""

    mean: np.ndarray
    var: np.ndarray
    weight: np.ndarray
    bias: np.ndarray
    eps: float = 1e-5
    spatial: bool = False  # BatchNorm2d over (C, H, W); else BatchNorm1d over (C,)

    def scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """The per-channel affine it equals: y = x * scale + shift (in float64)."""
        scale = np.asarray(self.weight, np.float64) / np.sqrt(np.asarray(self.var, np.float64)
                                                               + self.eps)
        return scale, np.asarray(self.bias, np.float64) - np.asarray(self.mean, np.float64) * scale


@dataclass(eq=False)
class Flatten:
    """y = x reshaped to one feature dimension (row-major, as torch.flatten)."""

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(input_shape)),)


@dataclass(eq=False)
class IAF:
    """Integrate-and-fire neuron; update: `neurodeploy.nn.IAF`."""

    threshold: np.ndarray
    spike: Spikes = Spikes.MULTI
    reset: Reset = Reset.SUBTRACT
    min_v: np.ndarray | None = None
    strict: bool = False
    graded = False

    def __post_init__(self) -> None:
        self.spike, self.reset = Spikes(self.spike), Reset(self.reset)


@dataclass(eq=False)
class LIF:
    """Leaky integrate-and-fire neuron; update: `neurodeploy.nn.LIF`."""

    beta: np.ndarray
    threshold: np.ndarray
    reset: Reset = Reset.SUBTRACT
    reset_delay: bool = True
    graded = False

    def __post_init__(self) -> None:
        self.reset = Reset(self.reset)


@dataclass(eq=False)
class CubaLIF:
    """Current-based LIF neuron; update: `neurodeploy.nn.CubaLIF`."""

    alpha: np.ndarray
    beta: np.ndarray
    threshold: np.ndarray
    reset: Reset = Reset.ZERO
    reset_delay: bool = False
    graded = False

    def __post_init__(self) -> None:
        self.reset = Reset(self.reset)


@dataclass(eq=False)
class SNU:
    """Spiking Neural Unit (soft=True: sSNU with sigmoid output); update: `neurodeploy.nn.SNU`."""

    decay: np.ndarray
    bias: np.ndarray
    recurrent: np.ndarray | None = None
    soft: bool = False

    @property
    def graded(self) -> bool:
        return self.soft


@dataclass(eq=False)
class SRC:
    """Spiking Recurrent Cell; update: `neurodeploy.nn.SRC`."""

    bias: np.ndarray
    alpha: float = 0.9
    rho: float = 3.0
    r: float = 2.0
    rs: float = -7.0
    z: float = 0.0
    zs_hyp: float = 0.9
    zs_dep: float = 0.0
    bias_max: float = -4.0
    graded = True


@dataclass(eq=False)
class LI:
    """Leaky-integrator readout; update: `neurodeploy.nn.LI`."""

    alpha: np.ndarray
    graded = True


@dataclass(eq=False)
class GRU:
    """Gated recurrent unit with its own input weights; update: `neurodeploy.nn.GRU`."""

    weight_ih: np.ndarray  # (3H, F), gates r, z, n
    weight_hh: np.ndarray  # (3H, H)
    bias_ih: np.ndarray
    bias_hh: np.ndarray
    graded = True

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        if input_shape != (self.weight_ih.shape[1],):
            raise ValueError(f"GRU expects input ({self.weight_ih.shape[1]},), got {input_shape}")
        return (self.weight_hh.shape[1],)


SynapseNode = Affine | Conv2d | AvgPool2d | SumPool2d | Flatten | BatchNorm
NeuronNode = IAF | LIF | CubaLIF | SNU | SRC | LI | GRU
Node = SynapseNode | NeuronNode
NEURON_TYPES = (IAF, LIF, CubaLIF, SNU, SRC, LI, GRU)


def is_neuron(node: Node) -> bool:
    return isinstance(node, NEURON_TYPES)


def neuron_kind(node: NeuronNode) -> str:
    """The user-facing name of a neuron node: IAF, LIF, SNU, SoftSNU, SRC or LI."""
    if isinstance(node, SNU) and node.soft:
        return "SoftSNU"
    return type(node).__name__
