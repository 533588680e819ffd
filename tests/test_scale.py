"""Scale-out: sweeps and sharded golden runs in local processes and on a real Ray instance equal
one process bit for bit; Ray is imported only for --ray."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import DATA, ROOT, model_path

import neurodeploy as nd
from neurodeploy.cli import main
from neurodeploy.engine.golden import simulate_program
from neurodeploy.engine.result import SimulationResult
from neurodeploy.engine.shard import simulate_sharded
from neurodeploy.pipeline import save_deployment


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def run_process(*args: object) -> subprocess.CompletedProcess:
    """The CLI in a new process (a second Ray driver beside the test's)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    return subprocess.run([sys.executable, "-m", "neurodeploy.cli", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=300)


def assert_same_result(one: SimulationResult, other: SimulationResult) -> None:
    """Every field equal, arrays with their dtypes."""
    def same_arrays(a: dict, b: dict) -> None:
        assert a.keys() == b.keys()
        for name in a:
            assert a[name].dtype == b[name].dtype and np.array_equal(a[name], b[name]), name

    assert one.output.dtype == other.output.dtype and np.array_equal(one.output, other.output)
    for field in ("events", "spikes", "node_outputs"):
        same_arrays(getattr(one, field), getattr(other, field))
    assert one.states.keys() == other.states.keys()
    for name in one.states:
        same_arrays(one.states[name], other.states[name])
    assert one.synapses == other.synapses and one.synapses
    assert ({name: asdict(t) for name, t in one.tallies.items()}
            == {name: asdict(t) for name, t in other.tallies.items()})
    assert (one.graded, one.latency, one.cycles) == (other.graded, other.latency, other.cycles)


def _ticking(shown: list, length: int, label: str) -> nullcontext:
    """A progress factory recording its length and label, and a tick per shard."""
    shown.append((length, label))
    return nullcontext(lambda: shown.append("tick"))


@pytest.fixture(scope="module")
def small_data(tmp_path_factory, digits_test) -> Path:
    """The first 96 digits, as a data file."""
    path = tmp_path_factory.mktemp("data") / "digits96.npz"
    np.savez(path, x=digits_test[0][:, :96], y=digits_test[1][:96])
    return path


@pytest.fixture(scope="module")
def deployed(tmp_path_factory, digits_test) -> Path:
    """An OUT/ directory of the LIF digits model on sim (cycle-simulated: states recorded)."""
    out = tmp_path_factory.mktemp("deployed") / "out"
    program = nd.convert(nd.load(model_path("lif")), target="sim", data=digits_test[0][:, :64])
    save_deployment(program, out)
    return out


def test_importing_neurodeploy_does_not_import_ray():
    code = ("import sys, neurodeploy, neurodeploy.api, neurodeploy.cli, neurodeploy.pipeline, "
            "neurodeploy.scale, neurodeploy.engine.shard\n"
            "assert 'ray' not in sys.modules, 'ray imported'")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize("kind, target", [("lif", "sim"), ("ssnu", "sim"), ("iaf", "loihi")])
def test_shards_join_to_the_run_of_the_whole_batch(kind, target, digits_test):
    """Spiking, graded and lagging (Loihi) programs: 3 shards in this process, every field."""
    x = digits_test[0][:, :50]
    program = nd.convert(nd.load(model_path(kind)), target=target, data=x)
    whole = simulate_program(program, x, record_states=True, record_outputs=True)
    shown: list = []
    joined = simulate_sharded(program, x, record_states=True, record_outputs=True, shards=3,
                              progress=lambda length, label: _ticking(shown, length, label))
    assert_same_result(whole, joined)
    assert shown == [(3, "simulating"), "tick", "tick", "tick"]


def test_simulate_with_two_workers_equals_one_process(deployed, tmp_path):
    """CLI: the same lines and the same -o file byte for byte; API: every field."""
    outputs = []
    for name, extra in (("one", ()), ("two", ("--workers", 2))):
        target = tmp_path / f"{name}.npz"
        result = run("simulate", deployed, "--input", DATA, "-o", target, "--save-spikes", *extra)
        assert result.exit_code == 0, result.output
        outputs.append((result.stdout.replace(str(target), "Y"), target.read_bytes()))
    assert outputs[0] == outputs[1]
    x = np.load(DATA)["x"][:, :200]
    assert_same_result(nd.simulate(deployed, x, record_states=True),
                       nd.simulate(deployed, x, record_states=True, workers=2))


def test_sharding_refuses_the_float_reference_and_both_options(deployed):
    result = run("simulate", model_path("lif"), "--input", DATA, "--workers", 2)
    assert result.exit_code == 2 and "float reference" in result.stderr
    result = run("simulate", deployed, "--input", DATA, "--workers", 2, "--ray", "auto")
    assert result.exit_code == 2 and "either --workers N or --ray ADDRESS" in result.stderr
    with pytest.raises(nd.NeurodeployError, match="float reference"):
        nd.simulate(model_path("lif"), np.load(DATA)["x"], workers=2)


def test_ray_not_installed_is_one_line_naming_the_extra(deployed, small_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    for command in (("simulate", deployed, "--input", small_data),
                    ("report", model_path("lif"), "--data", small_data, "--bits", "4")):
        result = run(*command, "--ray", "auto")
        assert result.exit_code == 2, result.output
        assert result.stderr.strip().splitlines() == [
            "error: Ray is not installed; pip install 'neurodeploy[ray]'"]


@pytest.fixture(scope="module")
def ray_address():
    """A local Ray instance of 2 CPUs for this module (its address); shut down after."""
    import logging

    ray = pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="ndray", dir="/tmp")  # Ray's socket paths must stay short
    context = ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp,
                       object_store_memory=200 * 1024**2, logging_level=logging.ERROR,
                       log_to_driver=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()
    shutil.rmtree(temp, ignore_errors=True)


def test_report_on_ray_equals_one_process(ray_address, small_data, tmp_path):
    """`report --ray ADDRESS` (a CLI process connecting to the cluster) writes the same sweep."""
    one = run("report", model_path("lif"), "--data", small_data, "--bits", "4,8", "-o",
              tmp_path / "one")
    assert one.exit_code == 0, one.output
    on_ray = run_process("report", model_path("lif"), "--data", small_data, "--bits", "4,8",
                         "--ray", ray_address, "-o", tmp_path / "ray")
    assert on_ray.returncode == 0, on_ray.stderr
    assert on_ray.stderr == ""
    sweep = (tmp_path / "one" / "sweep.json").read_text()
    assert (tmp_path / "ray" / "sweep.json").read_text() == sweep
    assert [row["weight_bits"] for row in json.loads(sweep)["rows"]] == [4, 8]


def test_sharded_simulate_on_ray_equals_one_process(ray_address, deployed, tmp_path):
    """`simulate --ray ADDRESS` prints and writes the same; through the API, every field."""
    one, on_ray = tmp_path / "one.npz", tmp_path / "ray.npz"
    result = run("simulate", deployed, "--input", DATA, "-o", one, "--save-spikes")
    assert result.exit_code == 0, result.output
    completed = run_process("simulate", deployed, "--input", DATA, "-o", on_ray, "--save-spikes",
                            "--ray", ray_address)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.replace(str(on_ray), "Y") == result.stdout.replace(str(one), "Y")
    assert on_ray.read_bytes() == one.read_bytes()
    x = np.load(DATA)["x"]
    program = nd.load_program(deployed)
    ticks = []
    joined = simulate_sharded(program, x, ray_address=ray_address, record_states=True,
                              progress=lambda length, label: _ticking(ticks, length, label))
    assert_same_result(simulate_program(program, x, record_states=True), joined)
    assert ticks == [(8, "simulating"), *["tick"] * 8]  # 4 shards per CPU of the cluster


@pytest.mark.parametrize("where", ["here", "processes", "ray"])
def test_a_failing_job_raises_its_own_error(where, request):
    """The job's exception (here a ShapeError) as it would be in one process, not Ray's."""
    from neurodeploy.api import check_input
    from neurodeploy.errors import ShapeError
    from neurodeploy.scale import Workers

    address = request.getfixturevalue("ray_address") if where == "ray" else None
    jobs = [(np.zeros((1, 1, 64)), (64,)), (np.zeros((2, 3)), (64,))]
    with Workers(2 if where == "processes" else 1, address) as pool:
        assert pool.map(check_input, jobs[:1])[0].dtype == np.float32
        with pytest.raises(ShapeError, match=r"input has shape \(2, 3\)"):
            pool.map(check_input, jobs)
