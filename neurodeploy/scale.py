"""Where independent jobs run: in this process, in spawned local processes, or as Ray tasks.

    with Workers(4) as pool:                      # or Workers(ray_address="auto")
        results = pool.map(function, jobs, common, step)

`map` calls `function(*common, *job)` for every job and returns the results in job order,
whoever computed them, calling `step()` as each one finishes. Every job of neurodeploy is a
deterministic function of its arguments, so the results are the same bit for bit wherever they
ran. Ray is imported only when an address is given (it is heavy, and an optional extra).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from types import ModuleType
from typing import Any

from neurodeploy.errors import ClusterError

RAY_EXTRA = "pip install 'neurodeploy[ray]'"


class Workers:
    """Slots that run jobs: this process (`count` 1), `count` spawned local processes (spawned:
    torch is not fork-safe), or the CPUs of the Ray cluster at `ray_address`, which takes
    precedence: "auto" (the running cluster), "local" (a new instance on this machine),
    "HOST:PORT" or "ray://HOST:PORT" (Ray Client). The cluster's nodes need neurodeploy
    installed. Use it as a context manager: the processes or the Ray connection live inside;
    a Ray connection made before (`ray.init`) is used and left open."""

    def __init__(self, count: int = 1, ray_address: str | None = None) -> None:
        self.count, self.ray_address = count, ray_address
        self.size = 1  # jobs that run at once
        self._pool: Any = None
        self._ray: ModuleType | None = None
        self._connected = False  # whether __enter__ made the Ray connection (and ends it)
        self.entered = False

    def __enter__(self) -> Workers:
        self.entered = True
        if self.ray_address is not None:
            self._ray = import_ray()
            if not self._ray.is_initialized():
                _connect(self._ray, self.ray_address)
                self._connected = True
            self.size = max(1, int(self._ray.cluster_resources().get("CPU", 1)))
        elif self.count > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.count, multiprocessing.get_context("spawn"))
            self.size = self.count
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        if self._ray is not None and self._connected:
            self._ray.shutdown()
        self._pool, self._ray, self._connected, self.size = None, None, False, 1
        self.entered = False

    def map(self, function: Callable[..., Any], jobs: Sequence[tuple], common: tuple = (),
            step: Callable[[], None] = lambda: None) -> list:
        """`function(*common, *job)` for each job, in job order; `step()` as each finishes.
        `function` and its arguments must pickle (a module-level function, plain data)."""
        if self._ray is not None:
            return _map_ray(self._ray, function, jobs, common, step)
        if self._pool is None:
            results = []
            for job in jobs:
                results.append(function(*common, *job))
                step()
            return results
        from concurrent.futures import as_completed

        futures = {self._pool.submit(function, *common, *job): k for k, job in enumerate(jobs)}
        done: dict[int, Any] = {}
        for future in as_completed(futures):
            done[futures[future]] = future.result()
            step()
        return [done[k] for k in range(len(jobs))]


def open_workers(count: int | Workers = 1, ray_address: str | None = None
                 ) -> AbstractContextManager[Workers]:
    """What functions taking a count or Workers use in a `with`: a Workers already entered is
    used and left open, one not entered is entered and closed after, a count makes
    `Workers(count, ray_address)`."""
    if isinstance(count, Workers):
        return nullcontext(count) if count.entered else count
    return Workers(count, ray_address)


def import_ray() -> ModuleType:
    """The `ray` module, or a ClusterError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(f"Ray is not installed; {RAY_EXTRA}") from None
    return ray


def _connect(ray: ModuleType, address: str) -> None:
    """Connect this process to the cluster at `address`, quietly (errors as ClusterError)."""
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ClusterError(f"cannot use the Ray cluster at {address!r}: {reason}") from None


def _call(function: Callable[..., Any], common: tuple, job: tuple) -> Any:
    """What a Ray task runs: one job."""
    return function(*common, *job)


def _map_ray(ray: ModuleType, function: Callable[..., Any], jobs: Sequence[tuple],
             common: tuple, step: Callable[[], None]) -> list:
    """`Workers.map` as Ray tasks of one CPU each; `common` goes to the object store once."""
    task = ray.remote(num_cpus=1)(_call)
    shared = ray.put(common)
    refs = [task.remote(function, shared, job) for job in jobs]
    index = {ref: k for k, ref in enumerate(refs)}
    results: list[Any] = [None] * len(refs)
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            results[index[ready[0]]] = ray.get(ready[0])  # a failed job stops the run now
            step()
        return results
    except ray.exceptions.RayTaskError as exc:  # the job's own exception, as in one process
        for ref in pending:
            ray.cancel(ref)
        raise exc.cause from None
