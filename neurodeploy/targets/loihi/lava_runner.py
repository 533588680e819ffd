"""Run a netx file in Lava (a standalone script for the python of a Lava venv; no neurodeploy).

    python lava_runner.py MODEL.net INPUT.npz OUTPUT.npz

INPUT.npz: `spikes` (B, P, *shape) input per sample and step (shape in torch order, the
program's zero steps already appended): binary spikes into the network's input port, or, when
layer 0 is netx's input block (neurons, no synapse), graded integers sent straight into its
neurons' a_in, as Lava's own tests feed it; `voltage` the indices of the layers whose voltage to
record. lava-dl's `netx.hdf5.Network` is built from MODEL.net and run with Lava's bit-accurate
CPU models (PyLifModelBitAcc, PyDenseModelBitAcc, Conv's fixed-point model) once, the samples
one after another: after each sample's P steps every layer's u, v and synaptic buffer are set
back to zero, the state a fresh network starts from. OUTPUT.npz: per layer i `spikes_i`
(B, P, *shape), and `voltage_i` for the layers asked for. An error prints one line to stderr and
exits with status 2.
"""

from __future__ import annotations

import sys

import numpy as np


def _to_lava(frames: np.ndarray) -> np.ndarray:
    """(N, *torch shape) -> (*netx shape, N): netx reverses (C, H, W) into (W, H, C)."""
    return frames.transpose(*range(frames.ndim - 1, 0, -1), 0)


def _from_lava(data: np.ndarray, batch: int, steps: int) -> np.ndarray:
    """(*netx shape, N) -> (B, P, *torch shape)."""
    frames = data.transpose(data.ndim - 1, *range(data.ndim - 2, -1, -1))
    return frames.reshape(batch, steps, *frames.shape[1:])


def run(model: str, spikes: np.ndarray, voltage: list[int]) -> dict[str, np.ndarray]:
    """Per-layer spikes (and voltages) of the netx network in `model` driven by `spikes`."""
    from lava.lib.dl import netx
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.models import PyDenseModelBitAcc
    from lava.proc.dense.process import Dense
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.models import PyLifModelBitAcc
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    batch, steps = spikes.shape[:2]
    total = batch * steps
    net = netx.hdf5.Network(net_config=model)
    source = Source(data=_to_lava(spikes.reshape(total, *spikes.shape[2:]).astype(np.int32)))
    first = net.layers[0]
    source.s_out.connect(net.inp if hasattr(first, "synapse") else first.neuron.a_in)
    sinks, monitors = [], {}
    for index, layer in enumerate(net.layers):
        sink = Sink(shape=layer.neuron.s_out.shape, buffer=total)
        layer.neuron.s_out.connect(sink.a_in)
        sinks.append(sink)
        if index in voltage:
            monitors[index] = Monitor()
            monitors[index].probe(layer.neuron.v, total)
    missing = sorted(set(voltage) - set(monitors))
    if missing:
        raise ValueError(f"the file has {len(net.layers)} layers, no layer {missing[0]}")
    config = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={
        LIF: PyLifModelBitAcc, Dense: PyDenseModelBitAcc})
    try:
        for _ in range(batch):
            net.run(condition=RunSteps(num_steps=steps), run_cfg=config)
            for layer in net.layers:
                synapse = getattr(layer, "synapse", None)  # an input block has none
                buffers = [] if synapse is None else [  # Dense: a_buff, Conv: a_buf
                    synapse.a_buff if hasattr(synapse, "a_buff") else synapse.a_buf]
                for var in (layer.neuron.u, layer.neuron.v, *buffers):
                    var.set(np.zeros(var.shape, np.int32))
        arrays = {f"spikes_{i}": _from_lava(sink.data.get(), batch, steps).astype(np.int8)
                  for i, sink in enumerate(sinks)}
        for index, monitor in monitors.items():
            neuron = net.layers[index].neuron
            recorded = monitor.get_data()[neuron.name]["v"]  # (steps, *netx shape)
            arrays[f"voltage_{index}"] = _from_lava(np.moveaxis(recorded, 0, -1), batch,
                                                    steps).astype(np.int64)
    finally:
        net.stop()
    return arrays


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python lava_runner.py MODEL.net INPUT.npz OUTPUT.npz", file=sys.stderr)
        return 2
    model, inputs, outputs = argv
    try:
        with np.load(inputs) as data:
            spikes, voltage = data["spikes"], [int(i) for i in data["voltage"]]
        np.savez(outputs, **run(model, spikes, voltage))
    except Exception as exc:  # Lava's errors share no base: report any in one line
        text = str(exc).strip().splitlines()
        print(f"{type(exc).__name__}: {text[-1] if text else ''}"[:300], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
