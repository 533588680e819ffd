"""neurodeploy: deploy trained PyTorch spiking networks on neuromorphic hardware.

    import neurodeploy as nd
    net = nd.load("model.pt")          # or .nir, or an nn.Module
    nd.save_nir(net, "model.nir")
    res = nd.simulate(net, x)          # float reference; res.output is (T, B, N_out)
    prog = nd.convert(net, target="sim", data=x, weight_bits=8)
    prog.save("out/"); prog = nd.Program.load("out/")
    res = nd.simulate(prog, x)         # bit-accurate integer engine (the golden model)
    run = nd.Runner(prog); y_t = run.step(x[t])   # the same, streaming one step at a time

The public names load lazily, so `neurodeploy --help` does not import torch or numpy.
"""

from importlib import import_module

from neurodeploy.errors import NeurodeployError

__version__ = "0.1.0"

_LAZY = {
    "load": "neurodeploy.api",
    "save_nir": "neurodeploy.api",
    "simulate": "neurodeploy.api",
    "convert": "neurodeploy.api",
    "load_program": "neurodeploy.api",
    "Network": "neurodeploy.ir",
    "Program": "neurodeploy.program.graph",
    "Runner": "neurodeploy.engine.runner",
    "ann2snn": "neurodeploy.frontend.ann2snn",
    "to_torch": "neurodeploy.nn.graph",
}
__all__ = ["NeurodeployError", "__version__", *_LAZY]


_RENAMED = {"to_torch": "torch_from_network"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), _RENAMED.get(name, name))
    raise AttributeError(f"module 'neurodeploy' has no attribute {name!r}")
