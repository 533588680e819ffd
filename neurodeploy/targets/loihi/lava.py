"""The loihi target's independent executor: OUT/model.net run by lava-dl's netx in Lava.

Lava (lava-nc 0.10.0, lava-dl 0.6.0) needs Python < 3.11 and numpy < 2 by its metadata, so it
lives in its own venv (scripts/lava_venv.sh) and runs as a subprocess: the python named by
NEURODEPLOY_LAVA_PYTHON runs `lava_runner.py` (no neurodeploy import there; `-I`, so that this
module does not shadow the `lava` package) on a copy of model.net, checked against OUT's
manifest (or of a netx file given alone), and an .npz of the input. The input is what the
golden model feeds the first layer: the quantized input (binary spikes into the first synapses,
or, for an input layer with neurons, graded integers into their a_in) followed by the program's
`latency` zero steps.
Lava's bit-accurate CPU models run every sample from rest, and the per-layer spikes (a readout
layer's voltage) come back. The result is assembled as the golden model assembles it, per Cuba node:

    events[node] = #(value != 0) per step     spikes[node] = sum(value * output unit)
    output       = the output node's values (times its unit for a readout), float32
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.artifacts.manifest import copy_verified, read_manifest
from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import (
    InvalidDataError,
    InvalidFileError,
    NeurodeployError,
    ShapeError,
    describe_os_error,
)
from neurodeploy.program.graph import Program
from neurodeploy.targets.loihi.netx import input_neurons
from neurodeploy.targets.loihi.nodes import Cuba

ENVIRONMENT = "NEURODEPLOY_LAVA_PYTHON"
RUNNER = Path(__file__).with_name("lava_runner.py")
MODEL_FILE = "model.net"
SETUP = "build a Lava venv with scripts/lava_venv.sh and set NEURODEPLOY_LAVA_PYTHON to the " \
        "python it prints"
PROBE_SECONDS = 300
START_SECONDS = 120  # importing lava-dl (torch) and compiling the network
SECONDS_PER_STEP = 0.05  # Lava's CPU backend takes about 5 ms per step here: a tenfold margin


class LavaError(NeurodeployError):
    """Lava could not run a netx file, or returned something other than the program's layers."""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


@functools.lru_cache(maxsize=8)
def _probe(python: str) -> str | None:
    """Why `python` cannot run lava-dl's netx, or None (cached per path)."""
    try:
        done = subprocess.run([python, "-I", "-c", "import lava.lib.dl.netx"], capture_output=True,
                              text=True, timeout=PROBE_SECONDS)
    except OSError as exc:
        return f"{ENVIRONMENT}={python} does not run ({exc.strerror or exc}); {SETUP}"
    except subprocess.TimeoutExpired:
        return f"{ENVIRONMENT}={python} took over {PROBE_SECONDS} s to import lava; {SETUP}"
    if done.returncode != 0:
        return (f"{ENVIRONMENT}={python} cannot import lava.lib.dl.netx "
                f"({_last_line(done.stderr)}); {SETUP}")
    return None


def _layers(program: Program) -> list[str]:
    """The Cuba nodes in order: one netx layer each."""
    names = [name for name in program.order if isinstance(program.nodes[name], Cuba)]
    if not names:
        raise LavaError("the program has no Loihi layers; convert with --target loihi")
    return names


def _input_frames(program: Program, x: Any) -> np.ndarray:
    """(B, T + latency, *shape) int32: the quantized input, then the program's zero steps."""
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[2:] != program.input.shape:
        raise ShapeError(f"input of shape {x.shape} is not (T, B, "
                         f"{', '.join(map(str, program.input.shape))})")
    values = program.quantize_input(x)
    if input_neurons(program) is None and not np.all((values == 0) | (values == 1)):
        raise InvalidDataError("Lava's netx input carries binary spikes, but the input quantizes "
                               "to values other than 0 and 1; encode it as spikes")
    steps, batch = values.shape[:2]
    frames = np.zeros((batch, steps + program.latency, *program.input.shape), np.int32)
    frames[:, :steps] = np.moveaxis(values, 0, 1)
    return frames


def _run_group(command: list[str], work: Path, timeout: float, python: str
               ) -> tuple[int, str, str]:
    """Run `command` in a session of its own; on timeout, kill it with Lava's worker processes."""
    try:
        process = subprocess.Popen(command, cwd=work, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, start_new_session=True)
    except OSError as exc:
        raise LavaError(f"{ENVIRONMENT}={python} does not run ({exc.strerror or exc}); "
                        f"{SETUP}") from None
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise LavaError(f"Lava took over {timeout:.0f} s; run fewer samples") from None
    return process.returncode, stdout, stderr


def _copy_model(source: Path, work: Path) -> Path:
    """OUT/model.net checked against OUT's manifest, or a netx file given alone, copied."""
    if source.is_dir():
        copy_verified(source, read_manifest(source), [MODEL_FILE], work)
        return source / MODEL_FILE
    try:
        (work / MODEL_FILE).write_bytes(source.read_bytes())
    except OSError as exc:
        raise InvalidFileError(describe_os_error(exc, source)) from None
    return source


def _run_lava(python: str, source: Path, spikes: np.ndarray, voltage: list[int]
              ) -> dict[str, np.ndarray]:
    """The runner's arrays for a copy of the netx file of `source` (see `_copy_model`)."""
    timeout = START_SECONDS + SECONDS_PER_STEP * spikes.shape[0] * spikes.shape[1]
    with tempfile.TemporaryDirectory(prefix="nd-lava-") as scratch:
        work = Path(scratch)
        model = _copy_model(source, work)
        np.savez(work / "input.npz", spikes=spikes, voltage=np.array(voltage, np.int64))
        command = [python, "-I", str(RUNNER), str(work / MODEL_FILE), str(work / "input.npz"),
                   str(work / "output.npz")]
        returncode, stdout, stderr = _run_group(command, work, timeout, python)
        if returncode != 0:
            raise LavaError(f"Lava could not run {model}: "
                            f"{_last_line(stderr or stdout)}")
        with np.load(work / "output.npz") as data:
            return {key: data[key] for key in data.files}


@dataclass(frozen=True)
class LavaExecutor:
    """Runs OUT/model.net in Lava's bit-accurate CPU models; returns the golden result type."""

    name: str = "lava"

    def unavailable(self) -> str | None:
        python = os.environ.get(ENVIRONMENT)
        if not python:
            return f"{ENVIRONMENT} is not set; {SETUP}"
        return _probe(python)

    def run(self, directory: Path, program: Program, x: Any) -> SimulationResult:
        """Run OUT/model.net (`directory` OUT/), or a netx file itself, on real input `x`."""
        why = self.unavailable()
        if why:
            raise LavaError(f"the lava executor cannot run here: {why}")
        names = _layers(program)
        spikes = _input_frames(program, x)
        batch, steps = spikes.shape[:2]
        voltage = [i for i, name in enumerate(names) if program.nodes[name].readout]
        arrays = _run_lava(os.environ[ENVIRONMENT], Path(directory), spikes, voltage)
        events, counts, outputs = {}, {}, {}
        for index, name in enumerate(names):
            node: Cuba = program.nodes[name]
            key = f"voltage_{index}" if node.readout else f"spikes_{index}"
            value = arrays.get(key)
            expected = (batch, steps, *program.shapes[name])
            if value is None or value.shape != expected:
                raise LavaError(f"Lava gave layer {index + 1} ('{name}') "
                                f"{'nothing' if value is None else value.shape}, not {expected}; "
                                "convert again")
            value = np.moveaxis(value, 0, 1).astype(np.int64)  # time-major, as the golden model
            outputs[name] = value.astype(np.float64) * node.output_scale
            flat = value.reshape(steps, batch, -1)
            events[name] = (flat != 0).sum(axis=2)
            counts[name] = (flat.astype(np.float64) * np.reshape(node.output_scale, -1)).sum(
                axis=2) if node.graded else flat.sum(axis=2).astype(np.float64)
        if len(arrays) != len(names) + len(voltage):
            raise LavaError(f"{directory}: its netx file has other layers than the program's "
                            f"{len(names)}; convert again")
        final = outputs[program.output].reshape(steps, batch, -1)
        return SimulationResult(final.astype(np.float32), events, counts, node_outputs=outputs,
                                graded=frozenset(n for n in names if program.nodes[n].graded),
                                latency=program.latency)
