"""MLP: integer engine speed against sinabs's float forward of the same weights, in one process.

IAF 784-W-W-10 (Linear without bias), T = 100, Bernoulli input spikes. Configurations: batch 64
width 512 at 10 % activity (the reference case), batch 256, width 256, and 50 % activity. Each
round times every contender once (interleaved, see timing.py); ratios are medians over rounds with
their range. Floors: three int8 x int8 -> int32 GEMMs (`torch._int_mm`) and three exact float32
GEMMs over all steps, no neuron dynamics.

    python benchmarks/bench_sim.py [--runs 5]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from timing import rounds, show_ratio, show_times

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.engine.golden import simulate_program

STEPS = 100
CASES = {"B=64 width 512 p=0.1": (64, 512, 0.1), "B=256 width 512 p=0.1": (256, 512, 0.1),
         "B=64 width 256 p=0.1": (64, 256, 0.1), "B=64 width 512 p=0.5": (64, 512, 0.5)}


def build_weights(sizes: tuple[int, ...]) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(n_out, n_in, generator=generator) * (2.0 / n_in) ** 0.5
            for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]


def iaf_model(weights: list[torch.Tensor], neuron: type[torch.nn.Module]) -> torch.nn.Sequential:
    """Linear (no bias) + `neuron()` per weight matrix."""
    layers: list[torch.nn.Module] = []
    for weight in weights:
        linear = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        linear.weight.data.copy_(weight)
        layers += [linear, neuron()]
    return torch.nn.Sequential(*layers)


def sinabs_runner(model: torch.nn.Module, x: np.ndarray):
    batch_major = torch.from_numpy(x).transpose(0, 1).contiguous()  # sinabs wants (B, T, F)

    def run() -> None:
        for module in model.modules():
            if hasattr(module, "reset_states"):
                module.reset_states()
        model(batch_major)
    return run


def floors(program: nd.Program, x: np.ndarray):
    """Three int8 GEMMs and three float32 GEMMs over all steps (each layer's input is the
    previous one's output clipped to int8, as spikes would be)."""
    weights = [program.nodes[name].weight for name in program.order
               if program.nodes[name].weighted]
    int8 = [torch.from_numpy(np.ascontiguousarray(w.T)) for w in weights]
    f32 = [torch.from_numpy(np.ascontiguousarray(w.T.astype(np.float32))) for w in weights]
    first = torch.from_numpy(x.reshape(-1, x.shape[-1]))

    def int8_floor() -> None:
        activity = first.to(torch.int8)
        for w in int8:
            activity = torch._int_mm(activity, w).clamp_(0, 1).to(torch.int8)

    def float_floor() -> None:
        activity = first
        for w in f32:
            activity = activity @ w
    return int8_floor, float_floor


def main(runs: int) -> None:
    torch.set_grad_enabled(False)
    import sinabs.layers as sl  # never sinabs.backend.dynapcnn (it imports samna)

    rng = np.random.default_rng(0)
    for label, (batch, width, p) in CASES.items():
        weights = build_weights((784, width, width, 10))
        x = (rng.random((STEPS, batch, 784)) < p).astype(np.float32)
        program = nd.convert(iaf_model(weights, ndnn.IAF), target="sim", data=x[:, :16],
                             weight_bits=8)
        contenders = {"sinabs float forward": sinabs_runner(iaf_model(weights, sl.IAF), x),
                      "engine": lambda x=x, program=program: simulate_program(program, x),
                      "engine, counts=False":
                          lambda x=x, program=program: simulate_program(program, x, counts=False)}
        if label.startswith("B=64 width 512 p=0.1"):
            int8_floor, float_floor = floors(program, x)
            contenders |= {"int8 GEMM floor": int8_floor, "float32 GEMM floor": float_floor}
        times = rounds(contenders, runs)
        print(f"IAF 784-{width}-{width}-10, batch {batch}, T {STEPS}, p {p}, {runs} rounds")
        show_times(times)
        show_ratio(f"engine / sinabs ({label})", times, "engine", "sinabs float forward",
                   "(goal <= 0.5 at B=64, <= 0.7 at B=256 and width 256)")
        show_ratio(f"engine counts=False / sinabs ({label})", times, "engine, counts=False",
                   "sinabs float forward")
        if "int8 GEMM floor" in times:
            show_ratio("engine / int8 GEMM floor", times, "engine", "int8 GEMM floor",
                       "(goal <= 2)")
            show_ratio("engine / float32 GEMM floor", times, "engine", "float32 GEMM floor")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    main(parser.parse_args().runs)
