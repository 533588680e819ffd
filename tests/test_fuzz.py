"""Fuzzing in the suite (issue 10): mutated files of every kind through every command, bounded.

The same corpus, mutators and classification as `python fuzz/fuzz.py`: 60 drawn cases in one
worker process must give no traceback, hang or crash, accept nothing that holds NaN/inf or fails
its manifest, and lose no user file. The harness itself is checked too: valid inputs are
accepted, cases are reproducible, outcomes are classified by the error contract. The RTL
co-simulation is left out (no iverilog needed).
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import sys
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the fuzz/ package lives beside neurodeploy/, not installed
    sys.path.insert(0, str(ROOT))

from fuzz.cases import build_templates, fails_manifest, make_case  # noqa: E402
from fuzz.corpus import MANIFEST_NAME, Corpus, Kind, build_corpus  # noqa: E402
from fuzz.execute import Outcome, RunResult, classify, init_worker, run_case, run_template  # noqa: E402

SEED = 10
TIMEOUT_S = 20.0
MEMORY = 4 << 30

pytestmark = pytest.mark.fuzz


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("fuzz") / "corpus")


@pytest.fixture(scope="module")
def fuzz_worker(corpus, tmp_path_factory):
    """One spawned worker holding the corpus; cases run in forked children of it."""
    scratch = tmp_path_factory.mktemp("fuzz-cases")
    context = multiprocessing.get_context("spawn")
    initargs = (str(corpus.root), SEED, False, TIMEOUT_S, MEMORY, str(scratch))
    with context.Pool(1, initializer=init_worker, initargs=initargs) as pool:
        yield pool


def describe(record: dict) -> str:
    return (f"case {record['index']} ({record['kind']}, {record['command']}): "
            f"{record['mutation']} -> {record['outcome']} {record['signature']} "
            f"{record['stderr_last']}")


@settings(max_examples=60, derandomize=True, database=None, deadline=None,
          phases=[Phase.explicit, Phase.generate])
@given(kind=st.sampled_from(list(Kind)), index=st.integers(0, 10**6))
def test_mutated_inputs_get_clean_errors(fuzz_worker, kind, index):
    record = fuzz_worker.apply(run_case, ((index, str(kind)),))
    assert record["outcome"] in ("clean error", "accepted"), describe(record)
    assert not record["invalid"], f"{describe(record)}: {record['invalid']}"
    assert not record["data_loss"], f"{describe(record)}: {record['data_loss']}"


def test_valid_inputs_are_accepted_by_every_command(corpus, fuzz_worker):
    templates = build_templates(corpus)
    first_of_each = {}
    for index, template in enumerate(templates):
        first_of_each.setdefault(template.command, index)
    assert {"simulate", "convert sim", "convert loihi", "convert fpga", "report", "ann2snn",
            "targets"} <= set(first_of_each)
    for row in fuzz_worker.map(run_template, sorted(first_of_each.values())):
        assert row["outcome"] == "accepted", row


def test_a_case_writes_the_same_inputs_every_time(corpus, tmp_path):
    templates = build_templates(corpus)
    for index in range(40):
        first, second = tmp_path / f"{index}a", tmp_path / f"{index}b"
        case = make_case(corpus, templates, SEED, index, first)
        assert make_case(corpus, templates, SEED, index, second, case.kind) == case
        files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
        for name in files:
            assert (first / name).read_bytes() == (second / name).read_bytes(), (case, name)


@pytest.mark.parametrize(("code", "stderr", "expected"), [
    (2, "error: x.npz: has no array 'x'; store the input as x\n", Outcome.CLEAN),
    (2, "warning: assuming reset by subtraction\nerror: bad file\n", Outcome.CLEAN),
    (2, "Usage: neurodeploy convert [OPTIONS] MODEL\nTry 'neurodeploy convert -h' for help.\n\n"
        "Error: Invalid value for '--target': 'x' is not one of 'sim', 'loihi'.\n", Outcome.CLEAN),
    (2, "quantizing\nerror: bad file\n", Outcome.TRACEBACK),
    (1, 'Traceback (most recent call last):\n  File "/r/neurodeploy/io/data.py", line 3, in f\n'
        "    x = 1\nValueError: bad\n", Outcome.TRACEBACK),
    (1, "something went wrong\n", Outcome.TRACEBACK),
    (1, 'Traceback (most recent call last):\n  File "/r/neurodeploy/io/data.py", line 3, in f\n'
        "    x = 1\nnumpy._core._exceptions._ArrayMemoryError: Unable to allocate 9 GiB\n",
     Outcome.CRASH),
    (0, "", Outcome.ACCEPTED),
])
def test_outcomes_follow_the_error_contract(code, stderr, expected):
    outcome, signature = classify(RunResult(code, None, False, "", stderr, 0.1))
    assert outcome == expected
    if "Traceback" in stderr:
        assert signature.endswith("@ neurodeploy/io/data.py:f")


def test_hangs_and_signals_are_not_errors():
    assert classify(RunResult(None, None, True, "", "", 60.0))[0] == Outcome.HANG
    assert classify(RunResult(None, 11, False, "", "", 1.0)) == (Outcome.CRASH, "killed by SIGSEGV")


def edit_manifest(directory: Path, edit) -> None:
    manifest = directory / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    edit(data)
    manifest.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def set_version(version: str):
    return lambda d: d.update(neurodeploy=version)


@pytest.mark.parametrize("damage, fails", [
    # seed 7's seven "accepted-invalid" cases: the writer's version string edited ("0.1.0" ->
    # "1e999.0" by the float-literal mutation, or a flipped byte -> "0.:.0"); every listed file
    # still has its sha256, so the directory matches its manifest and simulate may read it
    (lambda d: edit_manifest(d, set_version("1e999.0")), False),
    (lambda d: edit_manifest(d, set_version("0.:.0")), False),
    (lambda d: (d / "report.md").write_text((d / "report.md").read_text() + " "), True),
    (lambda d: (d / "report.md").unlink(), True),
    (lambda d: (d / "extra.bin").write_bytes(b""), True),
    (lambda d: edit_manifest(d, lambda m: m["files"].update({"report.md": "0" * 64})), True),
    (lambda d: edit_manifest(d, lambda m: m["files"].pop("report.md")), True),
    (lambda d: (d / MANIFEST_NAME).write_text("{"), True),
])
def test_a_manifest_violation_is_a_listed_file_changed_not_any_byte(corpus, tmp_path, damage,
                                                                    fails):
    """The harness counted any changed byte of the directory (its manifest's version field
    included) as a manifest violation; it now checks the files against the manifest itself, as
    neurodeploy does, and agrees with neurodeploy's own check."""
    from neurodeploy.artifacts.manifest import verify_manifest
    from neurodeploy.errors import InvalidFileError

    directory = tmp_path / "sim-out"
    shutil.copytree(corpus.path("sim-out"), directory)
    assert not fails_manifest(directory)
    damage(directory)
    assert fails_manifest(directory) is fails
    if fails:
        with pytest.raises(InvalidFileError):
            verify_manifest(directory)
    else:
        verify_manifest(directory)
