"""How the CLI reads a model: --dialect and its overrides, and --arch for a .pt of weights."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from neurodeploy.cli_types import FiniteFloatRange


def raise_usage(message: str) -> None:
    """A usage error: one line, exit code 2 (the CLI's error contract)."""
    from neurodeploy.errors import NeurodeployError

    raise NeurodeployError(message)


def architecture_options(command: Callable | None = None) -> list[Callable] | Callable:
    """--arch and --arch-args, the class of a .pt file that holds weights only: the options, or
    (given a command) the command decorated with them."""
    options = [
        click.option("--arch", default=None, metavar="MODULE:CLASS",
                     help="Class of a .pt state_dict: package.module:Class or file.py:Class "
                          "(imports your code)."),
        click.option("--arch-args", default=None, metavar="JSON",
                     help="Constructor arguments for --arch: a JSON object or array."),
    ]
    return options if command is None else _decorate(command, options)


def _decorate(command: Callable, options: list[Callable]) -> Callable:
    for option in reversed(options):
        command = option(command)
    return command


def _architecture(how: dict):
    """The Architecture named by --arch/--arch-args, or None."""
    from neurodeploy.io.architecture import Architecture

    if how["arch"] is None:
        if how["arch_args"] is not None:
            raise_usage("--arch-args needs --arch MODULE:CLASS")
        return None
    return Architecture.parse(how["arch"], how["arch_args"])


def torch_source(path: Path, how: dict) -> object:
    """The path itself, or with --arch the nn.Module its weights are loaded into."""
    from neurodeploy.io.model_file import load_torch_file

    architecture = _architecture(how)
    if architecture is None:
        return path
    if path.suffix.lower() not in (".pt", ".pth"):
        raise_usage(f"--arch applies to a .pt file of weights, not {path.name}")
    if not path.is_file():
        raise_usage(f"{path}: no such file")
    return load_torch_file(path, architecture)


def model_options(command: Callable) -> Callable:
    """--dialect and its overrides, shared by every command that reads a model."""
    options = [
        click.option("--dialect", type=click.Choice(["nir", "snntorch", "sinabs"]), default=None,
                     help="Producer of a foreign .nir file (default: the NIR spec, literally)."),
        click.option("--reset", type=click.Choice(["subtract", "zero"]), default=None,
                     help="Override the dialect's reset mechanism."),
        click.option("--dt", type=FiniteFloatRange(min=0, min_open=True), default=None,
                     help="Override the dialect's time step (> 0)."),
        click.option("--spike", type=click.Choice(["single", "multi"]), default=None,
                     help="Override the dialect's spikes per step (IF nodes)."),
        click.option("--min-v", type=FiniteFloatRange(max=0), default=None,
                     help="IF membrane floor (sinabs files drop min_v_mem; from_model's is -1)."),
        *architecture_options(),
    ]
    return _decorate(command, options)


def refuse_early(path: Path, target: object, how: dict) -> None:
    """Refuse a NIR model the target cannot run before torch is imported: reading NIR and the
    target's check need none of it (a .pt model needs torch to be read at all)."""
    from neurodeploy.io.nir_read import read_network
    from neurodeploy.targets.base import refuse_unsupported

    if path.suffix.lower() == ".nir" and path.is_file() and _architecture(how) is None:
        refuse_unsupported(target, read_network(path, how["dialect"], how["reset"], how["dt"],
                                                how["spike"], how["min_v"]))


def load_model(path: Path, how: dict):
    from neurodeploy.api import load

    return load(path, dialect=how["dialect"], reset=how["reset"], dt=how["dt"], spike=how["spike"],
                min_v=how["min_v"], architecture=_architecture(how))


def output_classes(subject: object) -> int | None:
    """How many classes labels may name: the size of a 1-D output layer, else None."""
    from neurodeploy import ir
    from neurodeploy.program.graph import Program

    if isinstance(subject, ir.Network):
        shape = subject.output_shape
    elif isinstance(subject, Program):
        shape = subject.shapes[subject.output]
    else:
        return None
    return int(shape[0]) if len(shape) == 1 else None


def network_and_data(model: Path, data: Path, timesteps: int | None, encoding: str, how: dict,
                      static: bool = False):
    """(network, x, labels) for MODEL: an ANN converted first (direct input), an SNN with the
    data encoded over `timesteps`; `static` requires static data (a window sweep)."""
    from neurodeploy.api import load
    from neurodeploy.io.data import load_data, read_static
    from neurodeploy.pipeline import is_ann, snn_from_ann

    source = torch_source(model, how)
    if is_ann(source):
        return snn_from_ann(source, data, timesteps)
    network = load_model(model, how) if source is model else load(source)
    if static:
        read_static(data)  # a window sweep re-encodes static data: refuse time-major data
    dataset = load_data(data, network.input_shape, timesteps, encoding,
                        classes=output_classes(network))
    return network, dataset.x, dataset.y
