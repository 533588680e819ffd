"""The Python API: load models and artifacts, simulate, convert for a target.

    net  = load("model.pt")                       # or .nir, an nn.Module, a netx .net
    prog = convert(net, target="sim", data=x)     # calibrate on x, lower for the target
    prog = convert("model.net", target="loihi", data=x)   # a target's own file: kept as it is
    res  = simulate(prog, x)                      # golden model; simulate(net, x): float reference
    res  = simulate("OUT/", x, executor="iverilog")   # a target's independent executor
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy import ir
from neurodeploy.artifacts import verify_listed_file, verify_manifest
from neurodeploy.engine.reference import simulate_network
from neurodeploy.engine.result import SimulationResult
from neurodeploy.engine.shard import SHARDS_NEED_PROGRAM, simulate_sharded
from neurodeploy.errors import InvalidFileError, ShapeError, UnsupportedModelError
from neurodeploy.io.architecture import Architecture
from neurodeploy.program.calibrate import Calibration, calibration_sample, measure
from neurodeploy.program.graph import Program
from neurodeploy.program.serialize import PROGRAM_JSON, PROGRAM_NPZ
from neurodeploy.targets.base import Target, make_options, refuse_unsupported
from neurodeploy.targets.registry import get_target, target_names

MODEL_SUFFIXES = (".pt", ".pth", ".nir")


def load(source: object, input_shape: tuple[int, ...] | None = None, dialect: str | None = None,
         reset: str | None = None, dt: float | None = None, spike: str | None = None,
         min_v: float | None = None, architecture: str | object | None = None,
         architecture_args: dict | list | None = None) -> ir.Network:
    """A Network from an `nn.Module`, a `.pt` file (`torch.save(model)`), a `.nir` file, or a
    file a target reads (a netx `.net`: the float network its integer layers compute, see
    `neurodeploy.targets.loihi.netx_float`).

    A `.pt` file of weights only (`torch.save(model.state_dict())`) needs its `architecture`:
    "module:Class" or "path/to/file.py:Class" built with `architecture_args` (a dict of keyword
    or a list of positional arguments), or an `nn.Module` instance the weights are loaded into
    (a copy; the instance is left as it is).

    `input_shape` (per step and sample) is needed only for convolutional torch models that do not
    carry one. For NIR files of other tools, `dialect` ("snntorch", "sinabs", or None for the NIR
    specification read literally) says how the producer meant its nodes; `reset`, `dt`, `spike`
    and `min_v` override the dialect. neurodeploy's own files are always read exactly.
    """
    if isinstance(source, ir.Network):
        return source
    path = None
    if isinstance(source, str | Path):
        path = Path(source)
        suffix = path.suffix.lower()
        reader = _reader_of_suffix(suffix)
        if suffix not in MODEL_SUFFIXES and reader is None:
            raise UnsupportedModelError(
                f"{path}: unknown model file type {suffix or '(none)'}; give a .pt or .nir file "
                "(or a file a target reads, e.g. a netx .net)")
        if not path.is_file():
            raise InvalidFileError(f"{path}: no such file")
        verify_listed_file(path)
        if reader is not None:
            return reader.float_network(path)
        if suffix == ".nir":
            from neurodeploy.io.nir_read import read_network

            return read_network(path, dialect, reset, dt, spike, min_v)
        from neurodeploy.io.model_file import load_torch_file

        source = load_torch_file(path, architecture_of(architecture, architecture_args))
    elif architecture is not None:
        raise UnsupportedModelError("an architecture is given only with a .pt file of weights")
    from torch import nn

    if isinstance(source, nn.Module):
        from neurodeploy.frontend.from_torch import network_from_torch

        try:
            return network_from_torch(source, input_shape)
        except UnsupportedModelError as exc:  # a .pt model's layer refusal, named with its file
            message = str(exc)
            if path is None or message.startswith(str(path)):
                raise
            raise UnsupportedModelError(f"{path}: {message}") from None
    raise UnsupportedModelError(
        f"cannot load a {type(source).__name__}: give an nn.Module, a .pt or a .nir path")


def architecture_of(architecture: str | object | None,
                    arguments: dict | list | None = None) -> Architecture | None:
    """The Architecture a user named: "module:Class" with arguments, or an nn.Module instance."""
    import json

    from torch import nn

    if architecture is None or isinstance(architecture, Architecture):
        return architecture
    if isinstance(architecture, nn.Module):
        return Architecture.of_instance(architecture)
    if isinstance(architecture, str):
        return Architecture.parse(architecture, None if arguments is None else json.dumps(arguments))
    raise UnsupportedModelError(f"an architecture is a 'module:Class' string or an nn.Module, "
                                f"not a {type(architecture).__name__}")


def save_nir(network: ir.Network | object, path: str | Path, dialect: str | None = None) -> None:
    """Write a Network (or anything `load` accepts) as a NIR file.

    Without a dialect, neurodeploy's own file, which `load` restores exactly. With
    dialect="sinabs" or "snntorch", a file that tool's importer rebuilds into a network computing
    the same outputs, or an error naming the layer the tool cannot express.
    """
    network = load(network)
    if dialect in (None, "neurodeploy"):
        from neurodeploy.io.nir_write import write_network

        write_network(network, path)
        return
    from neurodeploy.io.nir_export import write_for_tool

    write_for_tool(network, path, dialect)


def is_artifact(path: str | Path) -> bool:
    """True for a program directory or a file a target reads (e.g. a netx .net)."""
    path = Path(path)
    return (path / PROGRAM_JSON).is_file() or _reader_of(path) is not None


def _reader_of_suffix(suffix: str) -> Target | None:
    """The target that reads files ending in `suffix` itself (loihi: .net), or None."""
    for name in target_names():
        target = get_target(name)
        if suffix in getattr(target, "reads", ()):
            return target
    return None


def _reader_of(path: Path) -> Target | None:
    return _reader_of_suffix(path.suffix.lower()) if path.is_file() else None


def kept_program(source: object, target: str, options: dict[str, Any]) -> Program | None:
    """The Program of a file `target` itself reads (a netx .net for loihi), kept as it is:
    already quantized, it needs no calibration; None for any other model.

    An option the file fixes (loihi: weight_bits) may only repeat its value; others (loihi:
    multi_chip) join the program's options."""
    if not isinstance(source, str | Path) or (reader := _reader_of(Path(source))) is None \
            or reader.name != target:
        return None
    program = load_program(source)
    given = {k: v for k, v in options.items() if v is not None}
    make_options(reader, given)  # refuses options the target does not have
    fixed = sorted(k for k, v in given.items() if program.options.get(k, v) != v)
    if fixed:
        raise UnsupportedModelError(
            f"{source}: a {Path(source).suffix} file is already quantized for {target} "
            f"({', '.join(f'{k}={program.options[k]}' for k in fixed)}); drop "
            f"{', '.join('--' + k.replace('_', '-') for k in fixed)}")
    program = dataclasses.replace(program, options={**program.options, **given})
    reader.place(program)  # refuse programs that do not fit, now
    return program


def load_program(path: str | Path) -> Program:
    """The Program of an artifact directory (`convert`'s OUT/ or `Program.save`'s), after every
    file passed its manifest, or of a file a target reads (a netx .net; checked against the
    manifest of the directory holding it, if there is one)."""
    path = Path(path)
    reader = _reader_of(path)
    if reader is not None:
        verify_listed_file(path)
        return reader.load(path)
    verify_manifest(path, required=(PROGRAM_JSON, PROGRAM_NPZ))
    return get_target(_target_of(path)).load(path)


def _target_of(directory: Path) -> str:
    import json

    try:
        meta = json.loads((directory / PROGRAM_JSON).read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidFileError(f"{directory}: no readable {PROGRAM_JSON}; not a neurodeploy "
                               "program directory (run `neurodeploy convert`)") from None
    name = meta.get("target") if isinstance(meta, dict) else None
    if not isinstance(name, str) or name not in target_names():
        raise InvalidFileError(f"{directory}: its target {name!r} is not installed; installed: "
                               f"{', '.join(target_names())}")
    return name


def check_input(x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """`x` as float32 `(T, B, *input_shape)`, or a ShapeError saying what to give."""
    x = np.asarray(x)
    if x.ndim != len(input_shape) + 2 or tuple(x.shape[2:]) != tuple(input_shape):
        dims = ", ".join(map(str, input_shape))
        raise ShapeError(f"input has shape {x.shape}; the network takes time-major (T, B, {dims})")
    if x.dtype.kind not in "biuf":
        raise ShapeError(f"input has dtype {x.dtype}; give numbers")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise ShapeError("input holds NaN or infinity")
    return x


def simulate(model: object, x: np.ndarray, record_states: bool = False,
             event_driven: bool | None = None, executor: str | None = None, workers: int = 1,
             ray_address: str | None = None) -> SimulationResult:
    """Simulate `model` on time-major input `x` `(T, B, *features)`.

    A Program (or an artifact directory / file of one) runs on the golden integer engine, or on
    one of its target's independent executors (`executor`, e.g. "iverilog"); anything `load`
    accepts runs on the float reference engine. `event_driven` makes the integer engine
    accumulate only non-zero inputs (True), never (False), or where inputs are sparse (None);
    the results are the same. `workers` > 1 local processes, or the Ray cluster at
    `ray_address`, run the golden engine on shards of the batch (`engine.shard`): the same result.
    """
    directory = None
    if isinstance(model, str | Path) and is_artifact(model):
        directory = Path(model)
        model = load_program(directory)
    sharded = workers > 1 or ray_address is not None
    if isinstance(model, Program):
        x = check_input(x, model.input.shape)
        if executor is None:
            return simulate_sharded(model, x, workers, ray_address, record_states,
                                    event_driven=event_driven)
        if sharded:
            raise UnsupportedModelError("an executor runs in one process: give no workers")
        return run_executor(model, directory, x, executor)
    if executor is not None:
        raise UnsupportedModelError("an executor runs a converted program: give an OUT directory")
    if sharded:
        raise UnsupportedModelError(SHARDS_NEED_PROGRAM)
    network = load(model)
    return simulate_network(network, check_input(x, network.input_shape), record_states)


def run_executor(program: Program, directory: Path | None, x: np.ndarray, name: str
                 ) -> SimulationResult:
    """Run a target's independent executor on the artifacts in `directory`."""
    target = get_target(program.target)
    executors = target.executors
    if name not in executors:
        known = ", ".join(sorted(executors)) or "none"
        raise UnsupportedModelError(f"target '{target.name}' has no executor '{name}' "
                                    f"(its executors: {known})")
    if directory is None:
        raise UnsupportedModelError(f"executor '{name}' runs an artifact directory: give OUT/")
    why = executors[name].unavailable()
    if why:
        raise UnsupportedModelError(f"executor '{name}' cannot run here: {why}")
    return executors[name].run(directory, program, x)


def calibrate(network: ir.Network, x: np.ndarray) -> Calibration:
    """Ranges of every neuron state, measured by the float reference on (part of) `x`."""
    sample = calibration_sample(check_input(x, network.input_shape))
    run = simulate_network(network, sample, record_states=True, record_outputs=True)
    return measure(network, sample, run.states, run.node_outputs)


def convert(network: object, target: str = "sim", data: np.ndarray | None = None,
            weight_bits: int | None = None, **options: Any) -> Program:
    """Quantize and lower a network for `target`, calibrating ranges on `data` `(T, B, ...)`.

    `weight_bits` and `options` are the target's options (e.g. sim: activation_bits,
    state_bits, per_channel, power_of_two; loihi: multi_chip; fpga: lanes). Every part the target
    cannot run is named in one error; limits the network exceeds raise an error naming the layer.
    A file the target reads itself (a netx .net for loihi) keeps its own integers (`kept_program`).
    """
    kept = kept_program(network, target, {"weight_bits": weight_bits, **options})
    if kept is not None:
        return kept
    network = load(network)
    chosen = get_target(target)
    chosen_options = make_options(chosen, {"weight_bits": weight_bits, **options})
    refuse_unsupported(chosen, network)
    if data is None:
        raise UnsupportedModelError("quantization needs calibration data: pass data=x (or --data)")
    try:
        program = chosen.lower(network, calibrate(network, data), chosen_options)
    except ValueError as exc:  # a Program the target cannot form (its own validation refused it)
        raise UnsupportedModelError(f"target '{target}' cannot represent this network: "
                                    f"{str(exc).splitlines()[0]}") from None
    chosen.place(program)  # refuse networks that do not fit, now
    return program


__all__ = ["calibrate", "check_input", "convert", "is_artifact", "kept_program", "load",
           "load_program", "run_executor", "save_nir", "simulate"]
