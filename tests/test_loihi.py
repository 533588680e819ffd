"""The Loihi target: the CUBA kernel against Python ints, netx files, the golden check, mapping."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, model_path
from hypothesis import given, settings
from hypothesis import strategies as st
from int_cases import as_dtype, edge_integers, groups, mismatches

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.cli import main
from neurodeploy.errors import NeurodeployError
from neurodeploy.targets.loihi.netx_read import read_netx
from neurodeploy.targets.loihi.nodes import cuba_step
from neurodeploy.targets.registry import get_target

LIMIT = 1 << 23


def ref_rtz(x: int) -> int:
    """sign(x) * (|x| >> 12) with Python ints."""
    return (1 if x > 0 else -1 if x < 0 else 0) * (abs(x) >> 12)


def ref_cuba(u: int, v: int, a_in: int, du: int, dv: int, bias: int, vth: int):
    u = ref_rtz(u * (4096 - (du + 1))) + a_in * 64
    if u > LIMIT:
        u -= 1 << 24
    elif u <= -LIMIT:
        u += 1 << 24
    v = ref_rtz(v * (4096 - dv)) + u + bias
    v = max(-(LIMIT - 1), min(LIMIT - 1, v))
    spike = v > vth * 64
    return u, 0 if spike else v, int(spike)


def edgy(lo: int, hi: int) -> st.SearchStrategy[int]:
    edges = sorted({x for x in (lo, lo + 1, hi - 1, hi, 0, 1, -1, LIMIT, -LIMIT, 1 << 17,
                                -(1 << 17), 1 << 25, -(1 << 25)) if lo <= x <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi), st.integers(lo, hi))


# Lava's ranges: u in (-2^23, 2^23] after its wrap (up to 2^49 in magnitude once |a_in| passes
# 2^17), v within +-(2^23 - 1), a_in anywhere in int32, du 0..4095, dv 0..4096, bias a 13-bit
# mantissa << a 3-bit exponent, vth 17-bit unsigned
CUBA_RANGES = ((-LIMIT + 1, LIMIT), (-(LIMIT - 1), LIMIT - 1), (-(1 << 31), (1 << 31) - 1),
               (0, 4095), (0, 4096), (0, (1 << 17) - 1))


@settings(max_examples=400, deadline=None)
@given(st.one_of(edgy(-LIMIT + 1, LIMIT), edgy(-(1 << 49), 1 << 49)),
       *(edgy(lo, hi) for lo, hi in CUBA_RANGES[1:5]),
       st.tuples(st.integers(-4096, 4095), st.integers(0, 7)).map(lambda m: m[0] << m[1]),
       edgy(*CUBA_RANGES[5]), st.sampled_from([np.int32, np.int64]))
def test_cuba_kernel_matches_python_ints(u, v, a_in, du, dv, bias, vth, dtype):
    def arr(x):
        return np.array([x], dtype if -(1 << 31) <= x < (1 << 31) else np.int64)

    got = cuba_step(arr(u), arr(v), arr(a_in), arr(du), arr(dv), arr(bias), arr(vth))
    assert tuple(int(g[0]) for g in got) == ref_cuba(u, v, a_in, du, dv, bias, vth)


def test_cuba_kernel_on_100k_cases():
    """100,000 edge-heavy cases in int32 and int64 arrays, compared case by case: 0 mismatches."""
    rng = np.random.default_rng(8)
    got, cases = [], []
    for (wide_u, dtype), n in groups(rng, 100_000, (False, True), (np.int32, np.int64)):
        u_range = (-(1 << 49), 1 << 49) if wide_u else CUBA_RANGES[0]
        values = [edge_integers(rng, lo, hi, n, [LIMIT, -LIMIT, 1 << 17, -(1 << 17)])
                  for lo, hi in (u_range, *CUBA_RANGES[1:])]
        bias = edge_integers(rng, -4096, 4095, n) << rng.integers(0, 8, n)
        u, v, a_in, du, dv, vth = values
        arrays = [as_dtype(x, np.int64 if x is u and wide_u else dtype)
                  for x in (u, v, a_in, du, dv, bias, vth)]
        got.append(cuba_step(*arrays))
        cases.append(list(zip(*(x.tolist() for x in (u, v, a_in, du, dv, bias, vth)), strict=True)))
    checked, bad, examples = mismatches(got, cases, ref_cuba)
    assert checked == 100_000
    assert bad == 0, f"{bad} of {checked} cases differ; (case, kernel, reference): {examples}"


def test_cuba_wraps_current_saturates_voltage_and_rounds_toward_zero():
    def run(u, v, a_in, du, dv, vth=(1 << 17) - 1):
        got = cuba_step(*(np.array([value], np.int64) for value in (u, v, a_in, du, dv, 0, vth)))
        return tuple(int(g[0]) for g in got)

    # u keeps its value (du = -1 means no decay) and wraps past +2^23
    assert run(LIMIT - 10, 0, 1, -1, 0)[0] == LIMIT - 10 + 64 - (1 << 24)
    # v saturates at -(2^23 - 1)
    assert run(0, -(LIMIT - 5), -(1 << 16), 4095, 0)[1] == -(LIMIT - 1)
    # decays round toward zero: -4097 * 4095 / 4096 -> -4095 (floor would give -4096),
    # -3 * 2048 / 4096 -> -1 (floor: -2); v = -1 + u
    assert run(-4097, -3, 0, 0, 2048)[:2] == (-4095, -1 - 4095)


@pytest.mark.parametrize("kind", ["lif", "iaf", "snu"])
def test_netx_file_reloads_to_the_golden_program(kind, tmp_path, digits_test):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["convert", str(model_path(kind)), "--target", "loihi",
                                       "--data", str(DATA), "-o", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out / "model.net", "r") as f:
        assert f["layer/0/type"][()][0] == b"input"
        assert list(f["layer/0/shape"][()]) == [64]
        for key in ("1", "2"):
            layer = f["layer"][key]
            assert layer["type"][()][0] == b"dense"
            for name in ("shape", "weight", "neuron/type", "neuron/iDecay", "neuron/vDecay",
                         "neuron/vThMant"):
                assert name in layer, name
            assert layer["neuron/type"][()][0] == b"CUBA"
            weight = layer["weight"][()]
            assert np.array_equal(weight, np.rint(weight)) and np.abs(weight).max() <= 127
    x = digits_test[0]
    golden = nd.simulate(nd.Program.load(out), x)
    from_file = nd.simulate(read_netx(out / "model.net"), x)
    assert np.array_equal(golden.output, from_file.output)
    assert golden.output.shape[0] == x.shape[0] + 2  # one step of delay per layer
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["quantized"] > 0.9
    assert report["accuracy"]["float"] - report["accuracy"]["quantized"] < 0.03
    assert report["energy"]["total_pj"] > report["energy"]["dynamic_pj"] > 0
    if kind == "iaf":
        assert any("reset to zero" in note for note in report["approximations"])


def test_netx_is_deterministic(tmp_path):
    runner = CliRunner()
    for name in ("a", "b"):
        result = runner.invoke(main, ["convert", str(model_path("lif")), "--target", "loihi",
                                      "--data", str(DATA), "-o", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "model.net").read_bytes() == (tmp_path / "b" / "model.net").read_bytes()


def test_one_step_delay_per_layer(digits_test):
    net = torch.nn.Sequential(torch.nn.Linear(2, 1, bias=False), ndnn.IAF(spike="single"))
    with torch.no_grad():
        net[0].weight.fill_(2.0)
    x = np.zeros((4, 1, 2), np.float32)
    x[0, 0, 0] = 1
    program = nd.convert(net, target="loihi", data=x)
    out = nd.simulate(program, x).output[:, 0, 0]
    assert out.tolist() == [0, 1, 0, 0, 0]  # the spike at t=0 arrives at t=1


@pytest.mark.parametrize("layer, targets", [(ndnn.SoftSNU(4), "sim"), (ndnn.SRC(4), "sim")])
def test_graded_neurons_are_refused_naming_targets(layer, targets):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), layer)
    x = (np.random.default_rng(0).random((5, 2, 3)) < 0.5).astype(np.float32)
    with pytest.raises(NeurodeployError, match=f"--target {targets}"):
        nd.convert(net, target="loihi", data=x)


def test_real_valued_input_is_refused():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), ndnn.LIF())
    with pytest.raises(NeurodeployError, match="binary spikes"):
        nd.convert(net, target="loihi", data=np.full((5, 2, 3), 0.5, np.float32))


def test_mapping_splits_large_layers_and_limits_chips():
    x = (np.random.default_rng(1).random((4, 2, 64)) < 0.3).astype(np.float32)
    wide = torch.nn.Sequential(torch.nn.Linear(64, 3000), ndnn.LIF())
    program = nd.convert(wide, target="loihi", data=x)
    placement = get_target("loihi").place(program).nodes[0]
    assert len(placement.cores) == 3 and placement.neurons_per_core == 1000
    huge = torch.nn.Sequential(torch.nn.Linear(64, 140 * 1024), ndnn.LIF())
    with pytest.raises(NeurodeployError, match="more than one Loihi chip"):
        nd.convert(huge, target="loihi", data=x)
    spread = nd.convert(huge, target="loihi", data=x, multi_chip=True)
    assert get_target("loihi").place(spread).nodes[0].chips == (0, 1)


def test_cuba_lif_maps_onto_loihi_current_decay(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(64, 40, bias=False), ndnn.CubaLIF(alpha=0.5, beta=0.9),
                              torch.nn.Linear(40, 10, bias=False), ndnn.CubaLIF(alpha=0.5))
    with torch.no_grad():
        net[0].weight.mul_(2.0)
        net[2].weight.mul_(2.0)
    torch.save(net, tmp_path / "cuba.pt")
    with np.load(DATA) as data:
        x = data["x"][:, :100].astype(np.float32)
    program = nd.convert(nd.load(tmp_path / "cuba.pt"), target="loihi", data=x)
    assert program.approximations == ()
    out = nd.simulate(program, x).output[2:22]
    assert np.mean(out == nd.simulate(net, x).output) > 0.9
    from neurodeploy.targets.loihi.netx import write_netx

    write_netx(program, tmp_path / "model.net")
    with h5py.File(tmp_path / "model.net", "r") as f:
        assert int(f["layer/1/neuron/iDecay"][()]) == 2048
    assert np.array_equal(nd.simulate(read_netx(tmp_path / "model.net"), x).output,
                          nd.simulate(program, x).output)
