"""The FPGA target: ISA semantics, bit-exact RTL in Icarus and Verilator, accuracy, cycles."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import DATA, model_path
from hypothesis import given, settings
from hypothesis import strategies as st

import neurodeploy as nd
import neurodeploy.nn as ndnn
from neurodeploy.artifacts import OutputKind, write_manifest
from neurodeploy.cli import main
from neurodeploy.engine.golden import simulate_program
from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import NeurodeployError
from neurodeploy.targets.fpga.compile import compile_network
from neurodeploy.targets.fpga.cosim import run_rtl
from neurodeploy.targets.fpga.executors import EXECUTORS
from neurodeploy.targets.fpga.isa import Instr, Memories, step_program
from neurodeploy.targets.fpga.microcode import program_of
from neurodeploy.targets.fpga.target import cycles_per_sequence
from neurodeploy.targets.fpga.verilog import write_rtl

SIMULATORS = [pytest.param(name, marks=pytest.mark.skipif(shutil.which(tool) is None,
                                                          reason=f"{tool} not installed"))
              for name, tool in (("iverilog", "iverilog"), ("verilator", "verilator"))]
DW = 16


def ref_round(x: int, s: int) -> int:
    return (x + (1 << (s - 1))) >> s if s else x


def ref_sat(x: int) -> int:
    return max(-(1 << (DW - 1)), min((1 << (DW - 1)) - 1, x))


values = st.integers(-(1 << (DW - 1)), (1 << (DW - 1)) - 1)


@settings(max_examples=300, deadline=None)
@given(values, values, st.integers(-(1 << 17), (1 << 17) - 1), st.integers(0, 15),
       st.sampled_from(["ADD", "SUB", "MUL", "MULC", "ADDC", "LUT", "SELGT", "RELU", "COPY"]))
def test_elementwise_ops_match_python_ints(a, b, const, shift, op):
    luts = np.arange(-50, 50, dtype=np.int64) * 7
    memories = Memories({}, np.array([const * 3], np.int64), luts, DW, 4)
    V = np.array([[a, b, 0, 0]], np.int64)
    ins = Instr(op, dst=2, a=0, b=1, n=1, base=0, bias=0 if op == "ADDC" else 100, shift=shift,
                const=const, const2=11, const3=-13)
    if op == "LUT":
        ins = Instr(op, dst=2, a=0, n=1, base=0, bias=100, shift=shift, const=const % 100)
    step_program([ins], memories, V, np.zeros((1, 1), np.int64), [])
    expected = {
        "ADD": lambda: ref_sat(a + b), "SUB": lambda: ref_sat(a - b),
        "MUL": lambda: ref_sat(ref_round(a * b, shift)),
        "MULC": lambda: ref_sat(ref_round(a * const, shift)),
        "ADDC": lambda: ref_sat(a + const * 3),
        "LUT": lambda: int(luts[max(0, min(99, (a >> shift) + const % 100))]),
        "SELGT": lambda: 11 if a > const else -13, "RELU": lambda: max(a, 0), "COPY": lambda: a,
    }[op]()
    assert int(V[0, 2]) == expected


def gru_case():
    torch.manual_seed(0)
    gru = torch.nn.GRU(4, 8)
    x = torch.randn(5, 16, 4)
    with torch.no_grad():
        reference = gru(x)[0].numpy()
    return gru, x.numpy(), reference


@pytest.fixture(scope="module")
def gru_design(tmp_path_factory):
    gru, x, _ = gru_case()
    program = compile_network(nd.load(gru), x, bits=16, lanes=4)
    directory = tmp_path_factory.mktemp("gru")
    write_rtl(program, directory)
    write_manifest(directory, OutputKind.CONVERT)
    return program, directory, x


@pytest.fixture(scope="module")
def src_design(tmp_path_factory, digits_test):
    program = compile_network(nd.load(model_path("src")), digits_test[0], bits=16, lanes=8)
    directory = tmp_path_factory.mktemp("src")
    write_rtl(program, directory)
    write_manifest(directory, OutputKind.CONVERT)
    return program, directory, digits_test[0][:, :3]


@pytest.fixture(scope="module")
def lif_design(tmp_path_factory, digits_test):
    program = compile_network(nd.load(model_path("lif")), digits_test[0], bits=16, lanes=8)
    directory = tmp_path_factory.mktemp("lif")
    write_rtl(program, directory)
    write_manifest(directory, OutputKind.CONVERT)
    return program, directory, digits_test[0][:, :3]


def assert_same_result(golden: SimulationResult, rtl: SimulationResult) -> None:
    """Every array the golden model reports (per node, with recorded outputs and states) equal,
    with the same dtype and shape; the same graded nodes and latency."""
    def same(a: np.ndarray, b: np.ndarray) -> bool:
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)

    assert same(golden.output, rtl.output)
    for field in ("events", "spikes", "node_outputs"):
        found, expected = getattr(rtl, field), getattr(golden, field)
        assert found.keys() == expected.keys(), field
        assert all(same(expected[name], found[name]) for name in expected), field
    assert golden.states.keys() == rtl.states.keys()
    for name, states in golden.states.items():
        assert states.keys() == rtl.states[name].keys()
        assert all(same(states[s], rtl.states[name][s]) for s in states), name
    assert (golden.graded, golden.latency) == (rtl.graded, rtl.latency)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("design", ["gru_design", "src_design", "lif_design"])
def test_rtl_equals_golden_bit_for_bit(design, simulator, request):
    micro, directory, x = request.getfixturevalue(design)
    program = program_of(micro)
    golden = simulate_program(program, x, record_states=True, record_outputs=True)
    rtl = EXECUTORS[simulator].run(directory, program, x, record_states=True)
    assert_same_result(golden, rtl)
    assert np.abs(golden.output).max() > 0 and np.abs(golden.states["datapath"]["V"]).max() > 0
    expected = x.shape[1] * cycles_per_sequence(micro, x.shape[0])
    assert rtl.cycles == expected  # the engine's cycles, exact in both simulators


def test_states_from_a_testbench_without_the_dump_are_refused(gru_design, tmp_path):
    executor = EXECUTORS["iverilog"]
    if executor.unavailable():
        pytest.skip(executor.unavailable())
    micro, _, x = gru_design
    write_rtl(micro, tmp_path)
    bench = tmp_path / "tb" / "tb.v"
    bench.write_text(bench.read_text().replace('$test$plusargs("states")', "1'b0"))
    write_manifest(tmp_path, OutputKind.CONVERT)  # as an older convert wrote it
    program = program_of(micro)
    assert not executor.run(tmp_path, program, x).states
    with pytest.raises(NeurodeployError, match="convert` again"):
        executor.run(tmp_path, program, x, record_states=True)


@pytest.mark.skipif(shutil.which("verilator") is None, reason="verilator not installed")
def test_verilator_build_is_cached_by_content(gru_design, tmp_path, monkeypatch):
    """The second run of one design reuses the binary (one cache entry) with the same outputs."""
    monkeypatch.setenv("NEURODEPLOY_CACHE", str(tmp_path / "cache"))
    program, directory, x = gru_design
    x_int = program_of(program).quantize_input(x[:, :1]).astype(np.int64)
    first = run_rtl(program, directory, x_int, "verilator")
    built = list((tmp_path / "cache" / "verilator").glob("*/Vtb"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    assert np.array_equal(run_rtl(program, directory, x_int, "verilator").outputs, first.outputs)
    assert built[0].stat().st_mtime_ns == stamp
    assert len(list((tmp_path / "cache" / "verilator").iterdir())) == 1


def test_gru_accuracy_against_torch_by_width():
    gru, x, reference = gru_case()
    errors = {}
    for bits in (8, 12, 16):
        program = compile_network(nd.load(gru), x, bits=bits)
        out = nd.simulate(program_of(program), x).output
        errors[bits] = float(np.abs(out[-1] - reference[-1]).max())
    assert errors[16] < 0.005  # hls4ml: 0.0145 at ap_fixed<16,6> on the same shape
    assert errors[16] < errors[12] < errors[8]


def test_src_digits_accuracy_at_16_bits(digits_test):
    x, y = digits_test
    network = nd.load(model_path("src"))
    program = program_of(compile_network(network, x, bits=16))
    assert abs(nd.simulate(program, x).accuracy(y) - nd.simulate(network, x).accuracy(y)) <= 0.01


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="iverilog not installed")
def test_cli_convert_and_cosimulate(tmp_path):
    torch.manual_seed(1)
    torch.save(torch.nn.GRU(4, 8), tmp_path / "gru.pt")
    np.savez(tmp_path / "x.npz", x=np.random.default_rng(0).normal(size=(5, 3, 4)).astype(np.float32))
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["convert", str(tmp_path / "gru.pt"), "--target", "fpga", "--data",
                                  str(tmp_path / "x.npz"), "--lanes", "2", "-o", str(out)])
    assert result.exit_code == 0, result.output
    for name in ("rtl/engine.v", "tb/tb.v", "mem/program.mem", "mem/weights.mem", "report.json"):
        assert (out / name).exists(), name
    report = json.loads((out / "report.json").read_text())
    assert report["details"]["resources"]["dsp"] == 3 and report["cycles"]["per_step"] > 0
    lanes = report["details"]["cycles_per_step_by_lanes"]
    assert lanes["1"] > lanes["2"] > lanes["4"]
    golden = tmp_path / "golden.npz"
    rtl = tmp_path / "rtl.npz"
    for target, extra in ((golden, []), (rtl, ["--rtl", "iverilog"])):
        result = runner.invoke(main, ["simulate", str(out), "--input", str(tmp_path / "x.npz"),
                                      "-o", str(target), *extra])
        assert result.exit_code == 0, result.output
    with np.load(golden) as a, np.load(rtl) as b:
        assert a.files == b.files and all(np.array_equal(a[k], b[k]) for k in a.files)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_cli_executor_writes_the_golden_spikes(simulator, tmp_path):
    """`simulate OUT --executor` prints and writes the golden model's spikes (digits LIF)."""
    with np.load(DATA) as data:
        np.savez(tmp_path / "x.npz", x=data["x"][:, :3], y=data["y"][:3])
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(main, ["convert", str(model_path("lif")), "--target", "fpga",
                                  "--data", str(DATA), "--lanes", "8", "-o", str(out)])
    assert result.exit_code == 0, result.output
    printed = {}
    for name, extra in (("golden", []), (simulator, ["--executor", simulator])):
        result = runner.invoke(main, ["simulate", str(out), "--input", str(tmp_path / "x.npz"),
                                      "-o", str(tmp_path / f"{name}.npz"), *extra])
        assert result.exit_code == 0, result.output
        printed[name] = result.output.splitlines()[0].split("; ")[1]
    assert printed[simulator] == printed["golden"] != "spikes per sample 0.0"
    with np.load(tmp_path / "golden.npz") as a, np.load(tmp_path / f"{simulator}.npz") as b:
        assert a.files == b.files and "spikes/datapath" in a.files
        assert all(np.array_equal(a[k], b[k]) for k in a.files)


def test_other_spiking_layers_are_refused():
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), ndnn.IAF())
    with pytest.raises(NeurodeployError, match="--target sim or loihi"):
        compile_network(nd.load(net), np.zeros((2, 1, 4), np.float32))


def test_lif_networks_run_on_the_datapath(digits_test):
    x, y = digits_test
    network = nd.load(model_path("lif"))
    program = compile_network(network, x, bits=16, lanes=8)
    fixed, reference = nd.simulate(program_of(program), x), nd.simulate(network, x)
    assert np.mean(fixed.output == reference.output) > 0.99  # spikes: 1.0 or 0.0
    assert abs(fixed.accuracy(y) - reference.accuracy(y)) <= 0.01


def test_cycle_model_scales_with_lanes(gru_design):
    program = gru_design[0]
    mv = [i for i in program.instructions if i.op == "MV"]
    one_lane = cycles_per_sequence(program, 1, lanes=1)
    wide = cycles_per_sequence(program, 1, lanes=64)
    saved = sum(i.m * (i.n - math.ceil(i.n / 64)) for i in mv)
    assert one_lane - wide == saved
