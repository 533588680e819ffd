"""Where two Programs differ: structure, formats and every array, element by element."""

from __future__ import annotations

import dataclasses

import numpy as np

from neurodeploy.program.graph import Program

SHOWN = 3  # differing elements named per array


def _array_differences(where: str, expected: np.ndarray, got: np.ndarray) -> list[str]:
    if expected.shape != got.shape:
        return [f"{where}: shape {expected.shape} became {got.shape}"]
    differs = np.argwhere(expected != got)
    shown = [f"{where}[{', '.join(map(str, index))}]: {expected[tuple(index)]} became "
             f"{got[tuple(index)]}" for index in differs[:SHOWN]]
    more = len(differs) - SHOWN
    return shown + ([f"{where}: {more} more elements differ"] if more > 0 else [])


def program_differences(expected: Program, got: Program) -> list[str]:
    """One line per difference, naming the node, the field and the element; [] when equal."""
    lines = []
    if expected.target != got.target:
        lines.append(f"target '{expected.target}' became '{got.target}'")
    if expected.input != got.input:
        lines.append(f"input format {expected.input} became {got.input}")
    if set(expected.edges) != set(got.edges) or set(expected.nodes) != set(got.nodes):
        return lines + [f"graph differs: nodes {sorted(expected.nodes)} -> {sorted(got.nodes)}"]
    for name in expected.order:
        a, b = expected.nodes[name], got.nodes[name]
        if type(a) is not type(b):
            lines.append(f"node '{name}': {a.kind} became {b.kind}")
            continue
        lines += _differences(f"node '{name}'", a, b)
    return lines


def _differences(where: str, x: object, y: object) -> list[str]:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return _array_differences(where, np.asarray(x), np.asarray(y))
    if dataclasses.is_dataclass(x) and type(x) is type(y):
        return [line for field in dataclasses.fields(x)
                for line in _differences(f"{where} {field.name}", getattr(x, field.name),
                                         getattr(y, field.name))]
    return [] if x == y else [f"{where}: {x} became {y}"]
