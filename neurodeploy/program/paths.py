"""The synaptic paths of a float Network: what a target quantizes together with each neuron.

A path runs backwards from an edge into a neuron node through synaptic nodes (Linear, Conv2d,
pooling, Flatten, BatchNorm) to a source, the input or another neuron. It holds at most one
weighted node; a BatchNorm right after it is folded into its weights and bias (eval mode: a
per-channel affine).
A synaptic node shared by several paths (fan-out) is copied into each, with the consumer's name
appended, since each consumer quantizes it in its own units. A synaptic node that sums several
inputs (fan-in, `W (a + b) + c`) splits the path by linearity into one per input,
`W a + c` and `W b`: its copies are numbered `#k` and only the first keeps the bias.
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
    biased: bool = True  # False on the second and later inputs of a summed weighted node

    @property
    def weighted(self) -> ir.Affine | ir.Conv2d | None:
        found = [node for _, node, _ in self.steps if isinstance(node, WEIGHTED)]
        return found[0] if found else None

    @property
    def divisor(self) -> int:
        """The product of the average pools' window sizes (their 1/k^2 goes into the weights)."""
        return math.prod(node.kernel_size[0] * node.kernel_size[1] for _, node, _ in self.steps
                         if isinstance(node, ir.AvgPool2d))

    def _norm(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(scale, shift) of the BatchNorm folded into the weighted node, if there is one."""
        norms = [node for _, node, _ in self.steps if isinstance(node, ir.BatchNorm)]
        return norms[0].scale_shift() if norms else None

    @property
    def bias(self) -> np.ndarray | None:
        weighted, norm = self.weighted, self._norm()
        if weighted is None or not self.biased:
            return None
        if norm is None:
            return weighted.bias
        base = 0.0 if weighted.bias is None else weighted.bias.astype(np.float64)
        return base * norm[0] + norm[1]

    def effective_weight(self) -> np.ndarray:
        """The weighted node's weights with the average pools' 1/k^2 and a BatchNorm's scale."""
        weight = self.weighted.weight.astype(np.float64) / self.divisor
        norm = self._norm()
        if norm is not None:
            weight = weight * norm[0].reshape(-1, *([1] * (weight.ndim - 1)))
        return weight


def _check(path: Path, neuron: str) -> None:
    weighted = [name for name, node, _ in path.steps if isinstance(node, WEIGHTED)]
    for index, (name, node, _) in enumerate(path.steps):
        if isinstance(node, ir.BatchNorm) and (index == 0 or path.steps[index][2] or not isinstance(
                path.steps[index - 1][1], WEIGHTED)):
            raise UnsupportedModelError(
                f"layer '{name}': a BatchNorm is folded into the Linear or Conv2d right before "
                "it; put it there (or fold it yourself)")
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


def _split(network: ir.Network, neuron: str, edge: ir.Edge) -> list[Path]:
    """The paths of one edge into `neuron`: one, or one per input of each summing node."""
    partial = [(edge.source, (), True)]  # (node reached, steps after it, keeps the bias)
    paths = []
    while partial:
        current, steps, biased = partial.pop(0)
        if current == ir.INPUT or ir.is_neuron(network.nodes[current]):
            paths.append(Path(current, steps, edge.delay, biased))
            continue
        node = network.nodes[current]
        incoming = network.inputs_of(current)
        shared = len(network.consumers_of(current)) > 1
        name = f"{current}>{neuron}" if shared else current
        if not incoming:
            raise UnsupportedModelError(f"layer '{current}' receives no input")
        if len(incoming) == 1:
            partial.append((incoming[0].source, ((name, node, incoming[0].delay), *steps), biased))
            continue
        after = [node, *(step[1] for step in steps)]
        if not any(isinstance(n, WEIGHTED) for n in after) and any(
                isinstance(n, ir.BatchNorm) for n in after):
            raise UnsupportedModelError(f"layer '{current}' sums {len(incoming)} inputs before a "
                                        "BatchNorm; fold the BatchNorm into each input's weights")
        for k, source in enumerate(incoming):
            numbered = tuple((f"{n}#{k}", n_node, d) for n, n_node, d in steps)
            partial.append((source.source, ((f"{name}#{k}", node, source.delay), *numbered),
                            biased and (k == 0 or not any(isinstance(n, WEIGHTED) for n in after))))
    return paths


def neuron_paths(network: ir.Network, neuron: str) -> list[Path]:
    """The paths into `neuron`, per incoming edge in edge order (split where layers sum)."""
    paths = []
    for edge in network.inputs_of(neuron):
        for path in _split(network, neuron, edge):
            _check(path, neuron)
            paths.append(path)
    if not paths:
        raise UnsupportedModelError(f"layer '{neuron}' receives no input")
    # the first weighted path fixes the neuron's units
    paths.sort(key=lambda p: p.weighted is None)
    return paths
