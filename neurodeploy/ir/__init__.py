"""The intermediate representation: a float, discrete-time Network of typed nodes."""

from neurodeploy.ir.graph import INPUT, Edge
from neurodeploy.ir.network import Layer, Network
from neurodeploy.ir.nodes import (
    GRU,
    IAF,
    LI,
    LIF,
    SNU,
    SRC,
    Affine,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    CubaLIF,
    Flatten,
    Reset,
    Spikes,
    SumPool2d,
    is_neuron,
    neuron_kind,
)

__all__ = ["INPUT", "GRU", "IAF", "LI", "LIF", "SNU", "SRC", "Affine", "AvgPool2d", "BatchNorm",
           "Conv2d", "CubaLIF", "Edge", "Flatten", "Layer", "Network", "Reset", "Spikes",
           "SumPool2d", "is_neuron", "neuron_kind"]
