"""neurodeploy: deploy trained PyTorch spiking networks on neuromorphic hardware.

    import neurodeploy as nd
    net = nd.load("model.pt")          # or .nir, or an nn.Module
    nd.save_nir(net, "model.nir")
    res = nd.simulate(net, x)          # float reference; res.output is (T, B, N_out)
"""

from neurodeploy.errors import NeurodeployError
from neurodeploy.io.load import load, save_nir
from neurodeploy.ir import Network
from neurodeploy.simulate import simulate

__version__ = "0.1.0"
__all__ = ["Network", "NeurodeployError", "load", "save_nir", "simulate", "__version__"]
