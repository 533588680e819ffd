"""`simulate`'s time line: the cycle-level simulation of a converted program, summarised."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports numpy and the engine only inside commands
    import numpy as np

    from neurodeploy.engine.result import SimulationResult
    from neurodeploy.program.graph import Program

def cycle_simulated(program: Program) -> bool:
    """True when the program's target simulates its time (`cycle_simulation`)."""
    from neurodeploy.targets.registry import get_target

    return hasattr(get_target(program.target), "cycle_simulation")


def time_line(program: Program, result: SimulationResult, x: np.ndarray,
              progress: Callable[[int, str], Any]) -> str:
    """Cycles (or ns) per step and per inference from the cycle-level simulation."""
    from neurodeploy.targets.registry import get_target

    target = get_target(program.target)
    placement = target.place(program)
    cost = target.cost(program, result, placement)
    with progress(result.output.shape[0], "timing") as advance:
        profile = target.cycle_simulation(program, result, placement, x, cost, advance)
    summary = profile.summary()
    unit, per_step = summary["unit"], summary["per_step"]
    clock = cost.timing.clock_hz
    seconds = summary["per_inference_mean"] / clock if clock else \
        summary["per_inference_mean"] * 1e-9
    return (f"time per step ({unit}, {summary['samples']} samples simulated): min "
            f"{per_step['min']:,.0f}, median {per_step['median']:,.0f}, p99 {per_step['p99']:,.0f},"
            f" max {per_step['max']:,.0f}; per inference {summary['per_inference_mean']:,.0f} "
            f"{unit} = {seconds * 1e6:,.1f} us" + (f" at {clock / 1e6:.0f} MHz" if clock else ""))
