"""A large batch on the golden engine in shards: slices of the batch axis run by `Workers`
(local processes or Ray tasks) and joined. The integer engine runs every sample on its own, so
the joined result equals one run on the whole batch bit for bit: outputs, per-node spike and
event counts, recorded states and outputs, synaptic operations, updates and saturations.

(The float reference is not sharded: torch's float sums may round differently for another
batch size.)
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from neurodeploy.engine.golden import simulate_program
from neurodeploy.engine.result import SimulationResult
from neurodeploy.program.graph import Program
from neurodeploy.scale import Workers, open_workers

SHARDS_PER_WORKER = 4  # finer progress, and slack for uneven workers
SHARDS_NEED_PROGRAM = ("workers shard the golden run of a converted program (give an OUT/ "
                       "directory of convert, and no executor); the float reference's sums may "
                       "round differently for another batch size")


def quiet(length: int, label: str) -> AbstractContextManager[Callable[[], Any]]:
    """A progress factory that shows nothing."""
    return nullcontext(lambda: None)


def simulate_sharded(program: Program, x: np.ndarray, workers: int | Workers = 1,
                     ray_address: str | None = None, record_states: bool = False,
                     record_outputs: bool = False, event_driven: bool | None = None,
                     shards: int | None = None,
                     progress: Callable[[int, str], AbstractContextManager[Callable[[], Any]]]
                     = quiet) -> SimulationResult:
    """`simulate_program(program, x, ...)`, the batch (axis 1 of `x`) cut into `shards` slices
    (default: 4 per worker, one in this process alone) run on `workers` (a count of local
    processes, an entered `Workers`, or the Ray cluster at `ray_address`). `progress(length,
    label)` is a context manager yielding the callback called as each shard finishes."""
    common = (program, record_states, record_outputs, event_driven)
    with open_workers(workers, ray_address) as pool:
        count = shards or (1 if pool.size == 1 else SHARDS_PER_WORKER * pool.size)
        edges = np.linspace(0, x.shape[1], min(count, max(x.shape[1], 1)) + 1).astype(int)
        if len(edges) == 2:
            return run_shard(*common, x)
        jobs = [(x[:, start:stop],) for start, stop in zip(edges[:-1], edges[1:], strict=True)]
        with progress(len(jobs), "simulating") as advance:
            parts = pool.map(run_shard, jobs, common, advance)
    return SimulationResult.concatenate(parts)


def run_shard(program: Program, record_states: bool, record_outputs: bool,
              event_driven: bool | None, x: np.ndarray) -> SimulationResult:
    """One shard: `simulate_program` on a slice of the batch (what a worker runs)."""
    return simulate_program(program, x, record_states, record_outputs, event_driven)
