"""Streaming: one-step calls of `nd.Runner` against sinabs's stateful one-step forward.

IAF 784-512-512-10, batch 1, Bernoulli(0.1) input; each round streams 100 steps one call at a
time through both (sinabs keeps its state between calls unless reset). Prints the time per
one-step call and the ratio runner / sinabs (median over interleaved rounds, with its range;
goal <= 1), and checks the runner's stream against a whole-sequence run.

    python benchmarks/bench_stream.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from bench_sim import build_weights, iaf_model
from timing import rounds, show_ratio

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.engine.golden import simulate_program

STEPS = 100


def main(runs: int) -> None:
    torch.set_grad_enabled(False)
    import sinabs.layers as sl

    rng = np.random.default_rng(0)
    weights = build_weights((784, 512, 512, 10))
    x = (rng.random((STEPS, 1, 784)) < 0.1).astype(np.float32)
    program = nd.convert(iaf_model(weights, ndnn.IAF), target="sim", data=x, weight_bits=8)
    reference = iaf_model(weights, sl.IAF)
    runner = nd.Runner(program)
    frames = [torch.from_numpy(x[t][:, None]) for t in range(STEPS)]  # (B, 1, F) each

    def stream_runner() -> None:
        runner.reset()
        for t in range(STEPS):
            runner.step(x[t])

    def stream_sinabs() -> None:
        for module in reference.modules():
            if hasattr(module, "reset_states"):
                module.reset_states()
        for frame in frames:
            reference(frame)

    runner.reset()
    same = np.array_equal(np.stack([runner.step(x[t]) for t in range(STEPS)]),
                          simulate_program(program, x).output)
    times = rounds({"runner": stream_runner, "sinabs": stream_sinabs}, runs)
    print(f"IAF 784-512-512-10, batch 1, {STEPS} one-step calls per round, {runs} rounds; "
          f"stream == whole run: {same}")
    for name, values in times.items():
        print(f"  {name:<8} {statistics.median(values) / STEPS * 1e6:8.1f} us per one-step call")
    show_ratio("runner / sinabs (one-step call)", times, "runner", "sinabs", "(goal <= 1)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
