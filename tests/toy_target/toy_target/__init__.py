"""A toy deployment target, outside neurodeploy, registered by entry point (tests only).

One "core" per neuron node, the `sim` quantizer with 6-bit weights by default, an energy of
1 pJ per synaptic operation, and one artifact file, toy.txt, listing the nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from neurodeploy.cost.activity import measure_activity
from neurodeploy.program.graph import Program
from neurodeploy.program.quantize import QuantSpec, quantize
from neurodeploy.program.serialize import load_program
from neurodeploy.targets.base import Cost, Energy, NodePlacement, Placement, Timing


@dataclass(frozen=True)
class ToyOptions:
    weight_bits: int = 6


@dataclass(frozen=True)
class ToyTarget:
    name: str = "toy"
    description: str = "a toy target defined outside neurodeploy"
    spec: None = None
    options: type = ToyOptions
    executors: dict = field(default_factory=dict)

    def check(self, network) -> list[str]:
        return [f"layer '{layer.name}' is a GRU" for layer in network.layers
                if type(layer.node).__name__ == "GRU"]

    def lower(self, network, calibration, options: ToyOptions) -> Program:
        return quantize(network, calibration, QuantSpec(weight_bits=options.weight_bits), "toy")

    def place(self, program: Program) -> Placement:
        return Placement(tuple(NodePlacement(name, program.size(name), (index,), program.size(name))
                               for index, name in enumerate(program.stateful_nodes)), 64)

    def cost(self, program: Program, result, placement: Placement) -> Cost:
        rows = measure_activity(program, result)
        synops = {row.name: row.synops for row in rows}
        steps = result.output.shape[0]
        return Cost(Energy(float(sum(synops.values())), 0.0, synops, {"synop": "1 pJ, made up"}),
                    Timing(steps, steps * 1e-3, "1 ms per step"), synops,
                    {row.name: row.synops_dense for row in rows}, {row.name: 0 for row in rows})

    def emit(self, program: Program, directory: Path) -> list[str]:
        (directory / "toy.txt").write_text("\n".join(program.order) + "\n")
        return ["toy.txt"]

    def load(self, directory: Path) -> Program:
        return load_program(directory)


def target() -> ToyTarget:
    return ToyTarget()
