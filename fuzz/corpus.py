"""The seed corpus: small valid inputs of every file kind, made with the real tools.

Every seed is built deterministically (fixed torch and numpy seeds) and is small enough that one
command on it runs in well under a second: 8-16-4 spiking networks, a 1x6x6 convolutional one,
5 samples of 6 steps. Artifact directories are written by `neurodeploy convert` itself.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path


class Kind(StrEnum):
    """The file kinds the fuzzer mutates (plus `options`, which mutates command-line options)."""

    PT = "pt"  # a spiking network saved with torch.save(model)
    PT_ANN = "pt-ann"  # a ReLU ANN saved with torch.save(model)
    ONNX = "onnx"  # a ReLU ANN exported with torch.onnx.export
    NIR = "nir"  # neurodeploy's own NIR file
    NIR_SNNTORCH = "nir-snntorch"  # a NIR file as snnTorch writes it
    NIR_SINABS = "nir-sinabs"  # a NIR file as sinabs writes it
    NPZ_TIME = "npz-time"  # data: time-major x (T, B, *features) and labels y
    NPZ_STATIC = "npz-static"  # data: static x (B, *features) and labels y
    DIR_SIM = "dir-sim"  # convert --target sim output directory
    DIR_LOIHI = "dir-loihi"  # convert --target loihi output directory (with model.net)
    NETX = "netx"  # a netx HDF5 file (model.net) on its own
    DIR_FPGA = "dir-fpga"  # convert --target fpga output directory (rtl/ tb/ mem/ fpga.*)
    OPTIONS = "options"  # valid files, hostile command-line options


MODEL_KINDS = (Kind.PT, Kind.NIR, Kind.NIR_SNNTORCH, Kind.NIR_SINABS)
ANN_KINDS = (Kind.PT_ANN, Kind.ONNX)
ARTIFACT_KINDS = (Kind.DIR_SIM, Kind.DIR_LOIHI, Kind.NETX, Kind.DIR_FPGA)
MANIFEST_NAME = "neurodeploy-manifest.json"


@dataclass(frozen=True)
class Seed:
    """One valid input in the corpus and what it runs with.

    `data` is the time-major data file it runs on, `static` the static one (ANNs and encoding),
    `targets` the convert targets that accept it, `dialect` the --dialect to read it with.
    """

    name: str
    kind: Kind
    data: str = ""
    static: str = ""
    targets: tuple[str, ...] = ()
    dialect: str = ""


@dataclass(frozen=True)
class Corpus:
    """The seeds and the directory that holds them."""

    root: Path
    seeds: tuple[Seed, ...] = field(default_factory=tuple)

    def path(self, name: str) -> Path:
        return self.root / name

    def seed(self, name: str) -> Seed:
        return next(s for s in self.seeds if s.name == name)

    def save(self) -> None:
        rows = [{**asdict(s), "kind": str(s.kind), "targets": list(s.targets)} for s in self.seeds]
        (self.root / "corpus.json").write_text(json.dumps(rows, indent=1))

    @classmethod
    def load(cls, root: Path) -> Corpus:
        rows = json.loads((Path(root) / "corpus.json").read_text())
        seeds = tuple(Seed(**{**r, "kind": Kind(r["kind"]), "targets": tuple(r["targets"])})
                      for r in rows)
        return cls(Path(root), seeds)


def _models() -> dict:
    """The torch networks of the corpus, built with fixed seeds: {name: (module, input shape)}."""
    import torch
    from torch import nn

    import neurodeploy.nn as ndnn

    def mlp(first: nn.Module, second: nn.Module) -> nn.Sequential:
        return nn.Sequential(nn.Linear(8, 16), first, nn.Linear(16, 4), second)

    torch.manual_seed(0)
    conv = ndnn.Sequential(nn.Conv2d(1, 2, 3), ndnn.IAF(), nn.Flatten(), nn.Linear(32, 4),
                           ndnn.IAF(), input_shape=(1, 6, 6))
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.AvgPool2d(2),
                        nn.Flatten(), nn.Linear(8, 4))
    with torch.no_grad():
        cnn[1].running_mean.uniform_(-0.1, 0.1)
        cnn[1].running_var.uniform_(0.5, 1.5)
    return {
        "iaf": mlp(ndnn.IAF(), ndnn.IAF()),
        "lif": mlp(ndnn.LIF(), ndnn.LIF()),
        "snu": mlp(ndnn.SNU(16), ndnn.SNU(4)),
        "src": mlp(ndnn.SRC(16), ndnn.SRC(4)),
        "conv": conv,
        "lif_zero": mlp(ndnn.LIF(reset="zero"), ndnn.LIF(reset="zero")),  # for snnTorch
        "iaf_floor": mlp(ndnn.IAF(min_v=-1.0), ndnn.IAF(min_v=-1.0)),  # for sinabs
        "ann": nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)).eval(),
        "cnn": cnn.eval(),
    }


def _write_data(root: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 5)
    np.savez(root / "data.npz", x=(rng.random((6, 5, 8)) < 0.4).astype(np.float32), y=labels)
    np.savez(root / "conv.npz", x=(rng.random((6, 5, 1, 6, 6)) < 0.4).astype(np.float32), y=labels)
    np.savez(root / "static.npz", x=rng.random((5, 8)).astype(np.float32), y=labels)
    np.savez(root / "cnn_static.npz", x=rng.random((5, 1, 6, 6)).astype(np.float32), y=labels)


def _convert(root: Path, model: str, target: str, out: str) -> None:
    import warnings

    from click.testing import CliRunner

    from neurodeploy.cli import main

    shown = warnings.showwarning  # the command installs its own for the rest of the process
    try:
        result = CliRunner().invoke(main, ["convert", str(root / model), "--target", target,
                                           "--data", str(root / "data.npz"), "-o", str(root / out)])
    finally:
        warnings.showwarning = shown
    if result.exit_code != 0:
        raise RuntimeError(f"corpus: convert {model} --target {target} failed: {result.output}")


def build_corpus(root: Path) -> Corpus:
    """Write every seed into `root` (created; must not exist yet) and return the corpus."""
    import warnings

    import torch

    import neurodeploy as nd

    root = Path(root)
    root.mkdir(parents=True)
    models = _models()
    for name in ("iaf", "lif", "snu", "src", "conv", "ann", "cnn"):
        torch.save(models[name], root / f"{name}.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's notice about the legacy exporter
        for name in ("ann", "cnn"):
            shape = (8,) if name == "ann" else (1, 6, 6)
            torch.onnx.export(models[name], (torch.rand(1, *shape),), str(root / f"{name}.onnx"),
                              dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    for name in ("lif", "src", "conv"):
        nd.save_nir(models[name], root / f"{name}.nir")
    nd.save_nir(models["lif_zero"], root / "snntorch.nir", dialect="snntorch")
    nd.save_nir(models["iaf_floor"], root / "sinabs.nir", dialect="sinabs")
    _write_data(root)
    for model, target in (("lif.pt", "sim"), ("lif.pt", "loihi"), ("src.pt", "fpga")):
        _convert(root, model, target, f"{target}-out")
    shutil.copyfile(root / "loihi-out" / "model.net", root / "model.net")

    mlp = {"data": "data.npz", "static": "static.npz"}
    conv = {"data": "conv.npz"}
    seeds = (
        Seed("iaf.pt", Kind.PT, targets=("sim", "loihi"), **mlp),
        Seed("lif.pt", Kind.PT, targets=("sim", "loihi", "fpga"), **mlp),
        Seed("snu.pt", Kind.PT, targets=("sim", "loihi"), **mlp),
        Seed("src.pt", Kind.PT, targets=("sim", "fpga"), **mlp),
        Seed("conv.pt", Kind.PT, targets=("sim",), **conv),
        Seed("ann.pt", Kind.PT_ANN, static="static.npz", targets=("sim",)),
        Seed("cnn.pt", Kind.PT_ANN, static="cnn_static.npz", targets=("sim",)),
        Seed("ann.onnx", Kind.ONNX, static="static.npz", targets=("sim",)),
        Seed("cnn.onnx", Kind.ONNX, static="cnn_static.npz", targets=("sim",)),
        Seed("lif.nir", Kind.NIR, targets=("sim", "loihi", "fpga"), **mlp),
        Seed("src.nir", Kind.NIR, targets=("sim", "fpga"), **mlp),
        Seed("conv.nir", Kind.NIR, targets=("sim",), **conv),
        Seed("snntorch.nir", Kind.NIR_SNNTORCH, targets=("sim", "loihi"), dialect="snntorch",
             **mlp),
        Seed("sinabs.nir", Kind.NIR_SINABS, targets=("sim", "loihi"), dialect="sinabs", **mlp),
        Seed("data.npz", Kind.NPZ_TIME),
        Seed("conv.npz", Kind.NPZ_TIME),
        Seed("static.npz", Kind.NPZ_STATIC),
        Seed("cnn_static.npz", Kind.NPZ_STATIC),
        Seed("sim-out", Kind.DIR_SIM, data="data.npz"),
        Seed("loihi-out", Kind.DIR_LOIHI, data="data.npz"),
        Seed("model.net", Kind.NETX, data="data.npz"),
        Seed("fpga-out", Kind.DIR_FPGA, data="data.npz"),
    )
    corpus = Corpus(root, seeds)
    corpus.save()
    return corpus
