"""Co-simulation: run the emitted testbench in Icarus Verilog or Verilator and read its outputs
and, on request, the vector memory after every step.

A Verilator build is kept by content hash: sha256 over the Verilator version, its flags and the
sources (rtl/engine.v, tb/tb.v; data are read at run time from mem/), in
`$NEURODEPLOY_CACHE/verilator/<hash>/Vtb` (default `~/.cache/neurodeploy`), so a second run of
the same design skips the 5-6 s build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodeploy.artifacts import copy_verified, read_manifest
from neurodeploy.errors import NeurodeployError
from neurodeploy.targets.fpga.microcode import Microcode
from neurodeploy.targets.fpga.verilog import DESIGN_FILES, write_inputs

SIMULATORS = ("iverilog", "verilator")
VERILATOR_FLAGS = ("--binary", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", "tb",
                   "-o", "Vtb", "--Mdir", "obj")


def cache_root() -> Path:
    return Path(os.environ.get("NEURODEPLOY_CACHE", Path.home() / ".cache" / "neurodeploy"))


def _verilated(work: Path, sources: list[str]) -> Path:
    """The Verilator binary of `sources` in `work`: from the cache, or built and cached."""
    digest = hashlib.sha256(_run(["verilator", "--version"], work, "verilator").encode())
    digest.update("\0".join(VERILATOR_FLAGS).encode())
    for source in sources:
        digest.update(b"\0" + (work / source).read_bytes())
    cached = cache_root() / "verilator" / digest.hexdigest() / "Vtb"
    if cached.is_file():
        return cached
    _run(["verilator", *VERILATOR_FLAGS, *sources], work, "verilator build")
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f"Vtb.{os.getpid()}.partial")
    shutil.copy2(work / "obj" / "Vtb", partial)
    os.replace(partial, cached)  # atomic: concurrent builds of one design both end well
    return cached


def _run(command: list[str], cwd: Path, what: str) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise NeurodeployError(f"{command[0]} is not installed; apt-get install iverilog "
                               "verilator") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise NeurodeployError(f"{what} failed: {tail[0][:200]}")
    return done.stdout


@dataclass(frozen=True)
class RtlRun:
    """What the testbench wrote: outputs `(T, B, n_out)`, the vector memory after every step
    `(T, B, VWORDS)` when asked for (else None), and the clock cycles of the run."""

    outputs: np.ndarray
    vectors: np.ndarray | None
    cycles: int


def _read_words(path: Path, steps: int, batch: int, size: int, what: str) -> np.ndarray:
    """Signed decimal lines written sample by sample, step by step, as `(T, B, size)` int64."""
    values = np.array([int(v) for v in path.read_text().split()], dtype=np.int64)
    if values.size != steps * batch * size:
        raise NeurodeployError(f"the RTL wrote {values.size} {what}, expected "
                               f"{steps * batch * size}")
    return values.reshape(batch, steps, size).transpose(1, 0, 2)


def run_rtl(program: Microcode, design: Path, x_int: np.ndarray, simulator: str,
            vectors: bool = False) -> RtlRun:
    """Run the RTL in `design` (rtl/, tb/, mem/) on integer input `(T, B, n_in)`.

    `vectors` makes the testbench dump the vector memory after every step (+states).
    Only the design's files listed in its neurodeploy manifest are used: they are copied into a
    temporary work directory, checked there against their sha256, and the copies are compiled.
    """
    if simulator not in SIMULATORS:
        raise NeurodeployError(f"unknown simulator {simulator!r}: use iverilog or verilator")
    manifest = read_manifest(design)
    plusargs = ["+states"] if vectors else []
    steps, batch = x_int.shape[:2]
    with tempfile.TemporaryDirectory(prefix="nd-rtl-") as scratch:
        work = Path(scratch)
        copy_verified(design, manifest, DESIGN_FILES, work)
        write_inputs(program, x_int, work / "mem")
        sources = ["rtl/engine.v", "tb/tb.v"]
        if simulator == "iverilog":
            _run(["iverilog", "-g2005", "-o", "sim.vvp", "-s", "tb", *sources], work,
                 "iverilog compilation")
            log = _run(["vvp", "-n", "sim.vvp", *plusargs], work, "iverilog simulation")
        else:
            log = _run([str(_verilated(work, sources)), *plusargs], work, "verilator simulation")
        outputs = _read_words(work / "output.txt", steps, batch, program.output_size, "outputs")
        memory = None
        if vectors:
            states = work / "states.txt"
            if not states.exists():
                raise NeurodeployError(f"{design}/tb/tb.v dumps no vector memory (written by an "
                                       "older neurodeploy); run `neurodeploy convert` again")
            memory = _read_words(states, steps, batch, program.vector_words, "vector words")
    cycles = int(next((line.split()[1] for line in log.splitlines() if line.startswith("cycles")),
                      "0"))
    return RtlRun(outputs, memory, cycles)
