"""Check a Lava venv (run by its python): import lava.lib.dl.netx, run a tiny netx network.

One CUBA neuron (iDecay 4096, vDecay 0, vThMant 15) with weight 10 from an input spiking every
step: Lava's Dense delivers a step late, v grows by 10 << 6 = 640 a step, and fires above
15 << 6 = 960, so the spikes over 5 steps are 0 0 1 0 1 (docs/loihi.md).
"""

import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np
from lava.lib.dl import netx
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.models import PyDenseModelBitAcc
from lava.proc.dense.process import Dense
from lava.proc.io.sink import RingBuffer as Sink
from lava.proc.io.source import RingBuffer as Source
from lava.proc.lif.models import PyLifModelBitAcc
from lava.proc.lif.process import LIF

EXPECTED = [0, 0, 1, 0, 1]


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "tiny.net"
        with h5py.File(path, "w") as f:
            f["layer/0/type"] = np.array([b"input"], "S10")
            f["layer/0/shape"] = np.array([2])
            f["layer/1/type"] = np.array([b"dense"], "S10")
            f["layer/1/shape"] = np.array([1])
            f["layer/1/weight"] = np.array([[10.0, 0.0]])
            f["layer/1/neuron/type"] = np.array([b"CUBA"], "S10")
            f["layer/1/neuron/iDecay"] = 4096
            f["layer/1/neuron/vDecay"] = 0
            f["layer/1/neuron/vThMant"] = 15
        net = netx.hdf5.Network(net_config=str(path))
        source = Source(data=np.array([[1] * 5, [0] * 5], np.int32))
        sink = Sink(shape=(1,), buffer=5)
        source.s_out.connect(net.inp)
        net.out.connect(sink.a_in)
        config = Loihi2SimCfg(select_tag="fixed_pt", exception_proc_model_map={
            LIF: PyLifModelBitAcc, Dense: PyDenseModelBitAcc})
        net.run(condition=RunSteps(num_steps=5), run_cfg=config)
        spikes = sink.data.get().astype(int).reshape(-1).tolist()
        net.stop()
    if spikes != EXPECTED:
        sys.exit(f"lava check: a tiny netx network spiked {spikes}, expected {EXPECTED}")
    print(f"lava check: lava.lib.dl.netx runs a tiny network bit-accurately ({spikes})")


if __name__ == "__main__":
    main()
