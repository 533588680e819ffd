"""The cycle-level simulator: exact against the formula on uniform traffic with an ideal network,
within 1 % with the default mesh; a skewed mapping's p99 beyond the formula; every shipped model
on sim and loihi."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import KINDS, model_path

import neurodeploy as nd
from neurodeploy.cost.cycle_sim import CoreMap, simulate_cycles
from neurodeploy.cost.trace import NodeTrace, Source
from neurodeploy.engine.golden import simulate_program
from neurodeploy.ir.graph import INPUT
from neurodeploy.targets.base import NodePlacement, Placement
from neurodeploy.targets.registry import get_target
from neurodeploy.targets.sim.cycles import core_timing, cycle_profile
from neurodeploy.targets.sim.spec import CoreArraySpec

STEPS, BATCH, INPUTS, FIRED = 6, 3, 20, 8


def uniform_traces() -> tuple[dict[str, NodeTrace], CoreMap]:
    """Layer a (256 neurons on cores 0, 1) fed densely by the input, layer b (64 on core 2)
    fed densely by a: every step the same activity on every core."""
    a_fired = np.zeros((STEPS, BATCH, 256), bool)
    a_fired[:, :, :FIRED] = a_fired[:, :, 128:128 + FIRED] = True
    b_fired = np.zeros((STEPS, BATCH, 64), bool)
    b_fired[:, :, :4] = True
    traces = {"a": NodeTrace("a", np.full((STEPS, BATCH, 256), float(INPUTS)), a_fired,
                             a_fired, (Source(INPUT, 0),)),
              "b": NodeTrace("b", np.full((STEPS, BATCH, 64), 2.0 * FIRED), b_fired, b_fired,
                             (Source("a", 0),))}
    return traces, CoreMap({"a": np.repeat([0, 1], 128), "b": np.full(64, 2)})


def formula(spec: CoreArraySpec) -> float:
    """`targets/sim/cost.py`: per node the busiest core's synops + neuron updates, + barrier."""
    return (INPUTS * 128 * spec.cycles_per_synop + 128 * spec.cycles_per_neuron_update
            + 2 * FIRED * 64 * spec.cycles_per_synop + 64 * spec.cycles_per_neuron_update
            + spec.barrier_cycles)


def test_uniform_traffic_agrees_with_the_formula():
    traces, core_map = uniform_traces()
    spec = CoreArraySpec()
    ideal = core_timing(dataclasses.replace(spec, hop_cycles=0, cycles_per_packet=0))
    exact = simulate_cycles(traces, ["a", "b"], core_map, ideal, formula(spec))
    assert np.all(exact.latency == formula(spec))
    profile = simulate_cycles(traces, ["a", "b"], core_map, core_timing(spec), formula(spec))
    summary = profile.summary()
    assert 1.0 <= summary["mean_over_formula"] <= 1.01  # the mesh adds the first packet's route
    assert summary["per_step"]["max"] - summary["per_step"]["min"] == 0


@pytest.fixture(scope="module")
def lif_sim(digits_test):
    x = digits_test[0][:, :64]
    program = nd.convert(nd.load(model_path("lif")), target="sim", data=x)
    return program, simulate_program(program, x, record_outputs=True), x


def test_skewed_mapping_shows_higher_p99_than_the_formula(lif_sim):
    program, result, x = lif_sim
    target = get_target("sim")
    # node '1' (128 neurons) on two cores, as the formula sees it: 64 per core
    split = Placement((NodePlacement("1", 128, (0, 1), 64), NodePlacement("3", 10, (2,), 10)), 128)
    cost = target.cost(program, result, split)
    balanced = target.cycle_simulation(program, result, split, x, cost).summary()
    skewed_map = CoreMap({"1": np.where(np.arange(128) < 120, 0, 1), "3": np.full(10, 2)})
    profile = cycle_profile(program, result, x, split, target.spec,
                            cost.timing.cycles_per_step, core_map=skewed_map).summary()
    formula_step = cost.timing.cycles_per_step
    assert balanced["p99_over_formula"] > 1.1  # step-to-step variation the mean hides
    assert profile["per_step"]["p99"] > 1.5 * formula_step
    assert profile["per_step"]["p99"] > balanced["per_step"]["p99"]
    hot = profile["cores"][0]
    assert profile["hot_cores"][0] == 0 and hot["utilisation"] > profile["cores"][1]["utilisation"]


@pytest.mark.parametrize("target_name", ["sim", "loihi"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_shipped_model_runs_in_time(target_name, kind, digits_test):
    network = nd.load(model_path(kind))
    target = get_target(target_name)
    if target.check(network):
        pytest.skip(f"{target_name} cannot run {kind}")
    x = digits_test[0][:, :16]
    program = nd.convert(network, target=target_name, data=x)
    result = simulate_program(program, x, record_outputs=True, record_states=True)
    placement = target.place(program)
    cost = target.cost(program, result, placement)
    summary = target.cycle_simulation(program, result, placement, x, cost).summary()
    per_step = summary["per_step"]
    assert 0 < per_step["min"] <= per_step["median"] <= per_step["p99"] <= per_step["max"]
    assert 0.8 < summary["mean_over_formula"] < 1.25
    assert all(0 <= c["utilisation"] <= 1 for c in summary["cores"])


def test_simulate_prints_time_and_saves_every_neuron(tmp_path, digits_test):
    from click.testing import CliRunner
    from conftest import DATA

    from neurodeploy.cli import main

    x = digits_test[0][:, :32]
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=digits_test[1][:32])
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["convert", str(model_path("lif")), "--data", str(DATA),
                                     "-o", str(out)]).exit_code == 0
    result = CliRunner().invoke(main, ["simulate", str(out), "--input", str(data), "-o",
                                       str(tmp_path / "y.npz"), "--save-spikes"])
    assert result.exit_code == 0, result.output
    assert "time per step (cycles, 32 samples simulated): min" in result.output
    assert "cycles = " in result.output and "us at 200 MHz" in result.output
    with np.load(tmp_path / "y.npz") as saved:
        neurons = saved["neurons/1"]
        assert neurons.shape == (20, 32, 128) and neurons.dtype == np.int8
        np.testing.assert_array_equal(neurons.sum(axis=2), saved["spikes/1"])
