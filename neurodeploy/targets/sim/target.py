"""The `sim` Target: quantization to the generic integer nodes, core placement, cycle and energy
models. Its artifacts are the program files themselves; the golden model is its executor."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.cost.cycle_sim import TimingProfile
from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.graph import Program
from neurodeploy.program.quantize import QuantSpec, quantize
from neurodeploy.program.serialize import load_program
from neurodeploy.targets.base import Cost, Placement, ResourceLimitError
from neurodeploy.targets.sim import cost, mapping
from neurodeploy.targets.sim.cycles import cycle_profile
from neurodeploy.targets.sim.spec import CoreArraySpec


@dataclass(frozen=True)
class SimOptions:
    """Lowering options of the `sim` target (see `neurodeploy.program.quantize.QuantSpec`)."""

    weight_bits: int = 8
    activation_bits: int = 8
    state_bits: int = 24
    per_channel: bool = True
    power_of_two: bool = False
    headroom: float = 2.0
    max_input_shift: int = 16


@dataclass(frozen=True)
class SimTarget:
    name: str = "sim"
    description: str = ("generic digital neuromorphic core array (bit-accurate golden model, "
                        "mapping, cycle model)")
    spec: CoreArraySpec = field(default_factory=CoreArraySpec)
    options: type = SimOptions
    executors: dict = field(default_factory=dict)

    def check(self, network: ir.Network) -> list[str]:
        return [f"layer '{layer.name}' is a GRU: use --target fpga"
                for layer in network.layers if isinstance(layer.node, ir.GRU)]

    def lower(self, network: ir.Network, calibration: Calibration, options: SimOptions
              ) -> Program:
        if options.weight_bits > self.spec.max_weight_bits:
            raise ResourceLimitError(f"target 'sim' stores at most {self.spec.max_weight_bits}-bit "
                                     "weights")
        spec = QuantSpec(options.weight_bits, options.activation_bits, options.state_bits,
                         options.per_channel, options.power_of_two,
                         headroom=options.headroom, max_input_shift=options.max_input_shift)
        return quantize(network, calibration, spec, self.name)

    def place(self, program: Program) -> Placement:
        return mapping.place(program, self.spec, int(program.options["weight_bits"]))

    def cost(self, program: Program, result: SimulationResult, placement: Placement) -> Cost:
        options = program.options
        return cost.cost(program, result, placement, self.spec, int(options["weight_bits"]),
                         int(options["activation_bits"]), int(options["state_bits"]))

    def cycle_simulation(self, program: Program, result: SimulationResult, placement: Placement,
                         x: np.ndarray, cost: Cost, progress=lambda: None) -> TimingProfile:
        """The golden run `result` (recorded outputs) on the core array, cycle by cycle."""
        return cycle_profile(program, result, x, placement, self.spec,
                             cost.timing.cycles_per_step, progress=progress)

    def emit(self, program: Program, directory: Path) -> list[str]:
        return []

    def load(self, directory: Path) -> Program:
        return load_program(directory)


def target() -> SimTarget:
    """The `sim` Target (the entry point of the registry)."""
    return SimTarget()
