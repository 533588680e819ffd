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
    mesh_columns: int = 16
    hop_cycles: int = 2
    cycles_per_packet: int = 1
    energy: OperationEnergy = field(default_factory=OperationEnergy)

    @property
    def timing_sources(self) -> dict[str, str]:
        """Where each figure of the cycle model comes from."""
        assumed = "assumption of this generic target"
        return {"cycles_per_synop": f"{assumed} (one weight read and add per cycle)",
                "cycles_per_neuron_update": f"{assumed} (read state, decay, add, write)",
                "barrier_cycles": f"{assumed} (a tree barrier over 128 cores)",
                "mesh_columns": f"{assumed}: a 16 x 8 mesh, one router per core",
                "hop_cycles": f"{assumed}: a two-stage router (route, traverse) per hop",
                "cycles_per_packet": f"{assumed}: one single-flit packet per link per cycle",
                "clock_hz": assumed}
