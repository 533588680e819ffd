"""Energy per operation, with the source of every figure (see ../shared/specs/energy.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from neurodeploy.cost.synops import SynapseCount

HOROWITZ = "Horowitz, ISSCC 2014, 45 nm, 0.9 V"


@dataclass(frozen=True)
class OperationEnergy:
    """Energy of the primitive operations a digital neuromorphic core performs, in pJ."""

    int32_add: float = 0.1
    int8_mult: float = 0.2
    int32_mult: float = 3.1
    sram_read_64bit_8kb: float = 10.0
    sram_read_64bit_32kb: float = 20.0
    fp32_add: float = 0.9
    fp32_mult: float = 3.7
    sources: dict[str, str] = field(default_factory=lambda: {
        "int32_add": HOROWITZ, "int8_mult": HOROWITZ, "int32_mult": HOROWITZ,
        "sram_read_64bit_8kb": HOROWITZ, "sram_read_64bit_32kb": HOROWITZ,
        "fp32_add": HOROWITZ, "fp32_mult": HOROWITZ})

    def weight_read(self, bits: int) -> float:
        """One weight of `bits` from a 32 KB synapse bank read as 64-bit words (packed)."""
        return self.sram_read_64bit_32kb * bits / 64

    def state_access(self, bits: int) -> float:
        """One read plus one write of a `bits` state word in an 8 KB neuron memory."""
        return 2 * self.sram_read_64bit_8kb * bits / 64

    def multiply(self, bits: int) -> float:
        return self.int8_mult if bits <= 8 else self.int32_mult

    def accumulate(self, weight_bits: int) -> float:
        """A synaptic AC: fetch a weight, add it to the accumulator."""
        return self.weight_read(weight_bits) + self.int32_add

    def multiply_accumulate(self, weight_bits: int, activation_bits: int) -> float:
        """A synaptic MAC: fetch a weight, multiply by a graded input, accumulate."""
        return (self.weight_read(weight_bits) + self.multiply(max(weight_bits, activation_bits))
                + self.int32_add)


#: per neuron kind: (state words, multiplies by a decay or gate, table lookups, adds)
NEURON_OPERATIONS = {
    "IAF": (1, 0, 0, 2), "LIF": (1, 1, 0, 3), "CubaLIF": (2, 2, 0, 3), "SNU": (1, 1, 0, 3),
    "SoftSNU": (1, 2, 1, 3), "SRC": (3, 5, 2, 6), "LI": (1, 1, 0, 1),
}


def neuron_update_energy(kind: str, state_bits: int, table: OperationEnergy) -> float:
    """Energy of one neuron update: state traffic, decay/gate multiplies, table reads, adds."""
    words, mults, lookups, adds = NEURON_OPERATIONS[kind]
    return (words * table.state_access(state_bits) + mults * table.int32_mult
            + lookups * table.sram_read_64bit_8kb * 16 / 64 + adds * table.int32_add)


@dataclass(frozen=True)
class DigitalCoreEnergy:
    """The `sim` target's EnergyModel: a digital core built from Horowitz's operations."""

    table: OperationEnergy
    weight_bits: int
    activation_bits: int

    @property
    def sources(self) -> dict[str, str]:
        return dict(self.table.sources)

    def synaptic_pj(self, count: SynapseCount) -> float:
        per_op = (self.table.accumulate(self.weight_bits) if count.accumulate_only else
                  self.table.multiply_accumulate(self.weight_bits, self.activation_bits))
        return count.effective * per_op

    def neuron_pj(self, layer, updates: float, active: float | None) -> float:
        return updates * neuron_update_energy(layer.kind, layer.state_bits, self.table)

    def spike_pj(self, spikes: float) -> float:
        return 0.0  # routing between cores is not modelled for this target

    def dense_mac_pj(self) -> float:
        return self.table.multiply_accumulate(8, 8)
