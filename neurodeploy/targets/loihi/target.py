"""The `loihi` Target: lowering, core mapping, timing and energy per Davies 2018, netx emission.

Mapping: a layer needs max(ceil(N / 1,024 compartments), ceil(N * fan-in * weight bits / 8 /
128 KB)) cores; every core of a layer receives all the layer's input axons (at most 4,096) and
sends each neuron's spikes to every core of the next layer (at most 4,096 output axons); more
than 128 cores is an error unless the `multi_chip` option spreads the network over chips.
Timing per algorithmic step: all cores work in parallel (each layer lags the previous by one
step), so a step takes the busiest core's synaptic ops x 3.5 ns plus its active / inactive
compartment updates x 8.4 / 5.3 ns, plus a barrier (113 ns for one tile to 465 ns for 32,
4 cores per tile, interpolated). Energy: 23.6 pJ per synaptic op, 81 / 52 pJ per active /
inactive update, 1.7 pJ per spike delivered in a tile; static power 104 mW per chip.
Loihi is asynchronous: time is reported in steps and seconds, never in cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.cost.activity import dense_ann_macs, measure_activity, memory_bytes
from neurodeploy.cost.cycle_sim import TimingProfile
from neurodeploy.cost.energy import OperationEnergy
from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.graph import Program
from neurodeploy.program.serialize import load_program
from neurodeploy.program.synapses import Conv2d, Dense
from neurodeploy.targets.base import (
    Cost,
    Energy,
    NodePlacement,
    Placement,
    ResourceLimitError,
    Timing,
    Usage,
)
from neurodeploy.targets.loihi.cycles import time_profile
from neurodeploy.targets.loihi.lava import LavaExecutor
from neurodeploy.targets.loihi.lower import lower_to_loihi, unsupported_parts
from neurodeploy.targets.loihi.netx import write_netx
from neurodeploy.targets.loihi.netx_float import float_network
from neurodeploy.targets.loihi.netx_read import read_netx
from neurodeploy.targets.loihi.nodes import STATE_BITS
from neurodeploy.targets.loihi.spec import LoihiSpec


@dataclass(frozen=True)
class LoihiOptions:
    """Lowering options of the `loihi` target."""

    weight_bits: int = 8
    multi_chip: bool = False


def _fan_in(program: Program, name: str) -> tuple[int, int]:
    """(synapses per compartment, input axons) of a layer."""
    for feeder in program.feeders(name):
        node = program.nodes[feeder]
        if isinstance(node, Dense):
            return node.weight.shape[1], node.weight.shape[1]
        if isinstance(node, Conv2d):
            per = int(node.weight.shape[1] * node.weight.shape[2] * node.weight.shape[3])
            return per, per * node.groups  # a core sees the channels of its kernels' windows
    return 0, 0


def _core_counts(program: Program, spec: LoihiSpec, names: list[str], bits: int) -> list[int]:
    """Cores per layer: enough for its compartments and synaptic memory, then, from the last
    layer back, enough that no core's neurons need more output axons (one per neuron and
    destination core) than a core has."""
    counts = []
    for name in names:
        fan_in, axons = _fan_in(program, name)
        if axons > spec.max_input_axons:
            raise ResourceLimitError(f"layer '{name}' needs {axons} input axons per core, "
                                     f"more than Loihi's {spec.max_input_axons}")
        per_neuron = math.ceil(fan_in * bits / 8)
        if per_neuron > spec.synapse_memory_bytes:
            raise ResourceLimitError(f"layer '{name}': one compartment's {fan_in} synapses "
                                     f"exceed the {spec.synapse_memory_bytes} bytes of a core")
        size = program.size(name)
        by_memory = spec.synapse_memory_bytes // per_neuron if per_neuron else size
        counts.append(math.ceil(size / min(spec.compartments_per_core, by_memory)))
    for index in range(len(names) - 2, -1, -1):
        destinations = counts[index + 1]
        if destinations > spec.max_output_axons:
            raise ResourceLimitError(f"layer '{names[index]}' feeds {destinations} cores; a "
                                     f"neuron has at most {spec.max_output_axons} output axons")
        per_core = spec.max_output_axons // destinations
        counts[index] = max(counts[index], math.ceil(program.size(names[index]) / per_core))
    return counts


def place(program: Program, spec: LoihiSpec) -> Placement:
    """Per layer: cores, chips, compartments and synaptic memory per core, axons. A layer is
    split over as many cores as its compartments, synaptic memory and output axons need, and
    the cores over chips (128 each) with the multi_chip option."""
    bits = int(program.options.get("weight_bits", 8))
    multi_chip = bool(program.options.get("multi_chip", False))
    names = program.stateful_nodes
    counts = _core_counts(program, spec, names, bits)
    placed, next_core = [], 0
    for index, (name, count) in enumerate(zip(names, counts, strict=True)):
        size = program.size(name)
        per_core = math.ceil(size / count)
        out_axons = per_core * (counts[index + 1] if index + 1 < len(counts) else 1)
        cores = tuple(range(next_core, next_core + count))
        next_core += count
        fan_in, axons = _fan_in(program, name)
        memory = per_core * math.ceil(fan_in * bits / 8)
        placed.append(NodePlacement(
            name, size, cores, per_core,
            (Usage("compartments", per_core, spec.compartments_per_core),
             Usage("synapse_bytes", memory, spec.synapse_memory_bytes),
             Usage("input_axons", axons, spec.max_input_axons),
             Usage("output_axons", out_axons, spec.max_output_axons)),
            tuple(sorted({c // spec.cores_per_chip for c in cores}))))
    chips = math.ceil(next_core / spec.cores_per_chip)
    if chips > 1 and not multi_chip:
        raise ResourceLimitError(f"the network needs {next_core} cores, more than one Loihi chip "
                                 f"({spec.cores_per_chip}); pass multi_chip=True (--multi-chip) "
                                 "to spread it")
    if chips > spec.max_chips:
        raise ResourceLimitError(f"the network needs {chips} chips, more than {spec.max_chips}")
    return Placement(tuple(placed), spec.cores_per_chip * max(chips, 1))


def cost(program: Program, result: SimulationResult, placement: Placement, spec: LoihiSpec
         ) -> Cost:
    """Time and energy per inference (per sample) from the golden model's activity."""
    steps, batch = result.output.shape[:2]
    rows = measure_activity(program, result)
    busiest, per_node_ns, per_node_pj, memory = 0.0, {}, {}, {}
    for row in rows:
        cores = len(placement.of(row.name).cores)
        active = row.active_updates or 0.0
        inactive = row.updates - active
        core_ns = (row.synops * spec.synop_ns + active * spec.neuron_update_active_ns
                   + inactive * spec.neuron_update_inactive_ns) / (cores * steps)
        per_node_ns[row.name] = core_ns
        busiest = max(busiest, core_ns)
        per_node_pj[row.name] = (row.synops * spec.synop_pj
                                 + active * spec.neuron_update_active_pj
                                 + inactive * spec.neuron_update_inactive_pj
                                 + row.spikes * spec.spike_in_tile_pj)
        memory[row.name] = sum(memory_bytes(row, int(program.options.get("weight_bits", 8)),
                                            STATE_BITS).values())
    barrier = spec.barrier_ns(math.ceil(placement.cores_used / spec.cores_per_tile))
    step_ns = busiest + barrier
    latency = step_ns * steps * 1e-9
    static = spec.static_power_w_per_chip * placement.chips_used * latency * 1e12
    ann_macs = dense_ann_macs(rows, steps)
    return Cost(
        Energy(sum(per_node_pj.values()), static, per_node_pj, spec.sources,
               "dynamic: Davies 2018 per operation; static: 104 mW per chip over the latency"),
        Timing(steps, latency, "algorithmic time steps; all cores in parallel per step (each "
               "layer one step behind the previous), then a barrier; times per operation from "
               "Davies 2018", step_ns=step_ns),
        {r.name: r.synops for r in rows}, {r.name: r.synops_dense for r in rows}, memory,
        {"per_node_core_ns": per_node_ns, "barrier_ns": barrier,
         "chips": placement.chips_used,
         "dense_ann": {"macs": ann_macs,
                       "energy_pj": ann_macs * OperationEnergy().multiply_accumulate(8, 8),
                       "description": "the same network run once as a dense int8 ANN on a "
                                      "45 nm digital core (Horowitz 2014)"}})


@dataclass(frozen=True)
class LoihiTarget:
    name: str = "loihi"
    description: str = "Loihi-style CUBA cores: Lava-exact arithmetic, netx HDF5 + core map, energy"
    spec: LoihiSpec = field(default_factory=LoihiSpec)
    options: type = LoihiOptions
    executors: dict = field(default_factory=lambda: {"lava": LavaExecutor()})
    reads: tuple[str, ...] = (".net",)
    #: verify's default floor for float ~ deployed spike agreement: Loihi resets to zero where
    #: the float neurons subtract, so spikes drift (digits IAF/LIF/SNU: 0.46-0.91 per layer)
    min_spike_agreement: float = 0.4

    def check(self, network: ir.Network) -> list[str]:
        return unsupported_parts(network)

    def lower(self, network: ir.Network, calibration: Calibration, options: LoihiOptions
              ) -> Program:
        return lower_to_loihi(network, calibration, self.spec, options.weight_bits,
                              {"multi_chip": options.multi_chip})

    def place(self, program: Program) -> Placement:
        return place(program, self.spec)

    def cost(self, program: Program, result: SimulationResult, placement: Placement) -> Cost:
        return cost(program, result, placement, self.spec)

    def cycle_simulation(self, program: Program, result: SimulationResult, placement: Placement,
                         x: np.ndarray, cost: Cost, progress=lambda: None) -> TimingProfile:
        """The golden run `result` (recorded outputs and states) in time on the chip, in ns."""
        return time_profile(program, result, x, placement, self.spec, cost.timing.step_ns,
                            progress=progress)

    def emit(self, program: Program, directory: Path) -> list[str]:
        write_netx(program, directory / "model.net")
        return ["model.net"]

    def load(self, path: Path) -> Program:
        """The Program of an artifact directory, or of a netx file alone."""
        if Path(path).is_file():
            return read_netx(path, self.spec)
        return load_program(path)

    def float_network(self, path: Path) -> ir.Network:
        """The float Network a netx file's integer layers compute (`netx_float`)."""
        try:
            return float_network(read_netx(path, self.spec))
        except UnsupportedModelError as exc:
            message = str(exc)
            raise UnsupportedModelError(message if message.startswith(str(path))
                                        else f"{path}: {message}") from None


def target() -> LoihiTarget:
    """The `loihi` Target (the entry point of the registry)."""
    return LoihiTarget()
