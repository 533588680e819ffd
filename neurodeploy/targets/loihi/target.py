"""The `loihi` Target: lowering, core mapping, timing and energy per Davies 2018, netx emission.

Mapping: a layer needs max(ceil(N / 1,024 compartments), ceil(N * fan-in * weight bits / 8 /
128 KB)) cores; every core of a layer receives all the layer's input axons (at most 4,096) and
sends each neuron's spikes to every core of the next layer (at most 4,096 output axons); more
than 128 cores is an error unless `multi_chip=True` spreads the network over chips.
Timing per algorithmic step: all cores work in parallel (each layer lags the previous by one
step), so a step takes the busiest core's synaptic ops x 3.5 ns plus its active / inactive
compartment updates x 8.4 / 5.3 ns, plus a barrier (113 ns for one tile to 465 ns for 32,
4 cores per tile, interpolated). Energy: 23.6 pJ per synaptic op, 81 / 52 pJ per active /
inactive update, 1.7 pJ per spike delivered in a tile; static power 104 mW per chip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from neurodeploy.artifacts import write_json
from neurodeploy.cost.synops import SynapseCount
from neurodeploy.quant.program import IntLayer, Program
from neurodeploy.sim.result import SimulationResult
from neurodeploy.targets.loihi.lower import lower_to_loihi
from neurodeploy.targets.loihi.netx import write_netx
from neurodeploy.targets.loihi.spec import LoihiSpec
from neurodeploy.targets.sim import ResourceLimitError


def _fan_in(layer: IntLayer) -> tuple[int, int]:
    """(synapses per compartment, input axons) of a layer."""
    for op in layer.ops:
        if op.kind == "affine":
            return op.weight.shape[1], op.weight.shape[1]
        if op.kind == "conv2d":
            per = int(op.weight.shape[1] * op.weight.shape[2] * op.weight.shape[3])
            return per, per * op.groups  # a core sees the channels of its kernels' windows
    return 0, 0


def place(program: Program, spec: LoihiSpec, multi_chip: bool = False) -> list[dict]:
    """Per layer: cores, compartments and synaptic memory per core, axons, chip, utilisation."""
    bits = program.settings["quant"]["weight_bits"]
    placements, next_core = [], 0
    sizes = [layer.size for layer in program.layers]
    counts = []
    for layer in program.layers:
        fan_in, axons = _fan_in(layer)
        if axons > spec.max_input_axons:
            raise ResourceLimitError(f"layer '{layer.name}' needs {axons} input axons per core, "
                                     f"more than Loihi's {spec.max_input_axons}")
        per_neuron = math.ceil(fan_in * bits / 8)
        if per_neuron > spec.synapse_memory_bytes:
            raise ResourceLimitError(f"layer '{layer.name}': one compartment's {fan_in} synapses "
                                     f"exceed the {spec.synapse_memory_bytes} bytes of a core")
        by_memory = spec.synapse_memory_bytes // per_neuron if per_neuron else layer.size
        counts.append(math.ceil(layer.size / min(spec.compartments_per_core, by_memory)))
    for index, (layer, count) in enumerate(zip(program.layers, counts, strict=True)):
        per_core = math.ceil(layer.size / count)
        next_cores = counts[index + 1] if index + 1 < len(counts) else 1
        out_axons = per_core * next_cores
        if out_axons > spec.max_output_axons:
            raise ResourceLimitError(f"layer '{layer.name}' needs {out_axons} output axons per "
                                     f"core, more than Loihi's {spec.max_output_axons}")
        cores = list(range(next_core, next_core + count))
        next_core += count
        fan_in, axons = _fan_in(layer)
        memory = per_core * math.ceil(fan_in * bits / 8)
        placements.append({
            "layer": layer.name, "neurons": sizes[index], "cores": cores,
            "chips": sorted({c // spec.cores_per_chip for c in cores}),
            "compartments_per_core": per_core, "synapse_bytes_per_core": memory,
            "input_axons_per_core": axons, "output_axons_per_core": out_axons,
            "compartment_utilisation": per_core / spec.compartments_per_core,
            "synapse_utilisation": memory / spec.synapse_memory_bytes,
            "neurons_per_core": per_core})
    chips = math.ceil(next_core / spec.cores_per_chip)
    if chips > 1 and not multi_chip:
        raise ResourceLimitError(f"the network needs {next_core} cores, more than one Loihi chip "
                                 f"({spec.cores_per_chip}); pass multi_chip=True to spread it")
    if chips > spec.max_chips:
        raise ResourceLimitError(f"the network needs {chips} chips, more than {spec.max_chips}")
    return placements


def timing(program: Program, placements: list[dict], result: SimulationResult,
           spec: LoihiSpec) -> dict:
    """Time per algorithmic step and per inference (mean per sample)."""
    steps, batch = result.output.shape[:2]
    busiest, per_layer = 0.0, {}
    for layer, placement in zip(program.layers, placements, strict=True):
        cores = len(placement["cores"])
        synops = sum(c.effective for c in result.synapses.get(layer.name, [])) / (steps * batch)
        active = result.active_updates.get(layer.name, 0.0) / (steps * batch)
        inactive = layer.size - active
        core_ns = (synops * spec.synop_ns + active * spec.neuron_update_active_ns
                   + inactive * spec.neuron_update_inactive_ns) / cores
        per_layer[layer.name] = core_ns
        busiest = max(busiest, core_ns)
    cores_used = sum(len(p["cores"]) for p in placements)
    barrier = spec.barrier_ns(math.ceil(cores_used / spec.cores_per_tile))
    step_ns = busiest + barrier
    return {"total": steps, "per_step_ns": step_ns, "per_layer_core_ns": per_layer,
            "barrier_ns": barrier, "latency_s": step_ns * steps * 1e-9, "clock_hz": None,
            "chips": max(max(p["chips"]) for p in placements) + 1,
            "model": "algorithmic time steps; all cores in parallel per step (each layer one step "
                     "behind the previous), then a barrier; times per operation from Davies 2018"}


@dataclass(frozen=True)
class LoihiEnergy:
    """EnergyModel with Davies 2018's per-operation figures."""

    spec: LoihiSpec

    @property
    def sources(self) -> dict[str, str]:
        return self.spec.sources

    def synaptic_pj(self, count: SynapseCount) -> float:
        return count.effective * self.spec.synop_pj

    def neuron_pj(self, layer: IntLayer, updates: float, active: float | None) -> float:
        active = updates if active is None else active
        return (active * self.spec.neuron_update_active_pj
                + (updates - active) * self.spec.neuron_update_inactive_pj)

    def spike_pj(self, spikes: float) -> float:
        return spikes * self.spec.spike_in_tile_pj

    def dense_mac_pj(self) -> float:
        from neurodeploy.cost.energy import OperationEnergy

        return OperationEnergy().multiply_accumulate(8, 8)


def emit(program: Program, directory: Path) -> list[str]:
    """model.net (netx) and loihi.json (what was approximated)."""
    write_netx(program, directory / "model.net")
    notes = {"approximations": program.settings.get("approximations", []),
             "pipeline_delay_steps": program.settings.get("pipeline_delay", 0)}
    write_json(directory / "loihi.json", notes)
    return ["model.net", "loihi.json"]


def target():
    """The `loihi` Target."""
    from neurodeploy.targets.registry import Target

    spec = LoihiSpec()

    def lower(network, calibration, weight_bits: int, options: dict) -> Program:
        program = lower_to_loihi(network, calibration, spec, weight_bits)
        program.settings["multi_chip"] = bool(options.get("multi_chip", False))
        return program

    def static_pj(placements: list[dict], times: dict) -> float:
        return spec.static_power_w_per_chip * times["chips"] * times["latency_s"] * 1e12

    return Target("loihi", "Loihi-style CUBA cores", spec, ("IAF", "LIF", "CubaLIF", "SNU", "LI"),
                  lower,
                  lambda program: place(program, spec, program.settings.get("multi_chip", False)),
                  lambda program: LoihiEnergy(spec),
                  lambda program, placements, result: timing(program, placements, result, spec),
                  emit, static_pj)
