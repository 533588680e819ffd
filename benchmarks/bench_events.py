"""Event-driven against dense synaptic accumulation, same program and input, one process.

IAF 784-512-512-10, T = 100, Bernoulli input at 0.5 % to 30 % activity, batch 1 and 64:
`event_driven=True` (every Dense node accumulates only its non-zero inputs, inside the kernel
of the neuron it feeds), `False` (the dense product: int8 GEMM on a CPU with VNNI, else float32
SGEMM) and `None` (the engine picks per node from the measured activity). Prints event / dense
and auto / dense (medians over interleaved rounds, with their range) and checks identical
outputs. The crossover sets `neurodeploy.engine.events.EVENT_ACTIVITY`.

    python benchmarks/bench_events.py [--runs 5]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from bench_sim import build_weights, iaf_model
from timing import rounds, show_ratio

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.engine.golden import simulate_program
from neurodeploy.program.synapses import int8_dot_product_cpu


def main(runs: int) -> None:
    torch.set_grad_enabled(False)
    rng = np.random.default_rng(0)
    weights = build_weights((784, 512, 512, 10))
    calibration = (rng.random((100, 16, 784)) < 0.1).astype(np.float32)
    program = nd.convert(iaf_model(weights, ndnn.IAF), target="sim", data=calibration,
                         weight_bits=8)
    print("dense product:", "int8 GEMM (VNNI)" if int8_dot_product_cpu() else "float32 SGEMM")
    for batch in (1, 64):
        for p in (0.005, 0.02, 0.1, 0.2, 0.3):
            x = (rng.random((100, batch, 784)) < p).astype(np.float32)
            runs_ = {mode: (lambda mode=mode, x=x: simulate_program(program, x, event_driven=mode))
                     for mode in (True, False, None)}
            same = all(np.array_equal(runs_[True]().output, runs_[m]().output)
                       for m in (False, None))
            times = rounds({"event": runs_[True], "dense": runs_[False], "auto": runs_[None]},
                           runs)
            print(f"batch {batch}, activity {p:.1%}: identical outputs {same}")
            show_ratio(f"event / dense (B={batch}, {p:.1%})", times, "event", "dense",
                       "(goal < 1 at <= 2 %)")
            show_ratio(f"auto / dense (B={batch}, {p:.1%})", times, "auto", "dense")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
