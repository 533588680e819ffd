"""The `akida` Target: time-collapsed IAF networks on AKD1000-style NPs, an ONNX artifact.

Mapping: a layer's weights are split over NPs by output channels (45 KB of weight memory each),
a convolution's input map over NPs by tiles (43 KB of input memory each); the layer takes
(weight splits) x (input splits) NPs, a dense layer's whole input must fit one NP's input
memory. NPs are handed out in order over the 80 (20 nodes of 4); a layer past them is refused,
by name. Cost: Akida skips zero activations, so the work is the event-based MACs (each non-zero
input times its fan-out, from the golden model); no per-operation energy is published, so time
and energy are estimates scaled from the AKD1000 board's AkidaNet-0.5 figures (source stated).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.calibrate import Calibration
from neurodeploy.program.graph import Program
from neurodeploy.program.serialize import load_program
from neurodeploy.targets.akida.executor import OnnxRuntimeExecutor
from neurodeploy.targets.akida.lower import lower_to_akida, unsupported_parts
from neurodeploy.targets.akida.nodes import AkidaConv, AkidaLayer
from neurodeploy.targets.akida.onnx_model import write_onnx
from neurodeploy.targets.akida.spec import AKD1000, AKIDA_2, AkidaSpec
from neurodeploy.targets.base import (
    Cost,
    Energy,
    NodePlacement,
    Placement,
    ResourceLimitError,
    Timing,
    Usage,
)

MODEL_ONNX = "model.onnx"
AKIDA_JSON = "akida.json"
DEFAULT_ACTIVATION_BITS = 4  # ~ 15 steps of a single-spike IAF per activation


@dataclass(frozen=True)
class AkidaOptions:
    """Lowering options of the akida targets: weight and activation widths (None: the widest
    weights the version takes everywhere, 4-bit activations); the version's limits apply."""

    weight_bits: int | None = None
    activation_bits: int | None = None


def _bytes(values: int, bits: int) -> int:
    return math.ceil(values * bits / 8)


def place(program: Program, spec: AkidaSpec) -> Placement:
    """Per layer: NPs (weight splits x input splits) and memory use per NP."""
    placed, next_np = [], 0
    for name in program.order:
        layer = program.nodes[name]
        input_values = math.prod(program.input_shape_of(name))
        weight_bytes = _bytes(layer.weight.size, layer.weight_bits)
        input_bytes = _bytes(input_values, layer.input_bits)
        by_weights = max(1, math.ceil(weight_bytes / spec.weight_memory_bytes))
        if isinstance(layer, AkidaConv):
            by_inputs = max(1, math.ceil(input_bytes / spec.input_memory_bytes))
        elif input_bytes > spec.input_memory_bytes:
            raise ResourceLimitError(
                f"layer '{name}': its {input_values} inputs need {input_bytes} bytes, more than "
                f"an NP's {spec.input_memory_bytes} bytes of input memory")
        else:
            by_inputs = 1
        count = by_weights * by_inputs
        if next_np + count > spec.nps:
            raise ResourceLimitError(f"layer '{name}' needs {count} NPs ({next_np} already used), "
                                     f"beyond the {spec.nps} NPs of the {spec.chip}")
        neurons = program.size(name)
        nps = tuple(range(next_np, next_np + count))
        next_np += count
        placed.append(NodePlacement(
            name, neurons, nps, math.ceil(neurons / count),
            (Usage("weight_bytes", weight_bytes / by_weights, spec.weight_memory_bytes),
             Usage("input_bytes", input_bytes / by_inputs, spec.input_memory_bytes),
             Usage("nodes", len({n // spec.nps_per_node for n in nps}), spec.nodes))))
    return Placement(tuple(placed), spec.nps, unit="NP")


def cost(program: Program, result: SimulationResult, placement: Placement, spec: AkidaSpec
         ) -> Cost:
    """Event-based MACs per frame, with time and energy estimated from the board figures."""
    batch = result.output.shape[1]
    events = {name: result.synapses[name].effective / batch for name in program.order}
    dense = {name: result.synapses[name].dense / batch for name in program.order}
    total = sum(events.values())
    latency = total / spec.macs_per_s
    per_node = {name: macs * spec.dynamic_j_per_mac * 1e12 for name, macs in events.items()}
    memory = {}
    for name in program.order:
        layer: AkidaLayer = program.nodes[name]
        memory[name] = (_bytes(layer.weight.size, layer.weight_bits)
                        + _bytes(program.size(name), layer.output_bits))
    ann_macs = sum(dense.values())
    note = ("an estimate: no per-operation energy is published; dynamic energy = event-based "
            "MACs x the AKD1000 board's energy above its floor per MAC of AkidaNet-0.5 "
            f"({spec.dynamic_j_per_mac * 1e12:.1f} pJ), static = the board floor "
            f"({spec.board_floor_w * 1e3:.0f} mW) over the frame time")
    return Cost(
        Energy(sum(per_node.values()), spec.board_floor_w * latency * 1e12, per_node,
               spec.sources, note),
        Timing(1, latency, "one frame per inference (time collapsed); frame time = event-based "
               f"MACs / AkidaNet-0.5's rate on the board ({spec.macs_per_s / 1e9:.2f} GMAC/s), "
               "an estimate"),
        events, dense, memory,
        {"nps_used": placement.cores_used, "nodes_used": len({n // spec.nps_per_node for p in
                                                               placement.nodes for n in p.cores}),
         "event_macs": total, "dense_macs": ann_macs,
         "dense_ann": {"macs": ann_macs,
                       "energy_pj": ann_macs * spec.dynamic_j_per_mac * 1e12
                       + spec.board_floor_w * ann_macs / spec.macs_per_s * 1e12,
                       "description": "the same layers with every MAC executed (no zero "
                                      "skipping), by the same board estimate"}})


def akida_json(program: Program, placement: Placement, spec: AkidaSpec) -> dict:
    """The chip, the mapping and every layer's formats, for akida.json."""
    return {"chip": {"name": spec.chip, "version": spec.version.value, "nps": spec.nps,
                     "nps_per_node": spec.nps_per_node,
                     "input_memory_bytes": spec.input_memory_bytes,
                     "weight_memory_bytes": spec.weight_memory_bytes},
            "input": {"shape": list(program.input.shape), "scale": program.input.scale,
                      "bits": program.input.bits, "window_steps": program.options.get("window")},
            "layers": [{"name": name, **program.nodes[name].describe(),
                        "output_shape": list(program.shapes[name])} for name in program.order],
            "mapping": placement.as_dict()}


@dataclass(frozen=True)
class AkidaTarget:
    """An Akida chip of the given spec; `akida` (2.0 IP) and `akd1000` (1.0 silicon) share it."""

    spec: AkidaSpec
    description: str
    options: type = AkidaOptions
    executors: dict = field(default_factory=lambda: {"onnxruntime": OnnxRuntimeExecutor()})

    @property
    def name(self) -> str:
        return self.spec.name

    def check(self, network: ir.Network) -> list[str]:
        return unsupported_parts(network, self.spec)

    def lower(self, network: ir.Network, calibration: Calibration, options: AkidaOptions
              ) -> Program:
        weight_bits = options.weight_bits or max(self.spec.weight_bits)
        activation_bits = options.activation_bits or DEFAULT_ACTIVATION_BITS
        return lower_to_akida(network, calibration, self.spec, weight_bits, activation_bits)

    def place(self, program: Program) -> Placement:
        return place(program, self.spec)

    def cost(self, program: Program, result: SimulationResult, placement: Placement) -> Cost:
        return cost(program, result, placement, self.spec)

    def emit(self, program: Program, directory: Path) -> list[str]:
        write_onnx(program, directory / MODEL_ONNX)
        text = json.dumps(akida_json(program, self.place(program), self.spec), indent=1,
                          sort_keys=True, default=_json_default)
        (directory / AKIDA_JSON).write_text(text + "\n")
        return [MODEL_ONNX, AKIDA_JSON]

    def load(self, path: Path) -> Program:
        return load_program(path)


def _json_default(value: object) -> object:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    raise TypeError(type(value).__name__)


def target() -> AkidaTarget:
    """The `akida` Target: Akida 2.0 IP with 80 NPs (an entry point of the registry)."""
    return AkidaTarget(AKIDA_2, "Akida 2.0-style NPs (80): quantized event-based layers, time "
                                "collapsed; ONNX in the public quantized-layer form, run by "
                                "onnxruntime")


def akd1000() -> AkidaTarget:
    """The `akd1000` Target: AKD1000 silicon's Akida 1.0 limits (an entry point)."""
    return AkidaTarget(AKD1000, "AKD1000 (Akida 1.0 limits: <= 4-bit weights after the input "
                                "layer, <= 4-bit activations); same artifacts as akida")
