"""Integer engine speed against sinabs's float forward of the same weights, in one process.

IAF 784-512-512-10, batch 64, T = 100, Bernoulli(0.1) input spikes. Prints best-of-N wall times
and the ratios: integer engine / sinabs (goal <= 1.0, stretch 0.5), against the dense-ANN floor
(the three float32 matmuls over all steps, no neuron dynamics), and the event-driven path at
2 % input activity.

    python benchmarks/bench_sim.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.engine.golden import simulate_program

SIZES = (784, 512, 512, 10)
BATCH, STEPS = 64, 100


def best_time(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def build_weights() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(n_out, n_in, generator=generator) * (2.0 / n_in) ** 0.5
            for n_in, n_out in zip(SIZES[:-1], SIZES[1:], strict=True)]


def iaf_model(weights: list[torch.Tensor], neuron: type[torch.nn.Module]) -> torch.nn.Sequential:
    """Linear (no bias) + `neuron()` per weight matrix."""
    layers: list[torch.nn.Module] = []
    for weight in weights:
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        linear.weight.data.copy_(weight)
        layers += [linear, neuron()]
    return torch.nn.Sequential(*layers)


def main(repeats: int) -> None:
    torch.set_grad_enabled(False)
    weights = build_weights()
    rng = np.random.default_rng(0)
    x = (rng.random((STEPS, BATCH, SIZES[0])) < 0.1).astype(np.float32)
    sparse = (rng.random((STEPS, BATCH, SIZES[0])) < 0.02).astype(np.float32)

    import sinabs.layers as sl  # never sinabs.backend.dynapcnn (it imports samna)

    program = nd.convert(iaf_model(weights, ndnn.IAF), target="sim", data=x, weight_bits=8)
    reference = iaf_model(weights, sl.IAF)
    batch_major = torch.from_numpy(x).transpose(0, 1).contiguous()  # sinabs wants (B, T, F)

    def run_sinabs() -> None:
        for module in reference.modules():
            if hasattr(module, "reset_states"):
                module.reset_states()
        reference(batch_major)

    def run_floor() -> None:
        activity = torch.from_numpy(x).reshape(-1, SIZES[0])
        for weight in weights:
            activity = activity @ weight.T

    integer = best_time(lambda: simulate_program(program, x), repeats)
    sinabs_time = best_time(run_sinabs, repeats)
    floor = best_time(run_floor, repeats)
    dense_sparse = best_time(lambda: simulate_program(program, sparse), repeats)
    events_sparse = best_time(lambda: simulate_program(program, sparse, event_driven=True), repeats)
    same = np.array_equal(simulate_program(program, sparse).output,
                          simulate_program(program, sparse, event_driven=True).output)

    print(f"IAF {'-'.join(map(str, SIZES))}, batch {BATCH}, T {STEPS}, best of {repeats}")
    print(f"  sinabs float forward          {sinabs_time * 1e3:8.1f} ms")
    print(f"  neurodeploy integer engine    {integer * 1e3:8.1f} ms")
    print(f"  dense-ANN floor (3 matmuls)   {floor * 1e3:8.1f} ms")
    print(f"ratio integer / sinabs          {integer / sinabs_time:8.2f}  (goal <= 1.0, stretch 0.5)")
    print(f"ratio integer / dense floor     {integer / floor:8.2f}")
    print("2 % input activity:")
    print(f"  integer engine, dense path    {dense_sparse * 1e3:8.1f} ms")
    print(f"  integer engine, event path    {events_sparse * 1e3:8.1f} ms  (identical: {same})")
    print(f"ratio event / dense path        {events_sparse / dense_sparse:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    main(parser.parse_args().repeats)
