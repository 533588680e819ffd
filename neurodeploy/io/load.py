"""`neurodeploy.load`: one entry point for every model source."""

from __future__ import annotations

from pathlib import Path

from neurodeploy import ir
from neurodeploy.errors import InvalidFileError, UnsupportedModelError


def load(
    source: object, input_shape: tuple[int, ...] | None = None, dialect: str | None = None,
    reset: str | None = None, dt: float | None = None, spike: str | None = None,
) -> ir.Network:
    """Load a Network from an `nn.Module`, a `.pt` file (`torch.save(model)`) or a `.nir` file.

    `input_shape` (per step and sample) is needed only for convolutional torch models that do not
    carry one. For NIR files of other tools, `dialect` ("snntorch", "sinabs", or None for the NIR
    specification read literally) says how the producer meant its nodes; `reset`, `dt` and
    `spike` override the dialect. neurodeploy's own files are always read exactly.
    """
    if isinstance(source, ir.Network):
        return source
    if isinstance(source, str | Path):
        path = Path(source)
        suffix = path.suffix.lower()
        if suffix not in (".pt", ".pth", ".nir"):
            raise UnsupportedModelError(
                f"{path}: unknown model file type {suffix or '(none)'}; give a .pt or .nir file")
        if not path.is_file():
            raise InvalidFileError(f"{path}: no such file")
        if suffix == ".nir":
            from neurodeploy.io.nir_format import read_network

            return read_network(path, dialect, reset, dt, spike)
        from neurodeploy.io.model_file import load_torch_file

        source = load_torch_file(path)
    from torch import nn

    if isinstance(source, nn.Module):
        from neurodeploy.frontend.from_torch import network_from_torch

        return network_from_torch(source, input_shape)
    raise UnsupportedModelError(
        f"cannot load a {type(source).__name__}: give an nn.Module, a .pt or a .nir path")


def save_nir(network: ir.Network | object, path: str | Path, dialect: str | None = None) -> None:
    """Write a Network (or anything `load` accepts) as a NIR file.

    Without a dialect, neurodeploy's own file, which `load` restores exactly. With
    dialect="sinabs" or "snntorch", a file that tool's importer rebuilds into a network computing
    the same outputs, or an error naming the layer the tool cannot express.
    """
    network = load(network)
    if dialect in (None, "neurodeploy"):
        from neurodeploy.io.nir_format import write_network

        write_network(network, path)
        return
    from neurodeploy.io.nir_export import write_for_tool

    write_for_tool(network, path, dialect)
