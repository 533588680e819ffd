"""ANN -> SNN conversion driven by the IAF = ReLU equivalence, with sinabs doing the conversion.

An integrate-and-fire neuron with reset by subtraction, driven by a constant current I for T
steps, fires about T * relu(I) / threshold times: its rate approximates ReLU. The steps:

1. canonical ANN: Linear / Conv2d / ReLU / AvgPool2d / Flatten, BatchNorm folded into the layer
   before it (from torch, or from ONNX checked against onnxruntime);
2. data-based normalisation (Rueckauer et al. 2017) with `sinabs.utils.normalize_weights`, per
   ReLU layer, so its `percentile` activation becomes 1. sinabs rescales weights and biases of
   one layer at a time; the weights of layer l are first multiplied back by lambda_{l-1}, so the
   biases stay consistent ("bias handling"): W_l <- W_l lambda_{l-1} / lambda_l,
   b_l <- b_l / lambda_l;
3. threshold balancing (optional): per spiking layer, a scale of its input (equivalently
   1/threshold) chosen from a small grid to minimise the squared error between the SNN's firing
   rates and the normalised ANN activations on the calibration data, layer after layer;
4. `sinabs.from_model` turns every ReLU into an IAF (MultiSpike or SingleSpike, subtractive
   reset, floor at -1); the result becomes `neurodeploy.nn` layers, and a final weighted layer
   without ReLU reads out through a leaky integrator with alpha 0 (its current each step), so the
   prediction is the argmax of the summed output current.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from neurodeploy import ir
from neurodeploy import nn as ndnn
from neurodeploy.engine.reference import simulate_network
from neurodeploy.errors import InvalidFileError, UnsupportedModelError
from neurodeploy.frontend.from_torch import network_from_torch
from neurodeploy.io.data import encode

ANN_LAYERS = (nn.Linear, nn.Conv2d, nn.ReLU, nn.AvgPool2d, nn.Flatten)
WEIGHTED = (nn.Linear, nn.Conv2d)
BALANCE_GRID = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25)
TIMESTEP_CURVE = (4, 8, 16, 32, 64)


@dataclass
class Conversion:
    """The converted SNN (`network`, `model`) and the evidence for it (`report`)."""

    network: ir.Network
    model: ndnn.Sequential
    report: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- canonical ANN


def _fold(layer: nn.Module, norm: nn.BatchNorm1d | nn.BatchNorm2d) -> None:
    """Fold an eval-mode batch norm into the Linear / Conv2d before it (affine=False: weight 1,
    bias 0); it must normalise that layer's outputs with running statistics."""
    outputs = layer.weight.shape[0]
    if norm.running_mean is None or norm.running_var is None:
        raise UnsupportedModelError(
            f"a {type(norm).__name__} without running statistics (track_running_stats=False) "
            "normalises by the batch and cannot be folded; train it with track_running_stats=True")
    if norm.running_mean.shape != (outputs,):
        raise UnsupportedModelError(
            f"a {type(norm).__name__} over {norm.running_mean.numel()} features follows a "
            f"{type(layer).__name__} with {outputs} outputs; give it {outputs} features")
    weight = norm.weight.detach() if norm.weight is not None else torch.ones(outputs)
    bias = norm.bias.detach() if norm.bias is not None else torch.zeros(outputs)
    scale = weight / torch.sqrt(norm.running_var + norm.eps)
    shift = bias - norm.running_mean * scale
    with torch.no_grad():
        shape = (-1,) + (1,) * (layer.weight.dim() - 1)
        layer.weight.mul_(scale.reshape(shape))
        bias = layer.bias if layer.bias is not None else torch.zeros_like(shift)
        new_bias = bias * scale + shift
        if layer.bias is None:
            layer.bias = nn.Parameter(new_bias)
        else:
            layer.bias.copy_(new_bias)


def canonical_ann(ann: nn.Module) -> nn.Sequential:
    """A copy of `ann` as a flat Sequential of Linear/Conv2d/ReLU/AvgPool2d/Flatten."""
    if not isinstance(ann, nn.Sequential):
        raise UnsupportedModelError(f"the ANN is a {type(ann).__name__}; give an nn.Sequential")
    flat: list[nn.Module] = []

    def walk(module: nn.Module) -> None:
        for child in module.children():
            if isinstance(child, nn.Sequential):
                walk(child)
            elif isinstance(child, nn.Dropout | nn.Identity):
                continue
            elif isinstance(child, nn.BatchNorm1d | nn.BatchNorm2d):
                if not flat or not isinstance(flat[-1], WEIGHTED):
                    raise UnsupportedModelError("a BatchNorm must follow a Linear or Conv2d layer")
                _fold(flat[-1], child)
            elif isinstance(child, ANN_LAYERS):
                flat.append(child)
            else:
                raise UnsupportedModelError(
                    f"ANN layer {type(child).__name__} is not supported: use Linear, Conv2d, ReLU, "
                    "AvgPool2d, Flatten, BatchNorm (folded) and Dropout")

    walk(copy.deepcopy(ann))
    if not any(isinstance(layer, nn.ReLU) for layer in flat):
        raise UnsupportedModelError("the ANN has no ReLU to turn into spiking neurons")
    return nn.Sequential(*flat).eval()


def load_ann(source: object, x: np.ndarray) -> tuple[nn.Sequential, tuple[int, ...]]:
    """The canonical ANN of an nn.Module, a .pt or an .onnx file, checked on data `x`.

    ONNX models are rebuilt in torch and compared with onnxruntime's output on `x`.
    """
    from neurodeploy.io.model_file import load_torch_file

    if isinstance(source, str | Path) and Path(source).suffix.lower() == ".onnx":
        from neurodeploy.frontend.onnx_ann import load_onnx_ann, run_onnx

        module, shape = load_onnx_ann(source)
        ann = _canonical_ann_of(source, module)
        _require_finite(ann, source)
        sample = np.asarray(x[:256], dtype=np.float32)
        expected = run_onnx(source, sample)
        with torch.no_grad():
            rebuilt = ann(torch.from_numpy(sample)).numpy()
        if rebuilt.shape != expected.shape or not np.allclose(rebuilt, expected, atol=1e-4,
                                                                rtol=1e-4):
            raise UnsupportedModelError(f"{source}: the rebuilt network disagrees with "
                                        "onnxruntime on the data; the graph uses an unsupported "
                                        "construct")
        return ann, shape
    is_file = isinstance(source, str | Path)
    what = source if is_file else "the ANN"
    ann = (_canonical_ann_of(source, load_torch_file(Path(source))) if is_file
           else canonical_ann(source))
    _require_finite(ann, what)
    shape = tuple(np.asarray(x).shape[1:])
    try:
        with torch.no_grad():
            ann(torch.from_numpy(np.asarray(x[:2], dtype=np.float32)))
    except (RuntimeError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise UnsupportedModelError(f"{what} does not run on data of shape {shape}: "
                                    f"{str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__}"
                                    ) from None
    return ann, shape


def _canonical_ann_of(path: str | Path, module: nn.Module) -> nn.Sequential:
    """canonical_ann of the model read from `path`, a refusal naming the file."""
    try:
        return canonical_ann(module)
    except UnsupportedModelError as exc:
        raise UnsupportedModelError(f"{path}: {exc}") from None


def _require_finite(ann: nn.Module, what: object) -> None:
    """Refuse NaN or infinite weights, biases or buffers (they would reach the SNN unseen)."""
    for name, tensor in [*ann.named_parameters(), *ann.named_buffers()]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise InvalidFileError(f"{what}: '{name}' holds NaN or infinity; export the ANN again")


# ----------------------------------------------------------------------------- normalisation


def _relu_pairs(ann: nn.Sequential) -> list[tuple[int, int]]:
    """(index of weighted layer, index of the ReLU it feeds) for every ReLU."""
    pairs, last_weighted = [], None
    for index, layer in enumerate(ann):
        if isinstance(layer, WEIGHTED):
            last_weighted = index
        elif isinstance(layer, nn.ReLU):
            if last_weighted is None:
                raise UnsupportedModelError("a ReLU must come after a Linear or Conv2d layer")
            pairs.append((last_weighted, index))
            last_weighted = None
    return pairs


def normalise(ann: nn.Sequential, x: torch.Tensor, percentile: float) -> tuple[nn.Sequential, list]:
    """Rueckauer normalisation through sinabs.utils.normalize_weights, with bias handling."""
    from sinabs.utils import normalize_weights

    model = copy.deepcopy(ann)
    factors, previous = [], 1.0
    weighted = [i for i, layer in enumerate(model) if isinstance(layer, WEIGHTED)]
    pairs = dict(_relu_pairs(model))
    for index in weighted:
        layer = model[index]
        with torch.no_grad():
            layer.weight.mul_(previous)  # undo the scale of this layer's (normalised) input
        if index not in pairs:
            continue  # a readout layer: its output keeps the ANN's scale
        before = layer.weight.detach().abs().max().item()
        normalize_weights(model, x, [str(pairs[index])], [str(index)], percentile=percentile)
        after = layer.weight.detach().abs().max().item()
        factor = before / after if after > 0 else 1.0
        factors.append({"layer": str(index), "lambda": factor})
        previous = factor
    return model, factors


# ----------------------------------------------------------------------------- spiking model


def _sinabs_to_neurodeploy(spiking: nn.Module, spike: str, input_shape: tuple[int, ...]
                           ) -> ndnn.Sequential:
    """neurodeploy layers equal to a sinabs `from_model` network, plus the readout."""
    import sinabs.layers as sl

    layers: list[nn.Module] = []
    for child in spiking.children():
        if isinstance(child, sl.IAF | sl.IAFSqueeze):
            min_v = None if child.min_v_mem is None else float(child.min_v_mem)
            layers.append(ndnn.IAF(float(child.spike_threshold), spike, "subtract", min_v))
        else:
            layers.append(copy.deepcopy(child))
    if isinstance(layers[-1], WEIGHTED):
        layers.append(ndnn.LI(alpha=0.0))
    return ndnn.Sequential(*layers, input_shape=input_shape).eval()


def spiking_model(ann: nn.Sequential, spike: str, input_shape: tuple[int, ...]) -> ndnn.Sequential:
    """sinabs.from_model of `ann` (ReLU -> IAF), as neurodeploy layers."""
    from sinabs.activation import MultiSpike, SingleSpike
    from sinabs.from_torch import from_model

    spike_fn = MultiSpike if spike == "multi" else SingleSpike
    converted = from_model(ann, spike_fn=spike_fn, min_v_mem=-1.0, batch_size=1)
    return _sinabs_to_neurodeploy(converted.spiking_model, spike, input_shape)


def _run(model: ndnn.Sequential, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def _layer_rates(model: ndnn.Sequential, x: torch.Tensor, upto: int) -> torch.Tensor:
    with torch.no_grad():
        return ndnn.Sequential(*list(model)[: upto + 1])(x).mean(dim=0)


def balance(model: ndnn.Sequential, ann: nn.Sequential, x_static: torch.Tensor,
            x_timed: torch.Tensor) -> list[dict]:
    """Scale each spiking layer's input to bring its rates closest to the ANN's activations."""
    scales = []
    iaf_indices = [i for i, layer in enumerate(model) if isinstance(layer, ndnn.IAF)]
    for index in iaf_indices:
        with torch.no_grad():
            target = ann[: index + 1](x_static)
        weighted = max(i for i in range(index) if isinstance(model[i], WEIGHTED))
        layer = model[weighted]
        original = [p.detach().clone() for p in layer.parameters()]
        errors = {}
        for scale in BALANCE_GRID:
            with torch.no_grad():
                for parameter, value in zip(layer.parameters(), original, strict=True):
                    parameter.copy_(value * scale)
            rates = _layer_rates(model, x_timed, index)
            errors[scale] = float(((rates - target) ** 2).mean())
        best = min(errors, key=errors.get)
        with torch.no_grad():
            for parameter, value in zip(layer.parameters(), original, strict=True):
                parameter.copy_(value * best)
        scales.append({"layer": str(index), "input_scale": best, "threshold_equivalent": 1 / best,
                       "rate_mse": errors[best], "rate_mse_unbalanced": errors[1.0]})
    return scales


def _accuracy(model: ndnn.Sequential, x_timed: torch.Tensor, labels: np.ndarray) -> float:
    out = _run(model, x_timed).sum(dim=0).reshape(x_timed.shape[1], -1)
    return float((out.argmax(dim=1).numpy() == labels).mean())


def _spikes(network: ir.Network, x_timed: np.ndarray) -> float:
    """Spikes per sample of the spiking (non-graded) layers, from the float reference."""
    result = simulate_network(network, x_timed)
    return sum(float(counts.sum()) for name, counts in result.spikes.items()
               if name not in result.graded) / x_timed.shape[1]


def ann2snn(ann: object, data: np.ndarray, labels: np.ndarray | None = None,
            timesteps: int = 32, spike: str = "single", percentile: float = 99.9,
            encoding: str = "direct", normalize: bool | None = None,
            balance_thresholds: bool = True, calibration_samples: int = 512,
            progress: Callable[[str], None] = lambda phase: None) -> Conversion:
    """Convert a ReLU ANN (nn.Module, .pt or .onnx) into an SNN of IAF neurons.

    `data` is static input `(B, *features)` used for calibration (and, with `labels`, for the
    report's accuracies); the SNN sees it encoded over `timesteps` steps (`encoding` "direct":
    the value as a constant current, or "rate": Bernoulli spikes). `normalize` defaults to True
    for single-spike neurons (their rate saturates at one spike per step) and False for
    multi-spike ones (no ceiling: normalising would only coarsen their resolution).
    `progress` hears each phase as it ends (`conversion_phases` of them).
    """
    if spike not in ("single", "multi"):
        raise UnsupportedModelError(f"spike must be single or multi, got {spike!r}")
    if normalize is None:
        normalize = spike == "single"
    x = np.asarray(data, dtype=np.float32)
    model_ann, input_shape = load_ann(ann, x)
    progress("loaded")
    calibration = torch.from_numpy(x[:calibration_samples])
    normalised, factors = normalise(model_ann, calibration, percentile) if normalize else (
        copy.deepcopy(model_ann), [])
    progress("normalised")
    snn = spiking_model(normalised, spike, input_shape)
    timed_calibration = torch.from_numpy(encode(x[:calibration_samples], timesteps, encoding))
    scales = balance(snn, normalised, calibration, timed_calibration) if balance_thresholds else []
    progress("thresholds balanced")
    network = network_from_torch(snn, input_shape)
    report = {"timesteps": timesteps, "spike": spike, "encoding": encoding,
              "percentile": percentile, "normalised": normalize, "normalisation": factors,
              "balancing": scales,
              "spikes_per_inference": _spikes(network, encode(x, timesteps, encoding))}
    progress("spikes counted")
    if labels is not None:
        report.update(_accuracy_report(model_ann, normalised, snn, x, np.asarray(labels), spike,
                                       encoding, timesteps, input_shape, progress))
    return Conversion(network, snn, report)


def _curve_steps(timesteps: int) -> list[int]:
    return sorted(set(TIMESTEP_CURVE) | {timesteps})


def conversion_phases(labelled: bool, timesteps: int) -> int:
    """How many phases `ann2snn` reports: four, and one per point of the accuracy curve."""
    return 4 + (len(_curve_steps(timesteps)) if labelled else 0)


def _accuracy_report(ann: nn.Sequential, normalised: nn.Sequential, snn: ndnn.Sequential,
                     x: np.ndarray, labels: np.ndarray, spike: str, encoding: str,
                     timesteps: int, input_shape: tuple[int, ...],
                     progress: Callable[[str], None]) -> dict:
    with torch.no_grad():
        ann_accuracy = float((ann(torch.from_numpy(x)).argmax(dim=1).numpy() == labels).mean())
    plain = spiking_model(ann, spike, input_shape)
    curve = {"timesteps": [], "plain": [], "converted": []}
    for steps in _curve_steps(timesteps):
        timed = torch.from_numpy(encode(x, steps, encoding))
        curve["timesteps"].append(steps)
        curve["plain"].append(_accuracy(plain, timed, labels))
        curve["converted"].append(_accuracy(snn, timed, labels))
        progress(f"accuracy at T={steps}")
    at = curve["timesteps"].index(timesteps)
    return {"ann_accuracy": ann_accuracy, "snn_accuracy": curve["converted"][at],
            "plain_accuracy": curve["plain"][at], "curve": curve,
            "delta_pp": 100 * (curve["converted"][at] - ann_accuracy)}
