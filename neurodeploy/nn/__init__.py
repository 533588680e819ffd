"""Trainable time-major neuron layers: input and output are `(T, B, ...)`."""

from neurodeploy.nn.base import NeuronLayer
from neurodeploy.nn.cuba import CubaLIF
from neurodeploy.nn.gru import GRU
from neurodeploy.nn.iaf import IAF
from neurodeploy.nn.lif import LIF
from neurodeploy.nn.readout import LI, src_readout_weights
from neurodeploy.nn.sequential import PerStep, Sequential
from neurodeploy.nn.snu import SNU, SoftSNU
from neurodeploy.nn.src import SRC

__all__ = [
    "CubaLIF", "GRU", "IAF", "LI", "LIF", "SNU", "SRC", "NeuronLayer", "PerStep", "Sequential", "SoftSNU",
    "src_readout_weights",
]
