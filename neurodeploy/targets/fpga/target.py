"""The `fpga` Target: compile to the microcoded datapath, emit RTL + testbench + memories, and
its exact cycle and resource model.

Cycle model (exact for the emitted RTL; `tests/test_fpga.py` compares it with both simulators):
each instruction costs one fetch cycle plus its work, MV costs sum over row blocks of
(columns + rows in the block) (LANES rows accumulate together, one column per cycle, then the
block's rows are written back one per cycle), every other instruction n cycles, END one cycle;
a sequence starts with one start cycle and VWORDS cycles clearing the vector memory.
Resources: LANES + 1 multipliers (DSPs), and the bits of every memory. Energy: the datapath's
operations priced as a 45 nm ASIC (Horowitz 2014), an estimate, not an FPGA measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from neurodeploy import ir
from neurodeploy.cost.energy import OperationEnergy
from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.graph import Program
from neurodeploy.program.serialize import load_program
from neurodeploy.targets.base import Cost, Energy, NodePlacement, Placement, Timing, Usage
from neurodeploy.targets.fpga import LANE_CHOICES
from neurodeploy.targets.fpga.compile import compile_network, unsupported_parts
from neurodeploy.targets.fpga.executors import EXECUTORS
from neurodeploy.targets.fpga.isa import ACC_BITS, WORD_BITS
from neurodeploy.targets.fpga.microcode import NODE, Microcode, microcode_of, program_of
from neurodeploy.targets.fpga.verilog import weight_words, write_rtl


@dataclass(frozen=True)
class FpgaOptions:
    """Lowering options: `weight_bits` is the data-path width (weights and activations)."""

    weight_bits: int = 16
    lanes: int = 4
    clock_hz: float = 200e6

    def __post_init__(self) -> None:
        if self.lanes not in LANE_CHOICES:
            raise ValueError(f"lanes must be one of {LANE_CHOICES}, got {self.lanes}")
        if not 8 <= self.weight_bits <= 16:
            raise ValueError(f"the data path has 8..16 bits, got {self.weight_bits}")


def cycles_per_step(program: Microcode, lanes: int | None = None) -> int:
    if lanes is None:
        lanes = program.lanes
    total = 0
    for ins in program.instructions:
        total += 1
        if ins.op == "MV":
            total += math.ceil(ins.n / lanes) * ins.m + ins.n
        elif ins.op != "END":
            total += ins.n
    return total


def cycles_per_sequence(program: Microcode, steps: int, lanes: int | None = None) -> int:
    return 1 + program.vector_words + steps * cycles_per_step(program, lanes)


def resources(program: Microcode) -> dict:
    bits = program.data_bits
    memory_bits = {
        "weights": len(weight_words(program)) * program.lanes * bits,
        "biases_and_constants": int(program.bias.size) * ACC_BITS,
        "tables": int(program.luts.size) * bits,
        "program": len(program.instructions) * WORD_BITS,
        "vectors": program.vector_words * bits,
    }
    return {"dsp": program.lanes + 1, "memory_bits": memory_bits,
            "memory_bits_total": sum(memory_bits.values()), "tables": program.tables(),
            "formats": program.formats()}


def cost(program: Program, result: SimulationResult) -> Cost:
    micro = microcode_of(program)
    steps, batch = result.output.shape[:2]
    macs = sum(i.n * i.m for i in micro.instructions if i.op == "MV") * steps
    elementwise = sum(i.n for i in micro.instructions
                      if i.op not in ("MV", "END", "IN", "OUT")) * steps
    table = OperationEnergy()
    bits = micro.data_bits
    energy_pj = macs * table.multiply_accumulate(bits, bits) + elementwise * (
        table.multiply(bits) + table.state_access(bits))
    per_step = cycles_per_step(micro)
    total = cycles_per_sequence(micro, steps)
    found = resources(micro)
    return Cost(
        Energy(energy_pj, 0.0, {NODE: energy_pj},
               {"operations": "Horowitz, ISSCC 2014, 45 nm (an ASIC estimate of the datapath's "
                              "operations, not an FPGA figure)"},
               "estimate: dynamic energy of the datapath's operations as a 45 nm ASIC"),
        Timing(steps, total / micro.clock_hz, "fetch + MV blocks x (columns + rows) + n per "
               "elementwise op; start + vector clear per sequence", total, per_step,
               micro.clock_hz),
        {NODE: float(macs)}, {NODE: float(macs)}, {NODE: found["memory_bits_total"] // 8},
        {"resources": found, "lanes": micro.lanes, "data_bits": bits,
         "cycles_per_step_by_lanes": {str(n): cycles_per_step(micro, n) for n in LANE_CHOICES}})


@dataclass(frozen=True)
class FpgaTarget:
    name: str = "fpga"
    description: str = ("microcoded fixed-point GRU / SRC datapath: Verilog + testbench, "
                        "co-simulated in Icarus and Verilator")
    spec: None = None
    options: type = FpgaOptions
    executors: dict = field(default_factory=lambda: dict(EXECUTORS))

    def check(self, network: ir.Network) -> list[str]:
        return unsupported_parts(network)

    def lower(self, network: ir.Network, calibration: Calibration, options: FpgaOptions
              ) -> Program:
        microcode = compile_network(network, calibration.x, options.weight_bits, options.lanes,
                                    options.clock_hz)
        return program_of(microcode, {"weight_bits": options.weight_bits,
                                      "lanes": options.lanes})

    def place(self, program: Program) -> Placement:
        micro = microcode_of(program)
        return Placement((NodePlacement(NODE, micro.output_size, (0,), micro.output_size,
                                        (Usage("vector_words", micro.vector_words, 4096),)),),
                         1, "datapath")

    def cost(self, program: Program, result: SimulationResult, placement: Placement) -> Cost:
        return cost(program, result)

    def emit(self, program: Program, directory: Path) -> list[str]:
        return write_rtl(microcode_of(program), directory)

    def load(self, directory: Path) -> Program:
        program = load_program(directory)
        microcode_of(program)
        if program.target != self.name:
            raise UnsupportedModelError(f"{directory} holds a '{program.target}' program")
        return program


def target() -> FpgaTarget:
    """The `fpga` Target (the entry point of the registry)."""
    return FpgaTarget()
