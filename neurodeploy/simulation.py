"""`neurodeploy.simulate`: run a Network (float reference) or a Program (bit-accurate)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from neurodeploy.errors import ShapeError
from neurodeploy.sim.result import SimulationResult

if TYPE_CHECKING:
    from neurodeploy.quant.program import Program
    from neurodeploy.targets.fpga.compile import FpgaProgram


def check_input(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Return `x` as float32 `(T, B, *input_shape)` or raise a ShapeError saying what to give."""
    x = np.asarray(x)
    if x.ndim != len(input_shape) + 2 or tuple(x.shape[2:]) != tuple(input_shape):
        dims = ", ".join(map(str, input_shape))
        raise ShapeError(f"input has shape {x.shape}; the network takes time-major (T, B, {dims})")
    return x.astype(np.float32, copy=False)


def load_directory(directory: Path) -> Program | FpgaProgram:
    """The program in an OUT/ directory of `convert`, after `verify_manifest` passed on it.

    An fpga directory (fpga.json) gives an FpgaProgram, any other an integer Program; a file that
    differs from the manifest is an InvalidFileError naming it.
    """
    from neurodeploy.artifacts import verify_manifest
    from neurodeploy.quant.program import Program

    if (Path(directory) / "fpga.json").exists():
        from neurodeploy.targets.fpga.target import load as load_fpga

        verify_manifest(directory, required=("fpga.json", "fpga.npz"))
        return load_fpga(Path(directory))
    verify_manifest(directory, required=("program.json", "program.npz"))
    return Program.load(directory)


def simulate(model: object, x: np.ndarray, record_states: bool = False,
             event_driven: bool = False) -> SimulationResult:
    """Simulate `model` on time-major input `x` `(T, B, *features)`.

    A Program (or a directory written by `convert`, checked against its manifest first) runs on
    the bit-accurate integer engine; a Network (or anything `neurodeploy.load` accepts) runs on
    the float reference engine.
    `event_driven` makes the integer engine accumulate only non-zero inputs (same results).
    """
    from neurodeploy.quant.program import Program
    from neurodeploy.targets.fpga.compile import FpgaProgram

    if isinstance(model, str | Path) and Path(model).is_dir():
        model = load_directory(Path(model))
    elif isinstance(model, str | Path):
        from neurodeploy.artifacts import verify_listed_file

        verify_listed_file(Path(model))
    if isinstance(model, FpgaProgram):
        from neurodeploy.targets.fpga.target import simulate as simulate_fpga

        return simulate_fpga(model, check_input(x, model.input_shape))
    if isinstance(model, Program):
        from neurodeploy.sim.int_engine import simulate_program

        return simulate_program(model, check_input(x, model.input_shape), record_states,
                                event_driven=event_driven)
    from neurodeploy.io.load import load
    from neurodeploy.sim.float_engine import simulate_network

    network = load(model)
    return simulate_network(network, check_input(x, network.input_shape), record_states)
