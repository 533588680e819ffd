"""Loihi 1 chip limits, formats, and energy and time per operation (../shared/specs/loihi.md)."""

from __future__ import annotations

from dataclasses import dataclass

DAVIES = "Davies et al., IEEE Micro 2018, Table 2 (pre-silicon, 14 nm)"
FRADY = "Frady et al. 2020 (3.34 W for 32 chips)"


@dataclass(frozen=True)
class LoihiSpec:
    """Loihi 1: limits (Davies 2018), neuron formats (Lava), energy and time per operation."""

    name: str = "loihi"
    cores_per_chip: int = 128
    max_chips: int = 16384
    compartments_per_core: int = 1024
    synapse_memory_bytes: int = 128 * 1024
    max_input_axons: int = 4096
    max_output_axons: int = 4096
    cores_per_tile: int = 4
    max_weight_bits: int = 8
    threshold_mantissa_bits: int = 17  # unsigned
    bias_mantissa_bits: int = 13  # signed
    bias_exponent: int = 6  # netx's choice
    state_bits: int = 24
    synop_pj: float = 23.6
    neuron_update_active_pj: float = 81.0
    neuron_update_inactive_pj: float = 52.0
    spike_in_tile_pj: float = 1.7
    synop_ns: float = 3.5
    neuron_update_active_ns: float = 8.4
    neuron_update_inactive_ns: float = 5.3
    barrier_ns_one_tile: float = 113.0
    barrier_ns_32_tiles: float = 465.0
    static_power_w_per_chip: float = 0.104
    mesh_tile_columns: int = 8  # assumption: 32 tiles as an 8 x 4 mesh
    tile_hop_ew_ns: float = 4.1
    tile_hop_ns_ns: float = 6.5
    ns_per_packet: float = 2.1  # assumption: one spike per within-tile spike latency per link

    def barrier_ns(self, tiles: int) -> float:
        """Barrier synchronisation time, interpolated linearly between 1 and 32 tiles."""
        tiles = max(1, tiles)
        if tiles >= 32:
            return self.barrier_ns_32_tiles
        step = (self.barrier_ns_32_tiles - self.barrier_ns_one_tile) / 31
        return self.barrier_ns_one_tile + step * (tiles - 1)

    @property
    def timing_sources(self) -> dict[str, str]:
        """Where each figure of the cycle-level model comes from."""
        return {"synop_ns": DAVIES, "neuron_update_ns": DAVIES, "barrier": DAVIES,
                "tile_hop_ns": DAVIES + " (E-W 4.1 ns, N-S 6.5 ns per tile hop)",
                "mesh_tile_columns": "assumption: 32 tiles of 4 cores as an 8 x 4 mesh",
                "ns_per_packet": "assumption: a link carries one spike per 2.1 ns, the "
                                 "within-tile spike latency of " + DAVIES}

    @property
    def sources(self) -> dict[str, str]:
        return {"synop_pj": DAVIES, "neuron_update_pj": DAVIES, "spike_in_tile_pj": DAVIES,
                "times": DAVIES, "barrier": DAVIES, "static_power": FRADY}
