"""The fpga target's independent executors: the emitted RTL in Icarus Verilog and Verilator."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.targets.fpga.cosim import run_rtl
from neurodeploy.targets.fpga.microcode import NODE, microcode_of


@dataclass(frozen=True)
class HdlSimulator:
    """Runs OUT/rtl + OUT/tb on OUT/mem in one HDL simulator; returns the golden result type."""

    name: str
    tool: str

    def unavailable(self) -> str | None:
        if shutil.which(self.tool) is None:
            return f"{self.tool} is not installed (apt-get install iverilog verilator)"
        return None

    def run(self, directory: Path, program: Program, x: np.ndarray) -> SimulationResult:
        micro = microcode_of(program)
        x_int = program.quantize_input(x).astype(np.int64)
        values, cycles = run_rtl(micro, Path(directory).resolve(), x_int, self.name)
        output = (values.astype(np.float64) * micro.output_scale).astype(np.float32)
        return SimulationResult(output, {NODE: (values != 0).sum(axis=2)},
                                {NODE: output.astype(np.float64).sum(axis=2)},
                                graded=frozenset({NODE}), cycles=cycles)


EXECUTORS = {name: HdlSimulator(name, tool) for name, tool in
             (("iverilog", "iverilog"), ("verilator", "verilator"))}
