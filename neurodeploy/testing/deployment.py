"""A deployment under test: the float network, its program for one target, the artifact
directory the executors run, and the runs of each engine (computed once, on the same data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from neurodeploy import ir
from neurodeploy.api import check_input, convert, load
from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.targets.registry import get_target
from neurodeploy.verify.pairs import float_run, golden_run


@dataclass(eq=False)
class Deployment:
    """`program` (for `program.target`) of `network`, written to `directory`, tested on `x`
    (time-major) with optional `labels`."""

    network: ir.Network
    program: Program
    directory: Path
    x: np.ndarray
    labels: np.ndarray | None = None
    _runs: dict[str, SimulationResult] = field(default_factory=dict, repr=False)

    @property
    def target(self) -> str:
        return self.program.target

    @cached_property
    def float_run(self) -> SimulationResult:
        """The float reference (states and every node's output recorded)."""
        return float_run(self.network, self.x)

    @cached_property
    def golden_run(self) -> SimulationResult:
        """The golden model of the program (states and every node's output recorded)."""
        return golden_run(self.program, self.x)

    def executors(self) -> dict[str, str | None]:
        """Every executor of the target: None when it can run here, else why not."""
        return {name: executor.unavailable()
                for name, executor in sorted(get_target(self.target).executors.items())}

    def run(self, executor: str) -> SimulationResult:
        """The artifacts run by one of the target's independent executors (cached)."""
        if executor not in self._runs:
            chosen = get_target(self.target).executors[executor]
            self._runs[executor] = chosen.run(self.directory, self.program, self.x)
        return self._runs[executor]


def deploy(model: object, target: str, x: np.ndarray, directory: str | Path,
           labels: np.ndarray | None = None, calibration: np.ndarray | None = None,
           **options: object) -> Deployment:
    """Convert `model` for `target` (calibrated on `calibration`, default `x`) and write its
    artifacts to `directory` (a new directory, or one neurodeploy wrote)."""
    from neurodeploy.pipeline import save_deployment

    network = load(model)
    x = check_input(x, network.input_shape)
    program = convert(network, target, x if calibration is None else calibration, **options)
    save_deployment(program, directory)
    return Deployment(network, program, Path(directory), x, labels)
