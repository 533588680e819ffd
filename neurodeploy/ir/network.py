"""The float, discrete-time Network: a chain of named nodes with known shapes."""

from __future__ import annotations

from dataclasses import dataclass

from neurodeploy.errors import UnsupportedModelError
from neurodeploy.ir.nodes import Layer, is_neuron, neuron_kind


@dataclass(eq=False)
class Network:
    """A feed-forward chain of layers, each neuron layer possibly recurrent within itself.

    `input_shape` is the per-sample, per-step feature shape, e.g. (64,) or (C, H, W). Data flows
    time-major `(T, B, *input_shape)`; every layer is evaluated once per time step, in order.
    """

    layers: tuple[Layer, ...]
    input_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        self.layers = tuple(self.layers)
        self.input_shape = tuple(int(d) for d in self.input_shape)
        if not self.layers:
            raise UnsupportedModelError("the network has no layers")
        names = [layer.name for layer in self.layers]
        if len(set(names)) != len(names):
            raise UnsupportedModelError(f"layer names must be unique, got {names}")
        self._shapes = self._infer_shapes()

    def _infer_shapes(self) -> list[tuple[int, ...]]:
        shapes, shape = [], self.input_shape
        for layer in self.layers:
            if hasattr(layer.node, "output_shape"):
                try:
                    shape = layer.node.output_shape(shape)
                except ValueError as exc:
                    raise UnsupportedModelError(f"layer {layer.name}: {exc}") from None
            shapes.append(shape)
        return shapes

    def output_shape_of(self, name: str) -> tuple[int, ...]:
        """Per-sample output shape of the named layer."""
        return self._shapes[self.index(name)]

    def input_shape_of(self, name: str) -> tuple[int, ...]:
        index = self.index(name)
        return self.input_shape if index == 0 else self._shapes[index - 1]

    def index(self, name: str) -> int:
        for i, layer in enumerate(self.layers):
            if layer.name == name:
                return i
        raise KeyError(name)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self._shapes[-1]

    @property
    def neuron_layers(self) -> list[Layer]:
        return [layer for layer in self.layers if is_neuron(layer.node)]

    @property
    def output_is_graded(self) -> bool:
        last = self.layers[-1].node
        return bool(getattr(last, "graded", True))

    def summary(self) -> str:
        """One line per layer: name, kind and output shape."""
        lines = []
        for layer, shape in zip(self.layers, self._shapes, strict=True):
            kind = neuron_kind(layer.node) if is_neuron(layer.node) else type(layer.node).__name__
            lines.append(f"{layer.name:>6}  {kind:<9} -> {shape}")
        return "\n".join(lines)

