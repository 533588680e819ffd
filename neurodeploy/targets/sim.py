"""The `sim` target: a generic digital neuromorphic core array, and its mapper and cycle model.

Each core holds up to `neurons_per_core` neurons and `synapse_memory_bytes` of weights. A layer
is split over as many cores as its neurons and weights need. Per time step, the layers run in
order (each on its cores in parallel), then all cores meet at a barrier:

    cycles(layer, t) = max over its cores of (synops into the core * cycles_per_synop
                                              + neurons on the core * cycles_per_neuron_update)
    cycles(t)        = sum over layers of cycles(layer, t) + barrier_cycles

Synaptic events are assumed spread over a layer's cores in proportion to their neurons.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from neurodeploy.cost.energy import OperationEnergy
from neurodeploy.errors import NeurodeployError
from neurodeploy.quant.program import IntLayer, Program
from neurodeploy.sim.result import SimulationResult


class ResourceLimitError(NeurodeployError):
    """A network does not fit the target: names the layer and the limit."""


@dataclass(frozen=True)
class CoreArraySpec:
    """A digital neuromorphic chip: cores, memories, precisions, timing and energy."""

    name: str = "sim"
    cores: int = 128
    neurons_per_core: int = 1024
    synapse_memory_bytes: int = 128 * 1024
    max_weight_bits: int = 16
    state_bits: int = 24
    cycles_per_synop: int = 1
    cycles_per_neuron_update: int = 4
    barrier_cycles: int = 64
    clock_hz: float = 200e6
    energy: OperationEnergy = field(default_factory=OperationEnergy)


@dataclass
class LayerPlacement:
    """How one layer sits on the cores."""

    layer: str
    neurons: int
    fan_in: int
    cores: list[int]
    neurons_per_core: int
    synapse_bytes_per_core: int
    neuron_utilisation: float
    synapse_utilisation: float


def _weight_bytes(layer: IntLayer, weight_bits: int) -> tuple[int, int, bool]:
    """(fan-in per neuron, weight bytes per neuron or per shared kernel, shared?)."""
    fan_in, per_neuron, shared = 0, 0, False
    for op in layer.ops:
        if op.kind == "affine":
            fan_in += op.weight.shape[1]
            per_neuron += math.ceil(op.weight.shape[1] * weight_bits / 8)
        elif op.kind == "conv2d":
            fan_in += int(np.prod(op.weight.shape[1:]))
            per_neuron += math.ceil(op.weight.size * weight_bits / 8)
            shared = True
    if layer.recurrent is not None:
        fan_in += layer.recurrent.shape[1]
        per_neuron += math.ceil(layer.recurrent.shape[1] * weight_bits / 8)
    return fan_in, per_neuron, shared


def map_program(program: Program, spec: CoreArraySpec, weight_bits: int) -> list[LayerPlacement]:
    """Place every layer on cores; ResourceLimitError names the layer and the limit exceeded."""
    placements, next_core = [], 0
    for layer in program.layers:
        fan_in, weight_bytes, shared = _weight_bytes(layer, weight_bits)
        if shared:
            if weight_bytes > spec.synapse_memory_bytes:
                raise ResourceLimitError(
                    f"layer '{layer.name}': its kernel needs {weight_bytes} bytes, more than the "
                    f"{spec.synapse_memory_bytes} bytes of synapse memory per core")
            per_core = spec.neurons_per_core
        else:
            by_memory = spec.synapse_memory_bytes // weight_bytes if weight_bytes else layer.size
            if by_memory == 0:
                raise ResourceLimitError(
                    f"layer '{layer.name}': one neuron's {fan_in} inputs at {weight_bits} bits need "
                    f"{weight_bytes} bytes, more than the {spec.synapse_memory_bytes} bytes of "
                    "synapse memory per core; use fewer weight bits or a smaller fan-in")
            per_core = min(spec.neurons_per_core, by_memory)
        count = math.ceil(layer.size / per_core)
        if next_core + count > spec.cores:
            raise ResourceLimitError(
                f"layer '{layer.name}' needs cores {next_core}..{next_core + count - 1}, but the "
                f"'{spec.name}' target has {spec.cores} cores; use a smaller network")
        per_core = math.ceil(layer.size / count)
        used_bytes = weight_bytes if shared else weight_bytes * per_core
        placements.append(LayerPlacement(
            layer.name, layer.size, fan_in, list(range(next_core, next_core + count)), per_core,
            used_bytes, per_core / spec.neurons_per_core, used_bytes / spec.synapse_memory_bytes))
        next_core += count
    return placements


def cycle_model(program: Program, placements: list[dict], result: SimulationResult,
                spec: CoreArraySpec) -> dict:
    """Cycles per time step and per inference (mean per sample) from the measured activity."""
    steps, batch = result.output.shape[:2]
    per_layer = {}
    for layer, placement in zip(program.layers, placements, strict=True):
        synops = sum(c.effective for c in result.synapses.get(layer.name, [])) / (steps * batch)
        share = placement["neurons_per_core"] / max(layer.size, 1)
        per_layer[layer.name] = (synops * share * spec.cycles_per_synop
                                 + placement["neurons_per_core"] * spec.cycles_per_neuron_update)
    per_step = sum(per_layer.values()) + spec.barrier_cycles
    total = per_step * steps
    return {"per_step": per_step, "total": total, "per_layer_per_step": per_layer,
            "latency_s": total / spec.clock_hz, "clock_hz": spec.clock_hz,
            "model": "layers in order per step, cores of a layer in parallel, then a barrier"}


def target():
    """The `sim` Target."""
    from neurodeploy.cost.energy import DigitalCoreEnergy
    from neurodeploy.quant.quantize import QuantSpec, quantize
    from neurodeploy.targets.registry import Target

    spec = CoreArraySpec()

    def lower(network, calibration, weight_bits: int, options: dict) -> Program:
        if weight_bits > spec.max_weight_bits:
            raise ResourceLimitError(f"target 'sim' stores at most {spec.max_weight_bits}-bit "
                                     "weights")
        if "multi_chip" in options:
            raise ResourceLimitError("--multi-chip is a loihi option")
        quant = QuantSpec(weight_bits=weight_bits, **{"state_bits": spec.state_bits, **options})
        return quantize(network, calibration, quant, "sim")

    def place(program: Program) -> list[dict]:
        return [asdict(p) for p in map_program(program, spec, program.settings["quant"]
                                               ["weight_bits"])]

    def energy(program: Program) -> DigitalCoreEnergy:
        quant = program.settings["quant"]
        return DigitalCoreEnergy(spec.energy, quant["weight_bits"], quant["activation_bits"])

    return Target("sim", "generic digital neuromorphic core array", spec,
                  ("IAF", "LIF", "CubaLIF", "SNU", "SoftSNU", "SRC", "LI"), lower, place, energy,
                  lambda program, placements, result: cycle_model(program, placements, result,
                                                                  spec))
