"""Running cases: a forked, resource-limited process per command, and the outcome classes.

A worker process imports neurodeploy and everything it imports lazily once, then forks one child
per case. The child is the command's process: its own process group, stdout/stderr on files,
stdin on /dev/null, an address-space limit, the case's working directory, and `neurodeploy`'s
click entry point called as the console script would call it. A child that outlives the timeout
is killed with its process group (a hang); one that dies of a signal crashed.

Classification of one run (the error contract of issue 10):
- clean error: exit code 2 and one stderr line (besides "warning:" lines), no traceback; a
  click usage error (Usage / Try / Error lines) counts as clean;
- traceback: any "Traceback" text, an exit code other than 0 and 2, or more stderr lines;
- hang: still running at the timeout; crash: killed by a signal, or out of memory;
- accepted: exit code 0. Accepted cases are checked further (see `run_case`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pkgutil
import re
import resource
import select
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

from fuzz.cases import IN, Case, Template, build_templates, copy_inputs, make_case
from fuzz.corpus import Corpus, Kind

PRELOAD = ("torch", "numpy", "h5py", "nir", "nirtorch", "onnx", "onnxruntime", "sinabs",
           "matplotlib.pyplot")
USER_FILES = {"precious.txt": b"the user's own file\n", "existing/keep.txt": b"keep me\n"}
CAPTURE_LIMIT = 1 << 16  # bytes of stdout/stderr kept from each end


class Outcome(StrEnum):
    """The outcome classes of a run (see the module docstring)."""

    CLEAN = "clean error"
    TRACEBACK = "traceback"
    HANG = "hang"
    CRASH = "crash"
    ACCEPTED = "accepted"


@dataclass(frozen=True)
class RunResult:
    """How a forked run ended: exit code (None when killed), signal, timeout, its output."""

    exit_code: int | None
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    seconds: float


@dataclass
class CaseRecord:
    """Everything the report keeps about one case."""

    index: int
    kind: str
    command: str
    args: list[str]
    mutated: str
    mutation: str
    outcome: str
    exit_code: int | None
    seconds: float
    stderr_first: str
    stderr_last: str
    signature: str = ""
    invalid: list[str] = field(default_factory=list)
    data_loss: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- forked runs

def _read_capture(handle: BinaryIO) -> str:
    """The captured output, cut in the middle when longer than twice CAPTURE_LIMIT."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(0)
    if size <= 2 * CAPTURE_LIMIT:
        raw = handle.read()
    else:
        head = handle.read(CAPTURE_LIMIT)
        handle.seek(size - CAPTURE_LIMIT)
        raw = head + b"\n[... output cut ...]\n" + handle.read()
    return raw.decode("utf-8", "replace")


def run_forked(function: Callable[[], int], cwd: Path, timeout: float, memory_bytes: int
               ) -> RunResult:
    """Run `function` in a forked child (own process group, limits, cwd) and wait for it."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            code = 1
            try:
                os.setpgid(0, 0)
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(out.fileno(), 1)
                os.dup2(err.fileno(), 2)
                os.chdir(cwd)
                resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
                code = function()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if not isinstance(exc.code, int | None):
                    print(exc.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
                code = 1
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        timed_out = False
        pidfd = os.pidfd_open(pid)
        try:
            if not select.select([pidfd], [], [], timeout)[0]:
                timed_out = True
        finally:
            os.close(pidfd)
        try:  # the group: the child if it hangs, and whatever it started and left behind
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        _, status = os.waitpid(pid, 0)
        seconds = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        return RunResult(code if code >= 0 else None, -code if code < 0 else None, timed_out,
                         _read_capture(out), _read_capture(err), seconds)


def invoke_cli(argv: list[str]) -> int:
    """Call neurodeploy's click entry point as the console script does; returns the exit code."""
    from neurodeploy.cli import main

    main(argv, prog_name="neurodeploy", standalone_mode=True)
    return 0


# ----------------------------------------------------------------------------- classification

_FRAME = re.compile(r'^\s*File "([^"]+)", line \d+, in (\S+)', re.MULTILINE)
_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")
_OOM = ("MemoryError", "can't allocate memory", "bad_alloc", "Unable to allocate",
        "Cannot allocate memory", "out of memory")


def _normalise(line: str) -> str:
    """A message with paths, numbers and quoted values blanked, for grouping."""
    line = re.sub(r"(/[\w.+~-]+)+/?", "PATH", line)
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", line)
    line = re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", line)
    return line[:100]


def traceback_signature(stderr: str) -> tuple[str, str]:
    """(exception type, innermost neurodeploy frame) of the last traceback in `stderr`."""
    block = stderr[stderr.rfind("Traceback (most recent call last):"):]
    frames = _FRAME.findall(block)
    ours = [(f, fn) for f, fn in frames if "/neurodeploy/" in f]
    where = ours[-1] if ours else (frames[-1] if frames else ("?", "?"))
    path = where[0]
    path = "neurodeploy/" + path.rsplit("/neurodeploy/", 1)[1] if "/neurodeploy/" in path else (
        path.rsplit("/", 1)[-1])
    after = block[block.rfind('File "'):].splitlines()[1:] if frames else block.splitlines()
    exception = "?"
    for line in after:
        match = _EXCEPTION.match(line)
        if match and not line.startswith(" ") and ("Error" in match.group(1) or "Exception" in
                                                   match.group(1) or match.group(2) is not None):
            exception = match.group(1).rsplit(".", 1)[-1]
            break
    return exception, f"{path}:{where[1]}"


def meaningful_lines(stderr: str) -> list[str]:
    """Stderr lines that are neither blank nor "warning:" lines."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]


def _is_usage_error(lines: list[str]) -> bool:
    return (bool(lines) and lines[0].startswith("Usage:") and lines[-1].startswith("Error:")
            and len(lines) <= 3)


def classify(result: RunResult) -> tuple[Outcome, str]:
    """The outcome of a run and a signature that groups runs failing the same way."""
    if result.timed_out:
        return Outcome.HANG, "timeout"
    if result.signal is not None:
        name = signal.Signals(result.signal).name if result.signal in signal.valid_signals() else (
            str(result.signal))
        return Outcome.CRASH, f"killed by {name}"
    lines = meaningful_lines(result.stderr)
    if "Traceback" in result.stderr:
        exception, frame = traceback_signature(result.stderr)
        tail = "\n".join(result.stderr.strip().splitlines()[-3:])
        if any(marker in tail for marker in _OOM) or exception.endswith("MemoryError"):
            return Outcome.CRASH, f"out of memory: {exception} @ {frame}"
        return Outcome.TRACEBACK, f"{exception} @ {frame}"
    if result.exit_code == 0:
        return Outcome.ACCEPTED, ""
    if result.exit_code == 2 and (len(lines) == 1 or _is_usage_error(lines)):
        return Outcome.CLEAN, "usage: " + _normalise(lines[-1]) if len(lines) > 1 else _normalise(
            lines[0])
    if any(marker in result.stderr for marker in _OOM):
        return Outcome.CRASH, f"out of memory, exit {result.exit_code}: {_normalise(lines[-1])}"
    first = _normalise(lines[0]) if lines else "(no stderr)"
    if result.exit_code != 2:
        return Outcome.TRACEBACK, f"exit {result.exit_code} without traceback: {first}"
    return Outcome.TRACEBACK, f"{len(lines)} stderr lines: {first} | {_normalise(lines[-1])}"


# ----------------------------------------------------------------------------- workers

@dataclass
class WorkerState:
    """What a worker process holds: the corpus, the templates and the limits."""

    corpus: Corpus
    templates: list[Template]
    seed: int
    timeout: float
    memory_bytes: int
    scratch: Path


_STATE: WorkerState | None = None


def preload() -> None:
    """Import neurodeploy's modules and the heavy libraries it imports lazily, so forked children
    start warm; one intra-op thread, as every case runs on its own core."""
    import matplotlib

    matplotlib.use("Agg")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    import neurodeploy

    for module in pkgutil.walk_packages(neurodeploy.__path__, "neurodeploy."):
        try:
            importlib.import_module(module.name)
        except Exception:  # a module with an optional dependency: its import runs in the child
            pass
    import torch

    torch.set_num_threads(1)


def init_worker(corpus_root: str, seed: int, rtl: bool, timeout: float, memory_bytes: int,
                scratch_root: str) -> None:
    """Pool initializer: preload and keep the corpus and settings for `run_case`; cases are made
    in a directory of this worker under `scratch_root`."""
    global _STATE
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    preload()
    corpus = Corpus.load(Path(corpus_root))
    scratch = Path(tempfile.mkdtemp(prefix=f"worker{os.getpid()}-", dir=scratch_root))
    _STATE = WorkerState(corpus, build_templates(corpus, rtl), seed, timeout, memory_bytes, scratch)


def _digest(directory: Path) -> dict[str, str]:
    if not directory.exists():
        return {}
    return {p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _prepare_work(work: Path) -> None:
    for name, content in USER_FILES.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(content)


def _lost_data(in_dir: Path, before: dict[str, str], work: Path) -> list[str]:
    after = _digest(in_dir)
    lost = [f"input {name} {'changed' if name in after else 'deleted'}"
            for name, digest in before.items() if after.get(name) != digest]
    for name, content in USER_FILES.items():
        path = work / name
        if not path.is_file() or path.read_bytes() != content:
            lost.append(f"user file {name} {'changed' if path.is_file() else 'deleted'}")
    return lost


def _accepted_checks(state: WorkerState, case: Case, in_dir: Path, work: Path) -> list[str]:
    """Reasons an accepted case should not have been accepted; files are read in a forked child.

    Non-finite values count where the seed has the same location (see `fuzz.scan`); for option
    cases, a NaN or inf option value counts.
    """
    from fuzz.scan import grown_nonfinite, nonfinite_outputs

    report = in_dir.parent / "checks.txt"

    def check() -> int:
        reasons = []
        mutated = in_dir / case.mutated
        if case.mutated and mutated.exists():
            prefix = f"{case.mutated}/" if mutated.is_dir() else ""
            reasons += [f"non-finite input accepted: {prefix}{where}"
                        for where in grown_nonfinite(mutated, state.corpus.path(case.mutated))]
        if work.exists():
            reasons += [f"non-finite output: {w}" for w in nonfinite_outputs(work, set(USER_FILES))]
        report.write_text("\n".join(reasons))
        return 0

    reasons = []
    if case.kind == Kind.OPTIONS and case.nonfinite:
        reasons.append("non-finite option accepted")
    if case.manifest_violation:
        reasons.append("artifact directory that fails its manifest accepted")
    result = run_forked(check, in_dir.parent, state.timeout, state.memory_bytes)
    if result.exit_code != 0 or not report.exists():
        return [*reasons, f"(checks did not finish: {classify(result)[1]})"]
    return reasons + [r for r in report.read_text().splitlines() if r]


def execute_case(state: WorkerState, index: int, kind: Kind | None = None) -> CaseRecord:
    """Make case `index`, run it, classify it and check it; cleans up after itself."""
    case_dir = Path(tempfile.mkdtemp(prefix=f"case{index}-", dir=state.scratch))
    try:
        in_dir, work = case_dir / "in", case_dir / "work"
        case = make_case(state.corpus, state.templates, state.seed, index, in_dir, kind)
        work.mkdir()
        _prepare_work(work)
        before = _digest(in_dir)
        argv = case.argv(in_dir)
        result = run_forked(lambda: invoke_cli(argv), work, state.timeout, state.memory_bytes)
        outcome, signature = classify(result)
        record = CaseRecord(index, str(case.kind), case.command, list(case.args), case.mutated,
                            case.mutation, str(outcome), result.exit_code, round(result.seconds, 3),
                            *_first_last(result.stderr), signature=signature)
        record.data_loss = _lost_data(in_dir, before, work)
        if outcome == Outcome.ACCEPTED:
            record.invalid = _accepted_checks(state, case, in_dir, work)
        return record
    finally:
        _remove(case_dir)


def _first_last(stderr: str) -> tuple[str, str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return (lines[0][:300], lines[-1][:300]) if lines else ("", "")


def _remove(path: Path) -> None:
    for root, dirs, _ in os.walk(path):  # a mutation or a command may have left 0o000 modes
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o700)
    shutil.rmtree(path, ignore_errors=True)


def run_case(task: tuple[int, str | None]) -> dict:
    """Pool task: case `index` of the worker's run, its kind drawn or forced, as a JSON dict."""
    assert _STATE is not None, "init_worker was not called"
    index, kind = task
    return execute_case(_STATE, index, Kind(kind) if kind else None).to_json()


def run_template(index: int) -> dict:
    """Pool task: template `index` without any mutation (the corpus must be accepted)."""
    assert _STATE is not None, "init_worker was not called"
    template = _STATE.templates[index]
    case_dir = Path(tempfile.mkdtemp(prefix=f"template{index}-", dir=_STATE.scratch))
    try:
        in_dir, work = case_dir / "in", case_dir / "work"
        copy_inputs(_STATE.corpus, template.inputs, in_dir)
        work.mkdir()
        _prepare_work(work)
        argv = [a.replace(IN, str(in_dir)) for a in template.args]
        result = run_forked(lambda: invoke_cli(argv), work, _STATE.timeout, _STATE.memory_bytes)
        outcome, signature = classify(result)
        return {"command": template.command, "args": list(template.args), "outcome": str(outcome),
                "signature": signature, "stderr_last": _first_last(result.stderr)[1],
                "seconds": round(result.seconds, 3)}
    finally:
        _remove(case_dir)


def run_saved_case(case_dir: str) -> dict:
    """Pool task: rerun a saved reproducer (CASE_DIR/case.json + in/) and classify it."""
    assert _STATE is not None, "init_worker was not called"
    saved = json.loads((Path(case_dir) / "case.json").read_text())
    scratch = Path(tempfile.mkdtemp(prefix="replay-", dir=_STATE.scratch))
    try:
        in_dir, work = scratch / "in", scratch / "work"
        shutil.copytree(Path(case_dir) / "in", in_dir, symlinks=True)
        work.mkdir()
        _prepare_work(work)
        argv = [a.replace(IN, str(in_dir)) for a in saved["args"]]
        result = run_forked(lambda: invoke_cli(argv), work, _STATE.timeout, _STATE.memory_bytes)
        outcome, signature = classify(result)
        return {"outcome": str(outcome), "signature": signature}
    finally:
        _remove(scratch)
