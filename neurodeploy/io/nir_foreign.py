"""How other producers mean their NIR neuron nodes: dialect discretisation and input gains.

A foreign neuron node (IF, LIF, CubaLIF, LI) becomes a float neuron as `dialect` reads it
(`neurodeploy.io.dialects`): forward Euler decays 1 - dt/tau, refused outside (0, 1] (a
continuous-time file read at the wrong time step), and an input gain (r dt / tau, w_in dt /
tau_syn) that is folded into the Linear / Conv2d layers feeding the neuron, or carried by a
diagonal Linear put in front of it.
"""

from __future__ import annotations

import nir
import numpy as np

from neurodeploy import ir
from neurodeploy.errors import UnsupportedModelError
from neurodeploy.io.dialects import Dialect
from neurodeploy.io.nir_write import f32


def _no_leak_no_reset_value(name: str, node: nir.NIRNode, dialect: Dialect) -> None:
    if hasattr(node, "v_leak") and np.any(np.asarray(node.v_leak) != 0):
        raise UnsupportedModelError(f"node '{name}': v_leak != 0 is not supported")
    if dialect.reset == "zero" and np.any(np.asarray(getattr(node, "v_reset", 0)) != 0):
        raise UnsupportedModelError(f"node '{name}': v_reset != 0 is not supported")


def foreign_neuron(name: str, node: nir.NIRNode, dialect: Dialect
                    ) -> tuple[ir.nodes.NeuronNode, np.ndarray]:
    """A standard NIR neuron node as `dialect` means it (see `neurodeploy.io.dialects`)."""
    _no_leak_no_reset_value(name, node, dialect)
    r = np.asarray(node.r, dtype=np.float64)
    if isinstance(node, nir.IF):
        threshold = f32(node.v_threshold)
        single = dialect.spike == "single"
        min_v = (np.full_like(threshold, dialect.min_v) if dialect.min_v is not None
                 else -threshold if dialect.floor_at_minus_threshold else None)
        gain = r * dialect.dt
        return ir.IAF(threshold, dialect.spike, dialect.reset, min_v,
                      dialect.strict and single), gain
    if dialect.name == "sinabs":
        raise UnsupportedModelError(
            f"node '{name}' is a {type(node).__name__}; the sinabs dialect reads IF nodes only "
            "(sinabs LIF decays exponentially and spikes several times per step)")
    if isinstance(node, nir.CubaLIF):
        tau_syn = np.asarray(node.tau_syn, dtype=np.float64)
        tau_mem = np.asarray(node.tau_mem, dtype=np.float64)
        alpha = _decay(name, "tau_syn", tau_syn, dialect)
        beta = _decay(name, "tau_mem", tau_mem, dialect)
        gain = _unit(dialect, (np.asarray(node.w_in, np.float64) * dialect.dt / tau_syn)
                     * (r * dialect.dt / tau_mem))
        return ir.CubaLIF(alpha, beta, f32(node.v_threshold), dialect.reset,
                          dialect.reset_delay), gain
    tau = np.asarray(node.tau, dtype=np.float64)
    decay = _decay(name, "tau", tau, dialect)
    gain = _unit(dialect, r * dialect.dt / tau)
    if isinstance(node, nir.LIF):
        return ir.LIF(decay, f32(node.v_threshold), dialect.reset, dialect.reset_delay), gain
    return ir.LI(decay), gain


def _decay(name: str, field: str, tau: np.ndarray, dialect: Dialect) -> np.ndarray:
    """Forward Euler decay 1 - dt/tau, refused outside (0, 1]: a continuous-time file read at
    the wrong time step."""
    with np.errstate(divide="ignore", invalid="ignore"):
        decay = 1.0 - dialect.dt / tau
    bad = ~((decay > 0) & (decay <= 1))
    if np.any(bad):
        example = float(np.asarray(tau).reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]]) \
            if tau.ndim else float(tau)
        raise UnsupportedModelError(
            f"node '{name}': {field} = {example:.4g} at dt = {dialect.dt:.4g} gives a decay "
            f"1 - dt/{field} outside (0, 1]; the file is in continuous time: pass --dt with its "
            "time step (e.g. --dt 1e-4)")
    return decay.astype(np.float32)


def _unit(dialect: Dialect, gain: np.ndarray) -> np.ndarray:
    """A producer that means unit input gains writes r (and w_in) to give exactly 1: round there."""
    if dialect.unit_gain and np.allclose(gain, 1.0, rtol=1e-3):
        return np.ones_like(gain)
    return gain


def fold_gain(nodes: dict[str, object], edges: list[ir.Edge], name: str, gain: np.ndarray
               ) -> None:
    """Scale the outputs of the weighted layers feeding neuron `name` by its input gain; where an
    input is not such a layer (the data itself, a pool, another neuron), a diagonal Linear
    `<name>.gain` carrying the gain is put in front of the neuron instead."""
    incoming = [e for e in edges if e.target == name]
    foldable = all(isinstance(nodes.get(e.source), ir.Affine | ir.Conv2d)
                   and len([c for c in edges if c.source == e.source]) == 1 for e in incoming)
    if not foldable:
        size = int(np.prod(gain.shape)) if gain.ndim else None
        if gain.ndim > 1 or size is None:
            raise UnsupportedModelError(
                f"node '{name}' scales its input by {float(np.max(gain)):.4g} (r, tau, dt), but "
                "its inputs are not Linear or Conv2d layers feeding only it to fold that into; "
                "check --dt")
        gain_node = f"{name}.gain"
        nodes[gain_node] = ir.Affine(np.diag(gain.reshape(-1)).astype(np.float32), None)
        for edge in incoming:
            edges[edges.index(edge)] = ir.Edge(edge.source, gain_node, edge.delay)
        edges.append(ir.Edge(gain_node, name))
        return
    for edge in incoming:
        previous = nodes[edge.source]
        if isinstance(previous, ir.Affine):
            factor = np.broadcast_to(gain, (previous.weight.shape[0],)).astype(np.float64)
            previous.weight = (previous.weight * factor[:, None]).astype(np.float32)
        else:
            per_channel = gain.reshape(gain.shape[0], -1)
            if np.any(per_channel != per_channel[:, :1]):
                raise UnsupportedModelError(f"node '{name}': its input gain differs within a "
                                            "channel of the convolution before it")
            factor = per_channel[:, 0]
            previous.weight = (previous.weight * factor[:, None, None, None]).astype(np.float32)
        if previous.bias is not None:
            previous.bias = (previous.bias * factor).astype(np.float32)


