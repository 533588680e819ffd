"""Hardware-in-the-loop tests of a deployment: copy this file next to your model and adapt
MODELS and the data. It uses neurodeploy's pytest plugin (installed with neurodeploy):

    pytest examples/test_my_deployment.py                         # sim, 8-bit weights
    pytest examples/test_my_deployment.py --nd-targets sim,loihi,akida,fpga --nd-weight-bits 4,8

Each target's program is converted and written once per session; the float reference, the
golden model and every executor that can run here (Icarus, Verilator, onnxruntime, Lava) run on
the same samples. A failure names the first divergence: step, layer, sample, neuron, both values
and the upstream activity at that step.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from neurodeploy.testing import assert_agrees, assert_bit_exact

HERE = Path(__file__).resolve().parent
#: the model to deploy on each target (the akida targets run rate-coded IAF networks)
MODELS = {"akida": "digits_iaf.pt", "akd1000": "digits_iaf.pt"}
DEFAULT_MODEL = "digits_lif.pt"
SAMPLES = 100  # RTL simulators take ~2 s per sample: keep HIL runs small
MAX_ACCURACY_DROP = 2.0  # points; the shipped models lose 0.0-1.3 at 8 bits


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    with np.load(HERE / "data" / "digits_test.npz") as data:
        return data["x"][:, :SAMPLES].astype(np.float32), data["y"][:SAMPLES]


@pytest.fixture
def deployment(nd_deploy, nd_target, nd_weight_bits, digits):
    x, y = digits
    model = HERE / "models" / MODELS.get(nd_target, DEFAULT_MODEL)
    return nd_deploy(model, nd_target, x, y, weight_bits=nd_weight_bits)


def test_deployed_program_agrees_with_the_float_model(deployment):
    assert_agrees(deployment.float_run, deployment.golden_run, deployment.program,
                  deployment.labels, max_accuracy_drop=MAX_ACCURACY_DROP)


def test_every_executor_is_bit_exact_with_the_golden_model(deployment):
    runnable = [name for name, why in deployment.executors().items() if why is None]
    if not runnable:
        pytest.skip(f"no executor of '{deployment.target}' can run here: "
                    f"{deployment.executors() or 'it has none'}")
    for name in runnable:
        assert_bit_exact(deployment.program, deployment.x, deployment.golden_run,
                         deployment.run(name), ("golden", name))
