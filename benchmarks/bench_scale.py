"""Scale-out: a report sweep and a large sharded golden run, one process against two workers.

Sweep: the LIF digits model, weight widths 2-9 (8 rows) on the shipped samples repeated twice
(1,080; `bit_sweep`, what `report --workers N` runs). Simulate: its 8-bit program on the samples
repeated 16 times (8,640), recording states and outputs as `simulate OUT` does
(`simulate_sharded`, what `simulate OUT --workers N` runs). "two" starts its processes afresh
each run, as a command does (spawn, imports and the transfer of the inputs included); "warm"
reuses one pool of two. With --ray ADDRESS Ray tasks are timed too, over one connection made
first ("local" starts an instance on this machine, not timed). Prints medians and the ratios
to one process with their range over interleaved rounds, and checks the results are identical.
The golden engine's kernels already use every core in one process (numba `prange`), so on a
2-core machine expect little gain; more cores or a cluster is where workers pay.

    python benchmarks/bench_scale.py [--runs 3] [--ray ADDRESS]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from timing import rounds, show_ratio, show_times

import neurodeploy as nd
from neurodeploy.engine.shard import simulate_sharded
from neurodeploy.pipeline import bit_sweep
from neurodeploy.scale import Workers

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "examples" / "models" / "digits_lif.pt"
DATA = ROOT / "examples" / "data" / "digits_test.npz"


def main(runs: int, ray_address: str | None) -> None:
    if ray_address:
        import ray

        ray.init(address=ray_address, log_to_driver=False)
    with np.load(DATA) as data:
        x, y = np.tile(data["x"].astype(np.float32), (1, 2, 1)), np.tile(data["y"], 2)
    network = nd.load(MODEL)
    big = np.tile(x, (1, 8, 1))
    program = nd.convert(network, target="sim", data=x, weight_bits=8)
    with Workers(2) as warm:
        places = {"one": {}, "two": {"workers": 2}, "warm": {"workers": warm}} | (
            {"ray": {"ray_address": ray_address}} if ray_address else {})
        sweeps = {name: (lambda how=how: bit_sweep(network, x, y, "sim", range(2, 10), **how))
                  for name, how in places.items()}
        simulations = {name: (lambda how=how: simulate_sharded(program, big, **how,
                                                                record_states=True,
                                                                record_outputs=True))
                       for name, how in places.items()}
        same = len({json.dumps(sweep(), sort_keys=True) for sweep in sweeps.values()}) == 1
        print(f"sweep: 8 rows on {x.shape[1]} samples; identical results {same}")
        report(sweeps, runs, "sweep")
        outputs = [simulate().output for simulate in simulations.values()]
        same = all(np.array_equal(outputs[0], output) for output in outputs)
        print(f"simulate: {big.shape[1]} samples x {big.shape[0]} steps; identical outputs {same}")
        report(simulations, runs, "simulate")


def report(functions: dict, runs: int, label: str) -> None:
    """Time `functions` in interleaved rounds; print medians and each ratio to "one"."""
    times = rounds(functions, runs, warmup=0)
    show_times(times)
    for name in list(functions)[1:]:
        show_ratio(f"{label} {name} / one", times, name, "one", "(< 1: faster)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--ray", default=None, metavar="ADDRESS",
                        help="also time Ray tasks on the cluster at ADDRESS (e.g. local)")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.ray)
