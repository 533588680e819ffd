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

    def run(self, directory: Path, program: Program, x: np.ndarray, record_states: bool = False
            ) -> SimulationResult:
        """The golden model's result for the `datapath` node, from the simulator's dumps.

        `events`, `spikes` and `node_outputs` are computed from the OUT values exactly as
        `simulate_program` does; `record_states` adds the vector memory V after every step
        (every layer's outputs and states), as `simulate_program(..., record_states=True)`."""
        micro = microcode_of(program)
        x_int = program.quantize_input(x).astype(np.int64)
        rtl = run_rtl(micro, Path(directory).resolve(), x_int, self.name, record_states)
        values = rtl.outputs.astype(np.float64) * micro.output_scale
        states = {NODE: {"V": rtl.vectors}} if rtl.vectors is not None else {}
        return SimulationResult(values.astype(np.float32), {NODE: (rtl.outputs != 0).sum(axis=2)},
                                {NODE: values.sum(axis=2)}, states, {NODE: values},
                                graded=frozenset({NODE}), cycles=rtl.cycles)


EXECUTORS = {name: HdlSimulator(name, tool) for name, tool in
             (("iverilog", "iverilog"), ("verilator", "verilator"))}
