"""Conv net: integer engine against sinabs's float forward of the same weights, in one process.

Conv2d 2-16-3, IAF, AvgPool 2, Conv2d 16-32-3, IAF, Flatten, Linear 32*14*14-10, IAF on
2x34x34 input, batch 32, T = 100, Bernoulli(0.05) events. Prints engine / sinabs (median over
interleaved rounds, with its range; goal <= 1.0, stretch 0.6).

    python benchmarks/bench_conv.py [--runs 5]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import rounds, show_ratio, show_times

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.engine.golden import simulate_program

BATCH, STEPS, SHAPE = 32, 100, (2, 34, 34)


def conv_model(neuron) -> torch.nn.Sequential:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(2, 16, 3, bias=False), neuron(), torch.nn.AvgPool2d(2),
        torch.nn.Conv2d(16, 32, 3, bias=False), neuron(), torch.nn.Flatten(),
        torch.nn.Linear(32 * 14 * 14, 10, bias=False), neuron())


def main(runs: int) -> None:
    torch.set_grad_enabled(False)
    import sinabs.layers as sl

    rng = np.random.default_rng(0)
    x = (rng.random((STEPS, BATCH, *SHAPE)) < 0.05).astype(np.float32)
    model = conv_model(ndnn.IAF)
    for layer in model:  # weights scaled so that every layer spikes
        if hasattr(layer, "weight"):
            layer.weight.data *= 3.0
    program = nd.convert(nd.load(model, input_shape=SHAPE), target="sim", data=x[:, :8],
                         weight_bits=8)
    reference = conv_model(lambda: sl.IAFSqueeze(batch_size=BATCH))
    for mine, theirs in zip(model, reference, strict=True):
        if hasattr(mine, "weight"):
            theirs.weight.data.copy_(mine.weight.data)
    flat = torch.from_numpy(x).transpose(0, 1).reshape(BATCH * STEPS, *SHAPE).contiguous()

    def run_sinabs() -> None:
        for module in reference.modules():
            if hasattr(module, "reset_states"):
                module.reset_states()
        reference(flat)

    times = rounds({"sinabs float forward": run_sinabs,
                    "engine": lambda: simulate_program(program, x),
                    "engine, counts=False": lambda: simulate_program(program, x, counts=False)},
                   runs)
    print(f"Conv net on {SHAPE}, batch {BATCH}, T {STEPS}, p 0.05, {runs} rounds")
    show_times(times)
    show_ratio("engine / sinabs (conv)", times, "engine", "sinabs float forward",
               "(goal <= 1.0, stretch 0.6)")
    show_ratio("engine counts=False / sinabs (conv)", times, "engine, counts=False",
               "sinabs float forward")
    for p in (0.05, 0.3):
        dense_x = (rng.random((STEPS, BATCH, *SHAPE)) < p).astype(np.float32)
        modes = {mode: (lambda mode=mode, dense_x=dense_x:
                        simulate_program(program, dense_x, event_driven=mode))
                 for mode in (True, False)}
        same = np.array_equal(modes[True]().output, modes[False]().output)
        times = rounds({"event": modes[True], "dense": modes[False]}, runs)
        print(f"activity {p:.0%}: identical outputs {same}")
        show_ratio(f"event / dense (conv, {p:.0%})", times, "event", "dense")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
