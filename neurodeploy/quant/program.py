"""The Program: a Network after quantization for one target, as integer tensors and formats.

A Program is a chain of IntLayers. Each IntLayer runs its integer synaptic ops (Affine, Conv2d,
SumPool2d, Flatten) on the previous layer's integer output, then its neuron kernel
(`neurodeploy.sim.kernels`). Saved as `program.json` (structure, scalars, formats) and
`program.npz` (arrays); loading gives back the same Program, bit for bit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurodeploy.artifacts import write_json
from neurodeploy.errors import InvalidFileError
from neurodeploy.io.npz import read_npz, write_npz
from neurodeploy.quant.tables import Table

FORMAT_VERSION = 1


@dataclass(eq=False)
class IntOp:
    """An integer synaptic op: kind in {affine, conv2d, sumpool2d, flatten}.

    affine: acc = W x (W int, (out, in)); conv2d: torch cross-correlation with int W;
    sumpool2d: sum over each window (the 1/k^2 of an average pool is folded into the scales).
    """

    kind: str
    weight: np.ndarray | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    kernel_size: tuple[int, int] = (1, 1)


@dataclass(eq=False)
class IntLayer:
    """One neuron layer in integer form, with the synaptic ops that feed it.

    State integers are in `unit` (real value per integer, per neuron); the input accumulator is
    shifted by `input_shift` into state units (left, or right rounded half up when negative);
    `bias` (state units) is added every step.
    Outputs are integers of real value `out_unit` (1 for spike counts).
    """

    name: str
    kind: str  # IAF, LIF, SNU, SoftSNU, SRC, LI (sim); CUBA (loihi)
    shape: tuple[int, ...]
    ops: list[IntOp]
    unit: np.ndarray
    input_shift: int
    bias: np.ndarray
    state_bits: int
    out_unit: float
    out_bits: int
    consts: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    recurrent: np.ndarray | None = None
    recurrent_shift: int = 0

    @property
    def graded(self) -> bool:
        return self.kind in ("SoftSNU", "SRC", "LI") or bool(self.consts.get("readout", 0))

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(eq=False)
class Program:
    """A quantized network for one target: integer layers plus the input format."""

    target: str
    input_shape: tuple[int, ...]
    input_unit: float
    input_bits: int
    layers: list[IntLayer]
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def output_is_graded(self) -> bool:
        return self.layers[-1].graded

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        """Real input -> integers of `input_unit` (rounded half up, saturated to input_bits).

        The result is integer-valued float32 (exact: input_bits <= 24), ready for BLAS.
        """
        x = np.asarray(x, dtype=np.float32)
        scaled = x if self.input_unit == 1.0 else x / np.float32(self.input_unit)
        limit = float(1 << (self.input_bits - 1))
        return np.clip(np.floor(scaled + np.float32(0.5)), -limit, limit - 1)

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> None:
        """Write `program.json` and `program.npz` into `directory` (deterministic bytes)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        layers = []
        for layer in self.layers:
            prefix = layer.name
            arrays[f"{prefix}/unit"] = np.asarray(layer.unit, dtype=np.float64)
            arrays[f"{prefix}/bias"] = layer.bias
            if layer.recurrent is not None:
                arrays[f"{prefix}/recurrent"] = layer.recurrent
            ops = []
            for index, op in enumerate(layer.ops):
                if op.weight is not None:
                    arrays[f"{prefix}/op{index}/weight"] = op.weight
                ops.append({"kind": op.kind, "stride": list(op.stride), "padding": list(op.padding),
                            "dilation": list(op.dilation), "groups": op.groups,
                            "kernel_size": list(op.kernel_size), "has_weight": op.weight is not None})
            for key, value in layer.arrays.items():
                arrays[f"{prefix}/arrays/{key}"] = value
            tables = {}
            for key, table in layer.tables.items():
                arrays[f"{prefix}/tables/{key}"] = table.values
                tables[key] = {"multiplier": table.multiplier, "shift": table.shift,
                               "offset": table.offset, "frac_bits": table.frac_bits}
            layers.append({
                "name": layer.name, "kind": layer.kind, "shape": list(layer.shape), "ops": ops,
                "input_shift": layer.input_shift, "state_bits": layer.state_bits,
                "out_unit": layer.out_unit, "out_bits": layer.out_bits, "consts": layer.consts,
                "tables": tables, "arrays": sorted(layer.arrays),
                "recurrent_shift": layer.recurrent_shift,
                "has_recurrent": layer.recurrent is not None,
            })
        meta = {"format_version": FORMAT_VERSION, "target": self.target,
                "input_shape": list(self.input_shape), "input_unit": self.input_unit,
                "input_bits": self.input_bits, "settings": self.settings, "layers": layers}
        write_json(directory / "program.json", meta)
        write_npz(directory / "program.npz", arrays)

    @classmethod
    def load(cls, directory: str | Path) -> Program:
        """Read a Program saved by `save`."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "program.json").read_text())
            arrays = read_npz(directory / "program.npz")
        except (OSError, ValueError) as exc:
            raise InvalidFileError(f"{directory}: not a neurodeploy program directory "
                                   f"({str(exc).splitlines()[0][:100]}); run `neurodeploy convert`"
                                   ) from None
        if meta.get("format_version") != FORMAT_VERSION:
            raise InvalidFileError(f"{directory}: program format {meta.get('format_version')} is "
                                   f"not {FORMAT_VERSION}; convert the model again")
        layers = []
        for spec in meta["layers"]:
            prefix = spec["name"]
            ops = [IntOp(o["kind"], arrays.get(f"{prefix}/op{i}/weight") if o["has_weight"] else None,
                         tuple(o["stride"]), tuple(o["padding"]), tuple(o["dilation"]),
                         o["groups"], tuple(o["kernel_size"]))
                   for i, o in enumerate(spec["ops"])]
            tables = {key: Table(arrays[f"{prefix}/tables/{key}"], t["multiplier"], t["shift"],
                                 t["offset"], t["frac_bits"]) for key, t in spec["tables"].items()}
            layers.append(IntLayer(
                name=spec["name"], kind=spec["kind"], shape=tuple(spec["shape"]), ops=ops,
                unit=arrays[f"{prefix}/unit"], input_shift=spec["input_shift"],
                bias=arrays[f"{prefix}/bias"], state_bits=spec["state_bits"],
                out_unit=spec["out_unit"], out_bits=spec["out_bits"], consts=spec["consts"],
                arrays={key: arrays[f"{prefix}/arrays/{key}"] for key in spec["arrays"]},
                tables=tables,
                recurrent=arrays[f"{prefix}/recurrent"] if spec["has_recurrent"] else None,
                recurrent_shift=spec["recurrent_shift"]))
        return cls(meta["target"], tuple(meta["input_shape"]), meta["input_unit"],
                   meta["input_bits"], layers, meta["settings"])
