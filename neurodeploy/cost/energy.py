"""Energy per operation of a digital core, with the source of every figure
(../shared/specs/energy.md)."""

from __future__ import annotations

from dataclasses import dataclass, field

from neurodeploy.program.node import Operations, SynapseCount

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

    def synapses(self, count: SynapseCount, weight_bits: int, activation_bits: int) -> float:
        """All of `count.effective` synaptic operations: ACs on spikes, MACs on graded inputs."""
        per_op = (self.accumulate(weight_bits) if count.accumulate_only else
                  self.multiply_accumulate(weight_bits, activation_bits))
        return count.effective * per_op

    def neuron_update(self, operations: Operations, state_bits: int) -> float:
        """One neuron update: state traffic, decay/gate multiplies, 16-bit table reads, adds."""
        return (operations.state_words * self.state_access(state_bits)
                + operations.multiplies * self.int32_mult
                + operations.lookups * self.sram_read_64bit_8kb * 16 / 64
                + operations.adds * self.int32_add)
