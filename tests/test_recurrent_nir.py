"""Recurrent and synaptic NIR graphs as snnTorch 1.0.0 writes them, and continuous-time files.

snnTorch's `RLeaky`, `RSynaptic` and `Synaptic` exports (flat graphs: a LIF or CubaLIF node in a
loop with an Affine `w_rec`) read with `--dialect snntorch` reproduce snnTorch's own spikes; the
Braille RNN's structure (CubaLIF + recurrent Affine) loads flat and as a nested subgraph; a LIF
file in seconds is refused without `--dt` and matches the analytic solution with it.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir

import neurodeploy as nd
from neurodeploy.engine.reference import simulate_network
from neurodeploy.errors import NeurodeployError, UnsupportedModelError

HIDDEN, OUT, IN, STEPS, BATCH = 20, 5, 8, 40, 32


class SnnTorchNet(torch.nn.Module):
    """fc1 -> n1 (RLeaky / RSynaptic / Synaptic) -> fc2 -> n2 (Leaky), stepped through time."""

    def __init__(self, kind: str, reset: str = "subtract") -> None:
        super().__init__()
        self.kind = kind
        self.fc1 = torch.nn.Linear(IN, HIDDEN)
        alpha = torch.rand(HIDDEN) * 0.5 + 0.3
        beta = torch.rand(HIDDEN) * 0.4 + 0.5
        threshold = torch.ones(HIDDEN)
        if kind == "rleaky":
            self.n1 = snn.RLeaky(beta=beta, linear_features=HIDDEN, threshold=threshold,
                                 reset_mechanism=reset)
        elif kind == "rsynaptic":
            self.n1 = snn.RSynaptic(alpha=alpha, beta=beta, linear_features=HIDDEN,
                                    threshold=threshold, reset_mechanism=reset)
        else:
            self.n1 = snn.Synaptic(alpha=alpha, beta=beta, threshold=threshold,
                                   reset_mechanism=reset)
        self.fc2 = torch.nn.Linear(HIDDEN, OUT)
        self.n2 = snn.Leaky(beta=torch.full((OUT,), 0.9), threshold=torch.ones(OUT),
                            reset_mechanism=reset)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One time step on (B, IN), from zero state (what snnTorch's exporter traces)."""
        return self.step(x, self.zero_state(x.shape[0], HIDDEN, OUT))[1]

    @staticmethod
    def zero_state(batch: int, hidden: int, out: int) -> dict:
        zeros = torch.zeros(batch, hidden)
        return {"spk1": zeros, "syn1": zeros, "mem1": zeros, "mem2": torch.zeros(batch, out)}

    def step(self, x: torch.Tensor, state: dict) -> tuple[torch.Tensor, torch.Tensor]:
        current = self.fc1(x)
        if self.kind == "rleaky":
            spk, state["mem1"] = self.n1(current, state["spk1"], state["mem1"])
            state["spk1"] = spk
        elif self.kind == "rsynaptic":
            spk, state["syn1"], state["mem1"] = self.n1(current, state["spk1"], state["syn1"],
                                                        state["mem1"])
            state["spk1"] = spk
        else:
            spk, state["syn1"], state["mem1"] = self.n1(current, state["syn1"], state["mem1"])
        out, state["mem2"] = self.n2(self.fc2(spk), state["mem2"])
        return spk, out

    def run(self, x: torch.Tensor, hidden: int = HIDDEN, out: int = OUT
            ) -> tuple[torch.Tensor, torch.Tensor]:
        """(hidden spikes, output spikes) over time-major x (T, B, IN)."""
        state = self.zero_state(x.shape[1], hidden, out)
        spikes, outputs = zip(*(self.step(x_t, state) for x_t in x), strict=True)
        return torch.stack(spikes), torch.stack(outputs)


def _spikes(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((STEPS, BATCH, IN)) < 0.4).astype(np.float32)


@pytest.mark.parametrize("kind, reset", [("rleaky", "subtract"), ("rsynaptic", "subtract"),
                                         ("synaptic", "subtract"), ("rsynaptic", "zero"),
                                         ("synaptic", "zero")])
def test_snntorch_recurrent_and_synaptic_exports_reproduce_snntorch(kind, reset, tmp_path):
    torch.manual_seed(1)
    model = SnnTorchNet(kind, reset).eval()
    with torch.no_grad():
        model.fc1.weight.mul_(3.0)
    graph = export_to_nir(model.eval(), torch.zeros(1, IN), ignore_dims=[0])
    nir.write(str(tmp_path / "net.nir"), graph)
    x = _spikes(2)
    with torch.no_grad():
        hidden, out = (t.numpy() for t in model.run(torch.as_tensor(x)))
    network = nd.load(tmp_path / "net.nir", dialect="snntorch", reset=reset)
    result = simulate_network(network, x, record_outputs=True)
    hidden_name = next(n for n in network.nodes if n.startswith("n1"))
    mismatches = int((result.node_outputs[hidden_name] != hidden).sum()
                     + (result.output != out.reshape(result.output.shape)).sum())
    print(f"{kind} ({reset}): {int(hidden.sum())} hidden spikes, {mismatches} mismatches")
    assert hidden.sum() > 50 and out.sum() > 5
    assert mismatches == 0


def test_snntorch_rleaky_with_reset_to_zero_is_refused_not_guessed(tmp_path):
    """RLeaky's reset to zero clears the step's input too: not implemented, so refused."""
    model = SnnTorchNet("rleaky", "zero").eval()
    nir.write(str(tmp_path / "net.nir"), export_to_nir(model, torch.zeros(1, IN), ignore_dims=[0]))
    with pytest.raises(UnsupportedModelError, match="RLeaky with reset to zero"):
        nd.load(tmp_path / "net.nir", dialect="snntorch", reset="zero")


def _braille_like(reset: str) -> tuple[torch.nn.Module, nir.NIRGraph]:
    """A CubaLIF 12-38-7 network with a recurrent Affine, as snnTorch's RSynaptic exports it."""
    torch.manual_seed(4)

    class Braille(SnnTorchNet):
        def __init__(self) -> None:
            torch.nn.Module.__init__(self)
            self.kind = "rsynaptic"
            self.fc1 = torch.nn.Linear(12, 38)
            self.n1 = snn.RSynaptic(alpha=torch.full((38,), 0.6), beta=torch.full((38,), 0.9),
                                    linear_features=38, threshold=torch.ones(38),
                                    reset_mechanism=reset)
            self.fc2 = torch.nn.Linear(38, 7)
            self.n2 = snn.Leaky(beta=torch.full((7,), 0.85), threshold=torch.ones(7),
                                reset_mechanism=reset)

        def forward(self, x):
            return self.step(x, self.zero_state(x.shape[0], 38, 7))[1]

    model = Braille().eval()
    with torch.no_grad():
        model.fc1.weight.mul_(4.0)
    return model, export_to_nir(model, torch.zeros(1, 12), ignore_dims=[0])


def _nest(graph: nir.NIRGraph, loop: tuple[str, str]) -> nir.NIRGraph:
    """The same graph with the recurrent pair `loop` (neuron, w_rec) moved into a subgraph."""
    neuron, w_rec = loop
    sub = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([38])}),
               "lif": graph.nodes[neuron], "w_rec": graph.nodes[w_rec],
               "output": nir.Output(output_type={"output": np.array([38])})},
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False)
    nodes = {k: v for k, v in graph.nodes.items() if k not in loop}
    nodes["rnn"] = sub
    rename = {neuron: "rnn", w_rec: "rnn"}
    edges = [(rename.get(a, a), rename.get(b, b)) for a, b in graph.edges
             if not (a in loop and b in loop)]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.parametrize("nested", [False, True])
def test_braille_structure_loads_flat_and_nested(nested, tmp_path):
    model, graph = _braille_like("subtract")
    if nested:
        graph = _nest(graph, ("n1.lif", "n1.w_rec"))
    nir.write(str(tmp_path / "braille.nir"), graph)
    x = (np.random.default_rng(5).random((60, 16, 12)) < 0.3).astype(np.float32)
    with torch.no_grad():
        hidden, out = (t.numpy() for t in model.run(torch.as_tensor(x), 38, 7))
    network = nd.load(tmp_path / "braille.nir", dialect="snntorch")
    assert not network.is_chain and any(group.stepwise for group in network.schedule())
    result = simulate_network(network, x, record_outputs=True)
    hidden_name = "rnn.lif" if nested else "n1.lif"
    assert hidden.sum() > 100
    assert np.array_equal(result.node_outputs[hidden_name], hidden)
    assert np.array_equal(result.output, out)


def _nir_paper_lif(tmp_path) -> tuple:
    """The NIR paper's single LIF neuron in seconds: tau 2.5 ms, r 1, threshold 1 (as its
    01_lif example), with no dt in the file."""
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1])}),
               "lif": nir.LIF(tau=np.array([0.0025]), r=np.array([1.0]),
                              v_leak=np.array([0.0]), v_threshold=np.array([0.1]),
                              v_reset=np.array([0.0])),
               "output": nir.Output(output_type={"output": np.array([1])})},
        edges=[("input", "lif"), ("lif", "output")], type_check=False)
    nir.write(str(tmp_path / "lif.nir"), graph)
    return tmp_path / "lif.nir"


def test_continuous_time_file_needs_dt_and_then_matches_the_analytic_solution(tmp_path):
    path = _nir_paper_lif(tmp_path)
    with pytest.raises(NeurodeployError, match="--dt"):
        nd.load(path)
    dt = 1e-4
    network = nd.load(path, dt=dt)
    assert network.dt == dt
    # a constant input current I drives v towards r I with time constant tau: v(t) =
    # r I (1 - exp(-t / tau)); forward Euler at dt = tau / 25 follows it, so the first spike
    # (v > 0.1) comes where the analytic solution crosses 0.1, within a step
    current = 0.2
    steps = 120
    x = np.full((steps, 1, 1), current * 1.0, np.float32)
    spikes = nd.simulate(network, x).output[:, 0, 0]
    first = int(np.argmax(spikes > 0))
    analytic = -0.0025 * np.log(1 - 0.1 / current) / dt  # steps to the first crossing
    assert spikes.sum() > 2 and abs(first - analytic) <= 2
