"""Loihi time in the cycle-level simulator (`neurodeploy.cost.cycle_sim`), in ns: per-operation
times of Davies 2018, the barrier for the tiles used, the mesh of 4-core tiles. Every layer
receives its input one step late, so all cores work in parallel within a step, as the
formula assumes; the simulator adds per-step variation, per-core imbalance and the mesh."""

from __future__ import annotations

import math

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
from neurodeploy.targets.loihi.spec import LoihiSpec


def core_timing(spec: LoihiSpec, placement: Placement) -> CoreTiming:
    tiles = math.ceil(placement.cores_used / spec.cores_per_tile)
    return CoreTiming("ns", spec.synop_ns, spec.neuron_update_active_ns,
                      spec.neuron_update_inactive_ns, spec.barrier_ns(tiles),
                      MeshSpec(spec.mesh_tile_columns, spec.cores_per_tile, spec.tile_hop_ew_ns,
                               spec.tile_hop_ns_ns, spec.ns_per_packet), spec.timing_sources)


def time_profile(program: Program, result: SimulationResult, x: np.ndarray,
                 placement: Placement, spec: LoihiSpec, formula_step_ns: float | None,
                 core_map: CoreMap | None = None, samples: int = SAMPLES,
                 progress=lambda: None) -> TimingProfile:
    """Simulate the golden run `result` (recorded outputs and states) in time, per step."""
    traces = event_trace(program, result, x, samples)
    return simulate_cycles(traces, program.stateful_nodes, core_map or CoreMap.blocks(placement.nodes),
                           core_timing(spec, placement), formula_step_ns, progress)
