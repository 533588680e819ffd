"""The `sim` core array in the cycle-level simulator: its timing, its core map, and the run.

Every figure comes from `CoreArraySpec` (with its source); neurons are assigned to a node's
cores in contiguous blocks of `neurons_per_core`, as `mapping.place` sizes them.
"""

from __future__ import annotations

import numpy as np

from neurodeploy.cost.cycle_sim import (
    SAMPLES,
    CoreMap,
    CoreTiming,
    TimingProfile,
    simulate_cycles,
)
from neurodeploy.cost.mesh import MeshSpec
from neurodeploy.cost.trace import event_trace
from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.targets.base import Placement
from neurodeploy.targets.sim.spec import CoreArraySpec


def core_timing(spec: CoreArraySpec) -> CoreTiming:
    return CoreTiming("cycles", spec.cycles_per_synop, spec.cycles_per_neuron_update,
                      spec.cycles_per_neuron_update, spec.barrier_cycles,
                      MeshSpec(spec.mesh_columns, 1, spec.hop_cycles, spec.hop_cycles,
                               spec.cycles_per_packet), spec.timing_sources)


def cycle_profile(program: Program, result: SimulationResult, x: np.ndarray,
                  placement: Placement, spec: CoreArraySpec, formula_per_step: float | None,
                  core_map: CoreMap | None = None, samples: int = SAMPLES,
                  progress=lambda: None) -> TimingProfile:
    """Simulate the golden run `result` of `program` on `x` (recorded outputs) cycle by cycle."""
    traces = event_trace(program, result, x, samples)
    return simulate_cycles(traces, program.stateful_nodes, core_map or CoreMap.blocks(placement.nodes),
                           core_timing(spec), formula_per_step, progress)
