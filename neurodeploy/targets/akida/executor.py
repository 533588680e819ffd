"""The akida target's independent executor: the emitted model.onnx run by onnxruntime.

The frame `window_frame(x)` goes through the ONNX graph; each layer's integer output q is read
as an extra graph output (added in memory) and the result is assembled as the golden model does
for a chain of graded stateful layers, one step:

    events[layer] = #(q != 0)       spikes[layer] = sum(q * output_unit)
    output        = q_last * output_unit                  (float64 product, then float32)

The output must equal the graph's own Dequantizer output, or the file is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from neurodeploy.engine.result import SimulationResult
from neurodeploy.errors import InvalidFileError, ShapeError, describe_os_error
from neurodeploy.program.graph import Program, window_frame
from neurodeploy.targets.akida.onnx_model import DOMAIN, GRAPH_INPUT, MODEL_FILE, chain_layers

QUIET = 3  # onnxruntime's log severity: errors only
AGAIN = "write it again with neurodeploy convert --target akida"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def _with_layer_outputs(path: Path, names: list[str]) -> bytes:
    """The model of `path` with the integer output of every layer in `names` as a graph output."""
    try:
        model = onnx.load_model_from_string(path.read_bytes())
    except OSError as exc:
        raise InvalidFileError(describe_os_error(exc, path)) from None
    except Exception as exc:  # protobuf's DecodeError and relatives share no public base
        raise InvalidFileError(f"{path}: not an ONNX model ({_first_line(exc)}); {AGAIN}") from None
    graph = model.graph
    tensors = {node.name: node.output[0] for node in graph.node
               if node.domain == DOMAIN and len(node.output) == 1}
    infos = {info.name: info for info in graph.value_info}
    for name in names:
        if tensors.get(name) not in infos:
            raise InvalidFileError(f"{path}: has no typed output of layer '{name}'; {AGAIN}")
        graph.output.append(infos[tensors[name]])
    return model.SerializeToString()


def _run_model(path: Path, names: list[str], frame: np.ndarray) -> list[np.ndarray]:
    """[Dequantizer output, integers of each layer] from onnxruntime."""
    import onnxruntime

    model = _with_layer_outputs(path, names)
    onnxruntime.set_default_logger_severity(QUIET)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = QUIET
    try:
        session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        return session.run(None, {GRAPH_INPUT: frame})
    except Exception as exc:  # onnxruntime's Fail, InvalidGraph, ... share no public base
        raise InvalidFileError(f"{path}: onnxruntime cannot run it ({_first_line(exc)}); "
                               f"{AGAIN}") from None


@dataclass(frozen=True)
class OnnxRuntimeExecutor:
    """Runs OUT/model.onnx in onnxruntime (CPU); returns the golden model's result type."""

    name: str = "onnxruntime"

    def unavailable(self) -> str | None:
        try:
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            return f"onnxruntime does not import ({exc}); pip install onnxruntime"
        return None

    def run(self, directory: Path, program: Program, x: Any) -> SimulationResult:
        path = Path(directory) / MODEL_FILE
        names = chain_layers(program)
        x = np.asarray(x)
        if x.ndim < 2 or x.shape[2:] != program.input.shape:
            raise ShapeError(f"input of shape {x.shape} is not (T, B, "
                             f"{', '.join(map(str, program.input.shape))})")
        frame = window_frame(x)
        dequantized, *values = _run_model(path, names, frame)
        events, spikes, outputs = {}, {}, {}
        for name, value in zip(names, values, strict=True):
            if value.dtype.kind != "i" or value.shape != (len(frame), *program.shapes[name]):
                raise InvalidFileError(f"{path}: layer '{name}' gives {value.dtype} {value.shape}, "
                                       f"not the program's {program.shapes[name]}; {AGAIN}")
            scale = program.nodes[name].output_scale
            outputs[name] = value[None].astype(np.float64) * scale
            flat = value.reshape(1, len(frame), -1)
            events[name] = (flat != 0).sum(axis=2)
            spikes[name] = (flat.astype(np.float64) * np.reshape(scale, -1)).sum(axis=2)
        last = values[-1].reshape(1, len(frame), -1).astype(np.float64)
        output = (last * np.reshape(program.output_node.output_scale, -1)).astype(np.float32)
        if dequantized.shape != values[-1].shape or not np.array_equal(
                dequantized.reshape(output.shape), output):
            raise InvalidFileError(f"{path}: its Dequantizer output is not the last layer's "
                                   f"integers times the program's output unit; {AGAIN}")
        return SimulationResult(output, events, spikes, node_outputs=outputs,
                                graded=frozenset(names))
