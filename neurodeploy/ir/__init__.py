"""The intermediate representation: a float, discrete-time Network of typed nodes."""

from neurodeploy.ir.network import Network
from neurodeploy.ir.nodes import (
    GRU,
    IAF,
    LI,
    LIF,
    SNU,
    SRC,
    Affine,
    AvgPool2d,
    Conv2d,
    CubaLIF,
    Flatten,
    Layer,
    SumPool2d,
    is_neuron,
    neuron_kind,
)

__all__ = ["CubaLIF", "GRU", "IAF", "LI", "LIF", "SNU", "SRC", "Affine", "AvgPool2d", "Conv2d", "Flatten",
           "Layer", "SumPool2d", "Network", "is_neuron", "neuron_kind"]
