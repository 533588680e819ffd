"""The `sim` chip: a generic digital neuromorphic core array, its limits, timing and energy."""

from __future__ import annotations

from dataclasses import dataclass, field

from neurodeploy.cost.energy import OperationEnergy


@dataclass(frozen=True)
class CoreArraySpec:
    """Cores, memories, precisions, timing and energy (figures are this target's assumptions,
    energies per operation from Horowitz 2014)."""

    name: str = "sim"
    cores: int = 128
    neurons_per_core: int = 1024
    synapse_memory_bytes: int = 128 * 1024
    max_weight_bits: int = 16
    state_bits: int = 24
    cycles_per_synop: int = 1
    cycles_per_neuron_update: int = 4
    barrier_cycles: int = 64
    clock_hz: float = 200e6
    energy: OperationEnergy = field(default_factory=OperationEnergy)
