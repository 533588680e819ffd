"""The synaptic paths of a float Network: what a target quantizes together with each neuron.

A path runs backwards from an edge into a neuron node through synaptic nodes (Linear, Conv2d,
pooling, Flatten) to a source, the input or another neuron. It holds at most one weighted node.
A synaptic node shared by several paths (fan-out) is copied into each, with the consumer's name
appended, since each consumer quantizes it in its own units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError

WEIGHTED = (ir.Affine, ir.Conv2d)
POOLS = (ir.AvgPool2d, ir.SumPool2d)


@dataclass(frozen=True)
class Path:
    """source -> steps -> neuron. `steps` are (program name, float node, delay of the edge into
    the step); `delay` is the delay of the edge into the neuron."""

    source: str
    steps: tuple[tuple[str, object, int], ...]
    delay: int

    @property
    def weighted(self) -> ir.Affine | ir.Conv2d | None:
        found = [node for _, node, _ in self.steps if isinstance(node, WEIGHTED)]
        return found[0] if found else None

    @property
    def divisor(self) -> int:
        """The product of the average pools' window sizes (their 1/k^2 goes into the weights)."""
        return math.prod(node.kernel_size[0] * node.kernel_size[1] for _, node, _ in self.steps
                         if isinstance(node, ir.AvgPool2d))

    @property
    def bias(self) -> np.ndarray | None:
        weighted = self.weighted
        return None if weighted is None else weighted.bias

    def effective_weight(self) -> np.ndarray:
        return self.weighted.weight.astype(np.float64) / self.divisor


def _check(path: Path, neuron: str) -> None:
    weighted = [name for name, node, _ in path.steps if isinstance(node, WEIGHTED)]
    if len(weighted) > 1:
        raise UnsupportedModelError(
            f"layers {weighted} are consecutive weighted layers without a neuron between them; "
            "fuse them into one before deploying")
    if path.bias is not None:
        for name, node, _ in path.steps:
            if isinstance(node, POOLS) and any(node.padding):
                raise UnsupportedModelError(
                    f"layer '{name}': a padded pool on a path with a bias is not supported; "
                    "remove the padding or the bias")
    if sum(delay for _, _, delay in path.steps) + path.delay > 1:
        raise UnsupportedModelError(f"the path into '{neuron}' delays by more than one step")


def neuron_paths(network: ir.Network, neuron: str) -> list[Path]:
    """The paths into `neuron`, one per incoming edge, in edge order."""
    paths = []
    for edge in network.inputs_of(neuron):
        steps: list[tuple[str, object, int]] = []
        current = edge.source
        while current != ir.INPUT and not ir.is_neuron(network.nodes[current]):
            incoming = network.inputs_of(current)
            if len(incoming) != 1:
                raise UnsupportedModelError(
                    f"layer '{current}' sums {len(incoming)} inputs before its weights; "
                    "neurodeploy adds inputs only at neuron layers")
            shared = len(network.consumers_of(current)) > 1
            name = f"{current}>{neuron}" if shared else current
            steps.insert(0, (name, network.nodes[current], incoming[0].delay))
            current = incoming[0].source
        path = Path(current, tuple(steps), edge.delay)
        _check(path, neuron)
        paths.append(path)
    if not paths:
        raise UnsupportedModelError(f"layer '{neuron}' receives no input")
    # the first weighted path fixes the neuron's units
    paths.sort(key=lambda p: p.weighted is None)
    return paths
